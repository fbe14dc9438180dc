/*
 * ffliverec: record live streams by templates, rules and tasks
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

#ifndef FFTOOLS_FFLIVEREC_H
#define FFTOOLS_FFLIVEREC_H

#include <stdatomic.h>
#include <stdint.h>

#include "libavutil/bprint.h"
#include "libavutil/buffer.h"
#include "libavutil/dict.h"
#include "libavutil/thread.h"

/* The recording model of DESIGN.md section 3; names follow the cloud API. */

enum LiveRecFormat {
    LIVEREC_FLV,
    LIVEREC_HLS,
    LIVEREC_MP4,
    LIVEREC_AAC,
    LIVEREC_NB_FORMATS,
};

typedef struct LiveRecFormatParam {
    int     present;            ///< the element is in the template
    int     enable;
    int     record_interval;    ///< seconds
    int64_t storage_time;       ///< seconds, 0 = keep forever
    char   *vod_file_name;      ///< NULL: the muxer's default
} LiveRecFormatParam;

typedef struct LiveRecTemplate {
    int64_t id;
    char   *name;
    char   *description;
    LiveRecFormatParam param[LIVEREC_NB_FORMATS];
    int     flow_continue_duration;   ///< HlsSpecialParam, seconds (splice timeout)
    int     hls_max_duration;         ///< HlsSpecialParam MaxDuration, seconds (0: no limit)
#define LIVEREC_HLS_MAX_DURATION 43200  ///< its default: 12 hours
    int     line;                     ///< in the configuration file, 0: made through the API
    int64_t created, updated;         ///< Unix seconds (the file's: when it was loaded)
} LiveRecTemplate;

typedef struct LiveRecRule {
    char   *domain, *app, *stream;    ///< "" = wildcard
    int64_t template_id;
    int     line;                     ///< in the configuration file, 0: made through the API
    int64_t created, updated;         ///< Unix seconds (the file's: when it was loaded)
} LiveRecRule;

typedef struct LiveRecTask {
    char   *id;
    char   *domain, *app, *stream;
    int64_t start_time;               ///< Unix seconds; INT64_MIN: none (starts now)
    int64_t end_time;                 ///< Unix seconds
    int64_t template_id;
    int     stream_type;
    char   *extension;
    int     line;                     ///< in the configuration file, 0: made through the API
    int64_t created;                  ///< Unix seconds (made through the API)
    int64_t stopped;                  ///< Unix seconds of its StopRecordTask (end_time is then
                                      ///< at most that), 0: not stopped
    int64_t planned_end;              ///< its EndTime as made (API), 0: end_time
} LiveRecTask;

/* An origin that feeds the service (ffliverec -serve): its hooks and its status page. */
enum LiveRecOriginType {
    LIVEREC_ORIGIN_NGINX_RTMP,
    LIVEREC_ORIGIN_SRS,
    LIVEREC_ORIGIN_MEDIAMTX,
    LIVEREC_ORIGIN_NODE_MEDIA_SERVER,
    LIVEREC_NB_ORIGIN_TYPES,
};

extern const char *const ff_liverec_origin_type_names[LIVEREC_NB_ORIGIN_TYPES];

typedef struct LiveRecOrigin {
    enum LiveRecOriginType type;
    char   *name;                     ///< "" when not named; hooks pick it with ?origin=NAME
    char   *pull_url;                 ///< {DomainName} {AppName} {StreamName} replaced
    char   *status_url;               ///< NULL: not asked which streams are live
    char   *domain;                   ///< default push domain, NULL: the host of PullUrl
    int     line;
} LiveRecOrigin;

/* Callback Events: which events are sent */
#define LIVEREC_EVENT_RECORD_FILE   (1 << 0)    ///< event_type 100
#define LIVEREC_EVENT_RECORD_STATUS (1 << 1)    ///< event_type 332
#define LIVEREC_EVENT_PUSH          (1 << 2)    ///< event_type 1
#define LIVEREC_EVENT_PUSH_END      (1 << 3)    ///< event_type 0

