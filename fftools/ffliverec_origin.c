/*
 * ffliverec -serve: which streams an origin's status page says are live
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

/*
 * Reconciliation asks an origin's StatusUrl which streams are being published:
 * - nginx-rtmp: the `rtmp_stat all` XML, every /rtmp/server/application/live/stream that has a
 *   <publishing/> child;
 * - SRS: /api/v1/streams/ (count=10000 added, SRS pages by 10), streams[] with publish.active,
 *   the vhost taken from url ("[vhost]/app/stream");
 * - MediaMTX: /v3/paths/list (itemsPerPage=10000 added, it pages by 100), items[] that are
 *   ready, name "APP/STREAM";
 * - Node-Media-Server 4: /api/v1/streams, data.streams[] with status "publishing"; its API needs
 *   a JWT, so user:pass@ in the StatusUrl first logs in at /api/v1/login.
 * The page is untrusted: it is read with a time limit and a size cap, parsed by libxml2 (no
 * network, no entity expansion) or jansson, and entries that do not have the expected shape are
 * skipped. Userinfo is never logged.
 */

#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "ffliverec_serve.h"

#define MAX_BODY (8 << 20)

/* the query parameter that sets how many streams a page lists */
static const char *const page_size[LIVEREC_NB_ORIGIN_TYPES] = {
    [LIVEREC_ORIGIN_SRS]      = "count=",
    [LIVEREC_ORIGIN_MEDIAMTX] = "itemsPerPage=",
};

typedef struct List {
    LiveRecLiveStream *s;
    int nb, size;
} List;

/* Add one live stream (copies of the strings); empty names are skipped. */
static int add(List *l, const char *vhost, const char *app, const char *stream)
{
    LiveRecLiveStream *s;

    if (!app || !stream || !*app || !*stream)
        return 0;
    if (l->nb == l->size) {
        int size = l->size ? 2 * l->size : 16;
        void *tmp = av_realloc_array(l->s, size, sizeof(*l->s));
        if (!tmp)
            return AVERROR(ENOMEM);
        l->s    = tmp;
        l->size = size;
    }
    /* counted at once: on failure ff_liverec_origin_list_free() frees what was copied */
    s = &l->s[l->nb++];
    s->vhost  = vhost && *vhost ? av_strdup(vhost) : NULL;
    s->app    = av_strdup(app);
    s->stream = av_strdup(stream);
    return !s->app || !s->stream || (vhost && *vhost && !s->vhost) ? AVERROR(ENOMEM) : 0;
}

void ff_liverec_origin_list_free(LiveRecLiveStream **list, int nb)
{
    if (!*list)
        return;
    for (int i = 0; i < nb; i++) {
        av_freep(&(*list)[i].vhost);
        av_freep(&(*list)[i].app);
        av_freep(&(*list)[i].stream);
    }
    av_freep(list);
}

/* The URL for the log: without user:pass@ */
static char *log_url(CURLU *u)
{
    CURLU *c = curl_url_dup(u);
    char *s = NULL, *ret;

    if (c && curl_url_set(c, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
        curl_url_set(c, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK)
        curl_url_get(c, CURLUPART_URL, &s, 0);
    ret = av_strdup(s ? s : "(invalid URL)");
    curl_free(s);
    curl_url_cleanup(c);
    return ret;
}

static size_t write_cb(char *data, size_t size, size_t n, void *opaque)
{
    AVBPrint *b = opaque;

    if (b->len + size * n > MAX_BODY)
        return 0;                       /* aborts the transfer */
    av_bprint_append_data(b, data, size * n);
    return av_bprint_is_complete(b) ? size * n : 0;
}

/* GET (POST if post) url into body; 0 on a 2xx answer, AVERROR(EIO) on anything else. */
static int http(const LiveRecOrigin *o, const char *url, const char *shown, const char *post,
                const char *header, AVBPrint *body)
{
    struct curl_slist *hdr = header ? curl_slist_append(NULL, header) : NULL;
    CURL *c = curl_easy_init();
    CURLcode res = CURLE_OUT_OF_MEMORY;
    long status = 0;
    char code[32];

    av_bprint_clear(body);
    if (c && (!header || hdr)) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MAX_BODY);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        if (hdr)
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        if (post) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
        }
        res = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(hdr);
    if (c)
        curl_easy_cleanup(c);
    if (res == CURLE_OK && status >= 200 && status <= 299)
        return 0;
    snprintf(code, sizeof(code), "HTTP %ld", status);
    av_log(NULL, AV_LOG_WARNING, "%s status page %s: %s\n", ff_liverec_origin_type_names[o->type],
           shown, res == CURLE_WRITE_ERROR || res == CURLE_FILESIZE_EXCEEDED ?
                  "larger than 8 MiB (or out of memory)" :
                  res != CURLE_OK ? curl_easy_strerror(res) : code);
    return AVERROR(EIO);
}

