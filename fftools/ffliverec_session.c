/*
 * ffliverec: one recording session (one input stream, every format of every template that applies)
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
 * A session demuxes its input once and writes every packet, without re-encoding, into one
 * liverec muxer per enabled format of each recording that applies: the template of the rule
 * that matches the stream, and the template of every task whose window is open. Each task has its
 * own folder, so overlapping recordings never share files.
 *
 * When the input ends or fails, every muxer is closed (MP4, FLV and AAC finalize their file;
 * liverec_hls leaves its playlist open for splicing) and the input is reopened with backoff for
 * up to the longest FlowContinueDuration. A push that comes back in time opens the muxers again:
 * new MP4/FLV/AAC files, and HLS continues behind a discontinuity. When no push comes back, the
 * HLS recordings are finalized and the session ends.
 */

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/dict.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"
#include "libavutil/time.h"
#include "libavformat/avformat.h"
#include "libavformat/avio.h"

#include <jansson.h>

#include "ffliverec.h"

/* A recording: copies of what it needs, so that tasks can change under a running session */
typedef struct Output {
    LiveRecFormatParam param;       ///< its template's (vod_file_name owned)
    int flow_continue;              ///< its template's FlowContinueDuration
    int max_duration;               ///< its template's HLS MaxDuration (0: none)
    char *task_id;                  ///< NULL: the rule's recording
    int64_t task_start, task_end;   ///< its task's window (Unix seconds; start INT64_MIN: none)
    enum LiveRecFormat format;
    char *url;                      ///< playlist (HLS) or folder (MP4/FLV/AAC)
    AVFormatContext *oc;
    int *map;                       ///< input stream -> output stream, -1: not written
    int64_t packets;
    int failed;                     ///< the push in which it could not start (retried next push)
    int write_failed;               ///< writing failed (a full disk): closed until retry_at
    int in_outage;                  ///< from a write error until writing works for 10 s again
    int64_t retry_at;               ///< av_gettime_relative() from which it is opened again
    int64_t retry_delay;            ///< the wait after the last write error (grows to 10 s)
    int64_t opened_at;              ///< av_gettime_relative() of its last open
    int64_t closed_at;              ///< av_gettime_relative() of its last close, 0: never
    int64_t files_seen;             ///< the muxer's files_finished last collected
    int done;                       ///< its task's window closed: finished for the session
} Output;

struct LiveRecSession {
    const LiveRecConfig *cfg;
    LiveRecSessionOptions opts;
    char *input_url;
    AVFormatContext *ic;
    LiveRecProbe *probe;            ///< the packets read while learning ic's streams
    /** libavformat's own opener of the input, called by subscribed_io_open() */
    int (*io_open)(AVFormatContext *ic, AVIOContext **pb, const char *url, int flags,
                   AVDictionary **options);
    Output *outs;
    int nb_outs;
    int pushes;
    int64_t bytes;                  ///< of the current push, for the status line
    int64_t push_start;             ///< av_gettime_relative() at the current push's start
    int64_t last_status;
    int started;                    ///< outputs opened (record_start_succeeded was sent)
    int reading;                    ///< inside a push (not opening one)
    int64_t outputs_checked;        ///< Unix second update_outputs() last ran, INT64_MIN: never
    int64_t last_packet;            ///< av_gettime_relative() of the last packet read
    int     pace_stream;            ///< the input stream the pace is followed on, -1: none
    int64_t pace_base;              ///< least wall clock minus media time seen in the push
    int64_t pace_dts;               ///< last timestamp of pace_stream (AV_TIME_BASE)
    int     behind;                 ///< the push is read late (told once until caught up)
    int64_t *last_dts;              ///< per input stream, AV_TIME_BASE, AV_NOPTS_VALUE if none
    int64_t *last_raw_dts;          ///< the same in the stream's time base
    AVCodecParameters **last_par;   ///< stream parameters of the last push (to finalize HLS)
    int nb_last_par;
    unsigned tasks_gen;             ///< generation of the tasks last taken from opts.tasks
    int outputs_changed;            ///< opened or closed since the service was last shown
};

static void collect_finished(LiveRecSession *s);

static const char *const muxer_names[LIVEREC_NB_FORMATS] = {
    "liverec_flv", "liverec_hls", "liverec_mp4", "liverec_aac",
};

static int add_output(LiveRecSession *s, const LiveRecTemplate *t, const LiveRecTask *task,
                      enum LiveRecFormat f)
{
    const LiveRecSessionOptions *o = &s->opts;
    AVBPrint dir;
    Output *outs, *out;
    int ret;

    av_bprint_init(&dir, 0, AV_BPRINT_SIZE_UNLIMITED);
    /* names were checked (ff_liverec_check_stream_name): no separators, no dot segments */
    av_bprintf(&dir, "%s/%s/%s/%s", o->spool, o->domain, o->app, o->stream);
    if (task)
        av_bprintf(&dir, "/task-%s", task->id);
    av_bprintf(&dir, "/%s", ff_liverec_format_names[f]);
    if (!av_bprint_is_complete(&dir)) {
        av_bprint_finalize(&dir, NULL);
        return AVERROR(ENOMEM);
    }
    /* a session finishing leftovers only looks at folders that exist */
    if (!o->leftovers && (ret = ff_liverec_make_dirs(dir.str, 0755)) < 0) {
        av_bprint_finalize(&dir, NULL);
        return ret;
    }
    if (f == LIVEREC_HLS)
        av_bprintf(&dir, "/%s.m3u8", o->stream);
    else
        av_bprint_chars(&dir, '/', 1);

    outs = av_realloc_array(s->outs, s->nb_outs + 1, sizeof(*outs));
    if (!outs) {
        av_bprint_finalize(&dir, NULL);
        return AVERROR(ENOMEM);
    }
    s->outs = outs;
    out = &s->outs[s->nb_outs++];
    memset(out, 0, sizeof(*out));
    out->param         = t->param[f];
    out->param.vod_file_name = NULL;
    out->flow_continue = t->flow_continue_duration;
    out->max_duration  = t->hls_max_duration;
    out->format        = f;
    out->task_start    = task ? task->start_time : INT64_MIN;
    out->task_end      = task ? task->end_time : INT64_MAX;
    s->outputs_changed = 1;
    if ((t->param[f].vod_file_name && !(out->param.vod_file_name = av_strdup(t->param[f].vod_file_name))) ||
        (task && !(out->task_id = av_strdup(task->id)))) {
        av_bprint_finalize(&dir, NULL);
        return AVERROR(ENOMEM);
    }
    return av_bprint_finalize(&dir, &out->url);
}