typedef struct LiveRecConfig {
    char   *path;
    char   *pull_url;                 ///< the first Origin's PullUrl template, or NULL
    LiveRecOrigin *origins;
    int     nb_origins;
    int     origin_line, storage_line;
    int     max_sessions;             ///< Service MaxSessions
    char   *hook_token;               ///< Service HookToken, NULL: hooks need no token
    char   *credentials_file;         ///< Service CredentialsFile: the API's keys, NULL: none
    int     callback_events;          ///< LIVEREC_EVENT_* flags
    char   *storage_endpoint;         ///< NULL: no storage, files stay in the spool folder
    char   *storage_bucket;
    char   *storage_key_template;
    char   *storage_region;
    int     storage_max_uploads;      ///< files uploaded at once (MaxConcurrentUploads)
    char   *callback_url;             ///< NULL: no callbacks
    char   *callback_key;
    int     callback_max_attempts;
    int     callback_retry_interval;
    LiveRecTemplate *templates;
    int     nb_templates;
    LiveRecRule *rules;
    int     nb_rules;
    LiveRecTask *tasks;
    int     nb_tasks;
} LiveRecConfig;

extern const char *const ff_liverec_format_names[LIVEREC_NB_FORMATS];

/**
 * Load, validate (schema, then meaning) and parse a configuration file.
 * Every problem is logged as "FILE:LINE: what is wrong".
 *
 * @param now Unix seconds, to warn about tasks that have ended
 * @return 0 on success, a negative AVERROR on failure (*cfg is then NULL)
 */
int ff_liverec_config_load(LiveRecConfig **cfg, const char *path, int64_t now);

void ff_liverec_config_free(LiveRecConfig **cfg);

/** A deep copy of cfg (the service adds the API's objects to a copy of the file's), NULL on ENOMEM. */
LiveRecConfig *ff_liverec_config_dup(const LiveRecConfig *cfg);
/** A copy of src into t (its strings its own; on error, free t anyway). */
int  ff_liverec_template_copy(LiveRecTemplate *t, const LiveRecTemplate *src);
/** Free t's strings. */
void ff_liverec_template_free(LiveRecTemplate *t);
/** Append a copy of t, r or task to cfg. */
int ff_liverec_config_add_template(LiveRecConfig *cfg, const LiveRecTemplate *t);
int ff_liverec_config_add_rule(LiveRecConfig *cfg, const LiveRecRule *r);
int ff_liverec_config_add_task(LiveRecConfig *cfg, const LiveRecTask *t);

/**
 * The configuration in force, for threads that follow reloads (the service's workers): a
 * reference-counted snapshot (AVBufferRef whose data is the LiveRecConfig) behind a lock.
 */
typedef struct LiveRecConfigHolder LiveRecConfigHolder;
/** Hold cfg (the caller keeps it; it must outlive the holder's references to it). */
int  ff_liverec_config_holder_alloc(LiveRecConfigHolder **h, const LiveRecConfig *cfg);
/** A new reference to the configuration in force, NULL on ENOMEM. */
AVBufferRef *ff_liverec_config_holder_get(LiveRecConfigHolder *h);
/** Put ref (a snapshot) in force; the holder takes the reference. */
void ff_liverec_config_holder_set(LiveRecConfigHolder *h, AVBufferRef *ref);
void ff_liverec_config_holder_free(LiveRecConfigHolder **h);
/** Changes with every ff_liverec_config_holder_set(): one atomic load. */
unsigned ff_liverec_config_holder_generation(LiveRecConfigHolder *h);

const LiveRecTemplate *ff_liverec_find_template(const LiveRecConfig *cfg, int64_t id);

/** Append tmpl to bp with {DomainName}, {AppName} and {StreamName} replaced (PullUrl, KeyTemplate). */
void ff_liverec_expand_names(AVBPrint *bp, const char *tmpl, const char *domain, const char *app,
                             const char *stream);

/** Check a VodFileName: no path separator, known placeholders. 0 or AVERROR(EINVAL) (why). */
int ff_liverec_check_vod_file_name(const char *v, AVBPrint *why);

/** 1 if the template records at least one format, 0 if it is an exclusion template. */
int ff_liverec_template_records(const LiveRecTemplate *t);

/**
 * Check a domain, app or stream name that came from outside (non-empty, at most 128 bytes,
 * [A-Za-z0-9_.~-] only, not "." or ".."). Returns 0 or AVERROR(EINVAL) with a message in why.
 */
int ff_liverec_check_stream_name(const char *name, const char *what, AVBPrint *why);

/**
 * The rule that decides a stream's template (DESIGN.md section 3): the most specific match wins;
 * priority 0 = domain and stream exact, 1 = domain exact and stream empty, 2 = domain empty and
 * stream exact, 3 = both empty; among equal priorities an exact AppName beats an empty one.
 * If explain is not NULL, every rule is listed with why it matches or not.
 *
 * @return the rule, or NULL if none matches
 */