/* The text of an element's own text children; NULL if it has anything else (entity refs). */
static char *xml_text(xmlNodePtr n)
{
    AVBPrint b;
    char *s;

    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) {
            av_bprint_finalize(&b, NULL);
            return NULL;
        }
        if (c->content)
            av_bprintf(&b, "%s", (const char *)c->content);
    }
    return av_bprint_finalize(&b, &s) < 0 ? NULL : s;
}

/* The first element named tag from n on (n and its next siblings) */
static xmlNodePtr element(xmlNodePtr n, const char *tag)
{
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, (const xmlChar *)tag))
            return n;
    return NULL;
}

#define EACH(c, parent, tag) \
    for (xmlNodePtr c = element((parent)->children, tag); c; c = element(c->next, tag))

static int parse_nginx_rtmp(const char *data, size_t len, List *l)
{
    xmlDocPtr doc = xmlReadMemory(data, len, "status.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL, name;
    int ret = 0;

    if (!root || xmlStrcmp(root->name, (const xmlChar *)"rtmp")) {
        xmlFreeDoc(doc);
        return AVERROR_INVALIDDATA;
    }
    EACH(server, root, "server")
    EACH(app, server, "application") {
        char *app_name = (name = element(app->children, "name")) ? xml_text(name) : NULL;
        EACH(live, app, "live")
        EACH(stream, live, "stream") {
            char *stream_name = NULL;
            /* a stream with only players waiting has no <publishing/> */
            if (app_name && ret >= 0 && element(stream->children, "publishing") &&
                (name = element(stream->children, "name")) && (stream_name = xml_text(name)))
                ret = add(l, NULL, app_name, stream_name);
            av_free(stream_name);
        }
        av_free(app_name);
    }
    xmlFreeDoc(doc);
    return ret;
}

static const char *json_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* SRS, MediaMTX and NMS: the JSON array of streams, the published ones */
static int parse_json(enum LiveRecOriginType type, json_t *root, List *l)
{
    json_t *a = type == LIVEREC_ORIGIN_SRS      ? json_object_get(root, "streams") :
                type == LIVEREC_ORIGIN_MEDIAMTX ? json_object_get(root, "items")   :
                json_object_get(json_object_get(root, "data"), "streams"), *s, *ready;
    size_t i;
    int ret;

    if (!json_is_array(a))
        return AVERROR_INVALIDDATA;
    json_array_foreach(a, i, s) {
        const char *app = json_str(s, "app"), *stream = json_str(s, "name"), *name, *slash;
        char *prefix = NULL;            /* SRS: the vhost, MediaMTX: the app */

        if (type == LIVEREC_ORIGIN_SRS) {
            /* url is [vhost]/app/stream, the vhost left out for the default one */
            name  = json_str(s, "url");
            slash = name ? strchr(name, '/') : NULL;
            if (!json_is_true(json_object_get(json_object_get(s, "publish"), "active")) || !slash)
                continue;
        } else if (type == LIVEREC_ORIGIN_MEDIAMTX) {
            /* "ready" is a deprecated alias of "available" since 1.20: take either */
            if (!json_is_boolean(ready = json_object_get(s, "ready")))
                ready = json_object_get(s, "available");
            name  = stream;
            slash = name ? strrchr(name, '/') : NULL;
            if (!json_is_true(ready) || !slash)
                continue;
            stream = slash + 1;
        } else {
            name = json_str(s, "status");
            if (!name || strcmp(name, "publishing"))
                continue;
            slash = NULL;
        }
        if (slash && !(prefix = av_strndup(name, slash - name)))
            return AVERROR(ENOMEM);
        if (type == LIVEREC_ORIGIN_SRS)
            ret = add(l, strcmp(prefix, "__defaultVhost__") ? prefix : NULL, app, stream);
        else
            ret = add(l, NULL, prefix ? prefix : app, stream);
        av_free(prefix);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/*
 * NMS: log in with the StatusUrl's user:pass (taken out of u, they are not HTTP credentials) at
 * /api/v1/login, into the Authorization header for the list.
 */
static int nms_login(const LiveRecOrigin *o, CURLU *u, const char *shown, AVBPrint *body,
                     char **auth)
{
    CURLU *login = NULL;
    char *user = NULL, *pass = NULL, *url = NULL, *json = NULL;
    const char *token = NULL;
    json_t *req = NULL, *resp = NULL;
    int ret = AVERROR(ENOMEM);

    /* curl refuses %00 (and jansson what is not UTF-8), allocations aside */
    if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE) == CURLUE_URLDECODE ||
        !(req = json_pack("{s:s, s:s}", "username", user, "password", pass ? pass : ""))) {
        av_log(NULL, AV_LOG_WARNING, "%s status page %s: cannot use its user:pass to log in\n",
               ff_liverec_origin_type_names[o->type], shown);
        ret = AVERROR(EINVAL);
        goto end;
    }
    if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK || !(login = curl_url_dup(u)) ||
        curl_url_set(login, CURLUPART_URL, "/api/v1/login", 0) != CURLUE_OK ||
        curl_url_get(login, CURLUPART_URL, &url, 0) != CURLUE_OK ||
        !(json = json_dumps(req, JSON_COMPACT)) ||
        (ret = http(o, url, url, json, "Content-Type: application/json", body)) < 0)
        goto end;
    resp  = json_loadb(body->str, body->len, 0, NULL);
    token = json_str(json_object_get(resp, "data"), "token");
    /* the token goes into a header: RFC 6750 token68 characters only */
    if (!token || !*token || token[strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                 "abcdefghijklmnopqrstuvwxyz0123456789-._~+/=")]) {
        av_log(NULL, AV_LOG_WARNING, "%s status page %s: the login at %s gave no token\n",
               ff_liverec_origin_type_names[o->type], shown, url);
        ret = AVERROR(EIO);
        goto end;
    }
    ret = (*auth = av_asprintf("Authorization: Bearer %s", token)) ? 0 : AVERROR(ENOMEM);
