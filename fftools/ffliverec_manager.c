/*
 * ffliverec -serve: live streams, their sessions, the task clock and reconciliation
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
 * The manager knows which streams are live (from the origins' hooks, and from their status pages,
 * since origins do not check the answers to their end-of-push hooks) and owns one session thread
 * per stream it records. Two threads call it: the listener (hooks) and the main thread (the clock:
 * tasks, reaping ended sessions, reconciliation, status lines, reloads); one mutex guards the list
 * of streams and the configuration in force. A session owns its input, muxers and its own catalog
 * connection, and shows the manager only atomics (its stats, its done flag); the manager never
 * touches its files.
 *
 * The configuration is an immutable snapshot, reference counted (AVBufferRef): a session keeps the
 * one it started with, a reload only changes what the next push gets.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/buffer.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/thread.h"
#include "libavutil/time.h"
#include "libavformat/avformat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "ffliverec_serve.h"

#define RECONCILE_PERIOD  30000000      ///< ask the origins which streams are live (usec)
#define RECONCILE_MAX_BACKOFF 300000000
#define START_TIMEOUT     10000000      ///< keep trying a hooked push this long (usec)
#define HOOK_GRACE        15000000      ///< a hooked push missing from a status page this long ends

typedef struct Session {
    pthread_t thread;
    AVBufferRef *cfg_ref;               ///< the snapshot it started with
    char *domain, *app, *stream, *input, *prefix;
    const char *state_dir;
    LiveRecSessionOptions so;
    LiveRecSessionStats stats;
    atomic_int cancel, wake, gone, done;
    AVBufferRef *pull;                  ///< a LiveRecPullState, also held by waiting answers
    int64_t started;                    ///< av_gettime_relative()
} Session;

typedef struct Stream {
    char *domain, *app, *stream;
    char *input;                        ///< the origin's PullUrl for it
    char *param, *user_ip, *client_id;
    int   origin;                       ///< index in the configuration's origins
    int   live;                         ///< a publisher is there, as far as we know
    int64_t sequence;                   ///< pairs the push event (1) with its interruption (0)
    int64_t publish_usec;               ///< wall clock of the push's start
    int64_t hooked;                     ///< av_gettime_relative() of its last hook, 0: none
    int     refused;                    ///< not recorded for want of a session slot
    int     announced;                  ///< its push event (1) was queued: its end gets a 0
    Session *session;
} Stream;

typedef struct OriginPoll {
    int64_t next;                       ///< av_gettime_relative() of the next poll
    int64_t backoff;
    int failing;
} OriginPoll;

struct LiveRecManager {
    LiveRecManagerOptions opts;
    pthread_mutex_t lock;
    AVBufferRef *cfg;                   ///< in force: the file's and the API's objects
    AVBufferRef *file_cfg;              ///< the configuration file's, as loaded
    pthread_mutex_t change_lock;        ///< one change of the objects at a time (API, reload)
    LiveRecState *change_state;         ///< the catalog connection of changes and searches
    AVBufferRef *creds;                 ///< the API's keys (data: a LiveRecCredentials *)
    Stream **streams;
    int nb_streams;
    LiveRecState *hook_state;           ///< the hooks' catalog connection (under lock)
    LiveRecState *tick_state;           ///< the main thread's
    int64_t last_task_check;            ///< Unix seconds
    int64_t last_stats;
    OriginPoll *polls;
    int nb_polls;
};

static const char *const phase_names[] = { "connecting", "recording", "waiting", "ended" };

static const LiveRecConfig *cfg_of(const AVBufferRef *ref)
{
    return (const LiveRecConfig *)ref->data;
}

static void free_loaded(void *opaque, uint8_t *data)
{
    LiveRecConfig *cfg = (LiveRecConfig *)data;
    ff_liverec_config_free(&cfg);
}

static void free_nothing(void *opaque, uint8_t *data)
{
}

/* ---- sessions ---- */

static void *session_main(void *arg)
{
    Session *s = arg;
    LiveRecState *st = NULL;

    /* named for top -H and perf; otherwise it bears the name of the listener thread that made it */
    ff_thread_setname("lr-session");
    ff_liverec_log_set_prefix(s->prefix);
    if (ff_liverec_state_connect(&st, s->state_dir) >= 0) {
        s->so.state = st;
        ff_liverec_session_run(cfg_of(s->cfg_ref), &s->so);
        ff_liverec_state_close(&st);
    }
    atomic_store(&s->so.pull->ended, 1);
    atomic_store(&s->stats.phase, LIVEREC_SESSION_ENDED);
    atomic_store(&s->done, 1);
    return NULL;
}

static void session_free(Session **ps)
{
    Session *s = *ps;
    if (!s)
        return;
    pthread_mutex_destroy(&s->stats.lock);
    av_freep(&s->stats.outputs);
    av_buffer_unref(&s->pull);
    av_buffer_unref(&s->cfg_ref);
    av_freep(&s->domain);
    av_freep(&s->app);
    av_freep(&s->stream);
    av_freep(&s->input);
    av_freep(&s->prefix);
    av_freep(ps);
}

/* sessions recording (one finishing what an earlier process left takes no slot) */
static int running_sessions(const LiveRecManager *m)
{
    int n = 0;
    for (int i = 0; i < m->nb_streams; i++) {
        const Session *s = m->streams[i]->session;
        n += s && !s->so.leftovers && !atomic_load(&s->done);
    }
    return n;
}

/*
 * Join a session that is done (or, with wait, any). Returns 1 if the stream was hooked again
 * after the last push the session recorded began: a push that came back while the session was
 * ending, which it did not take.
 */
static int reap(Stream *st, int wait)
{
    Session *s = st->session;
    int64_t last_push;

    if (!s || (!wait && !atomic_load(&s->done)))
        return 0;
    pthread_join(s->thread, NULL);
    last_push = FFMAX(atomic_load(&s->stats.push_start), s->started);
    session_free(&st->session);
    return st->live && st->hooked > last_push;
}

