/*
 * vodupload: store objects in S3-compatible object storage while they are written
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
 * vodupload protocol: vodupload+http://HOST:PORT/BUCKET/KEY (S3 API, path-style).
 *
 * Writing cuts the data into parts. A full part is handed to one of parts_in_flight worker
 * threads (each with its own connection) that uploads it (multipart upload) while the next part
 * fills: at most parts_in_flight parts are in flight and one is filling, so the memory is at
 * most parts_in_flight + 1 part buffers. Parts grow (doubling every max_part_count / 10 parts,
 * within max_buffer) so that a long recording fits the server's part count. close() completes
 * the upload and checks that the object's ETag is the one its parts' MD5s give; an object
 * smaller than one part is one PUT. Every
 * request is retried with exponential backoff on connection errors, timeouts and 5xx; a 4xx
 * fails at once with S3's code and message. A failed upload is aborted, never reported as done.
 * With a journal, the upload id and the finished parts survive a restart of the writer: parts
 * that the restarted writer produces again byte for byte (same MD5) are not sent again.
 *
 * Reading uses ranged GETs, so small objects (playlists, state files) can be read back and
 * seeked. url_check is a HEAD, url_delete a DELETE, url_move a server-side copy plus a DELETE.
 *
 * The requests themselves (libcurl, SigV4, retries, S3's error replies) are made by s3.c; this
 * file knows what they are for. libxml2 parses S3's XML replies.
 */

#include "config.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#if HAVE_UNISTD_H
#include <unistd.h>
#endif

#include "libavutil/avstring.h"
#include "libavutil/base64.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/mem.h"
#include "libavutil/md5.h"
#include "libavutil/opt.h"
#include "libavutil/thread.h"
#include "libavutil/time.h"
#include "avformat.h"
#include "internal.h"
#include "os_support.h"
#include "s3.h"
#include "url.h"
#include "vodupload.h"

#define FILL_MIN           (256 << 10)  /* first allocation of a part's buffer */
#define READ_CHUNK         (1 << 20)

/* Parse vodupload+http[s]://host[:port]/bucket[/key] into c. */
static int parse_url(VodUploadContext *c, const char *uri)
{
    char proto[16], auth[256], host[256], path[4096];
    const char *scheme, *slash, *p;
    int port;

    if (!av_strstart(uri, "vodupload+", &scheme) ||
        (!av_strstart(scheme, "http://", NULL) && !av_strstart(scheme, "https://", NULL))) {
        av_log(c, AV_LOG_ERROR, "the URL must be vodupload+http://HOST[:PORT]/BUCKET/KEY "
               "or vodupload+https://...\n");
        return AVERROR(EINVAL);
    }
    av_url_split(proto, sizeof(proto), auth, sizeof(auth), host, sizeof(host), &port,
                 path, sizeof(path), scheme);
    if (auth[0]) {
        av_log(c, AV_LOG_ERROR, "credentials do not belong in the URL: use the access_key and "
               "secret_key options or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n");
        return AVERROR(EINVAL);
    }
    if (!host[0] || path[0] != '/' || !path[1] || path[1] == '/') {
        av_log(c, AV_LOG_ERROR, "no bucket in the URL: vodupload+%s://HOST[:PORT]/BUCKET/KEY\n", proto);
        return AVERROR(EINVAL);
    }
    if (strchr(path, '?') || strchr(path, '#')) {
        av_log(c, AV_LOG_ERROR, "the object key may not contain '?' or '#'\n");
        return AVERROR(EINVAL);
    }
    /* dot segments would be resolved by a proxy or server into another key */
    for (p = path; *p; p++) {
        if (*p == '/' && p[1] == '.' && (!p[2] || p[2] == '/' || (p[2] == '.' && (!p[3] || p[3] == '/')))) {
            av_log(c, AV_LOG_ERROR, "the object key may not contain '.' or '..' path segments\n");
            return AVERROR(EINVAL);
        }
    }

    {
        /* av_url_split drops the brackets of an IPv6 address */
        const char *lb = strchr(host, ':') ? "[" : "", *rb = *lb ? "]" : "";
        c->endpoint = port > 0 ? av_asprintf("%s://%s%s%s:%d", proto, lb, host, rb, port) :
                                 av_asprintf("%s://%s%s%s", proto, lb, host, rb);
    }
    slash = strchr(path + 1, '/');
    c->bucket = slash ? av_strndup(path + 1, slash - path - 1) : av_strdup(path + 1);
    c->key    = av_strdup(slash ? slash + 1 : "");
    c->name   = av_asprintf("%s/%s", c->bucket ? c->bucket : "", c->key ? c->key : "");
    if (!c->endpoint || !c->bucket || !c->key || !c->name)
        return AVERROR(ENOMEM);
    return 0;
}

static void workers_stop(VodUploadContext *c);

