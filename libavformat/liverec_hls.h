/*
 * liverec_hls: the muxer's context, shared by its files
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

#ifndef AVFORMAT_LIVEREC_HLS_H
#define AVFORMAT_LIVEREC_HLS_H

#include <stdint.h>

#include "libavutil/dict.h"
#include "libavutil/log.h"
#include "avformat.h"

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
    char   *state_text;     ///< what the sidecar was last written with (unchanged: not again)
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

static inline int64_t wall_of(const LiveRecHLSContext *c, int64_t ts)
{
    return c->wall_base + (ts - c->ts_base);
}

void ff_liverec_hls_free_segments(LiveRecHLSContext *c);

/** Append a segment to the list; map becomes the list's when this succeeds. */
int ff_liverec_hls_add_segment(LiveRecHLSContext *c, const char *uri, char *map, int64_t duration,
                               int64_t pdt, int discont);

/** Write the playlist of the listed segments to url, atomically; final: VOD with ENDLIST. */
int ff_liverec_hls_write_playlist(AVFormatContext *s, const char *url, int final);

/** Write the sidecar (c->state_url), atomically, unless it holds that already. */
int ff_liverec_hls_write_state(AVFormatContext *s);

/** Read a sidecar's text (changed in place) into c; every value is checked. */
int ff_liverec_hls_parse_state(AVFormatContext *s, char *text);

/** Read back the working playlist (s->url) into c's segments; none when it does not exist. */
int ff_liverec_hls_load_playlist(AVFormatContext *s);

#endif /* AVFORMAT_LIVEREC_HLS_H */