/* A session thread for st (leftovers: finishing what an earlier process left). Locked. */
static int spawn_session(LiveRecManager *m, Stream *st, int leftovers)
{
    Session *s;
    int ret;

    if ((s = av_mallocz(sizeof(*s))))
        pthread_mutex_init(&s->stats.lock, NULL);
    if (!s || !(s->cfg_ref = av_buffer_ref(m->cfg)) ||
        !(s->pull = av_buffer_allocz(sizeof(LiveRecPullState))) ||
        !(s->domain = av_strdup(st->domain)) || !(s->app = av_strdup(st->app)) ||
        !(s->stream = av_strdup(st->stream)) || (st->input && !(s->input = av_strdup(st->input))) ||
        !(s->prefix = av_asprintf("%s/%s/%s", st->domain, st->app, st->stream))) {
        session_free(&s);
        av_log(NULL, AV_LOG_ERROR, "out of memory: %s/%s/%s is not recorded\n",
               st->domain, st->app, st->stream);
        return AVERROR(ENOMEM);
    }
    s->state_dir = m->opts.state_dir;
    s->started   = av_gettime_relative();
    s->so = (LiveRecSessionOptions) {
        .domain        = s->domain,
        .app           = s->app,
        .stream        = s->stream,
        .input         = s->input,
        .spool         = m->opts.spool,
        .rw_timeout    = m->opts.rw_timeout,
        .read_coalesce = m->opts.read_coalesce,
        .probe_decode  = m->opts.probe_decode,
        .start_timeout = START_TIMEOUT,
        .stop          = m->opts.stop,
        .cancel        = &s->cancel,
        .wake          = &s->wake,
        .gone          = &s->gone,
        .pull          = (LiveRecPullState *)s->pull->data,
        .stats         = &s->stats,
        .tasks         = m->opts.holder,
        .uploader      = m->opts.uploader,
        .notifier      = m->opts.notifier,
        .leftovers     = leftovers,
    };
    if ((ret = pthread_create(&s->thread, NULL, session_main, s))) {
        av_log(NULL, AV_LOG_ERROR, "cannot start a session for %s/%s/%s: %s\n",
               st->domain, st->app, st->stream, av_err2str(AVERROR(ret)));
        session_free(&s);
        return AVERROR(ret);
    }
    st->session = s;
    return 0;
}

/* Start recording st with the configuration in force, if anything records it. Locked. */
static void start_session(LiveRecManager *m, LiveRecState *state, Stream *st, const char *why)
{
    const LiveRecConfig *cfg = cfg_of(m->cfg);
    int64_t now = av_gettime();

    if (st->session && st->session->so.leftovers) {
        /* the push is back: the session recording it takes up what the earlier process left
         * (an HLS recording goes on behind a discontinuity); the finishing stops, at once
         * unless it is writing a playlist */
        atomic_store(&st->session->cancel, 1);
        reap(st, 1);
    }
    reap(st, 0);    /* whatever it did not take, this session takes */
    if (st->session) {
        /* a push while the session waits for one: it retries now */
        atomic_store(&st->session->gone, 0);
        atomic_store(&st->session->wake, 1);
        return;
    }
    if (!ff_liverec_session_plan(cfg, st->domain, st->app, st->stream, now / 1000000)) {
        av_log(NULL, AV_LOG_INFO, "%s/%s/%s is live (%s); no rule or task records it\n",
               st->domain, st->app, st->stream, why);
        return;
    }
    if (running_sessions(m) >= cfg->max_sessions) {
        av_log(NULL, AV_LOG_ERROR, "%s/%s/%s is not recorded: %d sessions are running, the "
               "most Service MaxSessions allows\n", st->domain, st->app, st->stream,
               cfg->max_sessions);
        if (!st->refused++)
            ff_liverec_event_status(state, cfg, st->domain, st->app, st->stream,
                                    "record_start_failed", "too many live sessions", now);
        ff_liverec_worker_kick(m->opts.notifier);
        return;
    }
    if (spawn_session(m, st, 0) < 0)
        return;
    av_log(NULL, AV_LOG_INFO, "%s/%s/%s: recording starts (%s) from %s\n",
           st->domain, st->app, st->stream, why, st->input);
    st->refused = 0;
}

/* ---- live streams ---- */

static Stream *find_stream(LiveRecManager *m, const char *domain, const char *app,
                           const char *stream)
{
    for (int i = 0; i < m->nb_streams; i++) {
        Stream *st = m->streams[i];
        if (!strcmp(st->domain, domain) && !strcmp(st->app, app) && !strcmp(st->stream, stream))
            return st;
    }
    return NULL;
}

static void stream_free(Stream **pst)
{
    Stream *st = *pst;
    av_freep(&st->domain);
    av_freep(&st->app);
    av_freep(&st->stream);
    av_freep(&st->input);
    av_freep(&st->param);
    av_freep(&st->user_ip);
    av_freep(&st->client_id);
    av_freep(pst);
}

static Stream *add_stream(LiveRecManager *m, const char *domain, const char *app,
                          const char *stream)
{
    Stream **streams, *st;
    int cap = FFMAX(4 * cfg_of(m->cfg)->max_sessions, 1000), oldest = -1;

    /* pushes nobody records whose end hook never came (and no status page says so) are not
     * kept for ever: past the cap, the one heard of longest ago is forgotten */
    if (m->nb_streams >= cap) {
        for (int i = 0; i < m->nb_streams; i++)
            if (!m->streams[i]->session &&
                (oldest < 0 || m->streams[i]->hooked < m->streams[oldest]->hooked))
                oldest = i;
        if (oldest < 0)
            return NULL;
        stream_free(&m->streams[oldest]);
        m->streams[oldest] = m->streams[--m->nb_streams];
    }
    st = av_mallocz(sizeof(*st));

    if (!st || !(st->domain = av_strdup(domain)) || !(st->app = av_strdup(app)) ||
        !(st->stream = av_strdup(stream)) ||
        !(streams = av_realloc_array(m->streams, m->nb_streams + 1, sizeof(*streams)))) {
        if (st)
            stream_free(&st);
        return NULL;
    }
    m->streams = streams;
    m->streams[m->nb_streams++] = st;
    return st;
}

