/*
 * ffliverec -serve: the HTTP listener (libmicrohttpd) and its routes
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
 * One libmicrohttpd daemon with a small pool of polling threads. A request body is collected up
 * to BODY_MAX bytes (a larger one is answered 400 without being kept), then the route of the
 * path is called with the whole request and fills in the answer. Routes answer at once, except
 * that a publish hook's answer may be held (LiveRecHold): its connection is suspended, and the
 * releaser thread resumes it when the hold is over, checking every HOLD_POLL. An origin holds
 * its publisher until its hook is answered.
 */

#include <inttypes.h>
#include <pthread.h>
#include <netdb.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/thread.h"
#include "libavutil/time.h"

#include "ffliverec_serve.h"

#define BODY_MAX (64 << 10)
#define HTTP_THREADS 4
#define HOLD_POLL 10000                 ///< microseconds

/* one request being received */
typedef struct Request {
    AVBPrint body;
    int too_big;
    int held;                           ///< suspended: resp is sent when it is resumed
    LiveRecHttpResponse resp;
} Request;

typedef struct Held {
    struct MHD_Connection *c;
    Request *r;
} Held;

struct LiveRecHttp {
    struct MHD_Daemon *daemon;
    LiveRecManager *manager;
    pthread_t releaser;
    int releaser_started;
    pthread_mutex_t lock;               ///< guards what follows
    pthread_cond_t cond;
    Held *held;
    int nb_held;
    unsigned held_bytes;                ///< allocated for held (av_fast_realloc())
    int stopping;
};

typedef struct Route {
    const char *method;
    const char *path;
    int (*handler)(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp);
} Route;

/* a path ending in '/' is a prefix: the handler reads the rest */
static const Route routes[] = {
    { "POST", "/",                       ff_liverec_api_request },
    { "GET",  "/",                       ff_liverec_status_page },
    { "GET",  "/status.json",            ff_liverec_status_json },
    { "GET",  "/metrics",                ff_liverec_status_metrics },
    { "GET",  "/player/",                ff_liverec_status_page },
    { "GET",  "/live/",                  ff_liverec_status_media },
    { "GET",  "/recordings/",            ff_liverec_status_media },
    { "POST", "/hook/nginx-rtmp",        ff_liverec_hook_nginx_rtmp },
    { "POST", "/hook/srs",               ff_liverec_hook_srs },
    { "POST", "/hook/mediamtx",          ff_liverec_hook_mediamtx },
    { "POST", "/hook/node-media-server", ff_liverec_hook_node_media_server },
};

static int route_matches(const Route *r, const char *url)
{
    size_t len = strlen(r->path);
    if (len > 1 && r->path[len - 1] == '/')
        return !strncmp(url, r->path, len) && url[len];
    return !strcmp(url, r->path);
}

const char *ff_liverec_http_arg(const LiveRecHttpRequest *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
}

