/*
 * ffliverec -serve: the origins' hooks, each into one push event
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
 * Every origin announces a push in its own way:
 * - nginx-rtmp: on_publish / on_publish_done, a form (call, app, name, tcurl, addr, clientid,
 *   flashver, swfurl, pageurl, type, then the publisher's own query arguments);
 * - SRS: http_hooks on_publish / on_unpublish, JSON (action, vhost, app, stream, param, tcUrl,
 *   client_id, ip, ...), answered 200 with {"code":0};
 * - MediaMTX runs a command: liverec/hooks/mediamtx posts JSON (action ready / notready, path,
 *   query, source_type, source_id);
 * - Node-Media-Server 4: notify, JSON sent as text/plain (action postPublish / donePublish, id,
 *   ip, app, name, query as an object, ...). Anything but 200 makes it close the session.
 * Each is turned into one LiveRecHook and handed to the manager. The answer is always at once:
 * the origin holds its publisher until it has it. The recorder never decides who may publish, so
 * a push it does not record is still answered 200 {"code":0}; only a request it cannot read at
 * all is answered 400, and a wrong HookToken 403.
 */

#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "ffliverec_serve.h"

void ff_liverec_hook_free(LiveRecHook *h)
{
    av_freep(&h->vhost);
    av_freep(&h->tcurl);
    av_freep(&h->app);
    av_freep(&h->stream);
    av_freep(&h->param);
    av_freep(&h->user_ip);
    av_freep(&h->client_id);
}

static int bad_request(LiveRecHttpRequest *req, LiveRecHttpResponse *resp, const char *why)
{
    /* the body is untrusted: never echo it, only say what is wrong */
    av_log(NULL, AV_LOG_WARNING, "%s: refused: %s\n", req->path, why);
    return ff_liverec_http_reply(resp, MHD_HTTP_BAD_REQUEST, "application/json",
                                 "{\"code\":400,\"message\":\"%s\"}", why);
}

/* Check the token, hand the push to the manager, answer. */
static int deliver(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp,
                   LiveRecHook *h)
{
    AVBPrint why;
    int ret;

    h->origin_name = ff_liverec_http_arg(req, "origin");
    av_bprint_init(&why, 0, 1024);
    ret = ff_liverec_manager_hook(m, h, &why, &resp->hold);
    ff_liverec_hook_free(h);
    if (ret == AVERROR(EINVAL)) {
        ret = bad_request(req, resp, "the push cannot be read");
    } else if (ret >= 0) {
        ret = ff_liverec_http_reply(resp, MHD_HTTP_OK, "application/json", "{\"code\":0}");
    }
    av_bprint_finalize(&why, NULL);
    return ret;
}

static int token_ok(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    if (ff_liverec_manager_check_token(m, ff_liverec_http_arg(req, "token")))
        return 1;
    av_log(NULL, AV_LOG_WARNING, "%s: refused: wrong or missing token\n", req->path);
    ff_liverec_http_reply(resp, MHD_HTTP_FORBIDDEN, "application/json",
                          "{\"code\":403,\"message\":\"wrong or missing token\"}");
    return 0;
}

/* nginx-rtmp: a form, read by libmicrohttpd's post processor */
typedef struct FormState {
    LiveRecHook *h;
    char *call;
    AVBPrint args;                      ///< the publisher's own arguments, as a query string
    int  bad;
} FormState;

static int set_field(char **dst, const char *data, size_t size)
{
    char *v = av_malloc(size + 1);
    if (!v)
        return AVERROR(ENOMEM);
    /* a NUL byte (%00) would cut the value short: it becomes '?', which no name may hold */
    for (size_t i = 0; i < size; i++)
        v[i] = data[i] ? data[i] : '?';
    v[size] = 0;
    av_free(*dst);
    *dst = v;
    return 0;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *encoding, const char *data, uint64_t off, size_t size)
{
    static const char *const nginx_fields[] = {
        "flashver", "swfurl", "pageurl", "type", "epoch", NULL,
    };
    FormState *f = cls;
    char **dst = NULL;

    /* values come whole from a body of at most 64 KiB; a value in pieces is appended */
    if (!strcmp(key, "call"))
        dst = &f->call;
    else if (!strcmp(key, "app"))
        dst = &f->h->app;
    else if (!strcmp(key, "name"))
        dst = &f->h->stream;
    else if (!strcmp(key, "tcurl"))
        dst = &f->h->tcurl;
    else if (!strcmp(key, "addr"))
        dst = &f->h->user_ip;
    else if (!strcmp(key, "clientid"))
        dst = &f->h->client_id;
    if (dst) {
        char *piece = NULL, *v;
        if (set_field(&piece, data, size) < 0)
            return MHD_NO;
        if (!off || !*dst) {
            av_free(*dst);
            *dst = piece;
            return MHD_YES;
        }
        v = av_asprintf("%s%s", *dst, piece);
        av_free(piece);
        if (!v)
            return MHD_NO;
        av_free(*dst);
        *dst = v;
        return MHD_YES;
    }
    for (int i = 0; nginx_fields[i]; i++)
        if (!strcmp(key, nginx_fields[i]))
            return MHD_YES;
    if (!off)
        av_bprintf(&f->args, "%s%s=", f->args.len ? "&" : "", key);
    for (size_t i = 0; i < size; i++)
        av_bprint_chars(&f->args, data[i] ? data[i] : '?', 1);
    return MHD_YES;
}

