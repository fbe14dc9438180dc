/*
 * liverec_hls: the playlist and its sidecar
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
 * After every segment the muxer rewrites the working playlist, the authority on which segments
 * exist, and the sidecar NAME.m3u8.liverec with what resuming needs. A later muxer (another
 * process, after a crash) reads both back. They are untrusted on the way back in: anything this
 * file would not have written is refused, and every name read is a plain file name in the
 * folder.
 */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/mem.h"
#include "libavutil/parseutils.h"

#include "avformat.h"
#include "liverec.h"
#include "liverec_hls.h"

void ff_liverec_hls_free_segments(LiveRecHLSContext *c)
{
    for (int i = 0; i < c->nb_segs; i++) {
        av_freep(&c->segs[i].uri);
        av_freep(&c->segs[i].map);
    }
    av_freep(&c->segs);
    c->nb_segs = 0;
    c->listed  = 0;
}

int ff_liverec_hls_add_segment(LiveRecHLSContext *c, const char *uri, char *map, int64_t duration,
                       int64_t pdt, int discont)
{
    LRHSegment *seg;
    LRHSegment *segs = av_realloc_array(c->segs, c->nb_segs + 1, sizeof(*c->segs));

    if (!segs)
        return AVERROR(ENOMEM);
    c->segs = segs;
    seg = &segs[c->nb_segs];
    memset(seg, 0, sizeof(*seg));
    seg->uri = av_strdup(uri);
    if (!seg->uri)
        return AVERROR(ENOMEM);
    seg->map      = map;
    seg->duration = duration;
    seg->pdt      = pdt;
    seg->discont  = discont;
    c->nb_segs++;
    c->listed += duration;
    return 0;
}

/* A name we put into a playlist or read back from one: a plain file name in the folder. */
static int is_safe_name(const char *name)
{
    AVBPrint bp;
    int ok;

    if (!*name || strlen(name) > 255)
        return 0;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
    ff_liverec_sanitize_name(&bp, name);
    ok = av_bprint_is_complete(&bp) && !strcmp(bp.str, name);
    av_bprint_finalize(&bp, NULL);
    return ok;
}

static int64_t ms_round(int64_t us)
{
    return (us + 500) / 1000;
}

static int target_duration(const LiveRecHLSContext *c)
{
    int64_t target = (c->segment_time + 999999) / 1000000;

    for (int i = 0; i < c->nb_segs; i++)
        target = FFMAX(target, (ms_round(c->segs[i].duration) + 500) / 1000);
    return FFMAX(target, 1);
}

int ff_liverec_hls_write_playlist(AVFormatContext *s, const char *url, int final)
{
    LiveRecHLSContext *c = s->priv_data;
    AVBPrint bp;
    int ret;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "#EXTM3U\n");
    av_bprintf(&bp, "#EXT-X-VERSION:%d\n", c->segment_type == SEGMENT_TYPE_FMP4 ? 7 : 3);
    av_bprintf(&bp, "#EXT-X-TARGETDURATION:%d\n", target_duration(c));
    av_bprintf(&bp, "#EXT-X-MEDIA-SEQUENCE:0\n");
    av_bprintf(&bp, "#EXT-X-PLAYLIST-TYPE:%s\n", final ? "VOD" : "EVENT");
    for (int i = 0; i < c->nb_segs; i++) {
        const LRHSegment *seg = &c->segs[i];
        int64_t ms = ms_round(seg->duration);

        if (seg->discont)
            av_bprintf(&bp, "#EXT-X-DISCONTINUITY\n");
        if (seg->map)
            av_bprintf(&bp, "#EXT-X-MAP:URI=\"%s\"\n", seg->map);
        if (seg->pdt != AV_NOPTS_VALUE) {
            av_bprintf(&bp, "#EXT-X-PROGRAM-DATE-TIME:");
            ff_liverec_format_iso8601(&bp, seg->pdt);
            av_bprintf(&bp, "\n");
        }
        av_bprintf(&bp, "#EXTINF:%"PRId64".%03d,\n%s\n", ms / 1000, (int)(ms % 1000), seg->uri);
    }
    if (final)
        av_bprintf(&bp, "#EXT-X-ENDLIST\n");
    ret = av_bprint_is_complete(&bp) ? ff_liverec_write_atomic(s, url, &bp, c->protocol_opts) : AVERROR(ENOMEM);
    av_bprint_finalize(&bp, NULL);
    return ret;
}