/* The recordings of this stream: the matched rule's template and every task's (DESIGN §3). */
static int plan_outputs(LiveRecSession *s, int64_t now)
{
    const LiveRecSessionOptions *o = &s->opts;
    const LiveRecRule *rule = ff_liverec_match_rule(s->cfg, o->domain, o->app, o->stream, NULL);
    int ret;

    if (rule) {
        const LiveRecTemplate *t = ff_liverec_find_template(s->cfg, rule->template_id);
        if (!ff_liverec_template_records(t))
            av_log(NULL, AV_LOG_INFO, "rule on line %d: template %"PRId64" '%s' records nothing "
                   "(exclusion template)\n", rule->line, t->id, t->name);
        for (int f = 0; f < LIVEREC_NB_FORMATS; f++)
            if (t->param[f].present && t->param[f].enable && (ret = add_output(s, t, NULL, f)) < 0)
                return ret;
    }
    for (int i = 0; i < s->cfg->nb_tasks; i++) {
        const LiveRecTask *task = &s->cfg->tasks[i];
        const LiveRecTemplate *t = ff_liverec_find_template(s->cfg, task->template_id);
        if (!ff_liverec_task_matches(task, o->domain, o->app, o->stream) || task->end_time <= now)
            continue;
        for (int f = 0; f < LIVEREC_NB_FORMATS; f++)
            if (t->param[f].present && t->param[f].enable && (ret = add_output(s, t, task, f)) < 0)
                return ret;
    }
    return 0;
}

static int task_window_open(const Output *out, int64_t now)
{
    return !out->task_id ||
           ((out->task_start == INT64_MIN || out->task_start <= now) && now < out->task_end);
}

/*
 * Tasks made, stopped or deleted while the session runs (the service's API, a reload) apply at
 * once, unlike rules and templates: a stopped or deleted task's files are closed, a new task's
 * opened. Cheap when nothing changed (one atomic load): called for every packet.
 */
static int follow_tasks(LiveRecSession *s, int64_t *pnow)
{
    const LiveRecSessionOptions *o = &s->opts;
    const LiveRecConfig *cfg;
    AVBufferRef *ref;
    int64_t now;
    unsigned gen;
    int ret = 0;

    if (!o->tasks || (gen = ff_liverec_config_holder_generation(o->tasks)) == s->tasks_gen)
        return 0;
    /* the change is judged by the clock read after it was seen: the API stamps a stop, then
     * changes the generation, and answers once the session has taken it, so the task's files
     * must be closed by then; the packet's second may have been read just before the stamp */
    *pnow = FFMAX(*pnow, av_gettime() / 1000000);
    now   = *pnow;
    if (!(ref = ff_liverec_config_holder_get(o->tasks)))
        return AVERROR(ENOMEM);
    cfg = (const LiveRecConfig *)ref->data;
    for (int i = 0; i < s->nb_outs; i++) {
        Output *out = &s->outs[i];
        const LiveRecTask *t = NULL;
        if (!out->task_id)
            continue;
        for (int j = 0; j < cfg->nb_tasks && !t; j++)
            if (!strcmp(cfg->tasks[j].id, out->task_id) &&
                ff_liverec_task_matches(&cfg->tasks[j], o->domain, o->app, o->stream))
                t = &cfg->tasks[j];
        /* a deleted task ends now; a changed window (a stop) is followed */
        out->task_start = t ? t->start_time : INT64_MIN;
        out->task_end   = t ? t->end_time : now;
    }
    for (int j = 0; j < cfg->nb_tasks && ret >= 0; j++) {
        const LiveRecTask *t = &cfg->tasks[j];
        const LiveRecTemplate *tmpl;
        int known = 0;
        if (!ff_liverec_task_matches(t, o->domain, o->app, o->stream) || t->end_time <= now ||
            !(tmpl = ff_liverec_find_template(cfg, t->template_id)))
            continue;
        for (int i = 0; i < s->nb_outs && !known; i++)
            known = s->outs[i].task_id && !strcmp(s->outs[i].task_id, t->id);
        if (known)
            continue;
        av_log(NULL, AV_LOG_INFO, "task %s is new: its recordings join this session\n", t->id);
        for (int f = 0; f < LIVEREC_NB_FORMATS && ret >= 0; f++)
            if (tmpl->param[f].present && tmpl->param[f].enable)
                ret = add_output(s, tmpl, t, f);
    }
    av_buffer_unref(&ref);
    s->tasks_gen = gen;
    s->outputs_checked = INT64_MIN;     /* look at the windows now */
    return ret;
}

/* Nothing left to record in this push: every output failed in it or finished its task's window. */
static int all_done(const LiveRecSession *s)
{
    for (int i = 0; i < s->nb_outs; i++)
        if (!s->outs[i].done && s->outs[i].failed != s->pushes)
            return 0;
    return 1;
}

int ff_liverec_session_plan(const LiveRecConfig *cfg, const char *domain, const char *app,
                            const char *stream, int64_t now)
{
    const LiveRecRule *rule = ff_liverec_match_rule(cfg, domain, app, stream, NULL);
    int n = 0;

    if (rule) {
        const LiveRecTemplate *t = ff_liverec_find_template(cfg, rule->template_id);
        for (int f = 0; f < LIVEREC_NB_FORMATS; f++)
            n += t->param[f].present && t->param[f].enable;
    }
    for (int i = 0; i < cfg->nb_tasks; i++) {
        const LiveRecTask *task = &cfg->tasks[i];
        const LiveRecTemplate *t = ff_liverec_find_template(cfg, task->template_id);
        if (!ff_liverec_task_matches(task, domain, app, stream) || task->end_time <= now ||
            (task->start_time != INT64_MIN && task->start_time > now))
            continue;
        for (int f = 0; f < LIVEREC_NB_FORMATS; f++)
            n += t->param[f].present && t->param[f].enable;
    }
    return n;
}

/*
 * Close out's muxer. With final, an HLS recording is finalized by this close (no push continues
 * it), rather than left open for a splice. Returns 1 when it was so finalized, 0 when closed, a
 * negative AVERROR when closing failed.
 */
static int close_output(Output *out, int final)
{
    int ret = 0;
    if (!out->oc)
        return 0;
    final = final && out->format == LIVEREC_HLS &&
            av_opt_set_int(out->oc->priv_data, "final", 1, 0) >= 0;
    out->closed_at = av_gettime_relative();
    ret = av_write_trailer(out->oc);
    if (ret < 0)
        av_log(NULL, AV_LOG_ERROR, "%s: closing failed: %s\n", out->url, av_err2str(ret));
    avformat_free_context(out->oc);
    out->oc = NULL;
    av_freep(&out->map);
    return ret < 0 ? ret : final;
}