int ff_liverec_hook_nginx_rtmp(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    LiveRecHook h = { .type = LIVEREC_ORIGIN_NGINX_RTMP };
    FormState f = { .h = &h };
    struct MHD_PostProcessor *pp;
    int ret;

    if (!token_ok(m, req, resp))
        return 0;
    if (!req->content_type ||
        !av_stristart(req->content_type, MHD_HTTP_POST_ENCODING_FORM_URLENCODED, NULL))
        return bad_request(req, resp, "expected a form (application/x-www-form-urlencoded)");
    av_bprint_init(&f.args, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!(pp = MHD_create_post_processor(req->connection, 4096, form_field, &f))) {
        av_bprint_finalize(&f.args, NULL);
        return bad_request(req, resp, "the form cannot be read");
    }
    f.bad = MHD_post_process(pp, req->body, req->body_len) != MHD_YES;
    f.bad |= MHD_destroy_post_processor(pp) != MHD_YES;
    if (!f.bad && av_bprint_is_complete(&f.args) && f.args.len)
        f.bad = av_bprint_finalize(&f.args, &h.param) < 0;
    else
        av_bprint_finalize(&f.args, NULL);

    if (f.bad) {
        ret = bad_request(req, resp, "the form cannot be read");
    } else if (!f.call || !h.app || !h.stream) {
        ret = bad_request(req, resp, "call, app and name are required");
    } else if (!strcmp(f.call, "publish") || !strcmp(f.call, "publish_done")) {
        h.publish = !strcmp(f.call, "publish");
        av_freep(&f.call);
        return deliver(m, req, resp, &h);
    } else {
        /* on_play, on_done, on_connect...: not ours, but never refused */
        ret = ff_liverec_http_reply(resp, MHD_HTTP_OK, "application/json", "{\"code\":0}");
    }
    av_free(f.call);
    ff_liverec_hook_free(&h);
    return ret;
}

/* A JSON object body, or NULL (and the answer made) */
static json_t *json_body(LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    json_error_t err;
    json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);

    if (!o || !json_is_object(o)) {
        json_decref(o);
        bad_request(req, resp, "the body is not a JSON object");
        return NULL;
    }
    return o;
}

/* A string member as a new string; NULL when absent or not a string; *bad on ENOMEM. */
static char *json_str(json_t *o, const char *key, int *bad)
{
    const char *v = json_string_value(json_object_get(o, key));
    char *s;

    if (!v)
        return NULL;
    if (!(s = av_strdup(v)))
        *bad = 1;
    return s;
}

/*
 * The JSON body of a hook whose "action" says start or end (start, end: the origin's names):
 * 1 and *publish set if it is one of them; 0 if the request is answered already (refused, or an
 * action that is not ours, answered 200); < 0 on error.
 */
static int json_hook(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp,
                     const char *start, const char *end, json_t **po, int *publish)
{
    const char *action;
    json_t *o;

    if (!token_ok(m, req, resp) || !(o = json_body(req, resp)))
        return 0;
    if (!(action = json_string_value(json_object_get(o, "action")))) {
        json_decref(o);
        return bad_request(req, resp, "action is required");
    }
    if (strcmp(action, start) && strcmp(action, end)) {
        /* on_play, prePublish, postPlay...: not ours, but never refused */
        json_decref(o);
        return ff_liverec_http_reply(resp, MHD_HTTP_OK, "application/json", "{\"code\":0}");
    }
    *publish = !strcmp(action, start);
    *po      = o;
    return 1;
}