/* A stream with unfinished work in the spool: a session finishes it unless the push is back. */
static int adopt_leftovers(void *opaque, const char *domain, const char *app, const char *stream)
{
    LiveRecManager *m = opaque;
    Stream *st = find_stream(m, domain, app, stream);

    if (st && st->session)
        return 0;
    if (!st && !(st = add_stream(m, domain, app, stream)))
        return AVERROR(ENOMEM);
    return spawn_session(m, st, 1);
}

/* Forget streams that are neither live nor recorded. Locked. */
static void prune_streams(LiveRecManager *m, LiveRecState *state)
{
    for (int i = 0; i < m->nb_streams; i++) {
        Stream *st = m->streams[i];
        int recorded = st->session && !st->session->so.leftovers;
        if (reap(st, 0))
            start_session(m, state, st, "the push came back as its session ended");
        /* a session that ended without taking up what an earlier process left (its push was
         * gone before it could be read) hands it back to a finishing session */
        else if (recorded && !st->session && !(m->opts.stop && *m->opts.stop) &&
                 ff_liverec_spool_stream_has_leftover(m->opts.spool, st->domain, st->app,
                                                      st->stream))
            spawn_session(m, st, 1);
        if (st->live || st->session)
            continue;
        stream_free(&m->streams[i]);
        m->streams[i--] = m->streams[--m->nb_streams];
    }
}

/* {DomainName} {AppName} {StreamName} of a template */
static char *expand(const char *tmpl, const char *domain, const char *app, const char *stream)
{
    AVBPrint bp;
    char *s;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    ff_liverec_expand_names(&bp, tmpl, domain, app, stream);
    if (!av_bprint_is_complete(&bp) || av_bprint_finalize(&bp, &s) < 0)
        return NULL;
    return s;
}

/* The host of an URL into host[size]; 0 if there is none. */
static int url_host(const char *url, char *host, size_t size)
{
    if (!url)
        return 0;
    av_url_split(NULL, 0, NULL, 0, host, size, NULL, NULL, 0, url);
    return *host && !strchr(host, ':');     /* an IPv6 address is no domain */
}

static int is_ip_literal(const char *host)
{
    return host[strspn(host, "0123456789.")] == 0 || !strcmp(host, "localhost");
}

/*
 * The push domain: an SRS vhost other than the default one; else the host of the publisher's
 * tcUrl when it is a name (not an address); else the origin's Domain; else the host of its
 * PullUrl.
 */
static void push_domain(const LiveRecOrigin *o, const char *vhost, const char *tcurl,
                        char *domain, size_t size)
{
    char host[256];

    if (vhost && *vhost && strcmp(vhost, "__defaultVhost__")) {
        av_strlcpy(domain, vhost, size);
    } else if (url_host(tcurl, host, sizeof(host)) && !is_ip_literal(host)) {
        av_strlcpy(domain, host, size);
    } else if (o->domain) {
        av_strlcpy(domain, o->domain, size);
    } else if (url_host(tcurl, host, sizeof(host)) || url_host(o->pull_url, host, sizeof(host))) {
        av_strlcpy(domain, host, size);
    } else {
        av_strlcpy(domain, "", size);
    }
}

static const LiveRecOrigin *find_origin(const LiveRecConfig *cfg, enum LiveRecOriginType type,
                                        const char *name, int *index)
{
    for (int i = 0; i < cfg->nb_origins; i++) {
        const LiveRecOrigin *o = &cfg->origins[i];
        if (o->type == type && (!name || !strcmp(o->name, name))) {
            *index = i;
            return o;
        }
    }
    return NULL;
}

static int check_names(const char *domain, const char *app, const char *stream, AVBPrint *why)
{
    return ff_liverec_check_stream_name(domain, "domain", why) < 0 ||
           ff_liverec_check_stream_name(app, "app", why) < 0 ||
           ff_liverec_check_stream_name(stream, "stream", why) < 0 ? AVERROR(EINVAL) : 0;
}

static void push_event(LiveRecManager *m, LiveRecState *state, Stream *st, int type)
{
    LiveRecPush p = {
        .domain = st->domain, .app = st->app, .stream = st->stream,
        .param = st->param, .user_ip = st->user_ip,
        .sequence = st->sequence, .start_usec = st->publish_usec,
    };
    /* a push found on a status page (after a restart) was announced before, with a sequence
     * this process does not know: its end is not announced either */
    if (!type && !st->announced)
        return;
    st->announced = type;
    if (ff_liverec_event_push(state, cfg_of(m->cfg), &p, type, av_gettime()) >= 0)
        ff_liverec_worker_kick(m->opts.notifier);
}

static int set_str(char **dst, const char *src)
{
    char *s = src ? av_strdup(src) : NULL;
    if (src && !s)
        return AVERROR(ENOMEM);
    av_free(*dst);
    *dst = s;
    return 0;
}

/*
 * nginx-rtmp sends a player that joins a live stream what comes after it joined (it keeps no
 * GOP), but it holds a publisher until the publish hook is answered, and lets a player
 * subscribe to a stream nobody publishes yet: the answer waits until the pull has started
 * playing, so the recording begins at the push's first frame. SRS and Node-Media-Server keep
 * the last GOP for a late player; MediaMTX's hook comes once the publisher is in. Locked.
 */