const LiveRecRule *ff_liverec_match_rule(const LiveRecConfig *cfg, const char *domain,
                                         const char *app, const char *stream, AVBPrint *explain);

/** Priority of a rule that matches (0..3), as above. */
int ff_liverec_rule_priority(const LiveRecRule *r);

/** 1 if the task is for this stream. */
int ff_liverec_task_matches(const LiveRecTask *t, const char *domain, const char *app,
                            const char *stream);

typedef struct LiveRecSession LiveRecSession;
typedef struct LiveRecState LiveRecState;
typedef struct LiveRecWorker LiveRecWorker;

/* A finished recording file in the catalog (HLS: its final playlist, with its segments). */
typedef struct LiveRecFile {
    int64_t id;
    char   *domain, *app, *stream, *task_id, *format;
    char   *local_path;
    char   *object_key;                 ///< NULL/"" without storage
    int64_t size;
    int64_t created;                    ///< Unix seconds
    int     attempts;
    int64_t start_usec, end_usec;       ///< wall clock of the recording (Unix microseconds)
    int64_t media_start_ms;             ///< first timestamp in the file
    int64_t duration_ms;                ///< of the media, -1 if unknown (then end - start)
    int64_t expires;                    ///< Unix seconds: deleted after (StorageTime), 0 = never
} LiveRecFile;

/* A pending callback: the recording it announces. file.object_key holds the object's URL. */
typedef struct LiveRecCallback {
    int64_t id;
    int     attempts;
    int64_t queued_usec;
    int64_t next_try;                   ///< Unix seconds
    LiveRecFile file;
} LiveRecCallback;

/* A queued event (push 1/0, recording status 332): its JSON body without t and sign. */
typedef struct LiveRecEvent {
    int64_t id;
    int     event_type;
    int     attempts;
    int64_t queued_usec;
    int64_t next_try;                   ///< Unix seconds
    char   *body;
} LiveRecEvent;

/*
 * ffliverec_state.c: the catalog and its queues, SQLite in STATE/ffliverec.db. A LiveRecState is
 * one connection, used by one thread only: every thread opens its own.
 */
/** Open the catalog, creating or upgrading its schema (once per process, before any thread). */
int  ff_liverec_state_open(LiveRecState **st, const char *dir);
/** Another connection to a catalog ff_liverec_state_open() has set up. */
int  ff_liverec_state_connect(LiveRecState **st, const char *dir);
void ff_liverec_state_close(LiveRecState **st);
/**
 * Add a finished file (once: the local path is unique); without an object key and with
 * callback set, its callback is queued in the same transaction. Returns 1 if added, 0 if known.
 */
int  ff_liverec_state_add(LiveRecState *st, const LiveRecFile *f, int callback);
/** 1 if a recording of this local path is in the catalog, 0 if not, or a negative AVERROR. */
int  ff_liverec_state_has_file(LiveRecState *st, const char *local_path);
/*
 * The longest waits before a retry (seconds): a retry time further ahead than that was set before
 * the wall clock went back (an NTP step, a clock set right), and is due now instead of when the
 * clock reaches it again.
 */
#define LIVEREC_UPLOAD_RETRY_MAX 300
#define LIVEREC_DELETE_RETRY     60

#define LIVEREC_MAX_UPLOADS      4      ///< Storage MaxConcurrentUploads' default

/**
 * The next file to upload (the oldest) whose retry time has come and whose id is not one of
 * skip[0..nb_skip-1] (those being uploaded): 1 and *f filled, 0 if none.
 */
int  ff_liverec_state_next_upload(LiveRecState *st, int64_t now, const int64_t *skip, int nb_skip,
                                  LiveRecFile *f);
int  ff_liverec_state_pending(LiveRecState *st);
/** Mark a file uploaded and (with callback) queue its callback, in one transaction. */
int  ff_liverec_state_uploaded(LiveRecState *st, int64_t id, const char *url, int64_t now_usec,
                               int callback);
/** The next callback due: 1 and *cb filled (free cb->file), 0 if none. */
int  ff_liverec_state_next_callback(LiveRecState *st, int64_t now, LiveRecCallback *cb);
int  ff_liverec_state_callback_done(LiveRecState *st, int64_t id, int delivered, int give_up,
                                    int64_t next_try, int64_t now_usec);