int ff_liverec_hook_srs(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    LiveRecHook h = { .type = LIVEREC_ORIGIN_SRS };
    json_t *o = NULL;
    int bad = 0, ret;

    if ((ret = json_hook(m, req, resp, "on_publish", "on_unpublish", &o, &h.publish)) <= 0)
        return ret;
    h.vhost     = json_str(o, "vhost", &bad);
    h.tcurl     = json_str(o, "tcUrl", &bad);
    h.app       = json_str(o, "app", &bad);
    h.stream    = json_str(o, "stream", &bad);
    h.param     = json_str(o, "param", &bad);
    h.user_ip   = json_str(o, "ip", &bad);
    h.client_id = json_str(o, "client_id", &bad);
    json_decref(o);
    /* SRS' param keeps its '?' */
    if (h.param && h.param[0] == '?')
        memmove(h.param, h.param + 1, strlen(h.param));
    if (bad)
        ret = AVERROR(ENOMEM);
    else if (!h.app || !h.stream)
        ret = bad_request(req, resp, "app and stream are required");
    else
        return deliver(m, req, resp, &h);
    ff_liverec_hook_free(&h);
    return ret;
}

int ff_liverec_hook_mediamtx(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    LiveRecHook h = { .type = LIVEREC_ORIGIN_MEDIAMTX };
    const char *action, *path, *slash;
    json_t *o;
    int bad = 0, ret;

    if (!token_ok(m, req, resp) || !(o = json_body(req, resp)))
        return 0;
    action = json_string_value(json_object_get(o, "action"));
    path   = json_string_value(json_object_get(o, "path"));
    if (!action || !path || (strcmp(action, "ready") && strcmp(action, "notready"))) {
        json_decref(o);
        return bad_request(req, resp, "action (ready or notready) and path are required");
    }
    /* MediaMTX paths are APP/STREAM here: the last segment is the stream */
    if (!(slash = strrchr(path, '/'))) {
        json_decref(o);
        return bad_request(req, resp, "path must be APP/STREAM");
    }
    h.publish = !strcmp(action, "ready");
    h.app     = av_strndup(path, slash - path);
    h.stream  = av_strdup(slash + 1);
    h.param   = json_str(o, "query", &bad);
    h.client_id = json_str(o, "source_id", &bad);
    json_decref(o);
    if (bad || !h.app || !h.stream)
        ret = AVERROR(ENOMEM);
    else
        return deliver(m, req, resp, &h);
    ff_liverec_hook_free(&h);
    return ret;
}

int ff_liverec_hook_node_media_server(LiveRecManager *m, LiveRecHttpRequest *req,
                                      LiveRecHttpResponse *resp)
{
    LiveRecHook h = { .type = LIVEREC_ORIGIN_NODE_MEDIA_SERVER };
    const char *key, *ip;
    json_t *o = NULL, *query, *v;
    AVBPrint args;
    int bad = 0, ret;

    /* sent as text/plain: the content type is not checked, the body must be JSON; prePublish
     * comes with every postPublish and is not ours */
    if ((ret = json_hook(m, req, resp, "postPublish", "donePublish", &o, &h.publish)) <= 0)
        return ret;
    h.app       = json_str(o, "app", &bad);
    h.stream    = json_str(o, "name", &bad);
    h.client_id = json_str(o, "id", &bad);
    /* ip is ADDRESS:PORT, without brackets also for IPv6 (::ffff:1.2.3.4:5000) */
    if ((ip = json_string_value(json_object_get(o, "ip")))) {
        const char *colon = strrchr(ip, ':');
        if (!(h.user_ip = colon && colon[1] && !colon[1 + strspn(colon + 1, "0123456789")] ?
                          av_strndup(ip, colon - ip) : av_strdup(ip)))
            bad = 1;
    }
    /* query: the publisher's arguments as an object of strings */
    av_bprint_init(&args, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (json_is_object(query = json_object_get(o, "query")))
        json_object_foreach(query, key, v)
            if (json_is_string(v))
                av_bprintf(&args, "%s%s=%s", args.len ? "&" : "", key, json_string_value(v));
    if (args.len && av_bprint_finalize(&args, &h.param) < 0)
        bad = 1;
    else if (!args.len)
        av_bprint_finalize(&args, NULL);
    json_decref(o);
    if (bad)
        ret = AVERROR(ENOMEM);
    else if (!h.app || !h.stream)
        ret = bad_request(req, resp, "app and name are required");
    else
        return deliver(m, req, resp, &h);
    ff_liverec_hook_free(&h);
    return ret;
}