/* Open out's muxer for streams par[0..nb-1] (the current input, or the last push's). */
static int open_output(LiveRecSession *s, Output *out, AVCodecParameters **par,
                       const AVRational *tb, int nb, int final)
{
    const LiveRecFormatParam *p = &out->param;
    AVDictionary *opts = NULL;
    AVFormatContext *oc = NULL;
    int ret, nb_mapped = 0, have_video = 0, have_audio = 0;

    ret = avformat_alloc_output_context2(&oc, NULL, muxer_names[out->format], out->url);
    if (ret < 0)
        return ret;
    if (!(out->map = av_malloc_array(nb, sizeof(*out->map)))) {
        avformat_free_context(oc);
        return AVERROR(ENOMEM);
    }
    /* one video and one audio stream; AAC takes the audio only */
    for (int i = 0; i < nb; i++) {
        enum AVMediaType type = par[i]->codec_type;
        AVStream *st;
        out->map[i] = -1;
        if ((type == AVMEDIA_TYPE_VIDEO && (have_video || out->format == LIVEREC_AAC)) ||
            (type == AVMEDIA_TYPE_AUDIO && have_audio) ||
            (type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO))
            continue;
        if (!(st = avformat_new_stream(oc, NULL)) ||
            (ret = avcodec_parameters_copy(st->codecpar, par[i])) < 0) {
            ret = st ? ret : AVERROR(ENOMEM);
            goto fail;
        }
        st->codecpar->codec_tag = 0;
        st->time_base = tb[i];
        out->map[i] = nb_mapped++;
        have_video |= type == AVMEDIA_TYPE_VIDEO;
        have_audio |= type == AVMEDIA_TYPE_AUDIO;
    }
    if (!nb_mapped) {
        av_log(NULL, AV_LOG_WARNING, "%s: the stream has nothing to record in %s\n", out->url,
               ff_liverec_format_names[out->format]);
        ret = AVERROR(EINVAL);
        goto fail;
    }
    av_dict_set(&opts, "stream_id", s->opts.stream, 0);
    if (p->vod_file_name)
        av_dict_set(&opts, "vod_file_name", p->vod_file_name, 0);
    if (out->format == LIVEREC_HLS) {
        if (!out->closed_at) {
            /* what an earlier process left: the muxer compares its end with the wall clock */
            av_dict_set_int(&opts, "splice_timeout", out->flow_continue, 0);
        } else if (out->in_outage ||
                   av_gettime_relative() - out->closed_at < out->flow_continue * 1000000LL) {
            /* this session recorded the push before and timed the interruption on the
             * monotonic clock, which a step of the wall clock does not move; after a full disk
             * the recording goes on behind a discontinuity however long that lasted */
            av_dict_set(&opts, "splice", "1", 0);
        }   /* else splice_timeout 0: a new recording */
        av_dict_set_int(&opts, "max_duration", out->max_duration, 0);   /* seconds */
        if (final)
            av_dict_set(&opts, "final", "1", 0);
    } else {
        av_dict_set_int(&opts, "record_interval", p->record_interval, 0);
    }
    ret = avformat_write_header(oc, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        av_log(NULL, AV_LOG_ERROR, "%s: cannot start recording: %s\n", out->url, av_err2str(ret));
        goto fail;
    }
    out->oc = oc;
    out->files_seen = 0;
    return 0;
fail:
    avformat_free_context(oc);
    av_freep(&out->map);
    return ret;
}

static void save_stream_parameters(LiveRecSession *s)
{
    for (int i = 0; i < s->nb_last_par; i++)
        avcodec_parameters_free(&s->last_par[i]);
    av_freep(&s->last_par);
    s->nb_last_par = 0;
    if (!(s->last_par = av_calloc(s->ic->nb_streams, sizeof(*s->last_par))))
        return;
    for (unsigned i = 0; i < s->ic->nb_streams; i++) {
        if (!(s->last_par[i] = avcodec_parameters_alloc()) ||
            avcodec_parameters_copy(s->last_par[i], s->ic->streams[i]->codecpar) < 0)
            break;
        s->nb_last_par = i + 1;
    }
}

/* the signal's stop flag, or this session's own (the service stops one session) */
static int stopping(const LiveRecSession *s)
{
    return (s->opts.stop && *s->opts.stop) || (s->opts.cancel && atomic_load(s->opts.cancel));
}

/*
 * The origin said the push ended (its end hook): a read that has had no data for a second ends
 * it now instead of after rw_timeout, so that the interruption is timed from when it happened.
 */
#define GONE_QUIET 1000000

static int interrupt_cb(void *opaque)
{
    LiveRecSession *s = opaque;
    return stopping(s) ||
           (s->reading && s->opts.gone && atomic_load(s->opts.gone) &&
            av_gettime_relative() - s->last_packet > GONE_QUIET);
}

/* A recording status event (332), queued for the callback worker. */
static void status_event(LiveRecSession *s, const char *record_event, const char *fmt, ...)
    av_printf_format(3, 4);
static void status_event(LiveRecSession *s, const char *record_event, const char *fmt, ...)
{
    char detail[512];
    va_list vl;

    va_start(vl, fmt);
    vsnprintf(detail, sizeof(detail), fmt, vl);
    va_end(vl);
    if (ff_liverec_event_status(s->opts.state, s->cfg, s->opts.domain, s->opts.app,
                                s->opts.stream, record_event, detail, av_gettime()) >= 0)
        ff_liverec_worker_kick(s->opts.notifier);
}

/* Sleep up to usec, less when told a push was announced or to stop. */
static void nap(LiveRecSession *s, int64_t usec)
{
    int64_t end = av_gettime_relative() + usec;

    while (!stopping(s) && av_gettime_relative() < end) {
        if (s->opts.wake && atomic_exchange(s->opts.wake, 0))
            return;
        av_usleep(FFMIN(20000, FFMAX(end - av_gettime_relative(), 0)));
    }
}

/*
 * The input's own connection is open: for RTMP (rtmp_wait_data 0), the origin has started the
 * play. An origin without a GOP cache sends a player what comes after it joined: the service
 * answers the publish hook now (-hook_hold).
 */
static int subscribed_io_open(AVFormatContext *ic, AVIOContext **pb, const char *url, int flags,
                              AVDictionary **options)
{
    LiveRecSession *s = ic->opaque;
    int ret = s->io_open(ic, pb, url, flags, options);

    if (ret >= 0 && pb == &ic->pb)
        atomic_store(&s->opts.pull->subscribed, 1);
    return ret;
}

static void close_input(LiveRecSession *s)
{
    ff_liverec_probe_free(&s->probe);
    avformat_close_input(&s->ic);
    if (s->opts.pull)
        atomic_store(&s->opts.pull->subscribed, 0);
}

