/*
 * liverec_hls: HLS recording that splices separate pushes of one stream into one playlist
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

/**
 * @file
 * liverec_hls muxer.
 *
 * The output URL names the working playlist NAME.m3u8 of the open recording. Segments are cut
 * at keyframes of the reference stream (the first video stream, else the first audio stream)
 * into a nested MPEG-TS or fragmented MP4 muxer, one per continuity block (a push, or the part
 * of a push after a codec change or a timestamp jump). The nested muxer inserts the bitstream
 * filters it needs itself, so this muxer sees packets as they came, with their new-extradata side
 * data, and every block's filters start from the parameters in force. The playlist is an EVENT playlist,
 * rewritten atomically after each segment; it is the authority on which segments exist.
 * The sidecar NAME.m3u8.liverec keeps what resuming needs. On open, a recording whose last
 * packet is less than splice_timeout old is continued behind #EXT-X-DISCONTINUITY; an older one
 * is finalized (VOD, #EXT-X-ENDLIST, renamed from vod_file_name) and a new one starts.
 */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libavutil/avassert.h"
#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/file_open.h"
#include "libavutil/mathematics.h"
#include "libavutil/md5.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"
#include "libavutil/parseutils.h"
#include "libavutil/time.h"

#include "avformat.h"
#include "internal.h"
#include "liverec.h"
#include "mux.h"
#include "url.h"

#define STATE_MAGIC       "liverec_hls"
#define STATE_VERSION     1
#define STATE_MAX_SIZE    (64 * 1024)
#define PLAYLIST_MAX_SIZE (64 * 1024 * 1024)

enum SegmentType {
    SEGMENT_TYPE_MPEGTS,
    SEGMENT_TYPE_FMP4,
};

typedef struct LRHSegment {
    char   *uri;
    char   *map;      ///< EXT-X-MAP URI starting with this segment (fMP4), or NULL
    int64_t duration; ///< microseconds
    int64_t pdt;      ///< EXT-X-PROGRAM-DATE-TIME in microseconds, or AV_NOPTS_VALUE
    int     discont;  ///< preceded by EXT-X-DISCONTINUITY
} LRHSegment;

typedef struct LiveRecHLSContext {
    const AVClass *class;

    /* options */
    int64_t segment_time;
    int     segment_type;
    int64_t splice_timeout;
    int     splice;
    int64_t max_duration;
    int64_t files_finished; ///< exported: recordings finalized since the open
    int64_t max_ts_jump;
    char   *vod_file_name;
    char   *stream_id;
    AVDictionary *protocol_opts;
    char   *time_zone;
    int     final;
    char   *wallclock;

    char   *dir;       ///< folder of the playlist: "" or ending in '/'
    char   *stem;      ///< playlist name without ".m3u8"
    char   *state_url;
    char   *lock_path;
    int     lock_fd;
    int64_t now;       ///< wall clock at open, microseconds

    /* the recording, persisted in the playlist and the sidecar */
    int64_t rec_start;
    int64_t last_end;
    char   *seg_base;
    int     nb_discont;
    int     pushes;
    char   *rec_stream_id;
    char   *finalizing;
    char   *codecs;
    LRHSegment *segs;
    int     nb_segs;
    int64_t listed;        ///< duration of the segments listed, microseconds
    char   *open_seg;      ///< from the sidecar: the segment being written when it was saved
    int64_t open_seg_start;
    int     open_seg_flags; ///< OPEN_SEG_DISCONT, OPEN_SEG_DATE

    /* the current push */
    AVFormatContext *oc;
    int     ref;          ///< reference stream for cuts
    int     block_open;   ///< oc has written its header for the current block
    int     seg_open;
    int     need_discont; ///< the next segment starts behind a discontinuity
    char   *block_map;    ///< map of the current block not yet attached to a segment
    char   *seg_uri;
    int64_t seg_start;    ///< microseconds (stream time) where the open segment starts
    int64_t seg_end;      ///< microseconds, end of the latest packet in the segment
    int64_t seg_saved;    ///< av_gettime_relative() when the open segment was last saved
    int64_t wall_base;    ///< wall clock = wall_base + (ts - ts_base)
    int64_t ts_base;
    int64_t anchor;       ///< wall_base as first set for this block
    int     have_base;
    int     base_fixed;   ///< the block's first segment (with its date) is listed
    int     io_error;     ///< writing a segment failed: the files stay as a crash leaves them
    int64_t packets;      ///< written since this open
    int64_t *last_dts;    ///< per stream, microseconds
    AVCodecParameters **par; ///< per stream, the parameters in force (new extradata applied)
} LiveRecHLSContext;

/* what the next listed segment needs, saved with the segment being written */
#define OPEN_SEG_DISCONT 1
#define OPEN_SEG_DATE    2

static int64_t wall_of(const LiveRecHLSContext *c, int64_t ts);

static const char *seg_ext(const LiveRecHLSContext *c)
{
    return c->segment_type == SEGMENT_TYPE_FMP4 ? "m4s" : "ts";
}

