/*
 * ffliverec -serve: the service's parts (DESIGN.md section 2, "The service")
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

#ifndef FFTOOLS_FFLIVEREC_SERVE_H
#define FFTOOLS_FFLIVEREC_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "ffliverec.h"

typedef struct LiveRecManager LiveRecManager;
typedef struct LiveRecHttp LiveRecHttp;

/* ffliverec_manager.c: live streams, their sessions, the task clock, reconciliation */
typedef struct LiveRecManagerOptions {
    const char *config_path;
    const char *spool;
    const char *state_dir;
    int64_t rw_timeout;                 ///< microseconds
    int64_t stats_period;               ///< microseconds between status lines, 0: none
    volatile int *stop;                 ///< set by SIGINT/SIGTERM
    LiveRecWorker *uploader, *notifier;
    LiveRecConfigHolder *holder;        ///< told of every reloaded configuration (the workers')
} LiveRecManagerOptions;

/** A push as an origin's hook (or status page) tells it, before it is checked. */
typedef struct LiveRecHook {
    enum LiveRecOriginType type;
    const char *origin_name;            ///< ?origin=NAME of the hook URL, NULL: the first
    int   publish;                      ///< 1: the push started, 0: it ended
    char *vhost;                        ///< SRS vhost, NULL if none
    char *tcurl;                        ///< the publisher's tcUrl, NULL if unknown
    char *app, *stream;
    char *param;                        ///< the publisher's query string, NULL if none
    char *user_ip, *client_id;
} LiveRecHook;

void ff_liverec_hook_free(LiveRecHook *h);

/** Takes ownership of cfg (ff_liverec_config_free() when the last session is done with it). */
int  ff_liverec_manager_start(LiveRecManager **m, LiveRecConfig *cfg,
                              const LiveRecManagerOptions *opts);
/** Tasks by the clock, reaping sessions, reconciliation, status lines: call about every second. */
void ff_liverec_manager_tick(LiveRecManager *m);
/** Load the configuration file again; the old one stays in force if the new one is invalid. */
int  ff_liverec_manager_reload(LiveRecManager *m);
/** Finalize every session's files (stop set) and free everything. */
void ff_liverec_manager_stop(LiveRecManager **m);
/** 1 if token is the configured HookToken (or none is configured), in constant time. */
int  ff_liverec_manager_check_token(LiveRecManager *m, const char *token);
/**
 * A push started or ended, as a hook said: record it (or not) and queue its event. Called on the
 * listener's thread only. Returns 0 (why says what was done) or a negative AVERROR.
 */
int  ff_liverec_manager_hook(LiveRecManager *m, const LiveRecHook *h, AVBPrint *why);

/* ffliverec_http.c: the listener */
typedef struct LiveRecHttpRequest {
    struct MHD_Connection *connection;
    const char *path;
    const char *body;                   ///< 0-terminated
    size_t      body_len;
    const char *content_type;           ///< NULL if none
} LiveRecHttpRequest;

typedef struct LiveRecHttpResponse {
    int         status;
    const char *content_type;
    char       *body;
    size_t      len;
} LiveRecHttpResponse;

int  ff_liverec_http_start(LiveRecHttp **h, const char *listen, LiveRecManager *m);
void ff_liverec_http_stop(LiveRecHttp **h);
const char *ff_liverec_http_arg(const LiveRecHttpRequest *req, const char *name);
const char *ff_liverec_http_header(const LiveRecHttpRequest *req, const char *name);
int  ff_liverec_http_reply(LiveRecHttpResponse *resp, int status, const char *content_type,
                           const char *fmt, ...) av_printf_format(4, 5);

/* ffliverec_hooks.c: each origin's hook request into a LiveRecHook */
int ff_liverec_hook_nginx_rtmp(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp);
int ff_liverec_hook_srs(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp);
int ff_liverec_hook_mediamtx(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp);
int ff_liverec_hook_node_media_server(LiveRecManager *m, LiveRecHttpRequest *req,
                                      LiveRecHttpResponse *resp);

/* ffliverec_origin.c: which streams an origin's status page says are live */
typedef struct LiveRecLiveStream {
    char *vhost;                        ///< NULL if the origin has none
    char *app, *stream;
} LiveRecLiveStream;

/**
 * Ask the origin's StatusUrl which streams are being published. Returns the number of streams
 * (*list, free with ff_liverec_origin_list_free()) or a negative AVERROR (why in the log).
 */
int  ff_liverec_origin_list(const LiveRecOrigin *o, LiveRecLiveStream **list);
void ff_liverec_origin_list_free(LiveRecLiveStream **list, int nb);

/* ffliverec_serve.c: ffliverec -serve itself */
typedef struct LiveRecServeOptions {
    const char *config_path;
    const char *listen;                 ///< HOST:PORT
    const char *spool;
    const char *state_dir;              ///< set up (ff_liverec_state_open()) by the caller
    int64_t rw_timeout;                 ///< microseconds
    int64_t stats_period;               ///< microseconds
} LiveRecServeOptions;

/** Run the service until SIGINT/SIGTERM; cfg stays the caller's. */
int ff_liverec_serve(LiveRecConfig *cfg, const LiveRecServeOptions *opts);

#endif /* FFTOOLS_FFLIVEREC_SERVE_H */