static int open_input(LiveRecSession *s)
{
    AVDictionary *opts = NULL;
    int ret;

    if (!(s->ic = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    s->ic->interrupt_callback.callback = interrupt_cb;
    s->ic->interrupt_callback.opaque   = s;
    if (s->opts.pull) {
        s->ic->opaque  = s;
        s->io_open     = s->ic->io_open;
        s->ic->io_open = subscribed_io_open;
    }
    av_dict_set_int(&opts, "rw_timeout", s->opts.rw_timeout, 0);
    /* the recordings are stream copies that never use a frame rate: probing does not wait for
     * the 40 video frames (1.6 s at 25 fps) that FFmpeg reads to estimate one */
    av_dict_set_int(&opts, "fpsprobesize", 0, 0);
    if (av_strstart(s->input_url, "rtmp://", NULL)) {
        /* fewer wake-ups per stream: see -read_coalesce in the manual */
        av_dict_set_int(&opts, "rtmp_read_coalesce", s->opts.read_coalesce / 1000, 0);
        /* one copy less of every byte: the FLV payloads go from the RTMP messages straight into
         * the packets */
        av_dict_set_int(&opts, "rtmp_read_direct", 1, 0);
        /* the service is told as soon as the play started, not at the push's first packet */
        if (s->opts.pull)
            av_dict_set_int(&opts, "rtmp_wait_data", 0, 0);
    }
    ret = avformat_open_input(&s->ic, s->input_url, NULL, &opts);
    av_dict_free(&opts);
    /* a live FLV input (RTMP) says what its streams are in its headers: see -probe_decode */
    if (ret >= 0 && !s->opts.probe_decode && (s->ic->ctx_flags & AVFMTCTX_NOHEADER) &&
        av_match_name(s->ic->iformat->name, "flv,live_flv"))
        ret = ff_liverec_probe_streams(s->ic, &s->probe);
    else if (ret >= 0)
        ret = avformat_find_stream_info(s->ic, NULL);
    /* an origin may replay what it kept of a publisher that has left (Node-Media-Server, for
     * 30 s) without its parameters: that is no push */
    for (unsigned i = 0; ret >= 0 && i < s->ic->nb_streams; i++) {
        const AVCodecParameters *par = s->ic->streams[i]->codecpar;
        if ((par->codec_type == AVMEDIA_TYPE_VIDEO && par->width <= 0) ||
            (par->codec_type == AVMEDIA_TYPE_AUDIO && par->sample_rate <= 0)) {
            av_log(NULL, AV_LOG_VERBOSE, "%s: stream %u has no parameters: not a push\n",
                   s->input_url, i);
            ret = AVERROR(EAGAIN);
        }
    }
    if (ret < 0) {
        close_input(s);
        if (s->opts.pull)
            atomic_fetch_add(&s->opts.pull->failures, 1);
    }
    return ret;
}

/* What the service shows of the recordings (its status page, DescribeRecordTask): when changed. */
static void show_outputs(LiveRecSession *s)
{
    LiveRecSessionStats *stats = s->opts.stats;
    json_t *a;
    char *text = NULL;

    if (!stats || !s->outputs_changed || !(a = json_array()))
        return;
    for (int i = 0; i < s->nb_outs; i++) {
        const Output *out = &s->outs[i];
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b, s:b}",
                                           "Format", ff_liverec_format_names[out->format],
                                           "TaskId", out->task_id ? out->task_id : "",
                                           "Url", out->url, "Open", !!out->oc,
                                           "Failed", (out->failed && out->failed == s->pushes) ||
                                                     out->write_failed));
    }
    text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (!text)
        return;
    pthread_mutex_lock(&stats->lock);
    av_free(stats->outputs);
    stats->outputs = av_strdup(text);
    pthread_mutex_unlock(&stats->lock);
    free(text);
    s->outputs_changed = 0;
}

/*
 * Open the outputs whose window is open now (a task's may open or close during a push). Task
 * windows are in seconds: once a second is enough, not for every packet.
 */
static void update_outputs(LiveRecSession *s, int64_t now)
{
    AVCodecParameters **par;
    AVRational *tb;
    int collect = 0;

    if (follow_tasks(s, &now) < 0)
        av_log(NULL, AV_LOG_ERROR, "out of memory: a change of the tasks is not applied\n");
    if (now == s->outputs_checked)
        return;
    s->outputs_checked = now;
    par = av_calloc(s->ic->nb_streams, sizeof(*par));
    tb  = av_calloc(s->ic->nb_streams, sizeof(*tb));
    if (!par || !tb)
        goto end;
    for (unsigned i = 0; i < s->ic->nb_streams; i++) {
        par[i] = s->ic->streams[i]->codecpar;
        tb[i]  = s->ic->streams[i]->time_base;
    }
    for (int i = 0; i < s->nb_outs; i++) {
        Output *out = &s->outs[i];
        int open = task_window_open(out, now);
        int64_t finished;
        /* an MP4/FLV/AAC file cut at RecordInterval, an HLS recording cut at its MaxDuration,
         * is catalogued (and uploaded) now, not when the push ends, which may be days away */
        if (out->oc &&
            av_opt_get_int(out->oc, "files_finished", AV_OPT_SEARCH_CHILDREN, &finished) >= 0 &&
            finished != out->files_seen) {
            out->files_seen = finished;
            collect = 1;
        }
        if (out->done || out->failed == s->pushes || (out->write_failed && open))
            continue;
        if (open && !out->oc) {
            s->outputs_changed = 1;
            if (open_output(s, out, par, tb, s->ic->nb_streams, 0) < 0) {
                out->failed = s->pushes;    /* tried again at the next push */
                LIVEREC_COUNT(recordings_failed, 1);
                status_event(s, "record_start_failed", "%s: cannot start recording %s",
                             out->url, ff_liverec_format_names[out->format]);
            } else {
                out->opened_at = av_gettime_relative();
                LIVEREC_COUNT(recordings_started, 1);
                av_log(NULL, AV_LOG_INFO, "recording %s%s%s into %s\n",
                       ff_liverec_format_names[out->format], out->task_id ? " for task " : "",
                       out->task_id ? out->task_id : "", out->url);
                if (!s->started++)
                    status_event(s, "record_start_succeeded", "recording %s into %s",
                                 ff_liverec_format_names[out->format], out->url);
            }
        } else if (!open && out->oc) {
            av_log(NULL, AV_LOG_INFO, "task %s: its window closed, %s is finalized\n",
                   out->task_id, out->url);
            /* an HLS recording the close could not finalize: opened again only for that */
            if (close_output(out, 1) <= 0 && out->format == LIVEREC_HLS && s->nb_last_par &&
                open_output(s, out, par, tb, s->ic->nb_streams, 1) >= 0)
                close_output(out, 0);
            out->done = 1;
            s->outputs_changed = 1;
            collect_finished(s);
        }
    }
    if (collect)
        collect_finished(s);
end:
    av_free(par);
    av_free(tb);
    show_outputs(s);
    if (s->opts.stats)
        atomic_store(&s->opts.stats->tasks_gen, s->tasks_gen);
}