int ff_liverec_hls_write_state(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    AVBPrint bp;
    int64_t longest = 0;
    int ret;

    for (int i = 0; i < c->nb_segs; i++)
        longest = FFMAX(longest, c->segs[i].duration);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "%s %d\n", STATE_MAGIC, STATE_VERSION);
    av_bprintf(&bp, "recording_start=%"PRId64"\n", c->rec_start);
    av_bprintf(&bp, "last_end=%"PRId64"\n", c->last_end);
    av_bprintf(&bp, "segment_base=%s\n", c->seg_base);
    av_bprintf(&bp, "next_sequence=%d\n", c->nb_segs);
    av_bprintf(&bp, "discontinuities=%d\n", c->nb_discont);
    av_bprintf(&bp, "pushes=%d\n", c->pushes);
    av_bprintf(&bp, "longest_segment=%"PRId64"\n", longest);
    av_bprintf(&bp, "stream_id=%s\n", c->rec_stream_id);
    if (c->codecs)
        av_bprintf(&bp, "codecs=%s\n", c->codecs);
    if (c->finalizing)
        av_bprintf(&bp, "finalizing=%s\n", c->finalizing);
    if (c->seg_open && c->seg_uri) {
        /* a kill leaves this segment unlisted: the next recorder keeps what it holds */
        av_bprintf(&bp, "open_segment=%s\n", c->seg_uri);
        av_bprintf(&bp, "open_segment_start=%"PRId64"\n", wall_of(c, c->seg_start));
        av_bprintf(&bp, "open_segment_flags=%d\n",
                   (c->need_discont && c->nb_segs ? OPEN_SEG_DISCONT : 0) |
                   (!c->nb_segs || c->need_discont ? OPEN_SEG_DATE : 0));
    }
    if (!av_bprint_is_complete(&bp)) {
        av_bprint_finalize(&bp, NULL);
        return AVERROR(ENOMEM);
    }
    /* while the first segment is written, its date is written at every keyframe, and seldom
     * changes after the first ones */
    if (c->state_text && !strcmp(c->state_text, bp.str)) {
        av_bprint_finalize(&bp, NULL);
        return 0;
    }
    av_freep(&c->state_text);
    if ((ret = ff_liverec_write_atomic(s, c->state_url, &bp, c->protocol_opts)) >= 0)
        ret = av_bprint_finalize(&bp, &c->state_text);
    else
        av_bprint_finalize(&bp, NULL);
    return ret;
}

static int parse_int64(const char *v, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long x;

    if (!*v)
        return AVERROR_INVALIDDATA;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (*end || errno || x < min || x > max)
        return AVERROR_INVALIDDATA;
    *out = x;
    return 0;
}

static int dup_value(char **dst, const char *v, int need_safe)
{
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20)
            return AVERROR_INVALIDDATA;
    if (need_safe && !is_safe_name(v))
        return AVERROR_INVALIDDATA;
    av_free(*dst);
    *dst = av_strdup(v);
    return *dst ? 0 : AVERROR(ENOMEM);
}

/* The sidecar: "liverec_hls VERSION" then key=value lines. Everything in it is checked. */
int ff_liverec_hls_parse_state(AVFormatContext *s, char *text)
{
    LiveRecHLSContext *c = s->priv_data;
    char *line, *save = NULL;
    int version, n = 0, have = 0, ret = 0;
    int64_t v;

    line = av_strtok(text, "\n", &save);
    if (!line || sscanf(line, STATE_MAGIC " %d%n", &version, &n) != 1 || line[n]) {
        av_log(s, AV_LOG_ERROR, "'%s' is not a liverec_hls state file\n", c->state_url);
        return AVERROR_INVALIDDATA;
    }
    if (version > STATE_VERSION || version < 1) {
        av_log(s, AV_LOG_ERROR, "'%s' has state version %d; this liverec_hls reads version %d "
               "only and leaves it untouched\n", c->state_url, version, STATE_VERSION);
        return AVERROR_PATCHWELCOME;
    }
    while ((line = av_strtok(NULL, "\n", &save))) {
        char *val = strchr(line, '=');
        if (!val) {
            av_log(s, AV_LOG_ERROR, "Corrupt state file '%s': line '%s' is not key=value\n",
                   c->state_url, line);
            return AVERROR_INVALIDDATA;
        }
        *val++ = 0;
        if (!strcmp(line, "recording_start")) {
            ret = parse_int64(val, 0, INT64_MAX / 2, &c->rec_start);
            have |= 1;
        } else if (!strcmp(line, "last_end")) {
            ret = parse_int64(val, 0, INT64_MAX / 2, &c->last_end);
            have |= 2;
        } else if (!strcmp(line, "segment_base")) {
            ret = dup_value(&c->seg_base, val, 1);
            have |= 4;
        } else if (!strcmp(line, "stream_id")) {
            ret = dup_value(&c->rec_stream_id, val, 0);
        } else if (!strcmp(line, "codecs")) {
            ret = dup_value(&c->codecs, val, 0);
        } else if (!strcmp(line, "finalizing")) {
            ret = dup_value(&c->finalizing, val, 1);
        } else if (!strcmp(line, "open_segment")) {
            ret = dup_value(&c->open_seg, val, 1);
        } else if (!strcmp(line, "open_segment_start")) {
            ret = parse_int64(val, 0, INT64_MAX / 2, &c->open_seg_start);
        } else if (!strcmp(line, "open_segment_flags")) {
            if ((ret = parse_int64(val, 0, OPEN_SEG_DISCONT | OPEN_SEG_DATE, &v)) >= 0)
                c->open_seg_flags = v;
        } else if (!strcmp(line, "discontinuities")) {
            if ((ret = parse_int64(val, 0, INT_MAX, &v)) >= 0)
                c->nb_discont = v;
        } else if (!strcmp(line, "pushes")) {
            if ((ret = parse_int64(val, 0, INT_MAX, &v)) >= 0)
                c->pushes = v;
        } else if (!strcmp(line, "next_sequence") || !strcmp(line, "longest_segment")) {
            ret = parse_int64(val, 0, INT64_MAX, &v); /* derived from the playlist */
        } else {
            ret = AVERROR_INVALIDDATA;
        }
        if (ret < 0) {
            if (ret == AVERROR_INVALIDDATA)
                av_log(s, AV_LOG_ERROR, "Corrupt state file '%s': bad line '%s'\n",
                       c->state_url, line);
            return ret;
        }
    }
    if (have != 7) {
        av_log(s, AV_LOG_ERROR, "Corrupt state file '%s': recording_start, last_end or "
               "segment_base missing\n", c->state_url);
        return AVERROR_INVALIDDATA;
    }
    if (!c->rec_stream_id && !(c->rec_stream_id = av_strdup(c->stem)))
        return AVERROR(ENOMEM);
    return 0;
}