static void hold_publisher(LiveRecManager *m, const LiveRecOrigin *o, Stream *st,
                           LiveRecHold *hold)
{
    const LiveRecPullState *ps;

    if (!hold || m->opts.hook_hold <= 0 || o->type != LIVEREC_ORIGIN_NGINX_RTMP ||
        !st->session || st->session->so.leftovers)
        return;
    ps = (const LiveRecPullState *)st->session->pull->data;
    if (atomic_load(&ps->subscribed) || atomic_load(&ps->ended))
        return;     /* a waiting session's play goes on into the new push */
    if (!(hold->name = av_asprintf("%s/%s/%s", st->domain, st->app, st->stream)) ||
        !(hold->pull = av_buffer_ref(st->session->pull))) {
        ff_liverec_hold_free(hold);
        return;     /* answered at once: the push is still recorded, maybe from its next GOP */
    }
    hold->failures = atomic_load(&ps->failures);
    hold->since    = av_gettime_relative();
    hold->until    = hold->since + m->opts.hook_hold;
}

int ff_liverec_hold_check(const LiveRecHold *h, int64_t now)
{
    const LiveRecPullState *ps = (const LiveRecPullState *)h->pull->data;

    if (atomic_load(&ps->subscribed))
        return LIVEREC_HOLD_SUBSCRIBED;
    if (atomic_load(&ps->ended) || atomic_load(&ps->failures) != h->failures)
        return LIVEREC_HOLD_FAILED;
    return now >= h->until ? LIVEREC_HOLD_TIMEOUT : LIVEREC_HOLD_WAITING;
}

void ff_liverec_hold_free(LiveRecHold *h)
{
    av_buffer_unref(&h->pull);
    av_freep(&h->name);
}