static void status_line(LiveRecSession *s, int64_t now_rel, int last)
{
    double t = (now_rel - s->push_start) / 1e6;
    int open = 0, uploads = 0, callbacks = 0;

    if (!last && now_rel - s->last_status < 1000000)
        return;
    s->last_status = now_rel;
    for (int i = 0; i < s->nb_outs; i++)
        open += !!s->outs[i].oc;
    if (s->opts.stats) {
        /* the service shows it, with every other session's, in its own status lines */
        atomic_store(&s->opts.stats->open, open);
        atomic_store(&s->opts.stats->bytes, s->bytes);
        return;
    }
    if (s->opts.state) {
        uploads   = FFMAX(ff_liverec_state_pending(s->opts.state), 0);
        callbacks = FFMAX(ff_liverec_state_callbacks_pending(s->opts.state), 0);
    }
    av_log(NULL, AV_LOG_INFO, "%s/%s/%s: push %d, %.1f s, %.0f kb/s, %d recordings open, "
           "%d uploads and %d callbacks pending%s",
           s->opts.domain, s->opts.app, s->opts.stream, s->pushes, t,
           t > 0 ? s->bytes * 8 / t / 1000 : 0, open, uploads, callbacks, last ? "\n" : "\r");
}

/* Errors of the storage under the spool, which go away when it is mended (space freed). */
static int storage_error(int err)
{
    return err == AVERROR(ENOSPC) || err == AVERROR(EIO) || err == AVERROR(EDQUOT) ||
           err == AVERROR(EFBIG) || err == AVERROR(EROFS) || err == AVERROR(ENOMEM);
}

/*
 * Writing out failed. What it wrote is closed and finalized (the muxers keep what is complete).
 * After an error of the storage (a full disk) it is opened again, as a new file (HLS: behind a
 * discontinuity), at a keyframe once retry_delay has passed: 2 s, doubling up to 10 s while the
 * errors go on. Any other error stops it until the next push, as one at its start does.
 */
static void output_failed(LiveRecSession *s, Output *out, int err)
{
    if (!storage_error(err)) {
        av_log(NULL, AV_LOG_ERROR, "%s: writing failed: %s; this recording stops until the next "
               "push\n", out->url, av_err2str(err));
        status_event(s, "record_error", "%s: writing failed: %s", out->url, av_err2str(err));
        close_output(out, 0);
        out->failed        = s->pushes;
        out->write_failed  = out->in_outage = 0;
        s->outputs_changed = 1;
        LIVEREC_COUNT(recordings_failed, 1);
        collect_finished(s);
        return;
    }
    out->retry_delay  = out->retry_delay ? FFMIN(out->retry_delay * 2, 10000000) : 2000000;
    out->retry_at     = av_gettime_relative() + out->retry_delay;
    out->write_failed = 1;
    if (!out->in_outage) {
        out->in_outage    = 1;
        av_log(NULL, AV_LOG_ERROR, "%s: writing failed: %s; what was written is kept, the "
               "recording goes on in a new file when writing works again (next try in %.0f s)\n",
               out->url, av_err2str(err), out->retry_delay / 1e6);
        status_event(s, "record_error", "%s: writing failed: %s", out->url, av_err2str(err));
        LIVEREC_COUNT(recordings_failed, 1);
    } else {
        av_log(NULL, AV_LOG_WARNING, "%s: writing still fails: %s; next try in %.0f s\n",
               out->url, av_err2str(err), out->retry_delay / 1e6);
    }
    close_output(out, 0);
    s->outputs_changed = 1;
    collect_finished(s);
}

/* A write-failed output opens again at a keyframe (any packet of an input without video). */
static void reopen_output(LiveRecSession *s, Output *out, const AVPacket *pkt)
{
    AVCodecParameters **par;
    AVRational *tb;
    int has_video = 0, ret = AVERROR(ENOMEM);

    if (av_gettime_relative() < out->retry_at || out->done ||
        !task_window_open(out, av_gettime() / 1000000))
        return;
    for (unsigned i = 0; i < s->ic->nb_streams; i++)
        has_video |= s->ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
    if (has_video && (s->ic->streams[pkt->stream_index]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
                      !(pkt->flags & AV_PKT_FLAG_KEY)))
        return;
    par = av_calloc(s->ic->nb_streams, sizeof(*par));
    tb  = av_calloc(s->ic->nb_streams, sizeof(*tb));
    if (par && tb) {
        for (unsigned i = 0; i < s->ic->nb_streams; i++) {
            par[i] = s->ic->streams[i]->codecpar;
            tb[i]  = s->ic->streams[i]->time_base;
        }
        ret = open_output(s, out, par, tb, s->ic->nb_streams, 0);
    }
    av_free(par);
    av_free(tb);
    if (ret < 0) {
        output_failed(s, out, ret);
        return;
    }
    out->write_failed  = 0;
    out->opened_at     = av_gettime_relative();
    s->outputs_changed = 1;
    LIVEREC_COUNT(recordings_started, 1);
    av_log(NULL, AV_LOG_INFO, "%s: trying to write again (a new file)\n", out->url);
}

/*
 * Writes into out have gone on for 10 s since it was opened again: the outage is over. (The
 * muxers write at keyframes: a shorter wait could call a write that is still buffered a success.)
 */
static void output_works(LiveRecSession *s, Output *out)
{
    if (av_gettime_relative() - out->opened_at < 10000000)
        return;
    out->in_outage   = 0;
    out->retry_delay = 0;
    av_log(NULL, AV_LOG_INFO, "%s: writing works again: recording %s goes on\n", out->url,
           ff_liverec_format_names[out->format]);
    status_event(s, "record_resumed", "%s: writing works again", out->url);
}

/*
 * Whether the push is read as fast as it comes. Behind: its media time falls more than
 * BEHIND_LIMIT behind the wall clock, counted from the point it was furthest ahead (an origin's
 * GOP cache and what probing read come in a burst); the machine does not keep up, or the
 * publisher sends slower than real time. A gap: its timestamps jump forward by more than
 * GAP_LIMIT; an origin drops what a late reader did not take (nginx-rtmp past max_queue), or the
 * publisher sent nothing. Either is logged, counted and sent as a record_error event; the
 * recording goes on.
 */
#define BEHIND_LIMIT (3 * AV_TIME_BASE)
#define CAUGHT_UP    (AV_TIME_BASE / 2)
#define GAP_LIMIT    (2 * AV_TIME_BASE)

