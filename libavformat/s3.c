/*
 * S3 requests for the vodupload protocol: signing, retries, error replies
 *
 *
 * This file is part of FFmpeg.
 *
 * FFmpeg is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Lesser General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 *
 * FFmpeg is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
 * Lesser General Public License for more details.
 *
 * You should have received a copy of the GNU Lesser General Public
 * License along with FFmpeg; if not, write to the Free Software
 * Foundation, Inc., 51 Franklin Street, Fifth Floor, Boston, MA 02110-1301 USA
 */

/**
 * @file
 * One S3 request with libcurl (path-style URL, AWS SigV4 signature by libcurl, UNSIGNED-PAYLOAD
 * with Content-MD5 where there is a body), retried with exponential backoff on connection
 * errors, timeouts, 429, 5xx and the S3 error codes that say "try again"; the <Error> of a
 * failed reply parsed with libxml2. What the requests are for (multipart uploads, journals,
 * ranged reads) is vodupload.c's business.
 */

#include "config.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/macros.h"
#include "libavutil/thread.h"
#include "libavutil/time.h"
#include "avformat.h"
#include "avio_internal.h"
#include "s3.h"
#include "url.h"

static AVOnce init_once = AV_ONCE_INIT;
static CURLcode init_ret = CURLE_FAILED_INIT;