int ff_liverec_manager_hook(LiveRecManager *m, const LiveRecHook *h, AVBPrint *why,
                            LiveRecHold *hold)
{
    const LiveRecConfig *cfg;
    const LiveRecOrigin *o;
    char domain[256];
    Stream *st;
    int index = 0, ret = 0;

    ff_liverec_log_set_prefix("hook");
    pthread_mutex_lock(&m->lock);
    cfg = cfg_of(m->cfg);
    if (!(o = find_origin(cfg, h->type, h->origin_name, &index))) {
        av_bprintf(why, "no %s Origin%s%s in %s: the push is not recorded",
                   ff_liverec_origin_type_names[h->type], h->origin_name ? " named " : "",
                   h->origin_name ? h->origin_name : "", cfg->path);
        av_log(NULL, AV_LOG_WARNING, "%s\n", why->str);
        goto end;
    }
    push_domain(o, h->vhost, h->tcurl, domain, sizeof(domain));
    if (check_names(domain, h->app, h->stream, why) < 0) {
        /* answered 200 (the publish goes on), never a path; the names are said escaped */
        av_log(NULL, AV_LOG_WARNING, "push from %s not recorded: %s\n",
               ff_liverec_origin_type_names[h->type], why->str);
        if (h->publish)
            ff_liverec_event_status(m->hook_state, cfg, domain, h->app, h->stream,
                                    "record_start_failed", why->str, av_gettime());
        ff_liverec_worker_kick(m->opts.notifier);
        goto end;
    }
    st = find_stream(m, domain, h->app, h->stream);
    if (!h->publish) {
        /* a late end of an earlier publisher (another client id) is not this push's end */
        if (!st || !st->live || (h->client_id && st->client_id && strcmp(h->client_id, st->client_id))) {
            av_bprintf(why, "no such push");
            goto end;
        }
        av_log(NULL, AV_LOG_INFO, "%s/%s/%s: the push ended (%s hook)\n", domain, h->app,
               h->stream, ff_liverec_origin_type_names[h->type]);
        push_event(m, m->hook_state, st, 0);
        st->live = 0;
        if (st->session)
            atomic_store(&st->session->gone, 1);
        prune_streams(m, m->hook_state);
        goto end;
    }
    if (!st && !(st = add_stream(m, domain, h->app, h->stream))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (st->live && (!h->client_id || !st->client_id || !strcmp(h->client_id, st->client_id))) {
        /* the same publisher again (Node-Media-Server says postPublish twice, SRS retries) */
        av_bprintf(why, "already known");
        st->hooked = av_gettime_relative();
        start_session(m, m->hook_state, st, "hook again");
        goto end;
    }
    if (st->live)   /* another publisher took over without an end hook */
        push_event(m, m->hook_state, st, 0);
    if ((ret = set_str(&st->param, h->param)) < 0 || (ret = set_str(&st->user_ip, h->user_ip)) < 0 ||
        (ret = set_str(&st->client_id, h->client_id)) < 0)
        goto end;
    av_freep(&st->input);
    if (!(st->input = expand(o->pull_url, domain, h->app, h->stream))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    st->origin       = index;
    st->live         = 1;
    st->publish_usec = av_gettime();
    st->sequence     = st->publish_usec;
    st->hooked       = av_gettime_relative();
    av_log(NULL, AV_LOG_INFO, "%s/%s/%s: a push started (%s hook)\n", domain, h->app, h->stream,
           ff_liverec_origin_type_names[h->type]);
    push_event(m, m->hook_state, st, 1);
    start_session(m, m->hook_state, st, "hook");
    hold_publisher(m, o, st, hold);
end:
    pthread_mutex_unlock(&m->lock);
    return ret;
}

int ff_liverec_manager_check_token(LiveRecManager *m, const char *token)
{
    const char *want;
    size_t n, t;
    unsigned diff;
    int ok;

    pthread_mutex_lock(&m->lock);
    want = cfg_of(m->cfg)->hook_token;
    if (!want) {
        ok = 1;
    } else if (!token) {
        ok = 0;
    } else {
        /* every byte of the expected token is compared, whatever matched before */
        n = strlen(want);
        t = strlen(token);
        diff = n != t;
        for (size_t i = 0; i < n; i++)
            diff |= (unsigned char)want[i] ^ (unsigned char)token[i < t ? i : 0];
        ok = !diff;
    }
    pthread_mutex_unlock(&m->lock);
    return ok;
}

/* ---- the clock ---- */

/* A task whose window opened since the last look starts the recording of its live stream. */
static void check_tasks(LiveRecManager *m, int64_t now)
{
    const LiveRecConfig *cfg = cfg_of(m->cfg);

    for (int i = 0; i < cfg->nb_tasks; i++) {
        const LiveRecTask *t = &cfg->tasks[i];
        Stream *st;
        if (t->start_time == INT64_MIN || t->start_time <= m->last_task_check ||
            t->start_time > now || t->end_time <= now)
            continue;
        if ((st = find_stream(m, t->domain, t->app, t->stream)) && st->live) {
            char why[128];
            snprintf(why, sizeof(why), "task %s starts", t->id);
            start_session(m, m->tick_state, st, why);
        }
    }
    m->last_task_check = now;
}

/* A live stream from origin i with this app and stream, whatever its domain. Locked. */
static int live_on_origin(LiveRecManager *m, int i, const char *app, const char *stream)
{
    for (int j = 0; j < m->nb_streams; j++) {
        const Stream *st = m->streams[j];
        if (st->live && st->origin == i && !strcmp(st->app, app) && !strcmp(st->stream, stream))
            return 1;
    }
    return 0;
}

/* Ask each origin's status page which streams are live; record those nobody told us about. */
static void reconcile(LiveRecManager *m)
{
    AVBufferRef *ref;
    const LiveRecConfig *cfg;
    int64_t now = av_gettime_relative();

    pthread_mutex_lock(&m->lock);
    ref = av_buffer_ref(m->cfg);
    pthread_mutex_unlock(&m->lock);
    if (!ref)
        return;
    cfg = cfg_of(ref);
    if (m->nb_polls < cfg->nb_origins) {
        OriginPoll *p = av_realloc_array(m->polls, cfg->nb_origins, sizeof(*p));
        if (!p) {
            av_buffer_unref(&ref);
            return;
        }
        memset(p + m->nb_polls, 0, (cfg->nb_origins - m->nb_polls) * sizeof(*p));
        m->polls    = p;
        m->nb_polls = cfg->nb_origins;
    }
    for (int i = 0; i < cfg->nb_origins; i++) {
        const LiveRecOrigin *o = &cfg->origins[i];
        OriginPoll *p = &m->polls[i];
        LiveRecLiveStream *list = NULL;
        int nb;

        if (!o->status_url || now < p->next)
            continue;
        nb = ff_liverec_origin_list(o, &list);
        if (nb < 0) {
            /* reported once, then retried less and less often */
            p->backoff = p->failing++ ? FFMIN(p->backoff * 2, RECONCILE_MAX_BACKOFF) : RECONCILE_PERIOD;
            p->next    = av_gettime_relative() + p->backoff;
            av_log(NULL, p->failing == 1 ? AV_LOG_WARNING : AV_LOG_VERBOSE, "%s origin on line "
                   "%d: its status page cannot be read; asking again in %"PRId64" s\n",
                   ff_liverec_origin_type_names[o->type], o->line, p->backoff / 1000000);
            continue;
        }
        if (p->failing)
            av_log(NULL, AV_LOG_INFO, "%s origin on line %d: its status page answers again\n",
                   ff_liverec_origin_type_names[o->type], o->line);
        p->failing = 0;
        p->next    = av_gettime_relative() + RECONCILE_PERIOD;

        pthread_mutex_lock(&m->lock);
        /* the configuration may have been reloaded meanwhile: apply only to the one asked */
        if (cfg_of(m->cfg) == cfg) {
            for (int k = 0; k < nb; k++) {
                LiveRecLiveStream *l = &list[k];
                char domain[256];
                AVBPrint why;
                Stream *st;
                push_domain(o, l->vhost, NULL, domain, sizeof(domain));
                av_bprint_init(&why, 0, 256);
                if (check_names(domain, l->app, l->stream, &why) < 0) {
                    av_log(NULL, AV_LOG_VERBOSE, "status page: %s\n", why.str);
                    av_bprint_finalize(&why, NULL);
                    continue;
                }
                av_bprint_finalize(&why, NULL);
                if (!l->vhost && live_on_origin(m, i, l->app, l->stream))
                    continue;   /* hooked under the domain of its tcUrl, which pages do not show */
                st = find_stream(m, domain, l->app, l->stream);
                if (st && st->live)
                    continue;
                if (!st && !(st = add_stream(m, domain, l->app, l->stream)))
                    continue;
                av_freep(&st->input);
                if (!(st->input = expand(o->pull_url, domain, l->app, l->stream)))
                    continue;
                st->origin       = i;
                st->live         = 1;
                st->announced    = 0;
                st->publish_usec = av_gettime();
                st->sequence     = st->publish_usec;
                start_session(m, m->tick_state, st, "the origin's status page lists it");
            }
            /* a push the hooks announced that the page no longer lists has ended (its end hook
             * was lost); a push announced a moment ago may not be listed yet */
            for (int j = 0; j < m->nb_streams; j++) {
                Stream *st = m->streams[j];
                int listed = 0;
                if (!st->live || st->origin != i ||
                    (st->hooked && av_gettime_relative() - st->hooked < HOOK_GRACE))
                    continue;
                for (int k = 0; k < nb && !listed; k++) {
                    char domain[256];
                    push_domain(o, list[k].vhost, NULL, domain, sizeof(domain));
                    listed = (!list[k].vhost || !strcmp(domain, st->domain)) &&
                             !strcmp(list[k].app, st->app) && !strcmp(list[k].stream, st->stream);
                }
                if (!listed) {
                    av_log(NULL, AV_LOG_INFO, "%s/%s/%s: no longer on the origin's status page; "
                           "the push has ended\n", st->domain, st->app, st->stream);
                    push_event(m, m->tick_state, st, 0);
                    st->live = 0;
                    if (st->session)
                        atomic_store(&st->session->gone, 1);
                }
            }
            prune_streams(m, m->tick_state);
        }
        pthread_mutex_unlock(&m->lock);
        ff_liverec_origin_list_free(&list, nb);
    }
    av_buffer_unref(&ref);
}

static void print_stats(LiveRecManager *m)
{
    int live = 0, recording = 0, waiting = 0, uploads, callbacks;
    int64_t now = av_gettime_relative();

    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->nb_streams; i++) {
        Stream *st = m->streams[i];
        Session *s = st->session;
        live += st->live;
        if (!s)
            continue;
        {
            int phase = atomic_load(&s->stats.phase);
            double t = (now - atomic_load(&s->stats.push_start)) / 1e6;
            int64_t bytes = atomic_load(&s->stats.bytes);
            recording += phase == LIVEREC_SESSION_RECORDING;
            waiting   += phase == LIVEREC_SESSION_WAITING;
            av_log(NULL, AV_LOG_INFO, "  %s/%s/%s: %s, push %d, %.0f s, %.0f kb/s, %d recordings "
                   "open\n", st->domain, st->app, st->stream, phase_names[phase],
                   atomic_load(&s->stats.pushes), phase == LIVEREC_SESSION_RECORDING ? t : 0,
                   phase == LIVEREC_SESSION_RECORDING && t > 0 ? bytes * 8 / t / 1000 : 0,
                   atomic_load(&s->stats.open));
        }
    }
    pthread_mutex_unlock(&m->lock);
    uploads   = FFMAX(ff_liverec_state_pending(m->tick_state), 0);
    callbacks = FFMAX(ff_liverec_state_callbacks_pending(m->tick_state), 0) +
                FFMAX(ff_liverec_state_events_pending(m->tick_state), 0);
    av_log(NULL, AV_LOG_INFO, "service: %d live, %d recording, %d waiting for their push; "
           "%d uploads and %d callbacks pending\n", live, recording, waiting, uploads, callbacks);
}

void ff_liverec_manager_tick(LiveRecManager *m)
{
    int64_t now = av_gettime_relative();

    pthread_mutex_lock(&m->lock);
    prune_streams(m, m->tick_state);
    check_tasks(m, av_gettime() / 1000000);
    /* a push refused for want of a slot is recorded when one frees */
    for (int i = 0; i < m->nb_streams; i++) {
        Stream *st = m->streams[i];
        if (st->live && st->refused && !st->session &&
            running_sessions(m) < cfg_of(m->cfg)->max_sessions)
            start_session(m, m->tick_state, st, "a session slot is free");
    }
    pthread_mutex_unlock(&m->lock);
    reconcile(m);
    if (m->opts.stats_period && now - m->last_stats >= m->opts.stats_period) {
        m->last_stats = now;
        print_stats(m);
    }
}

static void free_creds(void *opaque, uint8_t *data)
{
    LiveRecCredentials *c = *(LiveRecCredentials **)data;
    ff_liverec_credentials_free(&c);
    av_free(data);
}

/* The API's keys, from the environment and the file cfg names; put in force if they load. */
static int load_credentials(LiveRecManager *m, const LiveRecConfig *cfg)
{
    LiveRecCredentials **pc = av_mallocz(sizeof(*pc));
    AVBufferRef *ref;
    int nb;

    if (!pc)
        return AVERROR(ENOMEM);
    if ((nb = ff_liverec_credentials_load(pc, cfg->credentials_file)) < 0) {
        av_free(pc);
        return nb;
    }
    if (!(ref = av_buffer_create((uint8_t *)pc, sizeof(*pc), free_creds, NULL, 0))) {
        ff_liverec_credentials_free(pc);
        av_free(pc);
        return AVERROR(ENOMEM);
    }
    av_log(NULL, nb ? AV_LOG_INFO : AV_LOG_WARNING, "API: %d key%s%s\n", nb, nb == 1 ? "" : "s",
           nb ? "" : "; every API request is refused (set LIVEREC_SECRET_ID and "
           "LIVEREC_SECRET_KEY, or Service CredentialsFile)");
    pthread_mutex_lock(&m->lock);
    av_buffer_unref(&m->creds);
    m->creds = ref;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

AVBufferRef *ff_liverec_manager_credentials(LiveRecManager *m)
{
    AVBufferRef *ref;
    pthread_mutex_lock(&m->lock);
    ref = m->creds ? av_buffer_ref(m->creds) : NULL;
    pthread_mutex_unlock(&m->lock);
    return ref;
}

/* A task whose window is open now records st. */
static int task_open(const LiveRecConfig *cfg, const Stream *st)
{
    int64_t now = av_gettime() / 1000000;
    for (int i = 0; i < cfg->nb_tasks; i++) {
        const LiveRecTask *t = &cfg->tasks[i];
        const LiveRecTemplate *tmpl = ff_liverec_find_template(cfg, t->template_id);
        if (ff_liverec_task_matches(t, st->domain, st->app, st->stream) && tmpl &&
            ff_liverec_template_records(tmpl) && t->end_time > now &&
            (t->start_time == INT64_MIN || t->start_time <= now))
            return 1;
    }
    return 0;
}

/*
 * The configuration in force: a copy of the file's with the API's objects appended. Every
 * session keeps the snapshot it started with (rules and templates apply from the next push),
 * but follows the tasks of the one in force (through the holder). With change_lock.
 */
static int rebuild(LiveRecManager *m)
{
    LiveRecConfig *cfg = ff_liverec_config_dup(cfg_of(m->file_cfg));
    AVBufferRef *ref;
    int ret;

    if (!cfg)
        return AVERROR(ENOMEM);
    if ((ret = ff_liverec_objects_merge(m->change_state, cfg)) < 0) {
        ff_liverec_config_free(&cfg);
        return ret;
    }
    if (!(ref = av_buffer_create((uint8_t *)cfg, sizeof(*cfg), free_loaded, NULL, 0))) {
        ff_liverec_config_free(&cfg);
        return AVERROR(ENOMEM);
    }
    pthread_mutex_lock(&m->lock);
    av_buffer_unref(&m->cfg);
    m->cfg = ref;
    /* a live stream a task now records starts at once (a rule only from its next push) */
    for (int i = 0; i < m->nb_streams; i++) {
        Stream *st = m->streams[i];
        if (st->live && (!st->session || atomic_load(&st->session->done)) && task_open(cfg, st))
            start_session(m, m->change_state, st, "a task records it");
    }
    pthread_mutex_unlock(&m->lock);
    /* the workers' next upload, callback or deletion uses it, the sessions' tasks follow it */
    if (m->opts.holder && (ref = av_buffer_ref(ref)))
        ff_liverec_config_holder_set(m->opts.holder, ref);
    return 0;
}

int ff_liverec_manager_change(LiveRecManager *m,
                              int (*change)(LiveRecState *st, const LiveRecConfig *cfg, void *opaque),
                              void *opaque)
{
    sqlite3 *db;
    AVBufferRef *ref;
    int ret, ret2;

    pthread_mutex_lock(&m->change_lock);
    db = ff_liverec_state_handle(m->change_state);
    if (!(ref = ff_liverec_manager_config(m))) {
        pthread_mutex_unlock(&m->change_lock);
        return AVERROR(ENOMEM);
    }
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        av_log(NULL, AV_LOG_ERROR, "state: %s\n", sqlite3_errmsg(db));
        ret = AVERROR_EXTERNAL;
        goto end;
    }
    ret = change(m->change_state, cfg_of(ref), opaque);
    if (sqlite3_exec(db, ret >= 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK) {
        av_log(NULL, AV_LOG_ERROR, "state: %s\n", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        ret = AVERROR_EXTERNAL;
    }
    if (ret >= 0 && (ret2 = rebuild(m)) < 0)
        ret = ret2;
end:
    av_buffer_unref(&ref);
    pthread_mutex_unlock(&m->change_lock);
    return ret;
}

int ff_liverec_manager_reload(LiveRecManager *m)
{
    LiveRecConfig *cfg = NULL;
    AVBufferRef *ref, *old;
    int ret;

    av_log(NULL, AV_LOG_INFO, "SIGHUP: loading %s again\n", m->opts.config_path);
    if ((ret = ff_liverec_config_load(&cfg, m->opts.config_path, av_gettime() / 1000000)) < 0) {
        av_log(NULL, AV_LOG_ERROR, "the new configuration is refused; the one in force stays\n");
        return ret;
    }
    if (!(ref = av_buffer_create((uint8_t *)cfg, sizeof(*cfg), free_loaded, NULL, 0))) {
        ff_liverec_config_free(&cfg);
        return AVERROR(ENOMEM);
    }
    if ((ret = load_credentials(m, cfg)) < 0) {
        av_log(NULL, AV_LOG_ERROR, "the new configuration is refused; the one in force stays\n");
        av_buffer_unref(&ref);
        return ret;
    }
    pthread_mutex_lock(&m->change_lock);
    old         = m->file_cfg;
    m->file_cfg = ref;
    if ((ret = rebuild(m)) < 0) {
        m->file_cfg = old;
        av_buffer_unref(&ref);
        pthread_mutex_unlock(&m->change_lock);
        av_log(NULL, AV_LOG_ERROR, "the new configuration cannot be put in force: %s\n",
               av_err2str(ret));
        return ret;
    }
    av_buffer_unref(&old);
    pthread_mutex_unlock(&m->change_lock);
    av_log(NULL, AV_LOG_INFO, "configuration reloaded: %d templates, %d rules, %d tasks, %d "
           "origins; it applies from the next push (Storage and Callback from the next upload "
           "and callback, tasks at once)\n", cfg->nb_templates, cfg->nb_rules, cfg->nb_tasks,
           cfg->nb_origins);
    return 0;
}

AVBufferRef *ff_liverec_manager_config(LiveRecManager *m)
{
    AVBufferRef *ref;
    pthread_mutex_lock(&m->lock);
    ref = av_buffer_ref(m->cfg);
    pthread_mutex_unlock(&m->lock);
    return ref;
}

const LiveRecManagerOptions *ff_liverec_manager_options(const LiveRecManager *m)
{
    return &m->opts;
}

int ff_liverec_manager_search(LiveRecManager *m, const LiveRecSearch *q, json_t **rows,
                              int64_t *total)
{
    int ret;
    pthread_mutex_lock(&m->change_lock);
    ret = ff_liverec_state_search(m->change_state, q, rows, total);
    pthread_mutex_unlock(&m->change_lock);
    return ret;
}

int ff_liverec_manager_wait_tasks(LiveRecManager *m, const char *domain, const char *app,
                                  const char *stream, int64_t timeout)
{
    int64_t t0 = av_gettime_relative();
    unsigned gen = m->opts.holder ? ff_liverec_config_holder_generation(m->opts.holder) : 0;

    for (;;) {
        int pending = 0;
        Stream *st;
        pthread_mutex_lock(&m->lock);
        if ((st = find_stream(m, domain, app, stream)) && st->session &&
            !atomic_load(&st->session->done)) {
            Session *s = st->session;
            int phase = atomic_load(&s->stats.phase);
            /* a session inside a push applies the change with its next packet; one that is
             * connecting takes the tasks in force when its push opens */
            pending = phase == LIVEREC_SESSION_CONNECTING ||
                      (phase == LIVEREC_SESSION_RECORDING &&
                       (int)(atomic_load(&s->stats.tasks_gen) - gen) < 0);
        }
        pthread_mutex_unlock(&m->lock);
        if (!pending)
            return 1;
        if (av_gettime_relative() - t0 >= timeout)
            return 0;
        av_usleep(20000);
    }
}

json_t *ff_liverec_manager_streams(LiveRecManager *m)
{
    json_t *a = json_array();
    int64_t now = av_gettime_relative();

    if (!a)
        return NULL;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->nb_streams; i++) {
        const Stream *st = m->streams[i];
        const LiveRecConfig *cfg = cfg_of(m->cfg);
        Session *s = st->session;
        json_t *o, *so = NULL;

        if (s) {
            int phase = atomic_load(&s->stats.phase);
            double t = (now - atomic_load(&s->stats.push_start)) / 1e6;
            int64_t bytes = atomic_load(&s->stats.bytes);
            json_t *outs = NULL;
            int rec = phase == LIVEREC_SESSION_RECORDING;
            pthread_mutex_lock(&s->stats.lock);
            if (s->stats.outputs)
                outs = json_loads(s->stats.outputs, 0, NULL);
            pthread_mutex_unlock(&s->stats.lock);
            so = json_pack("{s:s, s:i, s:f, s:I, s:f, s:i, s:o}",
                           "Phase", phase_names[phase], "Pushes", atomic_load(&s->stats.pushes),
                           "Seconds", rec ? t : 0.0, "Bytes", (json_int_t)bytes,
                           "Kbps", rec && t > 0 ? bytes * 8 / t / 1000 : 0.0,
                           "Open", atomic_load(&s->stats.open),
                           "Outputs", outs ? outs : json_array());
        }
        o = json_pack("{s:s, s:s, s:s, s:b, s:I, s:s, s:o}",
                      "DomainName", st->domain, "AppName", st->app, "StreamName", st->stream,
                      "Live", st->live, "PublishTime", (json_int_t)(st->live ? st->publish_usec / 1000000 : 0),
                      "Origin", st->origin < cfg->nb_origins ?
                                ff_liverec_origin_type_names[cfg->origins[st->origin].type] : "",
                      "Session", so ? so : json_null());
        if (o)
            json_array_append_new(a, o);
    }
    pthread_mutex_unlock(&m->lock);
    return a;
}

int ff_liverec_manager_start(LiveRecManager **pm, LiveRecConfig *cfg,
                             const LiveRecManagerOptions *opts)
{
    LiveRecManager *m = av_mallocz(sizeof(*m));
    int ret;

    *pm = NULL;
    if (!m)
        return AVERROR(ENOMEM);
    m->opts = *opts;
    m->last_task_check = av_gettime() / 1000000;
    /* the file's first configuration stays the caller's: its workers use it until the end */
    if (!(m->file_cfg = av_buffer_create((uint8_t *)cfg, sizeof(*cfg), free_nothing, NULL, 0)) ||
        !(m->cfg = av_buffer_ref(m->file_cfg))) {
        av_buffer_unref(&m->file_cfg);
        av_free(m);
        return AVERROR(ENOMEM);
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->change_lock, NULL);
    if ((ret = ff_liverec_state_connect(&m->hook_state, opts->state_dir)) < 0 ||
        (ret = ff_liverec_state_connect(&m->tick_state, opts->state_dir)) < 0 ||
        (ret = ff_liverec_state_connect(&m->change_state, opts->state_dir)) < 0 ||
        (ret = load_credentials(m, cfg)) < 0 ||
        /* with the objects made through the API */
        (ret = rebuild(m)) < 0) {
        ff_liverec_manager_stop(&m);
        return ret;
    }
    cfg = (LiveRecConfig *)cfg_of(m->cfg);
    if (cfg->nb_templates + cfg->nb_rules + cfg->nb_tasks)
        av_log(NULL, AV_LOG_INFO, "in force: %d templates, %d rules, %d tasks (file and API)\n",
               cfg->nb_templates, cfg->nb_rules, cfg->nb_tasks);
    /* a crash (kill -9, power) leaves recordings open in the spool */
    pthread_mutex_lock(&m->lock);
    ret = ff_liverec_spool_leftovers(opts->spool, adopt_leftovers, m);
    pthread_mutex_unlock(&m->lock);
    if (ret > 0)
        av_log(NULL, AV_LOG_INFO, "%d stream%s left unfinished recordings in %s: they are "
               "finished unless their push comes back in time\n", ret, ret == 1 ? "" : "s",
               opts->spool);
    else if (ret < 0)
        av_log(NULL, AV_LOG_WARNING, "cannot look for unfinished recordings in %s: %s\n",
               opts->spool, av_err2str(ret));
    *pm = m;
    return 0;
}

void ff_liverec_manager_stop(LiveRecManager **pm)
{
    LiveRecManager *m = *pm;
    int n = 0;

    if (!m)
        return;
    /* the stop flag is set: every session finalizes its files and ends */
    for (int i = 0; i < m->nb_streams; i++) {
        n += !!m->streams[i]->session;
        if (m->streams[i]->session)
            atomic_store(&m->streams[i]->session->cancel, 1);
    }
    if (n)
        av_log(NULL, AV_LOG_INFO, "finalizing the files of %d session%s\n", n, n == 1 ? "" : "s");
    for (int i = 0; i < m->nb_streams; i++) {
        reap(m->streams[i], 1);
        stream_free(&m->streams[i]);
    }
    av_freep(&m->streams);
    av_freep(&m->polls);
    ff_liverec_state_close(&m->hook_state);
    ff_liverec_state_close(&m->tick_state);
    ff_liverec_state_close(&m->change_state);
    av_buffer_unref(&m->cfg);
    av_buffer_unref(&m->file_cfg);
    av_buffer_unref(&m->creds);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->change_lock);
    av_freep(pm);
}