static void context_free(VodUploadContext *c)
{
    workers_stop(c);
    if (c->curl)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
    av_freep(&c->fill);
    av_freep(&c->md5);
    av_freep(&c->parts);
    av_freep(&c->resume);
    av_freep(&c->rbuf);
    av_freep(&c->upload_id);
    av_freep(&c->endpoint);
    av_freep(&c->bucket);
    av_freep(&c->key);
    av_freep(&c->name);
}

/* Everything a request needs. url_check, url_delete and url_move get a context that was never
 * opened (and is never closed): they call context_free() themselves. */
static int context_setup(URLContext *h, const char *uri)
{
    VodUploadContext *c = h->priv_data;
    int ret;

    if ((ret = ff_s3_init(h)) < 0)
        return ret;
    if (c->curl)
        return 0;
    if ((ret = parse_url(c, uri)) < 0)
        return ret;
    c->s3 = (S3Client) {
        .log_ctx     = c,
        .name        = c->name,
        .endpoint    = c->endpoint,
        .access_key  = c->access_key,
        .secret_key  = c->secret_key,
        .max_retries = c->max_retries,
        .retry_delay = c->retry_delay,
        .timeout     = c->timeout,
        .icb         = h->interrupt_callback,
    };
    if ((ret = ff_s3_set_region(&c->s3, c->region)) < 0)
        return ret;
    if (!(c->curl = curl_easy_init()))
        return AVERROR(ENOMEM);
    return 0;
}

/* HEAD of an object (or of the bucket when key is ""); *size = Content-Length, -1 if absent */
static int head(VodUploadContext *c, const char *key, int64_t *size, char *etag, int etag_size)
{
    S3Request r;
    int ret;

    ff_s3_request_init(&r, "HEAD", c->bucket, key);
    ret = ff_s3_request(&c->s3, c->curl, &r, *key ? "HeadObject" : "HeadBucket", 1);
    av_bprint_finalize(&r.reply, NULL);
    *size = r.length;
    if (etag)
        av_strlcpy(etag, r.etag, etag_size);
    return ret;
}

/* ---- multipart upload ------------------------------------------------------------------- */

/* The UploadId of a CreateMultipartUpload reply into id ("" if none). */
static void parse_upload_id(const AVBPrint *reply, char *id, int size)
{
    xmlDocPtr doc = ff_s3_xml_parse(reply);
    ff_s3_xml_text(doc ? xmlDocGetRootElement(doc) : NULL, "UploadId", id, size);
    xmlFreeDoc(doc);
}

static int initiate(VodUploadContext *c, CURL *curl)
{
    S3Request r;
    char id[512] = "";
    int ret;

    ff_s3_request_init(&r, "POST", c->bucket, c->key);
    r.query        = "uploads=";
    r.content_type = c->content_type ? c->content_type : ff_s3_content_type(c->key);
    ret = ff_s3_request(&c->s3, curl, &r, "CreateMultipartUpload", 0);
    if (ret >= 0)
        parse_upload_id(&r.reply, id, sizeof(id));
    av_bprint_finalize(&r.reply, NULL);
    if (ret < 0)
        return ret;
    if (!ff_vodupload_valid_token(id, 500)) {
        av_log(c, AV_LOG_ERROR, "CreateMultipartUpload %s: no valid UploadId in the reply\n", c->name);
        return AVERROR_INVALIDDATA;
    }
    if (!(c->upload_id = av_strdup(id)))
        return AVERROR(ENOMEM);
    av_log(c, AV_LOG_VERBOSE, "multipart upload of %s started\n", c->name);
    ff_vodupload_journal_write(c);
    return 0;
}

/*
 * Upload part num (1-based), p, from data: p->etag is set. Skipped when the journal shows it is
 * already there. Reads only what does not change while parts are in flight (the upload id, the
 * journal's parts, the client), so that several workers run it at once.
 */
