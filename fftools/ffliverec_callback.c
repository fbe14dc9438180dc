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
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "libavutil/avstring.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/md5.h"
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
    uint8_t sum[16];
    char sign[33], tstr[32], id[32];
    int64_t duration_ms = FFMAX((f->end_usec - f->start_usec) / 1000, 0);
    json_t *o;
    char *body, *ret;

    snprintf(tstr, sizeof(tstr), "%"PRId64, t);
    snprintf(id, sizeof(id), "%"PRId64, f->id);
    {
        /* sign = md5(key + t) */
        struct AVMD5 *md5 = av_md5_alloc();
        if (!md5)
            return NULL;
        av_md5_init(md5);
        av_md5_update(md5, (const uint8_t *)cfg->callback_key, strlen(cfg->callback_key));
        av_md5_update(md5, (const uint8_t *)tstr, strlen(tstr));
        av_md5_final(md5, sum);
        av_free(md5);
        for (int i = 0; i < 16; i++)
            snprintf(sign + 2 * i, 3, "%02x", sum[i]);
    }
    o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                  " s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
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
                  "stream_param", "",
                  "t", (json_int_t)t,
                  "sign", sign);
    if (!o)
        return NULL;
    body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ret = body ? av_strdup(body) : NULL;
    free(body);
    return ret;
}

static int callback_step(LiveRecWorker *w, void *priv, LiveRecState *st)
{
    Notifier *n = priv;
    const LiveRecConfig *cfg = n->cfg;
    int64_t now = av_gettime() / 1000000;
    struct curl_slist *hdr = NULL;
    LiveRecCallback cb;
    char *body;
    long status = 0;
    CURLcode res = CURLE_OUT_OF_MEMORY;
    int ret, delivered, give_up;

    if ((ret = ff_liverec_state_next_callback(st, now, &cb)) <= 0)
        return ret;
    body = callback_body(cfg, &cb, now + 600);
    hdr  = curl_slist_append(NULL, "Content-Type: application/json");
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
        res = curl_easy_perform(n->curl);
        curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, &status);
    }
    delivered = res == CURLE_OK && status >= 200 && status < 300;
    give_up   = !delivered && cb.attempts + 1 >= cfg->callback_max_attempts;
    if (delivered)
        av_log(NULL, AV_LOG_INFO, "callback for %s delivered (%.3f s after it was queued)\n",
               cb.file.local_path, (av_gettime() - cb.queued_usec) / 1e6);
    else
        av_log(NULL, give_up ? AV_LOG_ERROR : AV_LOG_WARNING, "callback for %s: %s (attempt %d of %d)%s\n",
               cb.file.local_path, res != CURLE_OK ? curl_easy_strerror(res) : "not a 2xx answer",
               cb.attempts + 1, cfg->callback_max_attempts, give_up ? ", giving up" : "");
    if (res == CURLE_OK && !delivered)
        av_log(NULL, AV_LOG_VERBOSE, "callback receiver answered HTTP %ld\n", status);
    ff_liverec_state_callback_done(st, cb.id, delivered, give_up,
                                   now + cfg->callback_retry_interval, av_gettime());
    curl_slist_free_all(hdr);
    av_free(body);
    ff_liverec_file_free(&cb.file);
    return 1;
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

static const LiveRecWorkerOps callback_ops = {
    .name    = "callback",
    .step    = callback_step,
    .pending = ff_liverec_state_callbacks_pending,
    .uninit  = callback_uninit,
};

int ff_liverec_notifier_start(LiveRecWorker **w, const LiveRecConfig *cfg, const char *state_dir,
                              volatile int *stop)
{
    Notifier *n = av_mallocz(sizeof(*n));

    *w = NULL;
    if (!n || !(n->curl = curl_easy_init())) {
        callback_uninit(n);
        return AVERROR(ENOMEM);
    }
    n->cfg = cfg;
    return ff_liverec_worker_start(w, &callback_ops, n, state_dir, stop);
}