static void pace_reset(LiveRecSession *s)
{
    s->pace_stream = av_find_best_stream(s->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (s->pace_stream < 0)
        s->pace_stream = av_find_best_stream(s->ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    s->pace_base = INT64_MAX;
    s->pace_dts  = AV_NOPTS_VALUE;
    s->behind    = 0;
}

/* dts: of a packet of the pace stream (AV_TIME_BASE), read at now (av_gettime_relative()) */
static void check_pace(LiveRecSession *s, int64_t dts, int64_t now)
{
    int64_t lag;

    if (s->pace_dts != AV_NOPTS_VALUE && dts - s->pace_dts > GAP_LIMIT) {
        double t = (now - s->push_start) / 1e6, gap = (dts - s->pace_dts) / 1e6;
        LIVEREC_COUNT(gaps, 1);
        av_log(NULL, AV_LOG_WARNING, "%.1f s of the push are missing, %.1f s into it: the "
               "origin dropped them (a reader that does not keep up) or they were not sent\n",
               gap, t);
        status_event(s, "record_error", "%.1f s of the push are missing, %.1f s into it", gap, t);
    }
    s->pace_dts  = dts;
    s->pace_base = FFMIN(s->pace_base, now - dts);
    lag = now - dts - s->pace_base;
    if (!s->behind && lag > BEHIND_LIMIT) {
        s->behind = 1;
        LIVEREC_COUNT(behind, 1);
        av_log(NULL, AV_LOG_WARNING, "the push is read %.1f s later than it comes: the machine "
               "does not keep up (or the publisher sends slower than real time)\n", lag / 1e6);
        status_event(s, "record_error", "the push is read %.1f s later than it comes", lag / 1e6);
    } else if (s->behind && lag < CAUGHT_UP) {
        s->behind = 0;
        av_log(NULL, AV_LOG_INFO, "the push is read in time again\n");
    }
}

/* Demux one push into the outputs until the input ends. */
static int record_push(LiveRecSession *s)
{
    /* copy: each output's reference to the packet, made again for every packet, not allocated */
    AVPacket *pkt = av_packet_alloc(), *copy = av_packet_alloc();
    int ret = 0;

    if (!pkt || !copy) {
        av_packet_free(&pkt);
        av_packet_free(&copy);
        return AVERROR(ENOMEM);
    }
    s->pushes++;
    s->bytes = 0;
    s->push_start = av_gettime_relative();
    if (s->opts.stats) {
        atomic_store(&s->opts.stats->pushes, s->pushes);
        atomic_store(&s->opts.stats->push_start, s->push_start);
        atomic_store(&s->opts.stats->phase, LIVEREC_SESSION_RECORDING);
    }
    save_stream_parameters(s);
    av_freep(&s->last_dts);
    av_freep(&s->last_raw_dts);
    if (!(s->last_dts = av_malloc_array(s->ic->nb_streams, sizeof(*s->last_dts))) ||
        !(s->last_raw_dts = av_malloc_array(s->ic->nb_streams, sizeof(*s->last_raw_dts)))) {
        av_packet_free(&pkt);
        av_packet_free(&copy);
        return AVERROR(ENOMEM);
    }
    for (unsigned i = 0; i < s->ic->nb_streams; i++)
        s->last_dts[i] = s->last_raw_dts[i] = AV_NOPTS_VALUE;
    pace_reset(s);
    s->outputs_checked = INT64_MIN;
    update_outputs(s, av_gettime() / 1000000);
    s->reading     = 1;
    s->last_packet = av_gettime_relative();
    while (!stopping(s)) {
        int64_t now;
        ret = ff_liverec_probe_read(s->ic, &s->probe, pkt);
        if (ret < 0)
            break;
        now = av_gettime() / 1000000;   /* after the read, which may wait for data */
        s->last_packet = av_gettime_relative();
        s->bytes += pkt->size;
        if (pkt->stream_index < s->ic->nb_streams && pkt->dts != AV_NOPTS_VALUE) {
            int64_t dts = av_rescale_q(pkt->dts, s->ic->streams[pkt->stream_index]->time_base,
                                       AV_TIME_BASE_Q);
            int64_t last = s->last_dts[pkt->stream_index];
            int headers = !!av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, NULL);
            /* an origin can hand a new publish to the same play connection: timestamps start
             * over (nginx-rtmp), or go on from where they were with the publisher's headers
             * sent again (Node-Media-Server resuming a publish). That is a new push: the files
             * of the last one are closed, new ones opened. */
            if (last != AV_NOPTS_VALUE && (dts < last - AV_TIME_BASE || (headers && dts <= last))) {
                av_log(NULL, AV_LOG_INFO, "%s (%.3f s after %.3f s): a new push on the same "
                       "connection\n", dts < last - AV_TIME_BASE ? "timestamps start over" :
                       "new stream headers", dts / 1e6, last / 1e6);
                for (int i = 0; i < s->nb_outs; i++)
                    close_output(&s->outs[i], 0);
                collect_finished(s);
                /* the push was interrupted and came back before the player noticed */
                status_event(s, "record_paused", "push %d ended", s->pushes);
                status_event(s, "record_resumed", "push %d started on the same connection",
                             s->pushes + 1);
                for (unsigned i = 0; i < s->ic->nb_streams; i++)
                    s->last_dts[i] = s->last_raw_dts[i] = AV_NOPTS_VALUE;
                pace_reset(s);
                s->outputs_checked = INT64_MIN;     /* the next push's files open now */
                s->pushes++;
                s->bytes = 0;
                s->push_start = av_gettime_relative();
                if (s->opts.stats) {
                    atomic_store(&s->opts.stats->pushes, s->pushes);
                    atomic_store(&s->opts.stats->push_start, s->push_start);
                }
            }
            /* timestamps that do not grow would stop a muxer: they are made to, as ffmpeg does */
            if (last != AV_NOPTS_VALUE && s->last_dts[pkt->stream_index] != AV_NOPTS_VALUE &&
                s->last_raw_dts[pkt->stream_index] != AV_NOPTS_VALUE &&
                pkt->dts <= s->last_raw_dts[pkt->stream_index]) {
                int64_t fixed = s->last_raw_dts[pkt->stream_index] + 1;
                if (pkt->pts != AV_NOPTS_VALUE)
                    pkt->pts = FFMAX(pkt->pts, fixed);
                pkt->dts = fixed;
                dts = av_rescale_q(pkt->dts, s->ic->streams[pkt->stream_index]->time_base,
                                   AV_TIME_BASE_Q);
            }
            s->last_dts[pkt->stream_index]     = dts;
            s->last_raw_dts[pkt->stream_index] = pkt->dts;
            if (pkt->stream_index == s->pace_stream)
                check_pace(s, dts, s->last_packet);
        }
        update_outputs(s, now);
        if (all_done(s)) {
            av_log(NULL, AV_LOG_INFO, "every recording of this push is done\n");
            break;
        }
        for (int i = 0; i < s->nb_outs; i++) {
            Output *out = &s->outs[i];
            int idx;
            if (out->write_failed && !out->oc && pkt->stream_index < s->ic->nb_streams)
                reopen_output(s, out, pkt);
            if (!out->oc || pkt->stream_index >= s->ic->nb_streams ||
                (idx = out->map[pkt->stream_index]) < 0)
                continue;
            if ((ret = av_packet_ref(copy, pkt)) < 0)
                break;
            av_packet_rescale_ts(copy, s->ic->streams[pkt->stream_index]->time_base,
                                 out->oc->streams[idx]->time_base);
            copy->stream_index = idx;
            copy->pos = -1;
            if ((ret = av_interleaved_write_frame(out->oc, copy)) < 0) {
                output_failed(s, out, ret);
                ret = 0;
            } else if (out->in_outage) {
                output_works(s, out);
            }
            av_packet_unref(copy);
            out->packets++;
        }
        av_packet_unref(pkt);
        status_line(s, av_gettime_relative(), 0);
    }
    status_line(s, av_gettime_relative(), 1);
    av_packet_free(&pkt);
    av_packet_free(&copy);
    s->reading = 0;
    if (s->opts.gone && atomic_exchange(s->opts.gone, 0) && ret == AVERROR_EXIT && !stopping(s)) {
        av_log(NULL, AV_LOG_VERBOSE, "the origin said the push ended\n");
        ret = AVERROR_EOF;
    }
    return ret == AVERROR_EOF ? 0 : ret;
}

/* The longest splice window of the recordings (seconds): how long to wait for a new push. */
static int flow_continue_window(const LiveRecSession *s)
{
    int w = 0;
    for (int i = 0; i < s->nb_outs; i++)
        if (!s->outs[i].done)
            w = FFMAX(w, s->outs[i].flow_continue);
    return w;
}

/* Put the finished files of every output's folder into the catalog (and the upload queue). */
static void collect_finished(LiveRecSession *s)
{
    int added = 0;

    if (!s->opts.state)
        return;
    for (int i = 0; i < s->nb_outs; i++) {
        const Output *out = &s->outs[i];
        LiveRecFolder f = {
            .domain = s->opts.domain, .app = s->opts.app, .stream = s->opts.stream,
            .task_id = out->task_id, .format = out->format, .url = out->url,
            .storage_time = out->param.storage_time,
        };
        added += ff_liverec_collect_finished(s->opts.state, s->cfg, &f);
    }
    if (added) {
        ff_liverec_worker_kick(s->opts.uploader);
        ff_liverec_worker_kick(s->opts.notifier);
    }
}

/*
 * When the folder was last written to (Unix microseconds): an HLS recording's segment being
 * written is flushed at every keyframe, its sidecar only when a segment ends.
 */
static int64_t last_write(const char *dir)
{
    int64_t last = 0;
    struct dirent *e;
    DIR *d = opendir(dir);

    while (d && (e = readdir(d))) {
        char path[4400];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && !lstat(path, &st) && S_ISREG(st.st_mode))
            last = FFMAX(last, (st.st_mtime + 1) * 1000000LL);   /* to the second: its end */
    }
    if (d)
        closedir(d);
    return last;
}