static int upload_part(VodUploadContext *c, CURL *curl, int num, Part *p, const uint8_t *data)
{
    S3Request r;
    AVBPrint q;
    char b64[32];
    int64_t t0 = av_gettime_relative();
    int ret;

    if (num <= c->nb_resume && c->resume[num - 1].size == p->size &&
        !memcmp(c->resume[num - 1].md5, p->md5, 16)) {
        av_strlcpy(p->etag, c->resume[num - 1].etag, sizeof(p->etag));
        av_log(c, AV_LOG_VERBOSE, "part %d of %s is already uploaded\n", num, c->name);
        return 0;
    }

    av_base64_encode(b64, sizeof(b64), p->md5, 16);
    /* SigV4 with libcurl 7.88: query parameters sorted and encoded by us */
    av_bprint_init(&q, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&q, "partNumber=%d&uploadId=", num);
    ff_s3_uri_encode(&q, c->upload_id, 0);
    ff_s3_request_init(&r, "PUT", c->bucket, c->key);
    r.query       = q.str;
    r.body        = data;
    r.body_size   = p->size;
    r.content_md5 = b64;
    ret = av_bprint_is_complete(&q) ? ff_s3_request(&c->s3, curl, &r, "UploadPart", 0) : AVERROR(ENOMEM);
    av_bprint_finalize(&q, NULL);
    av_bprint_finalize(&r.reply, NULL);
    if (ret < 0)
        return ret;
    if (!ff_vodupload_valid_token(r.etag, 78)) {
        av_log(c, AV_LOG_ERROR, "UploadPart %s: part %d came back without an ETag\n", c->name, num);
        return AVERROR_INVALIDDATA;
    }
    /* the server checked Content-MD5; an ETag that is no MD5 (SSE-KMS, ...) is not an error */
    if (!ff_vodupload_etag_is_md5(r.etag, p->md5))
        av_log(c, AV_LOG_DEBUG, "part %d of %s: ETag %s is not the MD5 of the part\n", num, c->name, r.etag);
    av_strlcpy(p->etag, r.etag, sizeof(p->etag));
    av_log(c, AV_LOG_VERBOSE, "part %d of %s: %"PRId64" bytes in %.3f s\n", num, c->name, p->size,
           (av_gettime_relative() - t0) / 1e6);
    return 0;
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    VodUploadContext *c = w->c;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        Part p;
        int num, ret = 0;
        while (!w->job && !c->quit)
            pthread_cond_wait(&c->cond, &c->lock);
        if (!w->job)
            break;
        num = w->job;
        p   = c->parts[num - 1];
        /* after a failure the upload is given up: what is queued is not sent */
        if (!c->worker_err) {
            pthread_mutex_unlock(&c->lock);
            ret = upload_part(c, w->curl, num, &p, w->buf);
            pthread_mutex_lock(&c->lock);
        }
        if (ret < 0 && !c->worker_err)
            c->worker_err = ret;
        if (ret >= 0 && p.etag[0]) {
            av_strlcpy(c->parts[num - 1].etag, p.etag, sizeof(p.etag));
            ff_vodupload_journal_write(c);
        }
        w->job = 0;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* Wait until no part is in flight; returns the first error of a worker. */
static int worker_wait(VodUploadContext *c)
{
    int ret, busy;
    if (!c->nb_workers)
        return 0;
    pthread_mutex_lock(&c->lock);
    do {
        busy = 0;
        for (int i = 0; i < c->nb_workers; i++)
            busy |= !!c->workers[i].job;
        if (busy)
            pthread_cond_wait(&c->cond, &c->lock);
    } while (busy);
    ret = c->worker_err;
    pthread_mutex_unlock(&c->lock);
    return ret;
}

/* Wait for the parts in flight, then end the workers and free what they hold. */
static void workers_stop(VodUploadContext *c)
{
    if (c->nb_workers) {
        worker_wait(c);
        pthread_mutex_lock(&c->lock);
        c->quit = 1;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        for (int i = 0; i < c->nb_workers; i++)
            pthread_join(c->workers[i].thread, NULL);
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->lock);
        c->nb_workers = 0;
    }
    for (int i = 0; c->workers && i < c->parts_in_flight; i++) {
        if (c->workers[i].curl)
            curl_easy_cleanup(c->workers[i].curl);
        av_freep(&c->workers[i].buf);
    }
    av_freep(&c->workers);
}

