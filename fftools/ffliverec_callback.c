/*
 * ffliverec: the callback worker
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
 * Announces every finished recording (after its upload is confirmed, or when it is finished if
 * there is no storage) with an HTTP POST of JSON to the configured Callback Url, in the cloud's
 * format (DESIGN.md section 3): t = now + 600, sign = MD5 hex of Key followed by t. A callback
 * is delivered when the receiver answers 2xx; otherwise it is retried every RetryInterval seconds,
 * at most MaxAttempts times, from the catalog's queue, so a restart does not lose it.
 */

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "libavutil/avstring.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/time.h"

#include "ffliverec.h"

typedef struct Notifier {
    const LiveRecConfig *cfg;
    CURL *curl;
} Notifier;

static size_t discard_cb(char *data, size_t size, size_t n, void *opaque)
{
    return size * n;
}

/* The JSON body: the cloud's record callback fields. */
static char *callback_body(const LiveRecConfig *cfg, const LiveRecCallback *cb, int64_t t)
{
    const LiveRecFile *f = &cb->file;
    char id[32];
    /* a spliced HLS recording lasts less than the wall clock from its start to its end */
    int64_t duration_ms = f->duration_ms >= 0 ? f->duration_ms :
                          FFMAX((f->end_usec - f->start_usec) / 1000, 0);
    json_t *o;

    snprintf(id, sizeof(id), "%"PRId64, f->id);
    o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                  " s:s, s:s, s:s, s:s, s:s}",
                  "event_type", 100,
                  "app", f->domain,
                  "appname", f->app,
                  "stream_id", f->stream,
                  "channel_id", f->stream,
                  "file_format", f->format,
                  "start_time", (json_int_t)(f->start_usec / 1000000),
                  "end_time", (json_int_t)(f->end_usec / 1000000),
                  "start_time_usec", (json_int_t)(f->start_usec % 1000000),
                  "end_time_usec", (json_int_t)(f->end_usec % 1000000),
                  "duration", (json_int_t)((duration_ms + 500) / 1000),
                  "file_size", (json_int_t)f->size,
                  "media_start_time", (json_int_t)f->media_start_ms,
                  "record_bps", (json_int_t)(duration_ms ? f->size * 8000 / duration_ms : 0),
                  "video_url", f->object_key,
                  "file_id", id,
                  "record_file_id", id,
                  "task_id", f->task_id,
                  "stream_param", "");
    return ff_liverec_json_sign(cfg, o, t);
}

