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
    int64_t read_coalesce;              ///< microseconds
    int probe_decode;                   ///< see LiveRecSessionOptions
    int64_t hook_hold;                  ///< microseconds a publish hook may be held, 0: none
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

/**
 * The answer to a publish hook kept back (the origin holds its publisher meanwhile) until the
 * session recording the push has subscribed to it, could not, or ended, or until a time limit.
 */
typedef struct LiveRecHold {
    AVBufferRef *pull;                  ///< the session's LiveRecPullState, NULL: no hold
    unsigned failures;                  ///< its failed opens when the hold began
    int64_t since, until;               ///< av_gettime_relative()
    char *name;                         ///< DOMAIN/APP/STREAM, for the log
} LiveRecHold;

enum LiveRecHoldEnd {
    LIVEREC_HOLD_WAITING,
    LIVEREC_HOLD_SUBSCRIBED,
    LIVEREC_HOLD_FAILED,                ///< the pull could not open, or the session ended
    LIVEREC_HOLD_TIMEOUT,
};

/** Whether a hold is over, and why (enum LiveRecHoldEnd). */
int  ff_liverec_hold_check(const LiveRecHold *h, int64_t now);
void ff_liverec_hold_free(LiveRecHold *h);

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
 * listener's thread only. Returns 0 (why says what was done) or a negative AVERROR. If hold is
 * set on return, the answer should wait for it (-hook_hold).
 */
int  ff_liverec_manager_hook(LiveRecManager *m, const LiveRecHook *h, AVBPrint *why,
                             LiveRecHold *hold);

/* ffliverec_http.c: the listener */
typedef struct LiveRecHttpRequest {
    struct MHD_Connection *connection;
    const char *method;                 ///< GET, HEAD, POST...
    const char *path;
    const char *body;                   ///< 0-terminated
    size_t      body_len;
    const char *content_type;           ///< NULL if none
} LiveRecHttpRequest;