int  ff_liverec_state_callbacks_pending(LiveRecState *st);
int  ff_liverec_state_retry_later(LiveRecState *st, int64_t id, int64_t next_try);
/** An upload worked: the storage is back, every pending upload waiting for a retry is due now. */
int  ff_liverec_state_retry_all_now(LiveRecState *st, int64_t now);
/**
 * Retention: the next stored or local recording past its StorageTime whose retry time has
 * come: 1 and *f filled (id, format, local_path; object_key holds its URL, "" if local), 0 if none.
 */
int  ff_liverec_state_next_expired(LiveRecState *st, int64_t now, LiveRecFile *f);
/** Recordings past their StorageTime that are not deleted yet and due (not waiting for a retry). */
int  ff_liverec_state_expired(LiveRecState *st, int64_t now);
/** Mark a recording deleted (retention). */
int  ff_liverec_state_deleted(LiveRecState *st, int64_t id);
/** A recording's deletion failed: try again at next_try (Unix seconds). */
int  ff_liverec_state_delete_later(LiveRecState *st, int64_t id, int64_t next_try);
/** Queue an event (its body without t and sign). */
int  ff_liverec_state_add_event(LiveRecState *st, int event_type, const char *body, int64_t now_usec);
/** The next event due: 1 and *ev filled (free ev->body), 0 if none. */
int  ff_liverec_state_next_event(LiveRecState *st, int64_t now, LiveRecEvent *ev);
int  ff_liverec_state_event_done(LiveRecState *st, int64_t id, int delivered, int give_up,
                                 int64_t next_try, int64_t now_usec);
int  ff_liverec_state_events_pending(LiveRecState *st);
struct json_t;

/** What to look for in the catalog: NULL strings and 0 times match anything. */
typedef struct LiveRecSearch {
    const char *domain, *app, *stream, *task_id, *format;
    int64_t     from_usec, to_usec;     ///< recordings that overlap [from, to) (wall clock)
    int64_t     created_after;          ///< catalogued at or after (Unix seconds)
    int64_t     created_before;         ///< catalogued before (Unix seconds)
    int64_t     id;                     ///< one recording, 0: any
    int         offset, limit;          ///< paging
    int         ascending;              ///< oldest first (else newest first)
} LiveRecSearch;

/**
 * Recordings of the catalog (not deleted) that match, in the order asked: a JSON array of objects with
 * the catalog's columns ("id", "domain", "app", "stream", "task_id", "format", "local_path",
 * "object_key", "url", "size", "status", "created", "start_usec", "end_usec", "duration_ms",
 * "expires") in *rows (json_decref() it) and the number that match in *total.
 */
int  ff_liverec_state_search(LiveRecState *st, const LiveRecSearch *q, struct json_t **rows,
                             int64_t *total);
/** The connection's SQLite handle, for the catalog's other tables (ffliverec_objects.c). */
struct sqlite3 *ff_liverec_state_handle(LiveRecState *st);
/** Print the catalog (the cloud API's "query recording files"). */
int  ff_liverec_state_list(LiveRecState *st);
void ff_liverec_file_free(LiveRecFile *f);

/* ffliverec_worker.c: a thread working through one queue of the catalog */
typedef struct LiveRecWorkerOps {
    const char *name;
    /** Do the next item that is due: 1 if one was done (or tried), 0 if none, < 0 on error. */
    int  (*step)(LiveRecWorker *w, void *priv, LiveRecState *st);
    /** Items left (also those not due yet). */
    int  (*pending)(LiveRecState *st);
    void (*uninit)(void *priv);
    /** A reloaded configuration is in force from the next step (with a holder). */
    void (*set_config)(void *priv, const LiveRecConfig *cfg);
} LiveRecWorkerOps;

/**
 * Start a worker; it owns priv (ops->uninit) even when starting fails. With holder, every step
 * uses the configuration in force (ops->set_config when it changed); else the one it started with.
 */
int  ff_liverec_worker_start(LiveRecWorker **w, const LiveRecWorkerOps *ops, void *priv,
                             const char *state_dir, volatile int *stop,
                             LiveRecConfigHolder *holder);
/**
 * The same with n threads taking items of the same queue at once, thread i with privs[i] (the
 * worker owns them all), its own connection and its own configuration snapshot: ops->step()
 * must not take an item another thread is doing.
 */