const char *ff_liverec_http_header(const LiveRecHttpRequest *req, const char *name)
{
    return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

int ff_liverec_http_reply(LiveRecHttpResponse *resp, int status, const char *content_type,
                          const char *fmt, ...)
{
    AVBPrint bp;
    va_list vl;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    va_start(vl, fmt);
    av_vbprintf(&bp, fmt, vl);
    va_end(vl);
    av_freep(&resp->body);
    resp->status       = status;
    resp->content_type = content_type;
    if (!av_bprint_is_complete(&bp)) {
        av_bprint_finalize(&bp, NULL);
        return AVERROR(ENOMEM);
    }
    resp->len = bp.len;
    return av_bprint_finalize(&bp, &resp->body);
}

static enum MHD_Result send_response(struct MHD_Connection *c, LiveRecHttpResponse *r)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;

    /* MHD frees the body with free(): give it its own copy */
    mr = MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    if (r->content_type)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->cache_control)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache_control);
    ret = MHD_queue_response(c, r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* Suspend c until resp's hold is over; 0 if it cannot be (answered at once then). */
static int hold(LiveRecHttp *h, struct MHD_Connection *c, Request *r, LiveRecHttpResponse *resp)
{
    int ok = 0;

    pthread_mutex_lock(&h->lock);
    if (!h->stopping && h->releaser_started) {
        /* on failure the array stays as it was: what it holds is still resumed */
        Held *held = av_fast_realloc(h->held, &h->held_bytes, (h->nb_held + 1) * sizeof(*held));
        if (held) {
            h->held = held;
            /* suspended before the releaser can see it: it resumes only what is suspended */
            MHD_suspend_connection(c);
            h->held[h->nb_held++] = (Held){ c, r };
            r->resp = *resp;
            r->held = 1;
            pthread_cond_signal(&h->cond);
            ok = 1;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return ok;
}

/* Resume the held answers whose hold is over (all of them when stopping). Locked. */
static void release(LiveRecHttp *h, int all)
{
    int64_t now = av_gettime_relative();

    for (int i = 0; i < h->nb_held; i++) {
        Held *hd = &h->held[i];
        LiveRecHold *hl = &hd->r->resp.hold;
        int end = ff_liverec_hold_check(hl, now);

        if (end == LIVEREC_HOLD_WAITING && !all)
            continue;
        if (end == LIVEREC_HOLD_TIMEOUT)
            av_log(NULL, AV_LOG_WARNING, "%s: the publisher is let go before the recording "
                   "could subscribe (%.1f s): the push's first frames may be missing\n",
                   hl->name, (now - hl->since) / 1e6);
        else
            av_log(NULL, AV_LOG_VERBOSE, "%s: publish hook answered after %.3f s (%s)\n",
                   hl->name, (now - hl->since) / 1e6,
                   end == LIVEREC_HOLD_SUBSCRIBED ? "the recording subscribed" :
                   end == LIVEREC_HOLD_FAILED ? "the recording could not subscribe" : "stopping");
        LIVEREC_COUNT(holds[end == LIVEREC_HOLD_WAITING ? LIVEREC_HOLD_FAILED : end], 1);
        ff_liverec_hold_free(hl);
        MHD_resume_connection(hd->c);
        h->held[i--] = h->held[--h->nb_held];
    }
}

static void *releaser_main(void *arg)
{
    LiveRecHttp *h = arg;

    ff_thread_setname("lr-hook-hold");
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        if (!h->nb_held) {
            pthread_cond_wait(&h->cond, &h->lock);
            continue;
        }
        release(h, 0);
        pthread_mutex_unlock(&h->lock);
        av_usleep(HOLD_POLL);
        pthread_mutex_lock(&h->lock);
    }
    release(h, 1);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    LiveRecHttp *h = cls;
    Request *r = *con_cls;
    LiveRecHttpRequest req = { 0 };
    LiveRecHttpResponse resp = { 0 };
    const Route *route = NULL;
    enum MHD_Result ret;

    if (r && r->held) {
        /* resumed: the answer made when it was held */
        r->held = 0;
        ret = send_response(c, &r->resp);
        av_freep(&r->resp.body);
        return ret;
    }
    if (!r) {
        /* the headers: start collecting the body */
        if (!(r = av_mallocz(sizeof(*r))))
            return MHD_NO;
        av_bprint_init(&r->body, 0, BODY_MAX + 1);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > BODY_MAX)
            r->too_big = 1;
        else
            av_bprint_append_data(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }

    /* the route of this method (HEAD: GET's), else any route of the path (405) */
    for (int i = 0; i < FF_ARRAY_ELEMS(routes); i++)
        if (route_matches(&routes[i], url) &&
            (!route || !strcmp(strcmp(method, "HEAD") ? method : "GET", routes[i].method)))
            route = &routes[i];
    if (!route) {
        ff_liverec_http_reply(&resp, MHD_HTTP_NOT_FOUND, "application/json",
                              "{\"code\":404,\"message\":\"no such path\"}");
    } else if (strcmp(method, route->method) && !(!strcmp(method, "HEAD") && !strcmp(route->method, "GET"))) {
        ff_liverec_http_reply(&resp, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
                              "{\"code\":405,\"message\":\"use %s\"}", route->method);
    } else if (r->too_big || !av_bprint_is_complete(&r->body)) {
        av_log(NULL, AV_LOG_WARNING, "%s: a body of more than %d bytes is refused\n", url, BODY_MAX);
        ff_liverec_http_reply(&resp, MHD_HTTP_BAD_REQUEST, "application/json",
                              "{\"code\":400,\"message\":\"body too large\"}");
    } else {
        req.connection   = c;
        req.method       = method;
        req.path         = url;
        req.body         = r->body.str;
        req.body_len     = r->body.len;
        req.content_type = ff_liverec_http_header(&req, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (route->handler(h->manager, &req, &resp) < 0 || !resp.status)
            ff_liverec_http_reply(&resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                                  "{\"code\":500,\"message\":\"internal error\"}");
        if (av_strstart(url, "/hook/", NULL))
            LIVEREC_COUNT(hooks[resp.status == MHD_HTTP_OK ? LIVEREC_REQUEST_OK :
                                resp.status == MHD_HTTP_FORBIDDEN ? LIVEREC_REQUEST_DENIED :
                                resp.status < 500 ? LIVEREC_REQUEST_REFUSED : LIVEREC_REQUEST_ERROR], 1);
    }
    if (resp.hold.pull && resp.status == MHD_HTTP_OK && hold(h, c, r, &resp))
        return MHD_YES;
    ff_liverec_hold_free(&resp.hold);
    ret = send_response(c, &resp);
    av_free(resp.body);
    return ret;
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    Request *r = *con_cls;
    if (!r)
        return;
    av_bprint_finalize(&r->body, NULL);
    av_freep(&r->resp.body);
    ff_liverec_hold_free(&r->resp.hold);
    av_freep(con_cls);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    av_vlog(NULL, AV_LOG_WARNING, fmt, ap);
}

/* HOST:PORT or [V6]:PORT into an address */
static int parse_listen(const char *listen, struct addrinfo **ai)
{
    char host[256];
    const char *colon = strrchr(listen, ':'), *h = listen;
    size_t hlen;
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                              .ai_socktype = SOCK_STREAM };

    if (!colon || !colon[1] || colon[strspn(colon + 1, "0123456789") + 1])
        return AVERROR(EINVAL);
    hlen = colon - listen;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (!hlen || hlen >= sizeof(host))
        return AVERROR(EINVAL);
    memcpy(host, h, hlen);
    host[hlen] = 0;
    return getaddrinfo(host, colon + 1, &hints, ai) ? AVERROR(EINVAL) : 0;
}

/* Answer what is held and end the releaser thread; nothing is held from then on. */
static void stop_releaser(LiveRecHttp *h)
{
    pthread_mutex_lock(&h->lock);
    h->stopping = 1;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    if (h->releaser_started)
        pthread_join(h->releaser, NULL);
    h->releaser_started = 0;
}

static void http_free(LiveRecHttp **ph)
{
    LiveRecHttp *h = *ph;
    av_freep(&h->held);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    av_freep(ph);
}

int ff_liverec_http_start(LiveRecHttp **ph, const char *listen, LiveRecManager *m)
{
    LiveRecHttp *h;
    struct addrinfo *ai = NULL;
    int ret;

    *ph = NULL;
    if ((ret = parse_listen(listen, &ai)) < 0) {
        av_log(NULL, AV_LOG_ERROR, "-listen '%s': expected an address and a port, like "
               "127.0.0.1:8090 or [::1]:8090\n", listen);
        return ret;
    }
    if (!(h = av_mallocz(sizeof(*h)))) {
        freeaddrinfo(ai);
        return AVERROR(ENOMEM);
    }
    h->manager = m;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    if ((ret = pthread_create(&h->releaser, NULL, releaser_main, h)))
        av_log(NULL, AV_LOG_WARNING, "cannot start a thread (%s): publish hooks are answered "
               "at once\n", av_err2str(AVERROR(ret)));
    h->releaser_started = !ret;
    h->daemon  = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                                  MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                                  (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                                  0, NULL, NULL, answer, h,
                                  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                                  MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                  MHD_OPTION_NOTIFY_COMPLETED, request_done, h,
                                  /* an API call waits until its change took effect
                                   * (seconds at most): the others go on meanwhile */
                                  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                  MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        av_log(NULL, AV_LOG_ERROR, "cannot listen on %s (in use, or not an address of this "
               "machine)\n", listen);
        stop_releaser(h);
        http_free(&h);
        return AVERROR(EADDRINUSE);
    }
    av_log(NULL, AV_LOG_INFO, "listening on http://%s/ (status page /, API POST /, /metrics; "
           "hooks: /hook/nginx-rtmp, /hook/srs, /hook/mediamtx, /hook/node-media-server)\n",
           listen);
    *ph = h;
    return 0;
}

void ff_liverec_http_stop(LiveRecHttp **ph)
{
    LiveRecHttp *h = *ph;
    if (!h)
        return;
    /* the held answers are sent first: no connection stays suspended */
    stop_releaser(h);
    MHD_stop_daemon(h->daemon);
    http_free(ph);
}