static void global_init(void)
{
    xmlInitParser();
    init_ret = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ff_s3_init(void *log_ctx)
{
    if (ff_thread_once(&init_once, global_init) || init_ret != CURLE_OK) {
        av_log(log_ctx, AV_LOG_ERROR, "libcurl could not be initialized\n");
        return AVERROR_EXTERNAL;
    }
    return 0;
}

void ff_s3_uri_encode(AVBPrint *bp, const char *s, int keep_slash)
{
    for (; *s; s++) {
        unsigned char ch = *s;
        if (av_isdigit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
            (keep_slash && ch == '/'))
            av_bprint_chars(bp, ch, 1);
        else
            av_bprintf(bp, "%%%02X", ch);
    }
}

const char *ff_s3_content_type(const char *key)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".m3u8",    "application/vnd.apple.mpegurl" },
        { ".ts",      "video/mp2t" },
        { ".mp4",     "video/mp4" },
        { ".m4s",     "video/iso.segment" },
        { ".flv",     "video/x-flv" },
        { ".aac",     "audio/aac" },
        { ".m4a",     "audio/mp4" },
        { ".json",    "application/json" },
        { ".xml",     "application/xml" },
        { ".txt",     "text/plain" },
        { ".liverec", "text/plain" },
    };
    const char *dot = strrchr(key, '.');
    if (dot && !strchr(dot, '/'))
        for (int i = 0; i < FF_ARRAY_ELEMS(types); i++)
            if (!av_strcasecmp(dot, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

static size_t reply_cb(char *data, size_t size, size_t n, void *opaque)
{
    S3Request *r = opaque;
    size_t len = size * n;
    if (r->reply.len + len > r->reply_max) {
        r->too_big = 1;
        return 0;
    }
    av_bprint_append_data(&r->reply, data, len);
    return av_bprint_is_complete(&r->reply) ? len : 0;
}

static size_t body_cb(char *buf, size_t size, size_t n, void *opaque)
{
    S3Request *r = opaque;
    size_t len = FFMIN(size * n, r->body_size - r->body_pos);
    if (len)
        memcpy(buf, r->body + r->body_pos, len);
    r->body_pos += len;
    return len;
}

/* curl rewinds the body when it resends a request on a new connection */
static int seek_cb(void *opaque, curl_off_t offset, int origin)
{
    S3Request *r = opaque;
    if (origin != SEEK_SET || offset < 0 || offset > r->body_size)
        return CURL_SEEKFUNC_FAIL;
    r->body_pos = offset;
    return CURL_SEEKFUNC_OK;
}

static int progress_cb(void *opaque, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    S3Client *cl = opaque;
    return ff_check_interrupt(&cl->icb);
}

static size_t header_cb(char *data, size_t size, size_t n, void *opaque)
{
    S3Request *r = opaque;
    size_t len = size * n;
    if (len > 5 && !av_strncasecmp(data, "ETag:", 5)) {
        const char *v = data + 5;
        size_t l = len - 5;
        while (l && (*v == ' ' || *v == '\t'))
            v++, l--;
        while (l && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
            l--;
        if (l < sizeof(r->etag)) {
            memcpy(r->etag, v, l);
            r->etag[l] = 0;
        }
    }
    return len;
}

/* Find the first element called name below node (depth first), by local name. */
static xmlNodePtr xml_find(xmlNodePtr node, const char *name)
{
    for (; node; node = node->next) {
        xmlNodePtr found;
        if (node->type == XML_ELEMENT_NODE && !strcmp((const char *)node->name, name))
            return node;
        if ((found = xml_find(node->children, name)))
            return found;
    }
    return NULL;
}

void ff_s3_xml_text(xmlNodePtr parent, const char *name, char *buf, int size)
{
    xmlNodePtr n = parent ? xml_find(parent->children, name) : NULL;
    xmlChar *text = n ? xmlNodeGetContent(n) : NULL;
    av_strlcpy(buf, text ? (const char *)text : "", size);
    xmlFree(text);
}

xmlDocPtr ff_s3_xml_parse(const AVBPrint *bp)
{
    xmlDocPtr doc;
    if (!bp->len || !av_bprint_is_complete(bp))
        return NULL;
    doc = xmlReadMemory(bp->str, bp->len, NULL, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    /* S3 never sends a DTD; internal entities could expand a small reply into gigabytes */
    if (doc && (doc->intSubset || doc->extSubset)) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static int http_averror(long status)
{
    switch (status) {
    case 400: return AVERROR_HTTP_BAD_REQUEST;
    case 401: return AVERROR_HTTP_UNAUTHORIZED;
    case 403: return AVERROR_HTTP_FORBIDDEN;
    case 404: return AVERROR_HTTP_NOT_FOUND;
    case 429: return AVERROR_HTTP_TOO_MANY_REQUESTS;
    }
    if (status >= 400 && status < 500)
        return AVERROR_HTTP_OTHER_4XX;
    return status >= 500 ? AVERROR_HTTP_SERVER_ERROR : AVERROR(EIO);
}

void ff_s3_reply_error(S3Request *r, char *msg, int msg_size)
{
    xmlDocPtr doc;
    xmlNodePtr root;

    r->code[0] = msg[0] = 0;
    if (r->status >= 200 && r->status < 300 && !r->error_in_200)
        return;
    doc  = ff_s3_xml_parse(&r->reply);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (root && !strcmp((const char *)root->name, "Error")) {
        ff_s3_xml_text(root, "Code", r->code, sizeof(r->code));
        ff_s3_xml_text(root, "Message", msg, msg_size);
        if (!r->code[0])
            av_strlcpy(r->code, "Error", sizeof(r->code));
    }
    xmlFreeDoc(doc);
}

void ff_s3_request_init(S3Request *r, const char *method, const char *bucket, const char *key)
{
    memset(r, 0, sizeof(*r));
    r->method      = method;
    r->bucket      = bucket;
    r->key         = key;
    r->range_start = -1;
    r->length      = -1;
    r->reply_max   = S3_MAX_XML_REPLY;
    av_bprint_init(&r->reply, 0, AV_BPRINT_SIZE_UNLIMITED);
}

static void request_reset(S3Request *r)
{
    av_bprint_finalize(&r->reply, NULL);
    av_bprint_init(&r->reply, 0, AV_BPRINT_SIZE_UNLIMITED);
    r->body_pos = 0;
    r->status   = 0;
    r->etag[0]  = 0;
    r->length   = -1;
    r->too_big  = 0;
    r->code[0]  = 0;
}

/* One attempt. Returns the CURLcode; r->status holds the HTTP status. */
static CURLcode perform(S3Client *cl, CURL *curl, S3Request *r)
{
    struct curl_slist *hdr = NULL, *tmp;
    AVBPrint url, line;
    CURLcode res = CURLE_OUT_OF_MEMORY;
    const char *access = cl->access_key ? cl->access_key : getenv("AWS_ACCESS_KEY_ID");
    const char *secret = cl->secret_key ? cl->secret_key : getenv("AWS_SECRET_ACCESS_KEY");
    int64_t timeout_ms = FFMAX(cl->timeout / 1000, 1);

    av_bprint_init(&url, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&line, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&url, "%s/", cl->endpoint);
    ff_s3_uri_encode(&url, r->bucket, 0);
    if (r->key && *r->key) {
        av_bprint_chars(&url, '/', 1);
        ff_s3_uri_encode(&url, r->key, 1);
    }
    if (r->query)
        av_bprintf(&url, "?%s", r->query);

#define ADD_HEADER(...) do {                                                   \
        av_bprint_clear(&line);                                                \
        av_bprintf(&line, __VA_ARGS__);                                        \
        if (!av_bprint_is_complete(&line) ||                                   \
            !(tmp = curl_slist_append(hdr, line.str)))                         \
            goto end;                                                          \
        hdr = tmp;                                                             \
    } while (0)

    /* libcurl 7.88 leaves the payload hash to us; the body is checked with Content-MD5 */
    ADD_HEADER("x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (r->content_type)
        ADD_HEADER("Content-Type: %s", r->content_type);
    if (r->content_md5)
        ADD_HEADER("Content-MD5: %s", r->content_md5);
    if (r->copy_source) {
        ADD_HEADER("x-amz-copy-source: %s", r->copy_source);
        ADD_HEADER("x-amz-metadata-directive: REPLACE");
    }
    if (r->range_start >= 0)
        ADD_HEADER("Range: bytes=%"PRId64"-%"PRId64, r->range_start, r->range_end);
    if (r->if_match && *r->if_match)
        ADD_HEADER("If-Match: %s", r->if_match);
    if (!av_bprint_is_complete(&url))
        goto end;

    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.str);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, cl->sigv4);
    curl_easy_setopt(curl, CURLOPT_USERNAME, access ? access : "");
    curl_easy_setopt(curl, CURLOPT_PASSWORD, secret ? secret : "");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long)FFMAX(timeout_ms / 1000, 1));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, reply_cb);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, cl);
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (r->body || !strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, body_cb);
        curl_easy_setopt(curl, CURLOPT_READDATA, r);
        curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(curl, CURLOPT_SEEKDATA, r);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_size);
        if (strcmp(r->method, "PUT"))
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (strcmp(r->method, "GET")) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r->method);
    }

    res = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (res == CURLE_OK && !strcmp(r->method, "HEAD")) {
        curl_off_t len = -1;
        curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        r->length = len;
    }
    /* drop the secret from the handle as soon as it is used */
    curl_easy_setopt(curl, CURLOPT_PASSWORD, "");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