/* Read back the working playlist we wrote; anything we would not have written is an error. */
static int parse_playlist(AVFormatContext *s, const char *url, char *text)
{
    LiveRecHLSContext *c = s->priv_data;
    char *line, *save = NULL, *map = NULL;
    int64_t duration = -1, pdt = AV_NOPTS_VALUE;
    int discont = 0, lineno = 1, ret = 0;
    const char *reason = NULL;

    ff_liverec_hls_free_segments(c);
    line = av_strtok(text, "\n", &save);
    if (!line || strcmp(line, "#EXTM3U")) {
        av_log(s, AV_LOG_ERROR, "'%s' is not an HLS playlist\n", url);
        return AVERROR_INVALIDDATA;
    }
    while ((line = av_strtok(NULL, "\n", &save))) {
        const char *v;
        lineno++;
        if (av_strstart(line, "#EXT-X-VERSION:", NULL) ||
            av_strstart(line, "#EXT-X-TARGETDURATION:", NULL) ||
            !strcmp(line, "#EXT-X-MEDIA-SEQUENCE:0") ||
            !strcmp(line, "#EXT-X-PLAYLIST-TYPE:EVENT")) {
            continue;
        } else if (!strcmp(line, "#EXT-X-DISCONTINUITY")) {
            discont = 1;
        } else if (av_strstart(line, "#EXT-X-MAP:URI=\"", &v)) {
            size_t len = strlen(v);
            av_freep(&map);
            if (len < 2 || v[len - 1] != '"' || !(map = av_strndup(v, len - 1)) || !is_safe_name(map)) {
                reason = "bad EXT-X-MAP";
                break;
            }
        } else if (av_strstart(line, "#EXT-X-PROGRAM-DATE-TIME:", &v)) {
            if (av_parse_time(&pdt, v, 0) < 0 || pdt < 0) {
                reason = "bad EXT-X-PROGRAM-DATE-TIME";
                break;
            }
        } else if (av_strstart(line, "#EXTINF:", &v)) {
            char *end;
            double d = strtod(v, &end);
            if (end == v || *end != ',' || !(d >= 0 && d < 86400)) {
                reason = "bad EXTINF";
                break;
            }
            duration = llrint(d * 1000000);
        } else if (line[0] != '#' && line[0]) {
            if (duration < 0 || !is_safe_name(line)) {
                reason = duration < 0 ? "segment without EXTINF" : "unexpected segment name";
                break;
            }
            if (c->nb_segs && !discont && map) {
                reason = "EXT-X-MAP without a discontinuity";
                break;
            }
            if ((ret = ff_liverec_hls_add_segment(c, line, map, duration, pdt, discont && c->nb_segs)) < 0)
                break;
            map      = NULL;
            duration = -1;
            pdt      = AV_NOPTS_VALUE;
            discont  = 0;
        } else {
            reason = "unexpected tag";
            break;
        }
    }
    av_free(map);
    if (ret < 0)
        return ret;
    if (reason || duration >= 0) {
        av_log(s, AV_LOG_ERROR, "Corrupt working playlist '%s' at line %d: %s\n", url, lineno,
               reason ? reason : "EXTINF without a segment");
        return AVERROR_INVALIDDATA;
    }
    return 0;
}

int ff_liverec_hls_load_playlist(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    AVBPrint bp;
    int ret;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = ff_liverec_read_file(s, s->url, &bp, PLAYLIST_MAX_SIZE, c->protocol_opts);
    if (ret >= 0)
        ret = parse_playlist(s, s->url, bp.str);
    else if (ret == AVERROR(ENOENT))
        ret = 0; /* nothing was listed before the crash: an empty recording */
    else
        av_log(s, AV_LOG_ERROR, "Cannot read '%s': %s\n", s->url, av_err2str(ret));
    av_bprint_finalize(&bp, NULL);
    return ret;
}