/*
 * What an earlier process left in this stream's folders (the service's start): each format's
 * muxer takes up its own work when it is opened in its folder, so it is opened there with a
 * stand-in stream, told to finalize, and closed without a packet. MP4/FLV/AAC working files are
 * finished at once (a push that comes back gets new files anyway); an HLS recording once no push
 * could continue it, its FlowContinueDuration after its folder was last written. A push that comes back
 * before stops this (the service cancels it) and the session recording it continues the HLS
 * recording behind a discontinuity.
 */
static int finish_leftovers(LiveRecSession *s)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    const AVRational tb = { 1, 1000 };
    int64_t *due = av_calloc(FFMAX(s->nb_outs, 1), sizeof(*due));
    int pending = 0, ret = 0;

    if (!par || !due) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    par->codec_type  = AVMEDIA_TYPE_AUDIO;
    par->codec_id    = AV_CODEC_ID_AAC;
    par->sample_rate = 48000;
    av_channel_layout_default(&par->ch_layout, 2);

    for (int i = 0; i < s->nb_outs; i++) {
        Output *out = &s->outs[i];
        char dir[4096];
        const char *slash = strrchr(out->url, '/');

        snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - out->url) : 0, out->url);
        out->done = !ff_liverec_spool_has_leftover(dir, out->format, s->opts.stream);
        if (out->done)
            continue;
        if (out->format == LIVEREC_HLS) {
            due[i] = last_write(dir) + out->flow_continue * 1000000LL;
            av_log(NULL, AV_LOG_INFO, "%s: an earlier process left this HLS recording open; "
                   "it is finalized %s\n", out->url, due[i] <= av_gettime() ? "now" :
                   "when its push has not come back for its FlowContinueDuration");
        } else {
            av_log(NULL, AV_LOG_INFO, "%s: an earlier process left %s working files here; they "
                   "are finalized now\n", out->url, ff_liverec_format_names[out->format]);
        }
        pending++;
    }
    while (pending && !stopping(s)) {
        int64_t now = av_gettime(), next = INT64_MAX;
        int done = 0;
        for (int i = 0; i < s->nb_outs; i++) {
            Output *out = &s->outs[i];
            if (out->done)
                continue;
            if (due[i] > now) {
                next = FFMIN(next, due[i]);
                continue;
            }
            if (open_output(s, out, &par, &tb, 1, 1) >= 0 && close_output(out, 0) >= 0)
                done++;
            out->done = 1;
            pending--;
        }
        if (done)   /* catalogued (and queued) as they are finished */
            collect_finished(s);
        if (pending)
            nap(s, FFMIN(next - now, 1000000));
    }
end:
    avcodec_parameters_free(&par);
    av_free(due);
    return ret;
}

/* No push came back in time: close the HLS recordings for good. */
static void finalize_hls(LiveRecSession *s)
{
    AVRational *tb;

    if (!s->nb_last_par || !(tb = av_calloc(s->nb_last_par, sizeof(*tb))))
        return;
    for (int i = 0; i < s->nb_last_par; i++)
        tb[i] = (AVRational){ 1, 1000 };
    for (int i = 0; i < s->nb_outs; i++) {
        Output *out = &s->outs[i];
        if (out->format != LIVEREC_HLS || out->done || !out->packets)
            continue;
        /* reopening with final=1 and no packets finalizes what the earlier pushes recorded */
        if (open_output(s, out, s->last_par, tb, s->nb_last_par, 1) >= 0)
            close_output(out, 0);
    }
    av_free(tb);
}