end:
#undef ADD_HEADER
    curl_slist_free_all(hdr);
    av_bprint_finalize(&url, NULL);
    av_bprint_finalize(&line, NULL);
    return res;
}

static int retryable_curl(CURLcode res)
{
    switch (res) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SEND_FAIL_REWIND:
        return 1;
    }
    return 0;
}

/* Sleep for delay microseconds; 1 if interrupted. */
static int backoff_sleep(S3Client *cl, int64_t delay)
{
    int64_t until = av_gettime_relative() + delay;
    for (;;) {
        int64_t left = until - av_gettime_relative();
        if (left <= 0)
            return 0;
        if (ff_check_interrupt(&cl->icb))
            return 1;
        av_usleep(FFMIN(left, 100000));
    }
}

/* S3 error codes that are worth a retry whatever the HTTP status; BadDigest: the body arrived
 * other than it was sent (its Content-MD5 says so), so sending it again may pass */
static int retryable_code(const char *code)
{
    return !strcmp(code, "InternalError") || !strcmp(code, "SlowDown") ||
           !strcmp(code, "RequestTimeout") || !strcmp(code, "ServiceUnavailable") ||
           !strcmp(code, "BadDigest");
}

/*
 * A request with retries (connection errors, timeouts, 429, 5xx, and the S3 codes of
 * retryable_code()). what names it in messages. ok_404: a 404 is returned as AVERROR(ENOENT)
 * without a message. The S3 error code of the last attempt is left in r->code.
 */
