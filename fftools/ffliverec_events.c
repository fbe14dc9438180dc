/*
 * ffliverec: the service's events (push, interruption, recording status)
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
 * Events are queued in the catalog by whoever sees them (the listener for pushes, a session for
 * its recording status) and delivered by the one callback worker, in the order they were queued,
 * with the recording callbacks' retries. The body is stored without t and sign: both are added
 * when it is sent, so that a retry an hour later still carries a valid expiry.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "libavutil/avstring.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/md5.h"

#include "ffliverec.h"

static int callback_sign(const char *key, int64_t t, char sign[33])
{
    struct AVMD5 *md5 = av_md5_alloc();
    uint8_t sum[16];
    char tstr[32];

    if (!md5)
        return AVERROR(ENOMEM);
    snprintf(tstr, sizeof(tstr), "%"PRId64, t);
    av_md5_init(md5);
    av_md5_update(md5, (const uint8_t *)key, strlen(key));
    av_md5_update(md5, (const uint8_t *)tstr, strlen(tstr));
    av_md5_final(md5, sum);
    av_free(md5);
    for (int i = 0; i < 16; i++)
        snprintf(sign + 2 * i, 3, "%02x", sum[i]);
    return 0;
}

/*
 * A string from outside (names, the publisher's arguments, reasons that quote them) as printable
 * ASCII of at most 512 bytes: jansson refuses what is not UTF-8, and the receiver gets no control
 * characters. Into buf[513].
 */
static const char *clean(const char *s, char *buf)
{
    size_t i;
    if (!s)
        return "";
    for (i = 0; s[i] && i < 512; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    buf[i] = 0;
    return buf;
}

/* json_dumps() output moved into av_malloc()ed memory */
static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL, *ret = s ? av_strdup(s) : NULL;
    free(s);
    json_decref(o);
    return ret;
}

static int queue(LiveRecState *st, int type, json_t *o, int64_t now_usec)
{
    char *body = dump(o);
    int ret;

    if (!body) {
        av_log(NULL, AV_LOG_ERROR, "event %d could not be made\n", type);
        return AVERROR(ENOMEM);
    }
    ret = ff_liverec_state_add_event(st, type, body, now_usec);
    av_free(body);
    if (ret < 0)
        av_log(NULL, AV_LOG_ERROR, "event %d could not be queued: %s\n", type, av_err2str(ret));
    return ret;
}

int ff_liverec_event_push(LiveRecState *st, const LiveRecConfig *cfg, const LiveRecPush *p,
                          int event_type, int64_t now_usec)
{
    char b[5][513];
    json_t *o;

    if (!cfg->callback_url ||
        !(cfg->callback_events & (event_type ? LIVEREC_EVENT_PUSH : LIVEREC_EVENT_PUSH_END)))
        return 0;
    /* the cloud's stream push (1) and interruption (0) callbacks */
    o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:i, s:s}",
                  "event_type", event_type,
                  "app", clean(p->domain, b[0]),
                  "appname", clean(p->app, b[1]),
                  "stream_id", clean(p->stream, b[2]),
                  "channel_id", b[2],
                  "event_time", (json_int_t)(now_usec / 1000000),
                  "sequence", (json_int_t)p->sequence,
                  "user_ip", clean(p->user_ip, b[3]),
                  "stream_param", clean(p->param, b[4]),
                  "errcode", 0,
                  "errmsg", event_type ? "" : "push ended");
    if (o && !event_type && p->start_usec > 0)
        json_object_set_new(o, "push_duration",
                            json_integer((now_usec - p->start_usec) / 1000));
    return queue(st, event_type, o, now_usec);
}

int ff_liverec_event_status(LiveRecState *st, const LiveRecConfig *cfg, const char *domain,
                            const char *app, const char *stream, const char *record_event,
                            const char *detail, int64_t now_usec)
{
    char b[4][513];
    json_t *o, *d;
    char *detail_str;

    if (!st || !cfg->callback_url || !(cfg->callback_events & LIVEREC_EVENT_RECORD_STATUS))
        return 0;
    /* record_detail is a JSON document in a string, as the cloud sends it */
    d = json_pack("{s:s}", "message", clean(detail, b[3]));
    if (!(detail_str = dump(d)))
        return AVERROR(ENOMEM);
    o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:s}",
                  "event_type", 332,
                  "app", clean(domain, b[0]),
                  "appname", clean(app, b[1]),
                  "stream_id", clean(stream, b[2]),
                  "channel_id", b[2],
                  "event_time", (json_int_t)(now_usec / 1000000),
                  "record_event", record_event,
                  "record_detail", detail_str);
    av_free(detail_str);
    return queue(st, 332, o, now_usec);
}

char *ff_liverec_json_sign(const LiveRecConfig *cfg, json_t *o, int64_t t)
{
    char sign[33];

    if (!o || !json_is_object(o) || callback_sign(cfg->callback_key, t, sign) < 0) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "t", json_integer(t));
    json_object_set_new(o, "sign", json_string(sign));
    return dump(o);
}