int ff_liverec_session_run(const LiveRecConfig *cfg, const LiveRecSessionOptions *opts)
{
    LiveRecSession s = { .cfg = cfg, .opts = *opts };
    int64_t now = av_gettime() / 1000000;
    int ret;

    /* leftovers: the folders of every task of the stream, ended or not */
    if (opts->leftovers) {
        if (opts->stats)
            atomic_store(&opts->stats->phase, LIVEREC_SESSION_WAITING);
        if ((ret = plan_outputs(&s, INT64_MIN)) < 0)
            goto end;
        if (!s.nb_outs)
            av_log(NULL, AV_LOG_WARNING, "an earlier process left unfinished recordings of "
                   "%s/%s/%s in %s, and no rule or task records the stream now: they stay as "
                   "they are until one does\n", opts->domain, opts->app, opts->stream, opts->spool);
        ret = finish_leftovers(&s);
        goto end;
    }
    if (opts->input) {
        s.input_url = av_strdup(opts->input);
    } else if (cfg->pull_url) {
        AVBPrint bp;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
        ff_liverec_expand_names(&bp, cfg->pull_url, opts->domain, opts->app, opts->stream);
        av_bprint_finalize(&bp, &s.input_url);
    } else {
        av_log(NULL, AV_LOG_ERROR, "no input: give -i URL or an Origin PullUrl in %s\n", cfg->path);
        return AVERROR(EINVAL);
    }
    if (!s.input_url)
        return AVERROR(ENOMEM);

    if ((ret = plan_outputs(&s, now)) < 0)
        goto end;
    if (!s.nb_outs) {
        av_log(NULL, AV_LOG_INFO, "%s/%s/%s is not recorded: no rule or task records it\n",
               opts->domain, opts->app, opts->stream);
        ret = 0;
        goto end;
    }

    /* an origin may register the push only after its hook was answered: keep trying a while */
    for (int64_t t0 = av_gettime_relative(), delay = 100000;; delay = FFMIN(delay * 2, 1000000)) {
        if ((ret = open_input(&s)) >= 0 || stopping(&s) ||
            av_gettime_relative() - t0 >= opts->start_timeout)
            break;
        nap(&s, delay);
    }
    if (ret < 0) {
        av_log(NULL, AV_LOG_ERROR, "cannot open %s: %s\n", s.input_url, av_err2str(ret));
        if (!stopping(&s))
            status_event(&s, "record_start_failed", "cannot open the stream: %s", av_err2str(ret));
        goto end;
    }
    for (;;) {
        int64_t gone, window, delay = 500000;
        int last;

        ret = record_push(&s);
        close_input(&s);
        /* When no push can continue the HLS recordings (the session ends right after: it is
         * stopped, every output is done, or no FlowContinueDuration waits for the push), this
         * close finalizes them, rather than finalize_hls() opening them again only for that. */
        last = stopping(&s) || all_done(&s) || !flow_continue_window(&s);
        for (int i = 0; i < s.nb_outs; i++)
            if (close_output(&s.outs[i], last) > 0)
                s.outs[i].packets = 0;  /* finalized: nothing left for finalize_hls() */
        collect_finished(&s);
        s.outputs_changed = 1;
        show_outputs(&s);
        if (ret < 0 && ret != AVERROR_EXIT)
            av_log(NULL, AV_LOG_WARNING, "push %d of %s ended: %s\n", s.pushes, s.input_url,
                   av_err2str(ret));
        if (stopping(&s) || all_done(&s))
            break;
        if (opts->stats)
            atomic_store(&opts->stats->phase, LIVEREC_SESSION_WAITING);

        /* the push is interrupted: wait for it to come back within the splice window */
        window = flow_continue_window(&s) * 1000000LL;
        gone   = av_gettime_relative();
        av_log(NULL, AV_LOG_INFO, "the push is interrupted; waiting up to %"PRId64" s for it "
               "to come back\n", window / 1000000);
        if (window > 0)
            status_event(&s, "record_paused", "push %d ended; waiting up to %"PRId64" s for the "
                         "next one", s.pushes, window / 1000000);
        ret = AVERROR_EOF;
        while (!stopping(&s) && av_gettime_relative() - gone < window) {
            int64_t t0 = av_gettime_relative();
            /* the last attempt may outlast the window by up to rw_timeout: the push's own
             * rw_timeout is set when it is opened, so it cannot be shortened for the last one */
            if ((ret = open_input(&s)) >= 0)
                break;
            /* an attempt that waited rw_timeout for data was connected: an origin sends a new
             * push to a waiting player at once, but not to one that is sleeping, so go again at
             * once; back off only when the origin itself cannot be reached */
            if (av_gettime_relative() - t0 >= opts->rw_timeout / 2)
                continue;
            nap(&s, FFMIN(delay, FFMAX(window - (av_gettime_relative() - gone), 0)));
            delay = FFMIN(delay * 2, 4000000);
        }
        if (ret < 0)
            break;
        av_log(NULL, AV_LOG_INFO, "the push is back after %.1f s\n",
               (av_gettime_relative() - gone) / 1e6);
        status_event(&s, "record_resumed", "push %d came back after %.1f s", s.pushes + 1,
                     (av_gettime_relative() - gone) / 1e6);
    }

    finalize_hls(&s);
    collect_finished(&s);
    if (s.started)
        status_event(&s, "record_ended", "%d push%s recorded", s.pushes, s.pushes == 1 ? "" : "es");
    av_log(NULL, AV_LOG_INFO, "session of %s/%s/%s ended: %d push%s, %d recording%s\n",
           opts->domain, opts->app, opts->stream, s.pushes, s.pushes == 1 ? "" : "es",
           s.nb_outs, s.nb_outs == 1 ? "" : "s");
    ret = 0;
end:
    for (int i = 0; i < s.nb_outs; i++) {
        close_output(&s.outs[i], 0);
        av_freep(&s.outs[i].url);
        av_freep(&s.outs[i].task_id);
        av_freep(&s.outs[i].param.vod_file_name);
    }
    av_freep(&s.outs);
    for (int i = 0; i < s.nb_last_par; i++)
        avcodec_parameters_free(&s.last_par[i]);
    av_freep(&s.last_par);
    av_freep(&s.last_dts);
    av_freep(&s.last_raw_dts);
    close_input(&s);
    av_freep(&s.input_url);
    if (opts->stats)
        atomic_store(&opts->stats->phase, LIVEREC_SESSION_ENDED);
    return ret;
}