int ff_s3_request(S3Client *cl, CURL *curl, S3Request *r, const char *what, int ok_404)
{
    int64_t delay = cl->retry_delay;
    char msg[256];

    for (int attempt = 0; ; attempt++) {
        CURLcode res;
        int retry, ok;

        request_reset(r);
        res = perform(cl, curl, r);
        if (res == CURLE_OUT_OF_MEMORY)
            return AVERROR(ENOMEM);
        if (res == CURLE_ABORTED_BY_CALLBACK && !r->too_big)
            return AVERROR_EXIT;
        ok = res == CURLE_OK && r->status >= 200 && r->status < 300;
        ff_s3_reply_error(r, msg, sizeof(msg));
        if (ok && !r->code[0])
            return 0;
        if (res == CURLE_OK && r->status == 404 && ok_404)
            return AVERROR(ENOENT);
        if (res != CURLE_OK && r->too_big) {
            av_log(cl->log_ctx, AV_LOG_ERROR, "%s %s: the reply is larger than %zu bytes\n",
                   what, cl->name, r->reply_max);
            return AVERROR_INVALIDDATA;
        }
        if (res != CURLE_OK)
            snprintf(msg, sizeof(msg), "%s", curl_easy_strerror(res));
        retry = res != CURLE_OK ? retryable_curl(res) :
                r->status >= 500 || r->status == 429 || retryable_code(r->code);

        if (!retry || attempt >= cl->max_retries) {
            if (res != CURLE_OK)
                av_log(cl->log_ctx, AV_LOG_ERROR, "%s %s failed after %d attempt%s: %s\n", what, cl->name,
                       attempt + 1, attempt ? "s" : "", msg);
            else
                av_log(cl->log_ctx, AV_LOG_ERROR, "%s %s: HTTP %ld%s%s%s%s%s\n", what, cl->name, r->status,
                       r->code[0] ? " " : "", r->code, msg[0] ? ": " : "", msg,
                       retry ? " (no more retries)" : "");
            if (res != CURLE_OK)
                return res == CURLE_OPERATION_TIMEDOUT ? AVERROR(ETIMEDOUT) : AVERROR(EIO);
            return ok ? AVERROR(EIO) : http_averror(r->status);
        }
        av_log(cl->log_ctx, AV_LOG_WARNING, "%s %s: %s%s%s, retry %d of %d in %.1f s\n", what, cl->name,
               res != CURLE_OK ? msg : r->code[0] ? r->code : "server error",
               res == CURLE_OK && msg[0] && r->code[0] ? ": " : "",
               res == CURLE_OK && r->code[0] ? msg : "",
               attempt + 1, cl->max_retries, delay / 1e6);
        if (backoff_sleep(cl, delay))
            return AVERROR_EXIT;
        delay = FFMIN(delay * 2, S3_MAX_RETRY_DELAY);
    }
}

int ff_s3_set_region(S3Client *cl, const char *region)
{
    if (!region || !*region)
        region = getenv("AWS_REGION");
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");
    if (!region || !*region)
        region = "us-east-1";
    if (strlen(region) > 64 || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region)) {
        av_log(cl->log_ctx, AV_LOG_ERROR, "region '%s' is not a region name (a-z, 0-9, '-')\n", region);
        return AVERROR(EINVAL);
    }
    snprintf(cl->sigv4, sizeof(cl->sigv4), "aws:amz:%s:s3", region);
    return 0;
}
