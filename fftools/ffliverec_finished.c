/*
 * ffliverec: a recording's finished files, put into the catalog with when they were
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
 * A muxer that finishes a file (an MP4/FLV/AAC file cut at its RecordInterval, an HLS recording
 * whose splice window ran out) leaves it in its folder under its final name; the session then
 * catalogues what is new there. Its times come from what its header says, without decoding, and
 * for a playlist from its own timeline; its object key from the storage's KeyTemplate.
 */

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/mem.h"
#include "libavutil/parseutils.h"
#include "libavutil/time.h"
#include "libavformat/avformat.h"
#include "libavformat/avio.h"

#include "ffliverec.h"

/* what a damaged header (a file a crash cut) may say at most: a century */
#define MAX_MEDIA_TIME (100LL * 366 * 86400 * AV_TIME_BASE)

/* The files of an HLS recording: their bytes, and the first one's path. */
typedef struct HlsFiles {
    int64_t size;
    char   *first;
} HlsFiles;

static int add_file(void *opaque, const char *path)
{
    HlsFiles *h = opaque;
    struct stat st;

    if (stat(path, &st) >= 0)
        h->size += st.st_size;
    if (!h->first && !(h->first = av_strdup(path)))
        return AVERROR(ENOMEM);
    return 0;
}

/*
 * An HLS recording is finalized when its splice window has run out, long after its last packet:
 * its times are those of its own timeline, the first EXT-X-PROGRAM-DATE-TIME (each push starts
 * with one), and the last one plus the segments after it. 0 if the playlist has none.
 * *total gets the sum of its segments' durations (microseconds), -1 when it cannot be read.
 */
static int hls_times(const char *path, LiveRecFile *f, int64_t *total)
{
    AVIOContext *pb = NULL;
    AVBPrint text;
    int64_t first = AV_NOPTS_VALUE, block = AV_NOPTS_VALUE, after = 0;
    char *line, *next;

    *total = -1;
    if (avio_open(&pb, path, AVIO_FLAG_READ) < 0)
        return 0;
    av_bprint_init(&text, 0, AV_BPRINT_SIZE_UNLIMITED);
    avio_read_to_bprint(pb, &text, 64 << 20);
    avio_closep(&pb);
    if (av_bprint_is_complete(&text))
        *total = 0;
    for (line = av_bprint_is_complete(&text) ? text.str : NULL; line && *line; line = next) {
        const char *v;
        int64_t t;
        if ((next = strchr(line, '\n')))
            *next++ = 0;
        line[strcspn(line, "\r")] = 0;
        if (av_strstart(line, "#EXT-X-PROGRAM-DATE-TIME:", &v) && av_parse_time(&t, v, 0) >= 0) {
            if (first == AV_NOPTS_VALUE)
                first = t;
            block = t;
            after = 0;
        } else if (av_strstart(line, "#EXTINF:", &v)) {
            int64_t d = llrint(strtod(v, NULL) * 1000000);
            if (d > 0 && d < MAX_MEDIA_TIME) {
                after  += d;
                *total += d;
            }
        }
    }
    av_bprint_finalize(&text, NULL);
    if (first == AV_NOPTS_VALUE)
        return 0;
    f->start_usec = first;
    f->end_usec   = block + after;
    return 1;
}