int  ff_liverec_worker_start_n(LiveRecWorker **w, const LiveRecWorkerOps *ops, void **privs,
                               int n, const char *state_dir, volatile int *stop,
                               LiveRecConfigHolder *holder);
void ff_liverec_worker_kick(LiveRecWorker *w);
int  ff_liverec_worker_stopping(const LiveRecWorker *w);
/** Stop the thread; with drain, first wait until nothing is pending (or *stop). */
int  ff_liverec_worker_finish(LiveRecWorker **w, int drain);

/* ffliverec_upload.c: uploads the catalog's pending files through vodupload */
int  ff_liverec_uploader_start(LiveRecWorker **w, const LiveRecConfig *cfg, const char *state_dir,
                               volatile int *stop, LiveRecWorker *notifier,
                               LiveRecConfigHolder *holder);
/* ffliverec_retention.c: deletes recordings past their StorageTime (objects and local files) */
int  ff_liverec_retention_start(LiveRecWorker **w, const LiveRecConfig *cfg, const char *state_dir,
                                volatile int *stop, LiveRecConfigHolder *holder);
/* ffliverec_callback.c: delivers the queued callbacks */
int  ff_liverec_notifier_start(LiveRecWorker **w, const LiveRecConfig *cfg, const char *state_dir,
                               volatile int *stop, LiveRecConfigHolder *holder);

/* ffliverec_events.c: the service's events, queued in the catalog for the callback worker */
typedef struct LiveRecPush {
    const char *domain, *app, *stream;
    const char *param;                  ///< the publisher's query string ("" if none)
    const char *user_ip;                ///< "" if unknown
    int64_t     sequence;               ///< pairs a push (1) with its interruption (0)
    int64_t     start_usec;             ///< wall clock of the push's start
} LiveRecPush;

/** Queue push (1) or interruption (0) event if the configuration sends it. */
int ff_liverec_event_push(LiveRecState *st, const LiveRecConfig *cfg, const LiveRecPush *p,
                          int event_type, int64_t now_usec);
/** Queue a recording status event (332) if the configuration sends it. */
int ff_liverec_event_status(LiveRecState *st, const LiveRecConfig *cfg, const char *domain,
                            const char *app, const char *stream, const char *record_event,
                            const char *detail, int64_t now_usec);
struct json_t;
/**
 * A callback or event body: the JSON object o (taken, may be NULL) with the cloud's expiry t and
 * sign = MD5 hex of the Key followed by t, as text (av_free() it); NULL on error.
 */
char *ff_liverec_json_sign(const LiveRecConfig *cfg, struct json_t *o, int64_t t);

/*
 * The service's counters for GET /metrics (ffliverec_status.c owns them): incremented where the
 * work is done, read by the listener. Process-wide and monotonic, as Prometheus counters are.
 */
enum LiveRecMetricResult { LIVEREC_RESULT_OK, LIVEREC_RESULT_FAILED, LIVEREC_NB_RESULTS };
enum LiveRecMetricEvent {
    LIVEREC_METRIC_EVENT_100, LIVEREC_METRIC_EVENT_332, LIVEREC_METRIC_EVENT_1,
    LIVEREC_METRIC_EVENT_0, LIVEREC_NB_METRIC_EVENTS,
};
enum LiveRecMetricRequest {
    LIVEREC_REQUEST_OK,                 ///< done
    LIVEREC_REQUEST_REFUSED,            ///< bad input (400, a cloud InvalidParameter...)
    LIVEREC_REQUEST_DENIED,             ///< bad token or signature
    LIVEREC_REQUEST_ERROR,              ///< our failure (500, InternalError)
    LIVEREC_NB_REQUEST_RESULTS,
};

typedef struct LiveRecMetrics {
    atomic_int_least64_t recordings_started;            ///< outputs opened
    atomic_int_least64_t recordings_failed;             ///< outputs that could not start or failed
    atomic_int_least64_t behind;                        ///< times a push was read late (pace)
    atomic_int_least64_t gaps;                          ///< media missing inside a push
    atomic_int_least64_t files[LIVEREC_NB_FORMATS];     ///< finished files put in the catalog
    atomic_int_least64_t bytes[LIVEREC_NB_FORMATS];     ///< their sizes
    atomic_int_least64_t uploads[LIVEREC_NB_RESULTS];   ///< upload attempts by result
    atomic_int_least64_t upload_bytes;                  ///< bytes of files uploaded
    atomic_int_least64_t callbacks[LIVEREC_NB_METRIC_EVENTS][LIVEREC_NB_RESULTS];
    atomic_int_least64_t hooks[LIVEREC_NB_REQUEST_RESULTS];
    atomic_int_least64_t holds[4];                      ///< held publish hooks by how they ended
                                                        ///< (enum LiveRecHoldEnd, 1 to 3)
    atomic_int_least64_t api[LIVEREC_NB_REQUEST_RESULTS];
    atomic_int_least64_t start_usec;                    ///< av_gettime() at start
} LiveRecMetrics;