end:
    json_decref(resp);
    json_decref(req);
    free(json);
    curl_free(url);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(login);
    return ret;
}

/* 1 if the query string has the parameter ("name=") */
static int has_param(const char *query, const char *name)
{
    for (const char *p = query; p && *p; p += strcspn(p, "&"), p += !!*p)
        if (av_strstart(p, name, NULL))
            return 1;
    return 0;
}

int ff_liverec_origin_list(const LiveRecOrigin *o, LiveRecLiveStream **list)
{
    const char *type = (unsigned)o->type < LIVEREC_NB_ORIGIN_TYPES ?
                       ff_liverec_origin_type_names[o->type] : NULL;
    CURLU *u = NULL;
    char *shown = NULL, *url = NULL, *query = NULL, *param = NULL, *user = NULL, *auth = NULL;
    List l = { 0 };
    AVBPrint body;
    json_t *root = NULL;
    int ret = AVERROR(ENOMEM);

    *list = NULL;
    if (!type || !o->status_url)
        return AVERROR(EINVAL);
    av_bprint_init(&body, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!(u = curl_url()))
        goto end;
    if (curl_url_set(u, CURLUPART_URL, o->status_url, 0) != CURLUE_OK) {
        av_log(NULL, AV_LOG_WARNING, "%s status page: StatusUrl is not a valid URL\n", type);
        ret = AVERROR(EINVAL);
        goto end;
    }
    if (!(shown = log_url(u)))
        goto end;
    /* a stream left out is taken as ended: SRS lists 10 and MediaMTX 100 unless asked for more */
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    if (page_size[o->type] && !has_param(query, page_size[o->type]) &&
        (!(param = av_asprintf("%s10000", page_size[o->type])) ||
         curl_url_set(u, CURLUPART_QUERY, param, CURLU_APPENDQUERY) != CURLUE_OK))
        goto end;
    /* NMS: user:pass@ are the API's login, not HTTP credentials */
    if (o->type == LIVEREC_ORIGIN_NODE_MEDIA_SERVER &&
        curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK &&
        (ret = nms_login(o, u, shown, &body, &auth)) < 0)
        goto end;
    ret = AVERROR(ENOMEM);
    if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
        goto end;
    if ((ret = http(o, url, shown, NULL, auth, &body)) < 0)
        goto end;

    if (o->type == LIVEREC_ORIGIN_NGINX_RTMP)
        ret = parse_nginx_rtmp(body.str, body.len, &l);
    else if (!(root = json_loadb(body.str, body.len, 0, NULL)))
        ret = AVERROR_INVALIDDATA;
    else
        ret = parse_json(o->type, root, &l);
    /* the page is untrusted: say what is wrong, never echo it */
    if (ret == AVERROR_INVALIDDATA)
        av_log(NULL, AV_LOG_WARNING, "%s status page %s: %s\n", type, shown,
               o->type != LIVEREC_ORIGIN_NGINX_RTMP && !root ? "not valid JSON"
                                                           : "not a page of this origin type");
end:
    if (ret == AVERROR(ENOMEM))
        av_log(NULL, AV_LOG_WARNING, "%s status page: out of memory\n", type);
    json_decref(root);
    av_bprint_finalize(&body, NULL);
    av_free(auth);
    av_free(param);
    curl_free(user);
    curl_free(query);
    curl_free(url);
    av_free(shown);
    curl_url_cleanup(u);
    if (ret < 0) {
        ff_liverec_origin_list_free(&l.s, l.nb);
        return ret;
    }
    *list = l.s;
    return l.nb;
}