static void free_segments(LiveRecHLSContext *c)
{
    for (int i = 0; i < c->nb_segs; i++) {
        av_freep(&c->segs[i].uri);
        av_freep(&c->segs[i].map);
    }
    av_freep(&c->segs);
    c->nb_segs = 0;
    c->listed  = 0;
}

static int add_segment(LiveRecHLSContext *c, const char *uri, char *map, int64_t duration,
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

static int write_playlist(AVFormatContext *s, const char *url, int final)
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

static int write_state(AVFormatContext *s)
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
    ret = av_bprint_is_complete(&bp) ? ff_liverec_write_atomic(s, c->state_url, &bp, c->protocol_opts) : AVERROR(ENOMEM);
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
static int parse_state(AVFormatContext *s, char *text)
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

    free_segments(c);
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
            if ((ret = add_segment(c, line, map, duration, pdt, discont && c->nb_segs)) < 0)
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

static int load_playlist(AVFormatContext *s)
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

static int delete_url(AVFormatContext *s, const char *url)
{
    LiveRecHLSContext *c = s->priv_data;
    int ret = ff_liverec_io_delete(s, url, c->protocol_opts);

    if (ret < 0 && ret != AVERROR(ENOENT))
        av_log(s, AV_LOG_WARNING, "Cannot delete '%s': %s\n", url, av_err2str(ret));
    return ret;
}

static void reset_recording(LiveRecHLSContext *c)
{
    free_segments(c);
    av_freep(&c->seg_base);
    av_freep(&c->finalizing);
    av_freep(&c->open_seg);
    av_freep(&c->codecs);
    av_freep(&c->rec_stream_id);
    c->nb_discont = c->pushes = 0;
    c->rec_start = c->last_end = 0;
}

/* Finalize the recording described by c (state loaded, playlist loaded). */
static int finalize(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    AVBPrint name, url;
    int64_t total = 0;
    int ret;

    av_bprint_init(&name, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&url, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (c->finalizing && !c->nb_segs) {
        /* a crash after the final playlist was written and the working one removed */
        av_log(s, AV_LOG_INFO, "Recording '%s' was already finalized as '%s%s'\n", s->url,
               c->dir, c->finalizing);
        ret = 0;
        goto done;
    }
    if (!c->nb_segs) {
        /* quietly when opened only to finalize (no packet) a recording started by this open */
        av_log(s, c->packets || c->rec_start != c->now ? AV_LOG_WARNING : AV_LOG_VERBOSE,
               "Recording '%s' has no complete segment; nothing to keep\n", s->url);
        delete_url(s, s->url);
        ret = 0;
        goto done;
    }
    if (!c->finalizing) {
        ret = ff_liverec_expand_name(&name, c->vod_file_name, c->rec_stream_id,
                                     c->rec_start, c->last_end, c->time_zone, s);
        if (ret < 0)
            goto end;
        ret = ff_liverec_unique_url(s, &url, c->dir, name.str, ".m3u8", c->protocol_opts);
        if (ret < 0)
            goto end;
        c->finalizing = av_strdup(url.str + strlen(c->dir));
        if (!c->finalizing) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        /* from here on, a crash resumes this finalization under the same name */
        if ((ret = write_state(s)) < 0)
            goto end;
    } else {
        av_bprintf(&url, "%s%s", c->dir, c->finalizing);
    }
    if ((ret = write_playlist(s, url.str, 1)) < 0)
        goto end;
    delete_url(s, s->url);
    for (int i = 0; i < c->nb_segs; i++)
        total += c->segs[i].duration;
    av_log(s, AV_LOG_INFO, "Finalized recording '%s': %d segments, %.3f s, %d discontinuities\n",
           url.str, c->nb_segs, total / 1000000.0, c->nb_discont);
    c->files_finished++;
done:
    ret = delete_url(s, c->state_url);
    if (ret == AVERROR(ENOENT))
        ret = 0;
    reset_recording(c);
end:
    av_bprint_finalize(&name, NULL);
    av_bprint_finalize(&url, NULL);
    return ret;
}

static int start_recording(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    AVBPrint base, probe;
    int ret;

    reset_recording(c);
    c->rec_start = c->last_end = c->now;
    c->rec_stream_id = av_strdup(c->stream_id ? c->stream_id : c->stem);
    if (!c->rec_stream_id)
        return AVERROR(ENOMEM);

    /* segment names: STEM-START_NNNNN.ts, so they never collide across recordings */
    av_bprint_init(&base, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&probe, 0, AV_BPRINT_SIZE_UNLIMITED);
    for (int i = 0; i < 1000; i++) {
        av_bprint_clear(&base);
        av_bprint_clear(&probe);
        ff_liverec_sanitize_name(&base, c->stem);
        av_bprintf(&base, "-%"PRId64, c->now / 1000);
        if (i)
            av_bprintf(&base, "-%d", i);
        av_bprintf(&probe, "%s%s_00000.%s", c->dir, base.str, seg_ext(c));
        if (!av_bprint_is_complete(&probe) || ff_liverec_io_check(s, probe.str, 0, c->protocol_opts) < 0)
            break;
    }
    ret = av_bprint_is_complete(&base) ? av_bprint_finalize(&base, &c->seg_base) : AVERROR(ENOMEM);
    av_bprint_finalize(&probe, NULL);
    if (ret < 0) {
        av_bprint_finalize(&base, NULL);
        return ret;
    }
    av_log(s, AV_LOG_INFO, "New recording '%s' (segments %s_*.%s)\n", s->url, c->seg_base, seg_ext(c));
    return 0;
}

/*
 * Where the last PES packet of an MPEG-TS file of size bytes (a multiple of 188) starts: the last
 * TS packet that starts a payload. FFmpeg's muxer writes each PES in consecutive TS packets, so
 * every PES before it is whole; the one from there on may have been cut by a kill or a full disk.
 */
static int64_t last_pes_start(const char *path, int64_t size)
{
    FILE *f = avpriv_fopen_utf8(path, "rb");
    uint8_t head[2];
    int64_t pos = size;

    if (!f)
        return size;
    for (pos = size - 188; pos >= 0; pos -= 188)
        if (fseeko(f, pos, SEEK_SET) < 0 || fread(head, 1, 2, f) != 2 ||
            (head[0] == 0x47 && (head[1] & 0x40)))
            break;
    fclose(f);
    return FFMAX(pos, 0);
}

/*
 * A kill left the segment that was being written: keep what it holds (its whole PES packets) as
 * the last listed segment, so that nothing recorded before the kill is lost and the gap to the
 * next push is measured from its end. What cannot be kept is deleted, never left unlisted.
 */
static int rescue_segment(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    AVFormatContext *ic = NULL;
    char *url = av_asprintf("%s%s", c->dir, c->open_seg);
    const char *path;
    int64_t duration = 0;
    struct stat st = { 0 };
    int ret = 0;

    if (!url)
        return AVERROR(ENOMEM);
    for (int i = 0; i < c->nb_segs; i++)
        if (!strcmp(c->segs[i].uri, c->open_seg))
            goto end;       /* listed after all: the kill came after the playlist was written */
    if (c->segment_type == SEGMENT_TYPE_MPEGTS && ff_liverec_local_path(url, &path) &&
        stat(path, &st) >= 0 && st.st_size >= 188 * 8 &&
        truncate(path, last_pes_start(path, st.st_size / 188 * 188)) >= 0 &&
        avformat_open_input(&ic, url, av_find_input_format("mpegts"), NULL) >= 0) {
        if (avformat_find_stream_info(ic, NULL) >= 0 && ic->duration > 0)
            duration = ic->duration;
        avformat_close_input(&ic);
    }
    if (duration <= 0) {
        av_log(s, AV_LOG_WARNING, "Segment '%s' left unfinished holds nothing to keep (%"PRId64
               " bytes)\n", url, (int64_t)st.st_size);
        delete_url(s, url);
        goto end;
    }
    ret = add_segment(c, c->open_seg, NULL, duration,
                      c->open_seg_flags & OPEN_SEG_DATE ? c->open_seg_start : AV_NOPTS_VALUE,
                      (c->open_seg_flags & OPEN_SEG_DISCONT) && c->nb_segs);
    if (ret < 0)
        goto end;
    c->nb_discont += c->segs[c->nb_segs - 1].discont;
    c->last_end    = FFMAX(c->last_end, c->open_seg_start + duration);
    if (c->nb_segs == 1)
        c->rec_start = c->open_seg_start;
    av_log(s, AV_LOG_INFO, "Kept %.3f s of segment '%s' left unfinished\n", duration / 1e6, url);
    if ((ret = write_playlist(s, s->url, 0)) >= 0)
        ret = write_state(s);
end:
    av_freep(&c->open_seg);
    av_free(url);
    return ret;
}

/* Decide between continuing the recording left by an earlier process and starting anew. */
static int open_recording(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    AVBPrint bp;
    int ret;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = ff_liverec_read_file(s, c->state_url, &bp, STATE_MAX_SIZE, c->protocol_opts);
    if (ret == AVERROR(ENOENT)) {
        av_bprint_finalize(&bp, NULL);
        if (ff_liverec_io_check(s, s->url, 0, c->protocol_opts) >= 0) {
            av_log(s, AV_LOG_ERROR, "'%s' exists but has no state file '%s': it is not an open "
                   "liverec_hls recording; move it away or record under another name\n",
                   s->url, c->state_url);
            return AVERROR(EEXIST);
        }
        return start_recording(s);
    }
    if (ret == AVERROR_INVALIDDATA)
        av_log(s, AV_LOG_ERROR, "State file '%s' is larger than %d bytes: not ours\n",
               c->state_url, STATE_MAX_SIZE);
    else if (ret < 0)
        av_log(s, AV_LOG_ERROR, "Cannot read state file '%s': %s\n", c->state_url, av_err2str(ret));
    if (ret >= 0 && memchr(bp.str, 0, bp.len)) {
        av_log(s, AV_LOG_ERROR, "Corrupt state file '%s': binary data\n", c->state_url);
        ret = AVERROR_INVALIDDATA;
    }
    if (ret >= 0)
        ret = parse_state(s, bp.str);
    av_bprint_finalize(&bp, NULL);
    if (ret < 0)
        return ret;
    if ((ret = load_playlist(s)) < 0)
        return ret;
    if (c->open_seg && !c->finalizing && (ret = rescue_segment(s)) < 0)
        return ret;

    /* splice: the caller timed the interruption itself, on a clock the wall clock's jumps do
     * not move (a recorder that stayed up while the push was away) */
    if (!c->finalizing && c->max_duration && c->listed >= c->max_duration) {
        av_log(s, AV_LOG_INFO, "Recording '%s' already lists %.3f s (max_duration %.3f s): "
               "finalizing it\n", s->url, c->listed / 1e6, c->max_duration / 1e6);
    } else if (!c->finalizing &&
               (c->splice || (c->splice_timeout > 0 && c->now - c->last_end < c->splice_timeout))) {
        av_log(s, AV_LOG_INFO, "Continuing recording '%s' (%d segments) after a %.3f s gap\n",
               s->url, c->nb_segs, FFMAX(c->now - c->last_end, 0) / 1000000.0);
        c->need_discont = c->nb_segs > 0;
        return 0;
    }
    else if (!c->finalizing)
        av_log(s, AV_LOG_INFO, "Recording '%s' ended %.3f s ago (splice_timeout %.3f s): "
               "finalizing it\n", s->url, (c->now - c->last_end) / 1000000.0,
               c->splice_timeout / 1000000.0);
    if ((ret = finalize(s)) < 0)
        return ret;
    return start_recording(s);
}

static void describe_codecs(AVFormatContext *s, AVBPrint *bp)
{
    for (int i = 0; i < s->nb_streams; i++) {
        const AVCodecParameters *par = s->streams[i]->codecpar;
        uint8_t md5[16];

        av_bprintf(bp, "%s%s:%s", i ? ";" : "", av_get_media_type_string(par->codec_type),
                   avcodec_get_name(par->codec_id));
        if (par->codec_type == AVMEDIA_TYPE_VIDEO)
            av_bprintf(bp, ":%dx%d", par->width, par->height);
        else if (par->codec_type == AVMEDIA_TYPE_AUDIO)
            av_bprintf(bp, ":%d:%d", par->sample_rate, par->ch_layout.nb_channels);
        if (par->extradata_size) {
            av_md5_sum(md5, par->extradata, par->extradata_size);
            av_bprintf(bp, ":%02x%02x%02x%02x", md5[0], md5[1], md5[2], md5[3]);
        }
    }
}

static int lrh_init(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    const char *base, *local;
    size_t len;
    AVBPrint bp;
    int ret;

    c->lock_fd = -1;
    c->ref     = -1;
    base = av_basename(s->url);
    len  = strlen(base);
    if (len <= 5 || av_strcasecmp(base + len - 5, ".m3u8")) {
        av_log(s, AV_LOG_ERROR, "The output '%s' must name the working playlist, NAME.m3u8\n", s->url);
        return AVERROR(EINVAL);
    }
    if (!(c->dir = av_strndup(s->url, base - s->url)) ||
        !(c->stem = av_strndup(base, len - 5)) ||
        !(c->state_url = av_asprintf("%s.liverec", s->url)))
        return AVERROR(ENOMEM);
    if ((ret = ff_liverec_check_name_template(c->vod_file_name, c->time_zone, s)) < 0)
        return ret;
    if (c->stream_id && !*c->stream_id) {
        av_log(s, AV_LOG_ERROR, "stream_id must not be empty\n");
        return AVERROR(EINVAL);
    }

    c->ref = ff_liverec_reference_stream(s, NULL);
    if (c->ref < 0) {
        av_log(s, AV_LOG_ERROR, "liverec_hls needs an audio or a video stream\n");
        return AVERROR(EINVAL);
    }
    if (!(c->last_dts = av_malloc_array(s->nb_streams, sizeof(*c->last_dts))) ||
        !(c->par = av_calloc(s->nb_streams, sizeof(*c->par))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < s->nb_streams; i++)
        c->last_dts[i] = AV_NOPTS_VALUE;

    if ((ret = ff_liverec_clock(s, c->wallclock, &c->now)) < 0)
        return ret;

    if (ff_liverec_local_path(s->url, &local)) {
        if (!(c->lock_path = av_asprintf("%s.lock", local)))
            return AVERROR(ENOMEM);
        c->lock_fd = ff_liverec_lock(c->lock_path, s);
        if (c->lock_fd == AVERROR(EBUSY)) {
            av_log(s, AV_LOG_ERROR, "Another process is recording into '%s' (lock '%s' is held); "
                   "nothing was changed\n", s->url, c->lock_path);
            return AVERROR(EBUSY);
        }
        if (c->lock_fd < 0)
            return c->lock_fd;
    }

    if ((ret = open_recording(s)) < 0)
        return ret;
    c->pushes++;
    av_freep(&c->codecs);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    describe_codecs(s, &bp);
    if ((ret = av_bprint_finalize(&bp, &c->codecs)) < 0)
        return ret;
    return write_state(s);
}

static int block_open(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    AVFormatContext *oc;
    int ret;

    ret = ff_liverec_nested_alloc(s, &c->oc, c->segment_type == SEGMENT_TYPE_FMP4 ? "mp4" : "mpegts",
                                  NULL);
    if (ret < 0)
        return ret;
    oc = c->oc;
    for (int i = 0; i < s->nb_streams; i++) {
        AVStream *st = ff_stream_clone(oc, s->streams[i]);
        if (!st)
            return AVERROR(ENOMEM);
        if (c->par[i] && (ret = avcodec_parameters_copy(st->codecpar, c->par[i])) < 0)
            return ret;
        st->codecpar->codec_tag = 0;
    }
    return 0;
}

static int block_close(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    int ret = 0;

    if (c->oc && c->block_open)
        ret = av_write_trailer(c->oc);
    ff_liverec_nested_free(s, &c->oc);
    c->block_open = 0;
    av_freep(&c->block_map);
    return ret;
}

static int write_init_segment(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    AVDictionary *opts = NULL;
    char *map, *url;
    int ret;

    map = av_asprintf("%s_init%05d.mp4", c->seg_base, c->nb_segs);
    url = map ? av_asprintf("%s%s", c->dir, map) : NULL;
    if (!url) {
        av_free(map);
        return AVERROR(ENOMEM);
    }
    ret = ff_liverec_io_open(s, &c->oc->pb, url, AVIO_FLAG_WRITE, c->protocol_opts);
    if (ret < 0) {
        av_log(s, AV_LOG_ERROR, "Cannot open init segment '%s': %s\n", url, av_err2str(ret));
        goto fail;
    }
    c->oc->pb->seekable = 0;
    av_dict_set(&opts, "movflags", "+frag_custom+empty_moov+default_base_moof+skip_trailer", 0);
    ret = avformat_write_header(c->oc, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        goto fail;
    avio_flush(c->oc->pb);
    ret = c->oc->pb->error;
    ff_format_io_close(s, &c->oc->pb);
    if (ret < 0)
        goto fail;
    av_free(url);
    av_free(c->block_map);
    c->block_map = map;
    return 0;
fail:
    av_free(url);
    av_free(map);
    return ret;
}

static int segment_start(AVFormatContext *s, int64_t ts)
{
    LiveRecHLSContext *c = s->priv_data;
    char *url;
    int ret;

    if (!c->oc && (ret = block_open(s)) < 0)
        return ret;
    if (!c->block_open && c->segment_type == SEGMENT_TYPE_FMP4) {
        if ((ret = write_init_segment(s)) < 0)
            return ret;
        c->block_open = 1;
    }

    av_freep(&c->seg_uri);
    c->seg_uri = av_asprintf("%s_%05d.%s", c->seg_base, c->nb_segs, seg_ext(c));
    url = c->seg_uri ? av_asprintf("%s%s", c->dir, c->seg_uri) : NULL;
    if (!url)
        return AVERROR(ENOMEM);
    ret = ff_liverec_io_open(s, &c->oc->pb, url, AVIO_FLAG_WRITE, c->protocol_opts);
    if (ret < 0) {
        av_log(s, AV_LOG_ERROR, "Cannot open segment '%s': %s\n", url, av_err2str(ret));
        av_free(url);
        return ret;
    }
    av_free(url);
    c->oc->pb->seekable = 0;
    if (!c->block_open) {
        if ((ret = avformat_write_header(c->oc, NULL)) < 0)
            return ret;
        c->block_open = 1;
    } else if (c->segment_type == SEGMENT_TYPE_MPEGTS) {
        av_opt_set(c->oc->priv_data, "mpegts_flags", "+resend_headers", 0);
    }
    c->seg_open  = 1;
    c->seg_start = c->seg_end = ts;
    c->seg_saved = av_gettime_relative();
    return write_state(s);
}

static int64_t wall_of(const LiveRecHLSContext *c, int64_t ts)
{
    return c->wall_base + (ts - c->ts_base);
}

/* Close the open segment, list it, persist. */
static int segment_end(AVFormatContext *s, int64_t end)
{
    LiveRecHLSContext *c = s->priv_data;
    int first = !c->nb_segs, discont = c->need_discont && c->nb_segs;
    int64_t pdt = first || c->need_discont ? wall_of(c, c->seg_start) : AV_NOPTS_VALUE;
    int ret, err;

    if (!c->seg_open)
        return 0;
    c->seg_open = 0;
    ret = av_write_frame(c->oc, NULL); /* flush buffered PES or the pending fragment */
    avio_flush(c->oc->pb);
    err = c->oc->pb->error;
    ff_format_io_close(s, &c->oc->pb);
    if (ret < 0 || err < 0) {
        av_log(s, AV_LOG_ERROR, "Cannot write segment '%s': %s\n", c->seg_uri,
               av_err2str(ret < 0 ? ret : err));
        c->io_error = 1;
        return ret < 0 ? ret : err;
    }
    ret = add_segment(c, c->seg_uri, c->block_map, FFMAX(end - c->seg_start, 0), pdt, discont);
    if (ret < 0)
        return ret;
    if (first)
        c->rec_start = pdt; /* the first date, refined past the probing delay */
    c->block_map    = NULL;
    c->base_fixed   = 1;
    c->nb_discont  += discont;
    c->need_discont = 0;
    c->last_end     = FFMAX(c->last_end, wall_of(c, end));
    av_log(s, AV_LOG_VERBOSE, "Segment '%s' done: %.3f s%s\n", c->seg_uri,
           (end - c->seg_start) / 1000000.0, discont ? " (after a discontinuity)" : "");
    if ((ret = write_playlist(s, s->url, 0)) < 0)
        return ret;
    return write_state(s);
}

/* A break inside the push: end the segment and the block; the next one starts behind a
 * discontinuity. The wall clock continues from where the last packet ended. */
static int split_block(AVFormatContext *s, int64_t ts, const char *why)
{
    LiveRecHLSContext *c = s->priv_data;
    int64_t wall_end = wall_of(c, c->seg_end);
    int ret;

    av_log(s, AV_LOG_INFO, "%s: new segment behind a discontinuity\n", why);
    if ((ret = segment_end(s, c->seg_end)) < 0)
        return ret;
    if ((ret = block_close(s)) < 0)
        return ret;
    c->need_discont = c->nb_segs > 0;
    c->wall_base    = c->anchor = wall_end;
    c->ts_base      = ts;
    c->base_fixed   = 0;
    for (int i = 0; i < s->nb_streams; i++)
        c->last_dts[i] = AV_NOPTS_VALUE;
    return 0;
}

/*
 * The recording lists max_duration (the segment before ts just ended): it is finalized, and the
 * push goes on at ts in a new recording under the working name, its first segment dated where
 * the last one ended, without a discontinuity. A new block, so that nothing (an fMP4 init
 * segment) is shared with the finalized recording, which is uploaded and removed on its own.
 */
static int next_recording(AVFormatContext *s, int64_t ts)
{
    LiveRecHLSContext *c = s->priv_data;
    char *codecs = c->codecs;
    int ret;

    av_log(s, AV_LOG_INFO, "Recording '%s' reached max_duration (%.3f s listed): finalized; "
           "the push goes on in a new recording\n", s->url, c->listed / 1e6);
    if ((ret = block_close(s)) < 0)
        return ret;
    c->codecs = NULL;   /* the streams stay the same: kept for the new recording */
    if ((ret = finalize(s)) < 0 ||
        (c->now = wall_of(c, ts), ret = start_recording(s)) < 0) {
        av_free(codecs);
        return ret;
    }
    c->codecs       = codecs;
    c->pushes       = 1;
    c->need_discont = 0;
    return write_state(s);
}

/* Keep new extradata for the next block; the caller's stream is left as it is. */
static int apply_new_extradata(AVFormatContext *s, int index, const uint8_t *data, size_t size)
{
    LiveRecHLSContext *c = s->priv_data;
    AVCodecParameters *par = c->par[index];
    int ret;

    if (!par) {
        if (!(par = c->par[index] = avcodec_parameters_alloc()))
            return AVERROR(ENOMEM);
        if ((ret = avcodec_parameters_copy(par, s->streams[index]->codecpar)) < 0)
            return ret;
    }
    if (par->extradata_size == size && !memcmp(par->extradata, data, size))
        return 0;
    av_freep(&par->extradata);
    par->extradata_size = 0;
    par->extradata = av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par->extradata)
        return AVERROR(ENOMEM);
    memcpy(par->extradata, data, size);
    par->extradata_size = size;
    return 1;
}

static int lrh_write_packet(AVFormatContext *s, AVPacket *pkt)
{
    LiveRecHLSContext *c = s->priv_data;
    AVStream *st = s->streams[pkt->stream_index];
    int64_t ts, pts, dur;
    const uint8_t *side;
    size_t side_size;
    int ret, changed = 0;

    /* after a failed write nothing more is written (not even a new segment over the one that
     * failed): the files stay as they are for the next open to go on from */
    if (c->io_error)
        return AVERROR(EIO);
    c->packets++;
    if (pkt->dts == AV_NOPTS_VALUE && pkt->pts == AV_NOPTS_VALUE) {
        av_log(s, AV_LOG_ERROR, "Packet without timestamps on stream %d\n", pkt->stream_index);
        return AVERROR(EINVAL);
    }
    ts  = av_rescale_q(pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts, st->time_base, AV_TIME_BASE_Q);
    pts = pkt->pts != AV_NOPTS_VALUE ? av_rescale_q(pkt->pts, st->time_base, AV_TIME_BASE_Q) : ts;
    dur = av_rescale_q(pkt->duration, st->time_base, AV_TIME_BASE_Q);

    if (!c->have_base) {
        /* the first packet of the push is at the wall-clock time of the open; a continued
         * recording's dates do not go back, even when the clock did (set back by an hour, say) */
        c->wall_base = c->anchor = c->now;
        if (c->nb_segs && c->now < c->last_end) {
            av_log(s, AV_LOG_WARNING, "The clock is %.3f s behind the end of what '%s' lists: "
                   "its dates go on from there\n", (c->last_end - c->now) / 1e6, s->url);
            c->wall_base = c->anchor = c->last_end;
        }
        c->ts_base   = pts;
        c->have_base = 1;
    } else if (!c->wallclock && !c->base_fixed) {
        /* The packets buffered while the input was probed arrive in a burst at the open; those
         * that follow arrive in real time. The earliest arrival relative to its timestamp is the
         * best estimate of when the media was live: refine until the first date is listed. */
        int64_t cand = av_gettime() - (pts - c->ts_base);
        /* a continued recording's dates do not go back past what it already lists */
        if (c->nb_segs)
            cand = FFMAX(cand, c->last_end);
        if (cand < c->wall_base && c->anchor - cand <= LIVEREC_MAX_WALL_CORRECTION)
            c->wall_base = cand;
    }

    /* codec parameters changed inside the push */
    side = av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &side_size);
    if (side && side_size && (ret = apply_new_extradata(s, pkt->stream_index, side, side_size)) != 0) {
        if (ret < 0)
            return ret;
        changed = 1;
    }
    if (av_packet_get_side_data(pkt, AV_PKT_DATA_PARAM_CHANGE, &side_size))
        changed = 1;
    if (changed && c->seg_open) {
        if ((ret = split_block(s, pts, "Codec parameters changed")) < 0)
            return ret;
    } else if (changed) {
        block_close(s);
    } else if (c->last_dts[pkt->stream_index] != AV_NOPTS_VALUE && c->seg_open &&
               FFABS(ts - c->last_dts[pkt->stream_index]) > c->max_ts_jump) {
        char why[64];
        snprintf(why, sizeof(why), "Timestamp jump of %.3f s on stream %d",
                 (ts - c->last_dts[pkt->stream_index]) / 1000000.0, pkt->stream_index);
        if ((ret = split_block(s, pts, why)) < 0)
            return ret;
    }
    c->last_dts[pkt->stream_index] = ts;

    /* cut at a keyframe of the reference stream once the segment is long enough */
    if (c->seg_open && pkt->stream_index == c->ref && (pkt->flags & AV_PKT_FLAG_KEY) &&
        pts - c->seg_start >= c->segment_time) {
        if ((ret = segment_end(s, pts)) < 0)
            return ret;
        if (c->max_duration && c->listed >= c->max_duration && (ret = next_recording(s, pts)) < 0)
            return ret;
    }
    if (!c->seg_open && (ret = segment_start(s, pts)) < 0)
        return ret;
    c->seg_end = FFMAX(c->seg_end, pts + FFMAX(dur, 0));
    /* At keyframes (at most once a second) what the open segment holds goes to its file, so a
     * kill loses at most a keyframe interval; its date, refined while the first segment is
     * written, goes to the sidecar. */
    if (pkt->stream_index == c->ref && (pkt->flags & AV_PKT_FLAG_KEY) &&
        av_gettime_relative() - c->seg_saved >= 1000000) {
        c->seg_saved = av_gettime_relative();
        avio_flush(c->oc->pb);
        if (!c->base_fixed && (ret = write_state(s)) < 0)
            return ret;
    }

    if ((ret = ff_write_chained(c->oc, pkt->stream_index, pkt, s, 0)) < 0)
        return ret;
    /* a failed write (a full disk) is said now, not when the segment ends */
    if (c->oc->pb && c->oc->pb->error < 0) {
        av_log(s, AV_LOG_ERROR, "Cannot write segment '%s': %s\n", c->seg_uri,
               av_err2str(c->oc->pb->error));
        c->io_error = 1;
        return c->oc->pb->error;
    }
    return 0;
}

static int lrh_write_trailer(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;
    int ret = 0, ret2;

    if (c->io_error) {
        /* (a full disk) the sidecar still names the segment being written: the next open
         * keeps what is complete in it, as after a crash, and goes on from there */
        av_log(s, AV_LOG_WARNING, "Recording '%s' left as it is after a write error: the next "
               "open keeps what is complete\n", s->url);
        return AVERROR(EIO);
    }
    if (c->seg_open)
        ret = segment_end(s, c->seg_end);
    ret2 = block_close(s);
    if (ret >= 0)
        ret = ret2;
    if (ret < 0)
        return ret;
    if (c->final) {
        if ((ret = finalize(s)) < 0)
            return ret;
        /* nobody records under this name now; a later writer creates the lock again */
        if (c->lock_path)
            delete_url(s, c->lock_path);
        return 0;
    }
    return write_state(s);
}

static void lrh_deinit(AVFormatContext *s)
{
    LiveRecHLSContext *c = s->priv_data;

    ff_liverec_nested_free(s, &c->oc);
    reset_recording(c);
    av_freep(&c->block_map);
    av_freep(&c->seg_uri);
    av_freep(&c->last_dts);
    for (int i = 0; c->par && i < s->nb_streams; i++)
        avcodec_parameters_free(&c->par[i]);
    av_freep(&c->par);
    av_freep(&c->dir);
    av_freep(&c->stem);
    av_freep(&c->state_url);
    av_freep(&c->lock_path);
    ff_liverec_unlock(&c->lock_fd);
}

#define OFFSET(x) offsetof(LiveRecHLSContext, x)
#define E AV_OPT_FLAG_ENCODING_PARAM
static const AVOption options[] = {
    { "segment_time", "target segment duration; segments end at the first keyframe after it",
      OFFSET(segment_time), AV_OPT_TYPE_DURATION, { .i64 = 10000000 }, 100000, 3600000000LL, E },
    { "segment_type", "segment container", OFFSET(segment_type), AV_OPT_TYPE_INT,
      { .i64 = SEGMENT_TYPE_MPEGTS }, 0, 1, E, .unit = "segment_type" },
    { "mpegts", "MPEG-TS segments",  0, AV_OPT_TYPE_CONST, { .i64 = SEGMENT_TYPE_MPEGTS }, 0, 0, E, .unit = "segment_type" },
    { "fmp4",   "fragmented MP4 segments with EXT-X-MAP", 0, AV_OPT_TYPE_CONST, { .i64 = SEGMENT_TYPE_FMP4 }, 0, 0, E, .unit = "segment_type" },
    { "splice_timeout", "continue a recording whose last push ended less than this long ago (0: never)",
      OFFSET(splice_timeout), AV_OPT_TYPE_DURATION, { .i64 = 0 }, 0, 1800000000LL, E },
    { "max_duration", "finalize the recording at the first segment boundary past this much "
      "media and go on in a new one (0: no limit)",
      OFFSET(max_duration), AV_OPT_TYPE_DURATION, { .i64 = 0 }, 0, INT64_MAX, E },
    { "files_finished", "recordings finalized since the muxer was opened (read only)",
      OFFSET(files_finished), AV_OPT_TYPE_INT64, { .i64 = 0 }, 0, INT64_MAX,
      E | AV_OPT_FLAG_EXPORT | AV_OPT_FLAG_READONLY },
    { "splice", "continue the open recording whatever the wall clock says its age is",
      OFFSET(splice), AV_OPT_TYPE_BOOL, { .i64 = 0 }, 0, 1, E },
    { "max_ts_jump", "a timestamp jump larger than this starts a new segment behind a discontinuity",
      OFFSET(max_ts_jump), AV_OPT_TYPE_DURATION, { .i64 = 10000000 }, 100000, 3600000000LL, E },
    { "final", "finalize the recording on close instead of leaving it open for splicing",
      OFFSET(final), AV_OPT_TYPE_BOOL, { .i64 = 0 }, 0, 1, E },
    { "protocol_opts", "options of the protocol of every file it opens, checks or renames "
      "(e.g. region, access_key, part_size of a vodupload bucket)",
      OFFSET(protocol_opts), AV_OPT_TYPE_DICT, { .str = NULL }, 0, 0, E },
    LIVEREC_NAMING_OPTIONS(LiveRecHLSContext, "the working playlist's name", "the open"),
    { NULL },
};

static const AVClass liverec_hls_class = {
    .class_name = "liverec_hls muxer",
    .item_name  = av_default_item_name,
    .option     = options,
    .version    = LIBAVUTIL_VERSION_INT,
};

const FFOutputFormat ff_liverec_hls_muxer = {
    .p.name          = "liverec_hls",
    .p.long_name     = NULL_IF_CONFIG_SMALL("liverec HLS recording with splicing"),
    .p.extensions    = "m3u8",
    .p.audio_codec   = AV_CODEC_ID_AAC,
    .p.video_codec   = AV_CODEC_ID_H264,
    /* TS_NEGATIVE: packets reach the segments with the timestamps they came with, instead of
     * being shifted (and rounded to each stream's time base) by libavformat first;
     * VARIABLE_FPS: a recorder never makes up frames to fill a gap */
    .p.flags         = AVFMT_NOFILE | AVFMT_GLOBALHEADER | AVFMT_NODIMENSIONS |
                       AVFMT_TS_NEGATIVE | AVFMT_VARIABLE_FPS,
    .p.priv_class    = &liverec_hls_class,
    .priv_data_size  = sizeof(LiveRecHLSContext),
    .init            = lrh_init,
    .write_packet    = lrh_write_packet,
    .write_trailer   = lrh_write_trailer,
    .deinit          = lrh_deinit,
};