extern LiveRecMetrics ff_liverec_metrics;

#define LIVEREC_COUNT(counter, n) atomic_fetch_add_explicit(&ff_liverec_metrics.counter, (n), \
                                                            memory_order_relaxed)

/* What a running session shows the service (read from other threads). */
enum LiveRecSessionPhase {
    LIVEREC_SESSION_CONNECTING,
    LIVEREC_SESSION_RECORDING,
    LIVEREC_SESSION_WAITING,            ///< push gone, inside FlowContinueDuration
    LIVEREC_SESSION_ENDED,
};

typedef struct LiveRecSessionStats {
    atomic_int     phase;               ///< enum LiveRecSessionPhase
    atomic_int     pushes;
    atomic_int     open;                ///< recordings open
    atomic_int_least64_t bytes;         ///< of the current push
    atomic_int_least64_t push_start;    ///< av_gettime_relative() at the current push's start
    atomic_uint    tasks_gen;           ///< the tasks' generation the session has applied
    pthread_mutex_t lock;               ///< guards outputs (set up by the stats' owner)
    /** JSON array of its recordings, each {"Format","TaskId","Url","Open","Failed"} (av_free) */
    char          *outputs;
} LiveRecSessionStats;

/*
 * Whether a session's pull is subscribed to its push: what the service waits for before it
 * answers a publish hook of an origin that keeps no GOP for late players (-hook_hold). Shared
 * by reference (AVBufferRef) between the session and the answers waiting for it.
 */
typedef struct LiveRecPullState {
    atomic_int  subscribed;             ///< 1 while the input is open (an RTMP play started)
    atomic_uint failures;               ///< opens of the input that failed, counted
    atomic_int  ended;                  ///< the session is over
} LiveRecPullState;

typedef struct LiveRecSessionOptions {
    const char *domain, *app, *stream;  ///< checked with ff_liverec_check_stream_name()
    const char *input;                  ///< URL, or NULL: the config's Origin PullUrl
    const char *spool;                  ///< folder the recordings are written into
    int64_t rw_timeout;                 ///< microseconds without data that end a push
    int64_t read_coalesce;              ///< microseconds of an RTMP pull's data to gather per read
    int probe_decode;                   ///< learn an FLV input's streams by decoding (upstream's way)
    int64_t start_timeout;              ///< microseconds to keep trying the first open, 0: once
    volatile int *stop;                 ///< set (by a signal) to end the session cleanly
    atomic_int *cancel;                 ///< this session's own stop flag (NULL: none)
    atomic_int *wake;                   ///< set when a push was announced: retry now (or NULL)
    atomic_int *gone;                   ///< set when the origin said the push ended (or NULL)
    LiveRecPullState *pull;             ///< kept up to date for the service (or NULL)
    LiveRecSessionStats *stats;         ///< shown by the service (NULL: a status line instead)
    LiveRecConfigHolder *tasks;         ///< the configuration in force: its tasks apply at once
                                        ///< (NULL: the tasks of cfg only)
    LiveRecState *state;                ///< the catalog finished files are added to
    LiveRecWorker *uploader;            ///< told when files were added (NULL: no storage)
    LiveRecWorker *notifier;            ///< told when callbacks were queued (NULL: none)
    int leftovers;                      ///< finish what an earlier process left, read nothing
} LiveRecSessionOptions;

/** How many recordings a push of this stream starts now (rule template and open tasks). */
int ff_liverec_session_plan(const LiveRecConfig *cfg, const char *domain, const char *app,
                            const char *stream, int64_t now);

/**
 * Record one stream: every enabled format of the matched rule's template and of each task
 * whose window is open, demuxed once, until the push is gone for longer than the longest
 * FlowContinueDuration (or *opts->stop is set). Returns 0 or a negative AVERROR.
 *
 * With opts->leftovers, nothing is read: what an earlier process left in the stream's folders
 * is finished instead (MP4/FLV/AAC working files at once, an open HLS recording once its
 * FlowContinueDuration has passed since it was last written), catalogued and queued, and the
 * session ends. Stopping it (opts->cancel) leaves what is not finished yet as it is.
 */