typedef struct LiveRecHttpResponse {
    int         status;
    const char *content_type;
    const char *cache_control;          ///< NULL: none
    char       *body;
    size_t      len;
    LiveRecHold hold;                   ///< sent when the hold is over (200 only)
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

/* ffliverec_objects.c: the templates, rules and tasks made through the API (kept in the catalog) */
struct json_t;
/** The cloud's RecordTemplateInfo of t (json_decref() it), NULL on ENOMEM. */
struct json_t *ff_liverec_template_info(const LiveRecTemplate *t);
/**
 * Set t from the API's template parameters in o (TemplateName, Description, FlvParam, HlsParam,
 * Mp4Param, AacParam, HlsSpecialParam; absent ones are left as they are). Returns 0, or
 * AVERROR(EINVAL) with the cloud's error code in *code and the reason in why, or AVERROR(ENOMEM).
 */
int  ff_liverec_template_params(LiveRecTemplate *t, struct json_t *o, const char **code, AVBPrint *why);
/** Integer / string parameter name of o within limits: 1 if set, 0 if absent, < 0 (code, why). */
int  ff_liverec_json_int(struct json_t *o, const char *name, int64_t min, int64_t max, int64_t *v,
                         const char **code, AVBPrint *why);
int  ff_liverec_json_str(struct json_t *o, const char *name, size_t max, const char **v,
                         const char **code, AVBPrint *why);
/** Append the API's objects to cfg (a copy of the file's); the file's win over equal ones. */
int  ff_liverec_objects_merge(LiveRecState *st, LiveRecConfig *cfg);
/** Store, change or remove an object; return the number of rows changed or a negative AVERROR. */
int  ff_liverec_objects_put_template(LiveRecState *st, const LiveRecTemplate *t);
int  ff_liverec_objects_delete_template(LiveRecState *st, int64_t id);
int  ff_liverec_objects_put_rule(LiveRecState *st, const LiveRecRule *r);
int  ff_liverec_objects_delete_rule(LiveRecState *st, const char *domain, const char *app,
                                    const char *stream);
int  ff_liverec_objects_put_task(LiveRecState *st, const LiveRecTask *t);
int  ff_liverec_objects_stop_task(LiveRecState *st, const char *id, int64_t now);
int  ff_liverec_objects_delete_task(LiveRecState *st, const char *id);
/** cfg as a configuration file that -check accepts (ffliverec -export). */
int  ff_liverec_objects_export(const LiveRecConfig *cfg, AVBPrint *out);

/* ffliverec_manager.c, for the API and the status page */
/** A reference to the configuration in force (data: the LiveRecConfig), NULL on ENOMEM. */
AVBufferRef *ff_liverec_manager_config(LiveRecManager *m);
/**
 * Change the API's objects: change(st, cfg, opaque) runs with the configuration in force (cfg)
 * and the manager's catalog connection, inside one transaction, with every other change waiting;
 * when it returns >= 0 the transaction is committed, the configuration rebuilt and put in force,
 * and sessions started for live streams that something now records. Returns change's value.
 */
int  ff_liverec_manager_change(LiveRecManager *m,
                               int (*change)(LiveRecState *st, const LiveRecConfig *cfg, void *opaque),
                               void *opaque);
/**
 * Wait (at most timeout microseconds) until every session recording domain/app/stream has
 * applied the tasks in force (or is not inside a push). Returns 1 if they have, 0 on timeout.
 */
int  ff_liverec_manager_wait_tasks(LiveRecManager *m, const char *domain, const char *app,
                                   const char *stream, int64_t timeout);
/** A reference to the API's keys in force (data: a LiveRecCredentials *), NULL on ENOMEM. */
AVBufferRef *ff_liverec_manager_credentials(LiveRecManager *m);
/** Search the catalog with the manager's connection (serialized). */
int  ff_liverec_manager_search(LiveRecManager *m, const LiveRecSearch *q, struct json_t **rows,
                               int64_t *total);

/* ffliverec_tc3.c: the cloud API 3.0 signature (TC3-HMAC-SHA256), checked by the service */
typedef struct LiveRecCredentials LiveRecCredentials;

/**
 * The SecretId/SecretKey pairs the API accepts: LIVEREC_SECRET_ID with LIVEREC_SECRET_KEY from
 * the environment, and every section of file (NULL: none), an INI file shaped like the cloud
 * CLI's credentials file ("[name]" sections with "secret_id = ..." and "secret_key = ..."), which
 * must not be readable by others. Returns the number of pairs (0: the API refuses every request)
 * or a negative AVERROR, the reason logged as "FILE:LINE: what is wrong".
 */
int  ff_liverec_credentials_load(LiveRecCredentials **c, const char *file);
void ff_liverec_credentials_free(LiveRecCredentials **c);

/** A request header by its name (any case), NULL if absent. */
typedef const char *(*LiveRecHeaderGetter)(void *opaque, const char *name);

/**
 * Check a request's Authorization header (TC3-HMAC-SHA256) and X-TC-Timestamp: the canonical
 * request over the signed headers and the body's SHA-256, the key chain of the credential scope's
 * date and service, a timestamp at most 300 s from now (Unix seconds).
 *
 * @param code set to the cloud's error code on failure (AuthFailure.*, MissingParameter,
 *             InvalidParameter), static
 * @param why  the reason, for the error's Message
 * @return 0 if the signature is good, AVERROR(EACCES) if not, AVERROR(ENOMEM)
 */
int  ff_liverec_tc3_verify(const LiveRecCredentials *c, const char *method, const char *path,
                           const char *query, LiveRecHeaderGetter header, void *opaque,
                           const char *body, size_t body_len, int64_t now,
                           const char **code, AVBPrint *why);

/* ffliverec_api.c: the cloud's live recording actions (POST /) */
int  ff_liverec_api_request(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp);

/* ffliverec_status.c: what an operator looks at */
/** GET /metrics: Prometheus text format */
int  ff_liverec_status_metrics(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp);
/** GET /: the status page; GET /status.json: what it shows */
int  ff_liverec_status_page(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp);
int  ff_liverec_status_json(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp);
/**
 * GET /live/DOMAIN/APP/STREAM/[task-ID/]hls/FILE: an HLS recording being written (spool folder);
 * GET /recordings/ID/FILE: a finished HLS recording of the catalog (its folder, or its storage)
 */
int  ff_liverec_status_media(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp);
/** ffliverec -status: the service's summary in a terminal */
int  ff_liverec_status_print(const char *listen);

/**
 * The streams the service knows of, as a JSON array (json_decref() it), NULL on ENOMEM. Each:
 * {"DomainName","AppName","StreamName","Live":bool,"PublishTime":Unix s (0 if not live),
 *  "Origin":type, "Session": null or {"Phase":"connecting|recording|waiting|ended","Pushes",
 *  "Seconds","Bytes","Kbps","Open", "Outputs":[{"Format","TaskId"("" for the rule's),"Url","Open":bool}]}}
 */
struct json_t *ff_liverec_manager_streams(LiveRecManager *m);
/** The state folder, spool folder and listen options the service runs with. */
const LiveRecManagerOptions *ff_liverec_manager_options(const LiveRecManager *m);

/* ffliverec_serve.c: ffliverec -serve itself */
typedef struct LiveRecServeOptions {
    const char *config_path;
    const char *listen;                 ///< HOST:PORT
    const char *spool;
    const char *state_dir;              ///< set up (ff_liverec_state_open()) by the caller
    int64_t rw_timeout;                 ///< microseconds
    int64_t read_coalesce;              ///< microseconds
    int probe_decode;                   ///< see LiveRecSessionOptions
    int64_t hook_hold;                  ///< microseconds a publish hook may be held, 0: none
    int64_t stats_period;               ///< microseconds
} LiveRecServeOptions;

/** Run the service until SIGINT/SIGTERM; cfg stays the caller's. */
int ff_liverec_serve(LiveRecConfig *cfg, const LiveRecServeOptions *opts);

#endif /* FFTOOLS_FFLIVEREC_SERVE_H */