/* POST body to the receiver: 1 if it answered 2xx, 0 if not (why in *err, *status) */
static int post(Notifier *n, const char *body, CURLcode *res, long *status)
{
    const LiveRecConfig *cfg = n->cfg;
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");

    *res    = CURLE_OUT_OF_MEMORY;
    *status = 0;
    if (body && hdr) {
        curl_easy_reset(n->curl);
        curl_easy_setopt(n->curl, CURLOPT_URL, cfg->callback_url);
        curl_easy_setopt(n->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(n->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(n->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(n->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(n->curl, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(n->curl, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(n->curl, CURLOPT_WRITEFUNCTION, discard_cb);
        *res = curl_easy_perform(n->curl);
        curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(hdr);
    return *res == CURLE_OK && *status >= 200 && *status < 300;
}

static void report(const LiveRecConfig *cfg, const char *what, int attempts, int64_t queued_usec,
                   int delivered, int give_up, CURLcode res, long status)
{
    if (delivered)
        av_log(NULL, AV_LOG_INFO, "%s delivered (%.3f s after it was queued)\n",
               what, (av_gettime() - queued_usec) / 1e6);
    else
        av_log(NULL, give_up ? AV_LOG_ERROR : AV_LOG_WARNING, "%s: %s (attempt %d of %d)%s\n",
               what, res != CURLE_OK ? curl_easy_strerror(res) : "not a 2xx answer",
               attempts + 1, cfg->callback_max_attempts, give_up ? ", giving up" : "");
    if (res == CURLE_OK && !delivered)
        av_log(NULL, AV_LOG_VERBOSE, "callback receiver answered HTTP %ld\n", status);
}

/* One event (push, interruption, recording status): signed when it is sent. */
static int event_step(Notifier *n, LiveRecState *st, LiveRecEvent *ev, int64_t now)
{
    const LiveRecConfig *cfg = n->cfg;
    char *body = ff_liverec_json_sign(cfg, json_loads(ev->body, 0, NULL), now + 600), what[64];
    CURLcode res;
    long status;
    int delivered, give_up;

    delivered = post(n, body, &res, &status);
    give_up   = !delivered && ev->attempts + 1 >= cfg->callback_max_attempts;
    snprintf(what, sizeof(what), "event %d (#%"PRId64")", ev->event_type, ev->id);
    report(cfg, what, ev->attempts, ev->queued_usec, delivered, give_up, res, status);
    LIVEREC_COUNT(callbacks[ev->event_type == 332 ? LIVEREC_METRIC_EVENT_332 :
                            ev->event_type == 1 ? LIVEREC_METRIC_EVENT_1 : LIVEREC_METRIC_EVENT_0]
                           [delivered ? LIVEREC_RESULT_OK : LIVEREC_RESULT_FAILED], 1);
    ff_liverec_state_event_done(st, ev->id, delivered, give_up,
                                now + cfg->callback_retry_interval, av_gettime());
    av_free(body);
    av_freep(&ev->body);
    return 1;
}

/* Whether an item retried at next_try is due now: also when next_try is further ahead than
 * RetryInterval, which the clock going back since it was set makes it */
static int due(const LiveRecConfig *cfg, int64_t next_try, int64_t now)
{
    return next_try <= now || next_try > now + cfg->callback_retry_interval;
}

/*
 * The oldest item of both queues (recording callbacks and events), when it is due: the receiver
 * gets them in the order they were queued, also when some had to be retried.
 */
static int callback_step(LiveRecWorker *w, void *priv, LiveRecState *st)
{
    Notifier *n = priv;
    const LiveRecConfig *cfg = n->cfg;
    int64_t now = av_gettime() / 1000000;
    LiveRecCallback cb;
    LiveRecEvent ev;
    char *body, what[4200];
    CURLcode res;
    long status;
    int ret, ret_ev, delivered, give_up;

    /* a reload may take the Callback away: the queue waits for one */
    if (!cfg->callback_url)
        return 0;
    if ((ret = ff_liverec_state_next_callback(st, INT64_MAX, &cb)) < 0)
        return ret;
    if ((ret_ev = ff_liverec_state_next_event(st, INT64_MAX, &ev)) < 0) {
        if (ret > 0)
            ff_liverec_file_free(&cb.file);
        return ret_ev;
    }
    if (ret_ev > 0 && (!ret || ev.queued_usec < cb.queued_usec)) {
        if (ret > 0)
            ff_liverec_file_free(&cb.file);
        if (!due(cfg, ev.next_try, now)) {
            av_freep(&ev.body);
            return 0;
        }
        return event_step(n, st, &ev, now);
    }
    if (ret_ev > 0)
        av_freep(&ev.body);
    if (ret > 0 && !due(cfg, cb.next_try, now)) {
        ff_liverec_file_free(&cb.file);
        return 0;
    }
    if (!ret)
        return 0;
    body      = callback_body(cfg, &cb, now + 600);
    delivered = post(n, body, &res, &status);
    give_up   = !delivered && cb.attempts + 1 >= cfg->callback_max_attempts;
    snprintf(what, sizeof(what), "callback for %s", cb.file.local_path);
    report(cfg, what, cb.attempts, cb.queued_usec, delivered, give_up, res, status);
    LIVEREC_COUNT(callbacks[LIVEREC_METRIC_EVENT_100][delivered ? LIVEREC_RESULT_OK :
                                                                  LIVEREC_RESULT_FAILED], 1);
    ff_liverec_state_callback_done(st, cb.id, delivered, give_up,
                                   now + cfg->callback_retry_interval, av_gettime());
    av_free(body);
    ff_liverec_file_free(&cb.file);
    return 1;
}

/* Recording callbacks and events still to be delivered */
static int callback_pending(LiveRecState *st)
{
    int a = ff_liverec_state_callbacks_pending(st), b = ff_liverec_state_events_pending(st);
    return a < 0 ? a : b < 0 ? b : a + b;
}

static void callback_uninit(void *priv)
{
    Notifier *n = priv;
    if (!n)
        return;
    if (n->curl)
        curl_easy_cleanup(n->curl);
    av_free(n);
}

static void callback_set_config(void *priv, const LiveRecConfig *cfg)
{
    ((Notifier *)priv)->cfg = cfg;
}

static const LiveRecWorkerOps callback_ops = {
    .set_config = callback_set_config,
    .name    = "callback",
    .step    = callback_step,
    .pending = callback_pending,
    .uninit  = callback_uninit,
};

int ff_liverec_notifier_start(LiveRecWorker **w, const LiveRecConfig *cfg, const char *state_dir,
                              volatile int *stop, LiveRecConfigHolder *holder)
{
    Notifier *n = av_mallocz(sizeof(*n));

    *w = NULL;
    if (!n || !(n->curl = curl_easy_init())) {
        callback_uninit(n);
        return AVERROR(ENOMEM);
    }
    n->cfg = cfg;
    return ff_liverec_worker_start(w, &callback_ops, n, state_dir, stop, holder);
}