int ff_liverec_session_run(const LiveRecConfig *cfg, const LiveRecSessionOptions *opts);

/* ffliverec_probe.c */

struct AVFormatContext;
struct AVPacket;
typedef struct LiveRecProbe LiveRecProbe;

/**
 * Learn what the streams of a just opened live FLV input (an RTMP play) are, as
 * avformat_find_stream_info() does, from the demuxer's sequence headers and the video parser
 * instead of decoding the first frames; what cannot be learnt so is left to
 * avformat_find_stream_info(). The packets read meanwhile are kept in *probe, to be read
 * first with ff_liverec_probe_read(). Returns >= 0 or a negative AVERROR (then *probe is NULL).
 */
int ff_liverec_probe_streams(struct AVFormatContext *ic, LiveRecProbe **probe);

/**
 * av_read_frame() that hands out the packets a probe kept first; the probe is freed (*probe set
 * to NULL) once they are all out. *probe may be NULL.
 */
int ff_liverec_probe_read(struct AVFormatContext *ic, LiveRecProbe **probe,
                          struct AVPacket *pkt);

void ff_liverec_probe_free(LiveRecProbe **probe);

/* ffliverec_finished.c */

/** One recording's folder, as a session writes it. */
typedef struct LiveRecFolder {
    const char *domain, *app, *stream;
    const char *task_id;                ///< NULL: the rule's recording
    enum LiveRecFormat format;
    const char *url;                    ///< a file in the folder (the HLS playlist, the MP4 name)
    int64_t storage_time;               ///< the template's StorageTime (seconds, 0: forever)
} LiveRecFolder;

/**
 * Put the finished files of a recording's folder that the catalog does not have yet into it,
 * with their size (a playlist's with its segments), when they were (from what their headers
 * say, without decoding) and their object key (when cfg has a storage); a callback is queued
 * with each when cfg asks for the record-file event. Working files and the HLS playlist still
 * being written are passed over. Returns how many files were added.
 */
int ff_liverec_collect_finished(LiveRecState *state, const LiveRecConfig *cfg,
                                const LiveRecFolder *folder);

/* ffliverec_spool.c */

/**
 * Call cb for every segment (and EXT-X-MAP) file an HLS playlist lists, as a path (or URL) in
 * the playlist's folder. The playlist is a local path or any URL avio reads (a vodupload object,
 * opened with options, which may be NULL). Names that are not plain file names are refused.
 */
int ff_liverec_hls_files(const char *playlist, const AVDictionary *options,
                         int (*cb)(void *opaque, const char *path), void *opaque);

/**
 * mkdir -p: every missing folder of path, the last one with mode (the others 0755); an error
 * is logged with the path.
 */
int ff_liverec_make_dirs(const char *path, int mode);

/**
 * Call cb(opaque, domain, app, stream) for every stream whose folders in the spool hold work an
 * earlier recorder left unfinished: a working file of MP4, FLV or AAC (*.EXT.recording) or an
 * open HLS recording (its sidecar STREAM.m3u8.liverec), in SPOOL/D/A/S/[task-ID/]FORMAT/.
 * Names that ff_liverec_check_stream_name() refuses and symbolic links are passed over. Returns
 * how many streams were found, or the first negative AVERROR of cb or of reading the spool.
 */
int ff_liverec_spool_leftovers(const char *spool,
                               int (*cb)(void *opaque, const char *domain, const char *app,
                                         const char *stream),
                               void *opaque);

/** Whether SPOOL/domain/app/stream holds what ff_liverec_spool_leftovers() looks for. */
int ff_liverec_spool_stream_has_leftover(const char *spool, const char *domain,
                                         const char *app, const char *stream);

/** Whether the format folder dir (of stream) holds work a muxer takes up when opened there. */
int ff_liverec_spool_has_leftover(const char *dir, enum LiveRecFormat f, const char *stream);

/**
 * Log lines of the calling thread start with "[prefix] " (a session: its stream), NULL: none.
 * The string must outlive the thread's logging.
 */
void ff_liverec_log_set_prefix(const char *prefix);

#endif /* FFTOOLS_FFLIVEREC_H */
