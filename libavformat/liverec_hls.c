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
#include "liverec_hls.h"
#include "mux.h"
#include "url.h"


static const char *seg_ext(const LiveRecHLSContext *c)
{
    return c->segment_type == SEGMENT_TYPE_FMP4 ? "m4s" : "ts";
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
    ff_liverec_hls_free_segments(c);
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
        if ((ret = ff_liverec_hls_write_state(s)) < 0)
            goto end;
    } else {
        av_bprintf(&url, "%s%s", c->dir, c->finalizing);
    }
    if ((ret = ff_liverec_hls_write_playlist(s, url.str, 1)) < 0)
        goto end;
    delete_url(s, s->url);
    for (int i = 0; i < c->nb_segs; i++)
        total += c->segs[i].duration;
    av_log(s, AV_LOG_INFO, "Finalized recording '%s': %d segments, %.3f s, %d discontinuities\n",
           url.str, c->nb_segs, total / 1000000.0, c->nb_discont);
    c->files_finished++;
done:
    ret = delete_url(s, c->state_url);
    av_freep(&c->state_text);
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
    ret = ff_liverec_hls_add_segment(c, c->open_seg, NULL, duration,
                      c->open_seg_flags & OPEN_SEG_DATE ? c->open_seg_start : AV_NOPTS_VALUE,
                      (c->open_seg_flags & OPEN_SEG_DISCONT) && c->nb_segs);
    if (ret < 0)
        goto end;
    c->nb_discont += c->segs[c->nb_segs - 1].discont;
    c->last_end    = FFMAX(c->last_end, c->open_seg_start + duration);
    if (c->nb_segs == 1)
        c->rec_start = c->open_seg_start;
    av_log(s, AV_LOG_INFO, "Kept %.3f s of segment '%s' left unfinished\n", duration / 1e6, url);
    if ((ret = ff_liverec_hls_write_playlist(s, s->url, 0)) >= 0)
        ret = ff_liverec_hls_write_state(s);
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
        ret = ff_liverec_hls_parse_state(s, bp.str);
    av_bprint_finalize(&bp, NULL);
    if (ret < 0)
        return ret;
    if ((ret = ff_liverec_hls_load_playlist(s)) < 0)
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
    return ff_liverec_hls_write_state(s);
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
    return ff_liverec_hls_write_state(s);
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
    ret = ff_liverec_hls_add_segment(c, c->seg_uri, c->block_map, FFMAX(end - c->seg_start, 0), pdt, discont);
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
    if ((ret = ff_liverec_hls_write_playlist(s, s->url, 0)) < 0)
        return ret;
    return ff_liverec_hls_write_state(s);
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
    return ff_liverec_hls_write_state(s);
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
        if (!c->base_fixed && (ret = ff_liverec_hls_write_state(s)) < 0)
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
    return ff_liverec_hls_write_state(s);
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
    av_freep(&c->state_text);
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