static int workers_start(VodUploadContext *c)
{
    int ret;

    if (c->workers)     /* started, or failed to */
        return c->nb_workers ? 0 : AVERROR(ENOMEM);
    if (!(c->workers = av_calloc(c->parts_in_flight, sizeof(*c->workers))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < c->parts_in_flight; i++)
        if (!(c->workers[i].curl = curl_easy_init()))
            return AVERROR(ENOMEM);
    if ((ret = pthread_mutex_init(&c->lock, NULL)))
        return AVERROR(ret);
    if ((ret = pthread_cond_init(&c->cond, NULL))) {
        pthread_mutex_destroy(&c->lock);
        return AVERROR(ret);
    }
    c->quit = 0;
    for (int i = 0; i < c->parts_in_flight; i++) {
        c->workers[i].c = c;
        if ((ret = pthread_create(&c->workers[i].thread, NULL, worker_main, &c->workers[i]))) {
            av_log(c, AV_LOG_ERROR, "cannot start an upload thread: %s\n", av_err2str(AVERROR(ret)));
            if (!c->nb_workers) {
                pthread_cond_destroy(&c->cond);
                pthread_mutex_destroy(&c->lock);
                return AVERROR(ret);
            }
            break;      /* fewer parts in flight */
        }
        c->nb_workers++;
    }
    return 0;
}

/* The largest part the memory allows: max_buffer over the parts_in_flight + 1 buffers. */
static int64_t part_cap(const VodUploadContext *c)
{
    return FFMIN(MAX_PART_SIZE, c->max_buffer / (c->parts_in_flight + 1));
}

/*
 * The size of part num: part_size, doubled every max_part_count / 10 parts (S3's 10,000 parts of
 * 8 MiB hold 78 GiB, Swift's 1,000 only 7.8: with the doubling 1,000 parts of 8 MiB at the start
 * hold far more than a day of recording), up to part_cap().
 */
static int64_t part_bytes(const VodUploadContext *c, int num)
{
    int64_t size = c->part_size, cap = part_cap(c);
    for (int k = (num - 1) / FFMAX(c->max_part_count / 10, 1); k > 0 && size < cap; k--)
        size *= 2;
    return FFMIN(size, cap);
}

/* Hand the fill buffer to an idle worker as the next part (waiting for one), and make the next
 * fill buffer. */
static int hand_off(URLContext *h, VodUploadContext *c)
{
    Part part = { .size = c->fill_len };
    int num = c->nb_parts + 1, ret;
    Worker *w = NULL;
    uint8_t *buf;
    int64_t cap;

    if (num > c->max_part_count) {
        av_log(h, AV_LOG_ERROR, "%s would need more than %d parts (max_part_count) of up to "
               "%"PRId64" bytes (max_buffer / (parts_in_flight + 1)): it is not stored; raise "
               "max_buffer or max_part_count (if the server allows more)\n", c->name,
               c->max_part_count, part_cap(c));
        return AVERROR(EFBIG);
    }
    if (!c->upload_id && (ret = initiate(c, c->curl)) < 0)
        return ret;
    if ((ret = workers_start(c)) < 0)
        return ret;
    av_md5_final(c->md5, part.md5);
    av_md5_init(c->md5);

    pthread_mutex_lock(&c->lock);
    while (!(ret = c->worker_err)) {
        for (int i = 0; i < c->nb_workers && !w; i++)
            if (!c->workers[i].job)
                w = &c->workers[i];
        if (w)
            break;
        pthread_cond_wait(&c->cond, &c->lock);
    }
    if (!ret && c->nb_parts == c->parts_size) {
        int n = FFMIN(FFMAX(2 * c->parts_size, 16), MAX_PARTS);
        Part *parts = av_realloc_array(c->parts, n, sizeof(*parts));
        if (parts) {
            c->parts      = parts;
            c->parts_size = n;
        } else {
            ret = AVERROR(ENOMEM);
        }
    }
    if (!ret) {
        c->parts[c->nb_parts++] = part;
        buf      = w->buf;
        cap      = w->cap;
        w->buf   = c->fill;
        w->cap   = c->fill_cap;
        w->job   = num;
        c->fill     = buf;
        c->fill_cap = cap;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    if (ret < 0)
        return ret;

    c->fill_len    = 0;
    c->fill_target = part_bytes(c, num + 1);
    return 0;
}

/**
 * Make room in the part being filled for need bytes (need <= fill_target). The buffer grows as
 * the data comes, doubling up to the part's size, so a small object (an HLS segment, a short
 * recording) holds its own size in memory, not a whole part's.
 */
static int fill_reserve(VodUploadContext *c, int64_t need)
{
    int64_t cap;
    uint8_t *buf;

    if (need <= c->fill_cap)
        return 0;
    cap = FFMIN(c->fill_target, FFMAX3(need, 2 * c->fill_cap, FILL_MIN));
    if (!(buf = av_realloc(c->fill, cap)))
        return AVERROR(ENOMEM);
    c->fill     = buf;
    c->fill_cap = cap;
    return 0;
}

/* The multipart ETag S3 gives a completed object: MD5 of the parts' MD5s, then "-N". */
static void multipart_etag(VodUploadContext *c, char *etag, int size)
{
    struct AVMD5 *md5 = av_md5_alloc();
    uint8_t sum[16];
    char hex[33];

    etag[0] = 0;
    if (!md5)
        return;
    av_md5_init(md5);
    for (int i = 0; i < c->nb_parts; i++)
        av_md5_update(md5, c->parts[i].md5, 16);
    av_md5_final(md5, sum);
    av_free(md5);
    ff_vodupload_md5_hex(sum, hex);
    snprintf(etag, size, "\"%s-%d\"", hex, c->nb_parts);
}

/*
 * The object's ETag against the one its parts' MD5s give: the bytes the server put together are
 * the bytes that were written. With verify_etag 0 (servers whose ETags are no MD5s: SSE-KMS,
 * SSE-C), only logged.
 */
static int check_etag(VodUploadContext *c, const char *got)
{
    char want[80];

    multipart_etag(c, want, sizeof(want));
    /* with its quotes or without */
    if (!av_strcasecmp(got, want) ||
        (strlen(got) == strlen(want) - 2 && !av_strncasecmp(got, want + 1, strlen(got)))) {
        av_log(c, AV_LOG_DEBUG, "%s: ETag %s is the parts' one\n", c->name, got);
        return 0;
    }
    av_log(c, c->verify_etag ? AV_LOG_ERROR : AV_LOG_WARNING, "%s: the stored object's ETag is "
           "%s, the parts written give %s%s\n", c->name, *got ? got : "(none)", want,
           c->verify_etag ? ": it is not what was written (verify_etag 0 if this server's "
           "ETags are no MD5s)" : "");
    return c->verify_etag ? AVERROR_INVALIDDATA : 0;
}

static int complete(VodUploadContext *c)
{
    S3Request r;
    AVBPrint body, q;
    xmlDocPtr doc;
    xmlNodePtr root;
    int ret;

    av_bprint_init(&body, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&q, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&body, "<CompleteMultipartUpload>");
    for (int i = 0; i < c->nb_parts; i++)
        av_bprintf(&body, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
                   i + 1, c->parts[i].etag);
    av_bprintf(&body, "</CompleteMultipartUpload>");
    av_bprintf(&q, "uploadId=");
    ff_s3_uri_encode(&q, c->upload_id, 0);
    ff_s3_request_init(&r, "POST", c->bucket, c->key);
    r.query        = q.str;
    r.body         = body.str;
    r.body_size    = body.len;
    r.content_type = "application/xml";
    r.error_in_200 = 1;
    if (!av_bprint_is_complete(&body) || !av_bprint_is_complete(&q)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    ret = ff_s3_request(&c->s3, c->curl, &r, "CompleteMultipartUpload", 0);
    if (ret == AVERROR_HTTP_NOT_FOUND && !strcmp(r.code, "NoSuchUpload")) {
        /* an earlier attempt may have completed it and lost the reply */
        char want[80], etag[80];
        int64_t size;
        multipart_etag(c, want, sizeof(want));
        if (head(c, c->key, &size, etag, sizeof(etag)) >= 0 && !av_strcasecmp(etag, want)) {
            av_log(c, AV_LOG_VERBOSE, "%s was completed by an earlier attempt\n", c->name);
            ret = 0;
        }
        goto end;
    }
    if (ret < 0)
        goto end;
    doc  = ff_s3_xml_parse(&r.reply);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || strcmp((const char *)root->name, "CompleteMultipartUploadResult")) {
        av_log(c, AV_LOG_ERROR, "CompleteMultipartUpload %s: the reply is not a "
               "CompleteMultipartUploadResult\n", c->name);
        ret = AVERROR_INVALIDDATA;
    } else {
        char got[128];
        ff_s3_xml_text(root, "ETag", got, sizeof(got));
        ret = check_etag(c, got);
    }
    xmlFreeDoc(doc);
end:
    av_bprint_finalize(&r.reply, NULL);
    av_bprint_finalize(&body, NULL);
    av_bprint_finalize(&q, NULL);
    return ret;
}

static int abort_upload(VodUploadContext *c, int replaced)
{
    S3Request r;
    AVBPrint q;
    int ret;

    av_bprint_init(&q, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&q, "uploadId=");
    ff_s3_uri_encode(&q, c->upload_id, 0);
    ff_s3_request_init(&r, "DELETE", c->bucket, c->key);
    r.query = q.str;
    ret = av_bprint_is_complete(&q) ? ff_s3_request(&c->s3, c->curl, &r, "AbortMultipartUpload", 1) :
                                      AVERROR(ENOMEM);
    if (ret == AVERROR(ENOENT))
        ret = 0;
    av_bprint_finalize(&r.reply, NULL);
    av_bprint_finalize(&q, NULL);
    if (ret < 0) {
        av_log(c, AV_LOG_ERROR, "the multipart upload %s of %s could not be aborted%s\n",
               c->upload_id, c->name, c->journal ? "; the journal keeps its id" : "");
        return ret;
    }
    if (replaced)
        av_log(c, AV_LOG_VERBOSE, "the journaled multipart upload of %s is replaced by one PUT\n", c->name);
    else
        av_log(c, AV_LOG_WARNING, "multipart upload of %s aborted: no object was stored\n", c->name);
    ff_vodupload_journal_remove(c);
    return 0;
}

/*
 * After a failure: abort the multipart upload, unless a journal can resume it and the failure
 * may pass (the server unreachable or failing, not a 4xx answer about the request itself).
 */
static void give_up(VodUploadContext *c, int err)
{
    int definite = err == AVERROR_HTTP_BAD_REQUEST || err == AVERROR_HTTP_UNAUTHORIZED ||
                   err == AVERROR_HTTP_FORBIDDEN || err == AVERROR_HTTP_NOT_FOUND ||
                   err == AVERROR_HTTP_OTHER_4XX || err == AVERROR_INVALIDDATA ||
                   err == AVERROR(ESPIPE) || err == AVERROR(EFBIG);

    if (!c->upload_id)
        return;
    if (c->journal && !c->journal_off && !definite) {
        av_log(c, AV_LOG_WARNING, "multipart upload %s of %s kept: a writer started with the "
               "journal %s resumes it\n", c->upload_id, c->name, c->journal);
        return;
    }
    abort_upload(c, 0);
}

static int put_object(VodUploadContext *c)
{
    S3Request r;
    char b64[32];
    uint8_t sum[16];
    int ret;

    av_md5_final(c->md5, sum);
    av_base64_encode(b64, sizeof(b64), sum, 16);
    ff_s3_request_init(&r, "PUT", c->bucket, c->key);
    r.body         = c->fill;
    r.body_size    = c->fill_len;
    r.content_md5  = b64;
    r.content_type = c->content_type ? c->content_type : ff_s3_content_type(c->key);
    ret = ff_s3_request(&c->s3, c->curl, &r, "PutObject", 0);
    av_bprint_finalize(&r.reply, NULL);
    if (ret >= 0 && r.etag[0] && !ff_vodupload_etag_is_md5(r.etag, sum))
        av_log(c, AV_LOG_DEBUG, "%s: ETag %s is not the MD5 of the object\n", c->name, r.etag);
    return ret;
}

/* ---- URLProtocol ------------------------------------------------------------------------ */


static int vodupload_open(URLContext *h, const char *uri, int flags, AVDictionary **options)
{
    VodUploadContext *c = h->priv_data;
    int ret;

    if ((ret = context_setup(h, uri)) < 0)
        goto fail;
    ret = AVERROR(EINVAL);
    if (!c->key[0] || c->key[strlen(c->key) - 1] == '/') {
        av_log(h, AV_LOG_ERROR, "%s: the URL names no object\n", c->name);
        goto fail;
    }
    if ((flags & AVIO_FLAG_READ) && (flags & AVIO_FLAG_WRITE)) {
        av_log(h, AV_LOG_ERROR, "an object is opened either for reading or for writing\n");
        goto fail;
    }

    if (flags & AVIO_FLAG_READ) {
        if ((ret = head(c, c->key, &c->size, c->read_etag, sizeof(c->read_etag))) < 0)
            goto fail;
        if (c->size < 0) {
            av_log(h, AV_LOG_ERROR, "HeadObject %s: the reply has no Content-Length\n", c->name);
            ret = AVERROR_INVALIDDATA;
            goto fail;
        }
        ret = AVERROR(ENOMEM);
        if (!(c->rbuf = av_malloc(READ_CHUNK)))
            goto fail;
        return 0;
    }

    h->is_streamed = 1;
    if (c->max_buffer / (c->parts_in_flight + 1) < c->part_size) {
        av_log(h, AV_LOG_ERROR, "max_buffer (%"PRId64") is less than part_size (%"PRId64") times "
               "parts_in_flight + 1 (%d)\n", c->max_buffer, c->part_size, c->parts_in_flight + 1);
        goto fail;
    }
    ret = AVERROR(ENOMEM);
    c->fill_target = part_bytes(c, 1);
    if (!(c->md5 = av_md5_alloc()))
        goto fail;
    av_md5_init(c->md5);
    if (ff_vodupload_journal_read(c) && (ret = ff_vodupload_resume_check(c)) < 0)
        goto fail;
    return 0;
fail:
    /* url_close is not called for a context whose open failed */
    context_free(c);
    return ret;
}

static int vodupload_write(URLContext *h, const unsigned char *buf, int size)
{
    VodUploadContext *c = h->priv_data;
    int done = 0, ret;

    if (c->failed)
        return c->failed;
    while (done < size) {
        int64_t n;
        if (c->fill_len == c->fill_target && (ret = hand_off(h, c)) < 0) {
            c->failed = ret;
            return ret;
        }
        n = FFMIN(size - done, c->fill_target - c->fill_len);
        if ((ret = fill_reserve(c, c->fill_len + n)) < 0) {
            c->failed = ret;
            return ret;
        }
        memcpy(c->fill + c->fill_len, buf + done, n);
        av_md5_update(c->md5, buf + done, n);
        c->fill_len += n;
        done        += n;
    }
    c->written += size;
    return size;
}

static int vodupload_close(URLContext *h)
{
    VodUploadContext *c = h->priv_data;
    int ret = 0;

    if (h->flags & AVIO_FLAG_WRITE) {
        if (!c->failed && c->nb_parts && (ret = hand_off(h, c)) < 0)
            c->failed = ret;
        /* the parts in flight end before the upload is completed or aborted */
        ret = worker_wait(c);
        if (!c->failed && ret < 0)
            c->failed = ret;
        workers_stop(c);

        if (c->failed) {
            give_up(c, c->failed);
            av_log(h, AV_LOG_ERROR, "%s was not stored\n", c->name);
            ret = c->failed;
        } else if (c->nb_parts) {
            ret = complete(c);
            if (ret < 0) {
                give_up(c, ret);
                av_log(h, AV_LOG_ERROR, "%s was not stored\n", c->name);
            } else {
                ff_vodupload_journal_remove(c);
                av_log(h, AV_LOG_VERBOSE, "stored %s: %"PRId64" bytes in %d parts\n",
                       c->name, c->written, c->nb_parts);
            }
        } else if (!c->written) {
            av_log(h, AV_LOG_VERBOSE, "nothing was written to %s: no object stored, an existing "
                   "one is left as it was\n", c->name);
        } else {
            /* a journaled upload of a larger object is replaced by one PUT */
            if (c->upload_id)
                abort_upload(c, 1);
            ret = put_object(c);
            if (ret >= 0)
                av_log(h, AV_LOG_VERBOSE, "stored %s: %"PRId64" bytes\n", c->name, c->written);
            else
                av_log(h, AV_LOG_ERROR, "%s was not stored\n", c->name);
        }
    }
    context_free(c);
    return ret;
}

static int vodupload_read(URLContext *h, unsigned char *buf, int size)
{
    VodUploadContext *c = h->priv_data;
    int64_t off;
    int n;

    if (c->pos >= c->size)
        return AVERROR_EOF;
    if (c->pos < c->rbuf_pos || c->pos >= c->rbuf_pos + c->rbuf_len) {
        S3Request r;
        int ret;
        int64_t end = FFMIN(c->pos + READ_CHUNK, c->size) - 1;

        ff_s3_request_init(&r, "GET", c->bucket, c->key);
        r.range_start = c->pos;
        r.range_end   = end;
        r.reply_max   = READ_CHUNK;
        r.if_match    = c->read_etag;
        ret = ff_s3_request(&c->s3, c->curl, &r, "GetObject", 0);
        if (ret >= 0 && (r.reply.len != end - c->pos + 1 || !av_bprint_is_complete(&r.reply))) {
            av_log(h, AV_LOG_ERROR, "GetObject %s: %u bytes instead of %"PRId64" (object changed?)\n",
                   c->name, r.reply.len, end - c->pos + 1);
            ret = AVERROR_INVALIDDATA;
        }
        if (ret >= 0) {
            memcpy(c->rbuf, r.reply.str, r.reply.len);
            c->rbuf_pos = c->pos;
            c->rbuf_len = r.reply.len;
        }
        av_bprint_finalize(&r.reply, NULL);
        if (ret < 0)
            return ret;
    }
    off = c->pos - c->rbuf_pos;
    n   = FFMIN(size, c->rbuf_len - off);
    memcpy(buf, c->rbuf + off, n);
    c->pos += n;
    return n;
}

static int64_t vodupload_seek(URLContext *h, int64_t pos, int whence)
{
    VodUploadContext *c = h->priv_data;

    if (h->flags & AVIO_FLAG_WRITE) {
        /* the size so far (ffmpeg's progress line asks for it), and seeks to the end, are fine */
        if (whence == AVSEEK_SIZE)
            return c->written;
        if ((whence == SEEK_SET && pos == c->written) || (whence == SEEK_CUR && !pos) ||
            (whence == SEEK_END && !pos))
            return c->written;
        /* a muxer that seeks back would leave a corrupt object: fail the upload instead */
        av_log(h, AV_LOG_ERROR, "%s: the muxer seeks back to rewrite data, which an object being "
               "uploaded cannot do. Record into a local file and upload it when it is complete "
               "(ffliverec spools recordings this way), or use a streaming mode of the muxer "
               "(e.g. -movflags +frag_keyframe+empty_moov for MP4).\n", c->name);
        if (!c->failed)
            c->failed = AVERROR(ESPIPE);
        return AVERROR(ESPIPE);
    }
    switch (whence) {
    case AVSEEK_SIZE: return c->size;
    case SEEK_SET:    break;
    case SEEK_CUR:    pos += c->pos;  break;
    case SEEK_END:    pos += c->size; break;
    default:          return AVERROR(EINVAL);
    }
    if (pos < 0)
        return AVERROR(EINVAL);
    c->pos = pos;
    return pos;
}

static int vodupload_check(URLContext *h, int mask)
{
    VodUploadContext *c = h->priv_data;
    int64_t size;
    int ret;

    if ((ret = context_setup(h, h->filename)) >= 0) {
        /* a "folder" (no key, or a key ending in '/'): the bucket must exist */
        if (!c->key[0] || c->key[strlen(c->key) - 1] == '/')
            ret = head(c, "", &size, NULL, 0);
        else
            ret = head(c, c->key, &size, NULL, 0);
    }
    context_free(c);
    return ret < 0 ? ret : mask & (AVIO_FLAG_READ | AVIO_FLAG_WRITE);
}

static int delete_object(URLContext *h)
{
    VodUploadContext *c = h->priv_data;
    S3Request r;
    int ret;

    if ((ret = context_setup(h, h->filename)) < 0)
        return ret;
    if (!c->key[0]) {
        av_log(h, AV_LOG_ERROR, "%s: the URL names no object\n", c->name);
        return AVERROR(EINVAL);
    }
    ff_s3_request_init(&r, "DELETE", c->bucket, c->key);
    ret = ff_s3_request(&c->s3, c->curl, &r, "DeleteObject", 1);
    av_bprint_finalize(&r.reply, NULL);
    return ret;
}

static int vodupload_delete(URLContext *h)
{
    int ret = delete_object(h);
    context_free(h->priv_data);
    return ret;
}

static int move_object(URLContext *h_src, URLContext *h_dst)
{
    VodUploadContext *src = h_src->priv_data, *dst = h_dst->priv_data;
    S3Request r;
    AVBPrint cs;
    int ret;

    if ((ret = context_setup(h_src, h_src->filename)) < 0 ||
        (ret = context_setup(h_dst, h_dst->filename)) < 0)
        return ret;
    if (!src->key[0] || !dst->key[0]) {
        av_log(h_src, AV_LOG_ERROR, "a move needs two objects\n");
        return AVERROR(EINVAL);
    }
    if (strcmp(src->endpoint, dst->endpoint)) {
        av_log(h_src, AV_LOG_ERROR, "cannot move %s to another server\n", src->name);
        return AVERROR(EXDEV);
    }
    if (!strcmp(src->name, dst->name))
        return 0;
    av_bprint_init(&cs, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_chars(&cs, '/', 1);
    ff_s3_uri_encode(&cs, src->bucket, 0);
    av_bprint_chars(&cs, '/', 1);
    ff_s3_uri_encode(&cs, src->key, 1);
    ff_s3_request_init(&r, "PUT", dst->bucket, dst->key);
    r.copy_source  = cs.str;
    r.error_in_200 = 1;
    r.content_type = dst->content_type ? dst->content_type : ff_s3_content_type(dst->key);
    ret = av_bprint_is_complete(&cs) ? ff_s3_request(&dst->s3, dst->curl, &r, "CopyObject", 0) :
                                       AVERROR(ENOMEM);
    av_bprint_finalize(&r.reply, NULL);
    av_bprint_finalize(&cs, NULL);
    if (ret < 0)
        return ret;
    return delete_object(h_src);
}

static int vodupload_move(URLContext *h_src, URLContext *h_dst)
{
    int ret = move_object(h_src, h_dst);
    context_free(h_src->priv_data);
    context_free(h_dst->priv_data);
    return ret;
}

#define OFFSET(x) offsetof(VodUploadContext, x)
#define E AV_OPT_FLAG_ENCODING_PARAM
#define D AV_OPT_FLAG_DECODING_PARAM
static const AVOption vodupload_options[] = {
    { "access_key",   "S3 access key id (default: $AWS_ACCESS_KEY_ID)", OFFSET(access_key), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, E|D },
    { "secret_key",   "S3 secret access key (default: $AWS_SECRET_ACCESS_KEY)", OFFSET(secret_key), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, E|D },
    { "region",       "region in the SigV4 signature (default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)", OFFSET(region), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, E|D },
    { "part_size",    "bytes of the first parts of a multipart upload (later ones grow)", OFFSET(part_size), AV_OPT_TYPE_INT64, { .i64 = 8LL << 20 }, MIN_PART_SIZE, MAX_PART_SIZE, E },
    { "parts_in_flight", "parts uploaded at once, each on its own connection", OFFSET(parts_in_flight), AV_OPT_TYPE_INT, { .i64 = 2 }, 1, 64, E },
    { "max_part_count", "parts the server allows in one upload (S3: 10000, Swift: 1000)", OFFSET(max_part_count), AV_OPT_TYPE_INT, { .i64 = 1000 }, 1, MAX_PARTS, E },
    { "max_buffer",   "most bytes of part buffers, which bounds how large parts grow", OFFSET(max_buffer), AV_OPT_TYPE_INT64, { .i64 = 1LL << 30 }, 3 * MIN_PART_SIZE, INT64_MAX, E },
    { "verify_etag",  "the completed object's ETag must be the one its parts' MD5s give", OFFSET(verify_etag), AV_OPT_TYPE_BOOL, { .i64 = 1 }, 0, 1, E },
    { "max_retries",  "retries of a request after a connection error, timeout or 5xx", OFFSET(max_retries), AV_OPT_TYPE_INT, { .i64 = 5 }, 0, 100, E|D },
    { "retry_delay",  "delay before the first retry, doubled for each next one", OFFSET(retry_delay), AV_OPT_TYPE_DURATION, { .i64 = 1000000 }, 0, S3_MAX_RETRY_DELAY, E|D },
    { "timeout",      "connect timeout, and the time without progress after which a request fails", OFFSET(timeout), AV_OPT_TYPE_DURATION, { .i64 = 30000000 }, 1000, INT64_MAX / 1000, E|D },
    { "content_type", "Content-Type of the object (default: from the key's extension)", OFFSET(content_type), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, E },
    { "journal",      "local file that keeps the upload id and finished parts, to resume after a restart", OFFSET(journal), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, E },
    { NULL }
};

static const AVClass vodupload_class = {
    .class_name = "vodupload",
    .item_name  = av_default_item_name,
    .option     = vodupload_options,
    .version    = LIBAVUTIL_VERSION_INT,
};

const URLProtocol ff_vodupload_protocol = {
    .name                = "vodupload",
    .url_open2           = vodupload_open,
    .url_read            = vodupload_read,
    .url_write           = vodupload_write,
    .url_seek            = vodupload_seek,
    .url_close           = vodupload_close,
    .url_check           = vodupload_check,
    .url_delete          = vodupload_delete,
    .url_move            = vodupload_move,
    .priv_data_size      = sizeof(VodUploadContext),
    .priv_data_class     = &vodupload_class,
    .flags               = URL_PROTOCOL_FLAG_NESTED_SCHEME,
};