/* the earliest timestamp of the first packets of every stream (a few), INT64_MAX if none */
static int64_t first_packets_time(AVFormatContext *ic)
{
    AVPacket *pkt = av_packet_alloc();
    int64_t first = INT64_MAX;
    uint64_t seen = 0, all = 0;

    if (!pkt)
        return first;
    /* all: the streams there are after each packet (an input whose streams come with its packets
     * has none before the first) */
    for (int n = 0; n < 64 && (!n || seen != all) && av_read_frame(ic, pkt) >= 0; n++) {
        const AVStream *st = ic->streams[pkt->stream_index];
        int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        all = ic->nb_streams >= 64 ? UINT64_MAX : (UINT64_C(1) << ic->nb_streams) - 1;
        if (ts != AV_NOPTS_VALUE &&
            (ts = av_rescale_q(ts, st->time_base, AV_TIME_BASE_Q)) >= -MAX_MEDIA_TIME &&
            ts <= MAX_MEDIA_TIME) {
            first = FFMIN(first, ts);
            if (pkt->stream_index < 64)
                seen |= UINT64_C(1) << pkt->stream_index;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    return first;
}

/*
 * The first timestamp and the duration of a finished file (microseconds) from what its header
 * says, without avformat_find_stream_info(), which opens a decoder per stream and decodes frames
 * (about 120 million instructions for an MP4 with H.264 and AAC). An MP4 gives both in its moov,
 * an HLS playlist its duration and its first packets the start, an FLV file its duration in the
 * metadata that comes with its first packet. Returns 0 when the header does not say (then
 * find_stream_info() estimates it, as for a bare ADTS file), -1 when packets were read first.
 */
static int header_times(AVFormatContext *ic, int64_t *start, int64_t *duration)
{
    int64_t first = INT64_MAX, end = INT64_MIN;

    for (unsigned i = 0; i < ic->nb_streams; i++) {
        const AVStream *st = ic->streams[i];
        int64_t t, d;
        if (st->start_time == AV_NOPTS_VALUE || st->duration == AV_NOPTS_VALUE ||
            st->duration <= 0)
            continue;
        t = av_rescale_q(st->start_time, st->time_base, AV_TIME_BASE_Q);
        d = av_rescale_q(st->duration, st->time_base, AV_TIME_BASE_Q);
        if (t < -MAX_MEDIA_TIME || t > MAX_MEDIA_TIME || d <= 0 || d > MAX_MEDIA_TIME)
            continue;
        first = FFMIN(first, t);
        end   = FFMAX(end, t + d);
    }
    if (first != INT64_MAX) {
        *start    = first;
        *duration = end - first;
        return 1;
    }
    if (ic->ctx_flags & AVFMTCTX_NOHEADER) {
        first = first_packets_time(ic);
        if (ic->duration == AV_NOPTS_VALUE || ic->duration <= 0 || ic->duration > MAX_MEDIA_TIME)
            return -1;
    } else {
        if (ic->duration == AV_NOPTS_VALUE || ic->duration <= 0 || ic->duration > MAX_MEDIA_TIME)
            return 0;
        first = first_packets_time(ic);
    }
    *start    = first == INT64_MAX ? 0 : first;
    *duration = ic->duration;
    return 1;
}

/*
 * An HLS recording of MPEG-TS segments: its duration is its playlist's (as the hls demuxer sums
 * it), its first timestamp its first segment's, read by the mpegts demuxer alone: the hls
 * demuxer would probe that segment and decode its first frames (find_stream_info) first.
 * Returns 1, or 0 when it cannot be told so.
 */
static int hls_ts_times(const char *first_segment, int64_t total, int64_t *start,
                        int64_t *duration)
{
    AVFormatContext *ic = NULL;
    int64_t first;

    if (total < 0 || !first_segment || !av_match_ext(first_segment, "ts") ||
        !(ic = avformat_alloc_context()))
        return 0;
    /* the PES headers' times as they are: no parser splits or completes the packets */
    ic->flags |= AVFMT_FLAG_NOPARSE | AVFMT_FLAG_NOFILLIN;
    if (avformat_open_input(&ic, first_segment, av_find_input_format("mpegts"), NULL) < 0)
        return 0;
    first = first_packets_time(ic);
    avformat_close_input(&ic);
    *start    = first == INT64_MAX ? 0 : first;
    *duration = total;
    return 1;
}

/*
 * When the recording was: the file was finalized when it was last written (mtime, to the
 * second), right after its last packet, so it started its duration before that.
 * media_start_time is its first timestamp. The demuxer is the one its format's muxer implies
 * (no probe); first_segment is an HLS recording's first file.
 */
static void probe_times(const char *path, const struct stat *st, enum LiveRecFormat format,
                        const char *first_segment, LiveRecFile *f)
{
    static const char *const demuxers[] = {
        [LIVEREC_FLV] = "flv", [LIVEREC_HLS] = "hls", [LIVEREC_MP4] = "mov", [LIVEREC_AAC] = "aac",
    };
    const AVInputFormat *fmt = (unsigned)format < FF_ARRAY_ELEMS(demuxers) && demuxers[format] ?
                               av_find_input_format(demuxers[format]) : NULL;
    AVFormatContext *ic = NULL;
    LiveRecFile dates = { 0 };
    int64_t end = st->st_mtime * 1000000LL, duration = 0, start = 0, total = -1;
    int hls = format == LIVEREC_HLS, dated = 0;

    f->duration_ms = -1;
    if (hls)
        dated = hls_times(path, &dates, &total);
    if (hls && hls_ts_times(first_segment, total, &start, &duration)) {
        f->media_start_ms = start / 1000;
        f->duration_ms    = duration / 1000;
    } else if (avformat_open_input(&ic, path, fmt, NULL) >= 0) {
        int known = header_times(ic, &start, &duration);
        if (known < 0) {
            /* find_stream_info() takes the start from the packets it reads: from the top (a
             * failed open leaves ic NULL) */
            avformat_close_input(&ic);
            avformat_open_input(&ic, path, fmt, NULL);
            known = 0;
        }
        if (!known && ic && avformat_find_stream_info(ic, NULL) >= 0) {
            duration = ic->duration   != AV_NOPTS_VALUE ? ic->duration   : 0;
            start    = ic->start_time != AV_NOPTS_VALUE ? ic->start_time : 0;
            known    = 1;
        }
        if (known) {
            f->media_start_ms = start / 1000;
            f->duration_ms    = duration / 1000;
        }
        avformat_close_input(&ic);
    }
    /* a playlist's own timeline, else from its mtime */
    f->end_usec   = dated ? dates.end_usec   : end;
    f->start_usec = dated ? dates.start_usec : end - duration;
}

/* The object key of a finished file: the storage KeyTemplate, [task-ID/], format/, name */
static char *object_key(const LiveRecConfig *cfg, const LiveRecFolder *f, const char *name)
{
    AVBPrint bp;
    char *key;

    if (!cfg->storage_endpoint)
        return NULL;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    ff_liverec_expand_names(&bp, cfg->storage_key_template, f->domain, f->app, f->stream);
    if (bp.len && bp.str[bp.len - 1] != '/')
        av_bprint_chars(&bp, '/', 1);
    if (f->task_id)
        av_bprintf(&bp, "task-%s/", f->task_id);
    av_bprintf(&bp, "%s/%s", ff_liverec_format_names[f->format], name);
    av_bprint_finalize(&bp, &key);
    return key;
}

int ff_liverec_collect_finished(LiveRecState *state, const LiveRecConfig *cfg,
                                const LiveRecFolder *folder)
{
    const char *fmt = ff_liverec_format_names[folder->format];
    char *dir = av_strdup(folder->url), *slash;
    int added = 0;
    DIR *d;
    struct dirent *e;

    if (!dir || !(slash = strrchr(dir, '/'))) {
        av_free(dir);
        return 0;
    }
    slash[1] = 0;
    if (!(d = opendir(dir))) {
        av_free(dir);
        return 0;
    }
    while ((e = readdir(d))) {
        const char *ext = strrchr(e->d_name, '.');
        char path[4096], working[512];
        LiveRecFile f = { 0 };
        struct stat st;

        if (folder->format == LIVEREC_HLS) {
            snprintf(working, sizeof(working), "%s.m3u8", folder->stream);
            if (!ext || strcmp(ext, ".m3u8") || !strcmp(e->d_name, working))
                continue;
        } else if (!ext || strcmp(ext + 1, fmt)) {
            continue;   /* working files end in .recording */
        }
        snprintf(path, sizeof(path), "%s%s", dir, e->d_name);
        /* a file already catalogued (kept locally, or waiting for its upload) is not probed
         * again */
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
            ff_liverec_state_has_file(state, path) > 0)
            continue;
        f.domain     = (char *)folder->domain;
        f.app        = (char *)folder->app;
        f.stream     = (char *)folder->stream;
        f.task_id    = (char *)folder->task_id;
        f.format     = (char *)fmt;
        f.local_path = path;
        f.size       = st.st_size;
        f.created    = av_gettime() / 1000000;
        f.expires    = folder->storage_time ? f.created + folder->storage_time : 0;
        if (folder->format == LIVEREC_HLS) {
            HlsFiles h = { 0 };
            ff_liverec_hls_files(path, NULL, add_file, &h);
            f.size += h.size;
            probe_times(path, &st, folder->format, h.first, &f);
            av_free(h.first);
        } else {
            probe_times(path, &st, folder->format, NULL, &f);
        }
        f.object_key = object_key(cfg, folder, e->d_name);
        if (ff_liverec_state_add(state, &f, cfg->callback_url &&
                                 (cfg->callback_events & LIVEREC_EVENT_RECORD_FILE)) > 0) {
            av_log(NULL, AV_LOG_INFO, "finished: %s (%"PRId64" bytes)%s\n", path, f.size,
                   f.object_key ? ", queued for upload" : "");
            LIVEREC_COUNT(files[folder->format], 1);
            LIVEREC_COUNT(bytes[folder->format], f.size);
            added++;
        }
        av_free(f.object_key);
    }
    closedir(d);
    av_free(dir);
    return added;
}
