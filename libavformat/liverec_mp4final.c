/*
 * liverec_mp4: the final MP4 of a fragmented working file, without a remux
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
 * A fragmented MP4 (moof + mdat pairs, as liverec_mp4 records) made into a regular one with its
 * moov up front, reading and writing each media byte once.
 *
 * The remux it replaces demuxed every sample into a packet, had the mov muxer write it, and then
 * moved the whole file once more to put the moov up front (faststart). Here the samples' sizes,
 * times and flags come from the fragments' trun boxes alone. The mov muxer still writes the
 * index, exactly as in the remux (edit lists, chunks, sample groups), but into a sink that keeps
 * its header and its moov and drops the media bytes it is given (zeros of the right size). The
 * final file is then the muxer's ftyp, its moov with the chunk offsets moved past it, the rest of
 * its header, and the working file's media bytes copied in the order they were given.
 *
 * In place (a local working file on a file system that can insert a range: ext4, XFS), not even
 * that copy is made. The samples are given to the muxer at their own positions in the working
 * file (the sink counts the bytes between them as media too), so its chunk offsets point into the
 * working file's mdat boxes. Whole blocks are inserted before the working file's first byte
 * (FALLOC_FL_INSERT_RANGE moves no data) and the muxer's ftyp and moov written into them. A free
 * box follows up to the last 16 bytes of the working file's moov, where a 64-bit mdat header
 * makes everything after it (the fragments, their moofs and mdats) the payload of one mdat. The
 * media bytes never move, and a reader sees ftyp, moov, free, mdat as in a copy.
 *
 * A kill in the middle of that is finished by the next finalize (ff_liverec_mp4_resume()): the
 * working file's name with ".switch" appended holds its size before and the bytes inserted, and
 * is written before the insert. The mdat header is written last, in one write, once the head is
 * whole: without it the head is written again from the fragments and the working file's moov,
 * which are untouched until then.
 *
 * Only the layout liverec_mp4's mov muxer writes is handled (see unsupported()); for anything
 * else AVERROR_PATCHWELCOME says to remux instead.
 */

#include <stdio.h>
#include <sys/stat.h>

#include "libavutil/bprint.h"
#include "libavutil/dict.h"
#include "libavutil/intreadwrite.h"
#include "libavutil/mem.h"
#include "avformat.h"
#include "avio_internal.h"
#include "internal.h"
#include "liverec.h"
#include "mux.h"
#include "url.h"

#define COPY_CHUNK   (1 << 20)
#define GAP_CHUNK    65536
#define MAX_TRACKS   16
#define MAX_DEPTH    8

/* trun and tfhd flags (ISO/IEC 14496-12, 8.8.7 and 8.8.8) */
#define TFHD_BASE_DATA_OFFSET   0x000001
#define TFHD_STSD_ID            0x000002
#define TFHD_DURATION           0x000008
#define TFHD_SIZE               0x000010
#define TFHD_FLAGS              0x000020
#define TFHD_DEFAULT_BASE_MOOF  0x020000
#define TRUN_DATA_OFFSET        0x000001
#define TRUN_FIRST_FLAGS        0x000004
#define TRUN_DURATION           0x000100
#define TRUN_SIZE               0x000200
#define TRUN_FLAGS              0x000400
#define TRUN_CTS                0x000800
/* a sample that is no sync sample or depends on others (as the mov demuxer reads it) */
#define SAMPLE_NOT_KEY          (0x10000 | 0x1000000)

typedef struct Track {
    uint32_t id;
    int      index;                 ///< stream of the input and of the output
    uint32_t def_duration, def_size, def_flags;     ///< trex
    int64_t  next_dts;
    int      has_dts;
} Track;

typedef struct Run {
    int64_t pos, size;              ///< bytes of the working file, in the order given to the muxer
} Run;

/* The mov muxer's output: its header and trailer kept, the media bytes between them counted. */
typedef struct Sink {
    uint8_t *head;                  ///< bytes [0, data_start)
    int64_t  head_len, head_cap;
    uint8_t *tail;                  ///< bytes from data_end on (the moov)
    int64_t  tail_len, tail_cap;
    int64_t  pos, end;
    int64_t  data_start, data_end;  ///< -1 while not known
    int      bad;                   ///< a write the layout does not expect
} Sink;

typedef struct Final {
    AVFormatContext *s;             ///< the liverec muxer (logging, I/O)
    AVFormatContext *ic;            ///< the working file's header (stream parameters)
    AVFormatContext *oc;            ///< the mov muxer writing the index
    AVIOContext *in;                ///< the working file, read box by box
    Sink sink;
    Track tracks[MAX_TRACKS];
    int nb_tracks;
    Run *runs;
    int nb_runs;
    unsigned runs_size;             ///< bytes allocated for runs
    AVPacket *pkt;
    uint8_t *zeros;
    unsigned zeros_size;
    int64_t file_size;
    int      in_place;              ///< samples given at their positions in the working file
    int64_t  base;                  ///< where the working file's boxes start: 0, or the bytes
                                    ///< inserted before them when a switch is finished
    int64_t  media_box;             ///< in place: where the mdat header goes (the last 16
                                    ///< bytes of the working file's moov)
    int64_t nb_samples, media_bytes;
    int64_t first, end;             ///< AV_TIME_BASE
} Final;

static int sink_store(uint8_t **buf, int64_t *len, int64_t *cap, int64_t at, const uint8_t *data,
                      int size)
{
    if (at + size > *cap) {
        int64_t n = FFMAX(at + size, 2 * *cap + 4096);
        uint8_t *p;
        if (n > INT_MAX || !(p = av_realloc(*buf, n)))
            return AVERROR(ENOMEM);
        *buf = p;
        *cap = n;
    }
    if (at > *len)
        memset(*buf + *len, 0, at - *len);
    memcpy(*buf + at, data, size);
    *len = FFMAX(*len, at + size);
    return 0;
}

static int sink_write(void *opaque, const uint8_t *buf, int size)
{
    Sink *k = opaque;
    int ret = 0;

    if (k->data_start < 0 || k->pos + size <= k->data_start) {
        ret = sink_store(&k->head, &k->head_len, &k->head_cap, k->pos, buf, size);
    } else if (k->data_end >= 0 && k->pos >= k->data_end) {
        ret = sink_store(&k->tail, &k->tail_len, &k->tail_cap, k->pos - k->data_end, buf, size);
    } else if (k->data_end >= 0 || k->pos < k->data_start || k->pos != k->end) {
        k->bad = 1;                 /* media bytes written over, or a header write across */
    }                               /* else: media bytes appended, dropped */
    k->pos += size;
    k->end  = FFMAX(k->end, k->pos);
    return ret < 0 ? ret : size;
}

static int64_t sink_seek(void *opaque, int64_t offset, int whence)
{
    Sink *k = opaque;

    switch (whence) {
    case SEEK_SET: break;
    case SEEK_CUR: offset += k->pos; break;
    case SEEK_END: offset += k->end; break;
    case AVSEEK_SIZE: return k->end;
    default: return AVERROR(EINVAL);
    }
    if (offset < 0)
        return AVERROR(EINVAL);
    return k->pos = offset;
}

/* What the muxer-sink layout or the working file has that is not handled here. */
static int unsupported(Final *f, const char *what)
{
    av_log(f->s, AV_LOG_VERBOSE, "Finalizing %s not possible (%s): %s\n",
           f->in_place ? "in place" : "by index", what, f->in_place ? "copying" : "remuxing");
    return AVERROR_PATCHWELCOME;
}

static Track *find_track(Final *f, uint32_t id)
{
    for (int i = 0; i < f->nb_tracks; i++)
        if (f->tracks[i].id == id)
            return &f->tracks[i];
    return NULL;
}

/*
 * Read a box header at the current position; *size is the whole box, *hdr its header's size.
 * AVERROR_INVALIDDATA (a box past the limit, or smaller than its header) leaves what was read in
 * *size, *type and *hdr.
 */
static int read_box(AVIOContext *pb, int64_t limit, int64_t *size, uint32_t *type, int *hdr)
{
    int64_t pos = avio_tell(pb);

    if (limit - pos < 8)
        return AVERROR_EOF;
    *size = avio_rb32(pb);
    *type = avio_rl32(pb);
    *hdr  = 8;
    if (*size == 1) {
        if (limit - pos < 16)
            return AVERROR_EOF;
        *size = avio_rb64(pb);
        *hdr  = 16;
    } else if (*size == 0) {
        *size = limit - pos;
    }
    if (pb->error)
        return pb->error;               /* a read error is no end of the file */
    if (pb->eof_reached)
        return AVERROR_EOF;
    if (*size < *hdr || *size > limit - pos)
        return AVERROR_INVALIDDATA;
    return 0;
}

/* After read_box() gave AVERROR_INVALIDDATA: the box is an mdat that the file's end cuts short. */
static int cut_mdat(uint32_t type, int64_t size, int hdr)
{
    return type == MKTAG('m','d','a','t') && size >= hdr;
}

/* moov: the tracks' ids and trex defaults; no edit list (the demuxer's times would move). */
static int parse_moov(Final *f, int64_t end, int depth)
{
    int64_t size;
    uint32_t type;
    int hdr, ret;

    while ((ret = read_box(f->in, end, &size, &type, &hdr)) >= 0) {
        int64_t next = avio_tell(f->in) - hdr + size;
        if (type == MKTAG('e','d','t','s'))
            return unsupported(f, "an edit list in the working file");
        if (type == MKTAG('t','r','a','k') || type == MKTAG('m','v','e','x')) {
            if (depth >= MAX_DEPTH)
                return AVERROR_INVALIDDATA;
            if ((ret = parse_moov(f, next, depth + 1)) < 0)
                return ret;
        } else if (type == MKTAG('t','r','e','x') && size >= hdr + 24) {
            Track *t;
            avio_rb32(f->in);                       /* version, flags */
            if (!(t = find_track(f, avio_rb32(f->in))))
                return unsupported(f, "a trex of an unknown track");
            if (avio_rb32(f->in) != 1)
                return unsupported(f, "a second sample description");
            t->def_duration = avio_rb32(f->in);
            t->def_size     = avio_rb32(f->in);
            t->def_flags    = avio_rb32(f->in);
        }
        if (avio_seek(f->in, next, SEEK_SET) != next)
            return AVERROR_INVALIDDATA;
    }
    return ret == AVERROR_EOF ? 0 : ret;
}

static int add_run(Final *f, int64_t pos, int64_t size)
{
    Run *r;

    if (f->nb_runs && f->runs[f->nb_runs - 1].pos + f->runs[f->nb_runs - 1].size == pos) {
        f->runs[f->nb_runs - 1].size += size;
        return 0;
    }
    if (!(r = av_fast_realloc(f->runs, &f->runs_size, (f->nb_runs + 1) * sizeof(*r))))
        return AVERROR(ENOMEM);
    f->runs = r;
    f->runs[f->nb_runs++] = (Run){ pos, size };
    return 0;
}

/* One sample given to the muxer as zeros of its size; its bytes are copied later. */
static int feed(Final *f, Track *t, int64_t pos, uint32_t size, uint32_t duration, int64_t cts,
                int key)
{
    const AVStream *st = f->ic->streams[t->index];
    int64_t dts = t->next_dts;
    int64_t ts  = av_rescale_q(dts, st->time_base, AV_TIME_BASE_Q);
    int64_t d   = av_rescale_q(duration, st->time_base, AV_TIME_BASE_Q);
    int ret;

    if (!size || size > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return unsupported(f, "a sample of 0 bytes or more than 2 GiB");
    /* (av_rescale_q() gives AV_NOPTS_VALUE, INT64_MIN, on an overflow) */
    if (ts < 0 || d < 0 || ts > INT64_MAX / 4 || d > INT64_MAX / 4)
        return unsupported(f, "times out of range");
    av_fast_mallocz(&f->zeros, &f->zeros_size,
                    FFMAX((size_t)size + AV_INPUT_BUFFER_PADDING_SIZE, GAP_CHUNK));
    if (!f->zeros)
        return AVERROR(ENOMEM);
    if (f->in_place) {
        /* the bytes before the sample (boxes, samples the remux leaves out) count as media */
        int64_t at = avio_tell(f->oc->pb);
        if (pos < at)
            return unsupported(f, "samples out of the file's order");
        for (; at < pos; at += FFMIN(pos - at, GAP_CHUNK))
            avio_write(f->oc->pb, f->zeros, FFMIN(pos - at, GAP_CHUNK));
    }
    f->pkt->data         = f->zeros;
    f->pkt->size         = size;
    f->pkt->stream_index = t->index;
    f->pkt->dts          = dts;
    f->pkt->pts          = dts + cts;
    f->pkt->duration     = duration;
    f->pkt->flags        = key ? AV_PKT_FLAG_KEY : 0;
    av_packet_rescale_ts(f->pkt, st->time_base, f->oc->streams[t->index]->time_base);
    /* times the muxer refuses (going back, a duration of 0): the remux says what it makes of
     * them, as it did before */
    if ((ret = av_write_frame(f->oc, f->pkt)) < 0)
        return ret == AVERROR(ENOMEM) ? ret : unsupported(f, "times the mov muxer refuses");
    if (f->in_place && avio_tell(f->oc->pb) != pos + size)
        return unsupported(f, "a sample the mov muxer wrote elsewhere");
    if ((ret = add_run(f, pos, size)) < 0)
        return ret;
    f->first = f->first == AV_NOPTS_VALUE ? ts : FFMIN(f->first, ts);
    f->end   = FFMAX(f->end, ts + d);
    t->next_dts += duration;
    f->nb_samples++;
    f->media_bytes += size;
    return 0;
}

typedef struct Frag {
    int64_t moof, mdat_start, mdat_end;     ///< the moof's start, its mdat's payload
    int cut;                                ///< the mdat is cut short: mdat_end is the file's end
} Frag;

/*
 * A traf of the moof at fr->moof. The samples' bytes must lie in the mdat that follows it
 * (mdat_start..mdat_end, known: the moof is read once its mdat is known to be whole).
 */
static int parse_traf(Final *f, const Frag *fr, int64_t end)
{
    Track *t = NULL;
    uint32_t tf_flags = 0, duration = 0, size = 0, sflags = 0;
    int64_t base = 0, next_pos = -1;
    int64_t bsize;
    int past_cut = 0;
    uint32_t type;
    int hdr, ret;

    while ((ret = read_box(f->in, end, &bsize, &type, &hdr)) >= 0) {
        int64_t next = avio_tell(f->in) - hdr + bsize;
        if (type == MKTAG('t','f','h','d')) {
            tf_flags = avio_rb32(f->in) & 0xffffff;
            if (!(t = find_track(f, avio_rb32(f->in))))
                return unsupported(f, "a fragment of an unknown track");
            duration = t->def_duration;
            size     = t->def_size;
            sflags   = t->def_flags;
            if (tf_flags & TFHD_BASE_DATA_OFFSET) {
                /* from the working file's start: base bytes before it */
                base = avio_rb64(f->in) + f->base;
                if (base < 0 || base > f->file_size)
                    return unsupported(f, "a base data offset outside the file");
            } else if (tf_flags & TFHD_DEFAULT_BASE_MOOF)
                base = fr->moof;
            else
                return unsupported(f, "a fragment without its data's base");
            if ((tf_flags & TFHD_STSD_ID) && avio_rb32(f->in) != 1)
                return unsupported(f, "a second sample description");
            if (tf_flags & TFHD_DURATION)
                duration = avio_rb32(f->in);
            if (tf_flags & TFHD_SIZE)
                size = avio_rb32(f->in);
            if (tf_flags & TFHD_FLAGS)
                sflags = avio_rb32(f->in);
            next_pos = base;
        } else if (type == MKTAG('t','f','d','t') && t) {
            int version = avio_r8(f->in);
            avio_skip(f->in, 3);
            t->next_dts = version ? avio_rb64(f->in) : avio_rb32(f->in);
            t->has_dts  = 1;
            if ((uint64_t)t->next_dts > INT64_C(1) << 62)
                return unsupported(f, "a decode time out of range");
        } else if (type == MKTAG('t','r','u','n')) {
            int version, per;
            uint32_t flags, count, first = sflags;
            if (!t)
                return unsupported(f, "a trun without its tfhd");
            version = avio_r8(f->in);
            flags   = avio_rb24(f->in);
            count   = avio_rb32(f->in);
            per     = 4 * (!!(flags & TRUN_DURATION) + !!(flags & TRUN_SIZE) +
                           !!(flags & TRUN_FLAGS) + !!(flags & TRUN_CTS));
            if (!t->has_dts)
                return unsupported(f, "a fragment without a decode time");
            if (flags & TRUN_DATA_OFFSET)
                next_pos = base + (int32_t)avio_rb32(f->in);
            if (flags & TRUN_FIRST_FLAGS)
                first = avio_rb32(f->in);
            if ((int64_t)count * per > next - avio_tell(f->in))
                return AVERROR_INVALIDDATA;
            for (uint32_t i = 0; i < count && !past_cut; i++) {
                uint32_t d = duration, sz = size, fl = i ? sflags : first;
                int64_t cts = 0;
                if (flags & TRUN_DURATION) d  = avio_rb32(f->in);
                if (flags & TRUN_SIZE)     sz = avio_rb32(f->in);
                if (flags & TRUN_FLAGS)    fl = avio_rb32(f->in);
                if (flags & TRUN_CTS)
                    cts = version ? (int32_t)avio_rb32(f->in) : avio_rb32(f->in);
                if (cts < 0)
                    return unsupported(f, "a negative composition offset");
                if (past_cut || next_pos < fr->mdat_start || sz > fr->mdat_end - next_pos) {
                    if (!fr->cut)
                        return unsupported(f, "a sample outside its fragment's mdat");
                    /* past the cut: this sample and the rest of the track's are left out, as
                     * the remux (the mov demuxer) leaves them out */
                    past_cut = 1;
                    break;
                }
                if ((ret = feed(f, t, next_pos, sz, d, cts, !(fl & SAMPLE_NOT_KEY))) < 0)
                    return ret;
                next_pos += sz;
            }
        }
        if (f->in->eof_reached)
            return AVERROR_INVALIDDATA;
        if (avio_seek(f->in, next, SEEK_SET) != next)
            return AVERROR_INVALIDDATA;
    }
    return ret == AVERROR_EOF ? 0 : ret;
}

static int parse_moof(Final *f, const Frag *fr, int64_t end)
{
    int64_t size;
    uint32_t type;
    int hdr, ret;

    while ((ret = read_box(f->in, end, &size, &type, &hdr)) >= 0) {
        int64_t next = avio_tell(f->in) - hdr + size;
        if (type == MKTAG('t','r','a','f') && (ret = parse_traf(f, fr, next)) < 0)
            return ret;
        if (avio_seek(f->in, next, SEEK_SET) != next)
            return AVERROR_INVALIDDATA;
    }
    return ret == AVERROR_EOF ? 0 : ret;
}

/*
 * The working file's top-level boxes. Of a fragment whose mdat the file's end cuts short (a crash
 * or a full disk while it was written), the whole samples are kept, as the remux kept them.
 */
static int parse_file(Final *f)
{
    int64_t size, moof = -1, moof_end = 0;
    uint32_t type;
    int hdr, ret, moov = 0, moof_hdr = 8, nb = 0;

    if (avio_seek(f->in, f->base, SEEK_SET) != f->base)
        return f->in->error ? f->in->error : AVERROR(EIO);
    while ((ret = read_box(f->in, f->file_size, &size, &type, &hdr)) >= 0) {
        int64_t start = avio_tell(f->in) - hdr, next = start + size;
        /* in place, the mdat header goes over the end of the moov right after the ftyp (where
         * ff_liverec_mp4_resume() looks for it) */
        if (f->in_place && nb++ == 1) {
            if (type != MKTAG('m','o','o','v') || size < 16 + 8)
                return unsupported(f, "no moov right after the ftyp");
            f->media_box = next - 16;
        }
        if (type == MKTAG('m','o','o','v')) {
            if (moov++)
                return unsupported(f, "a second moov");
            if ((ret = parse_moov(f, next, 0)) < 0)
                return ret == AVERROR_INVALIDDATA ? unsupported(f, "a damaged moov") : ret;
        } else if (type == MKTAG('m','o','o','f')) {
            if (!moov)
                return unsupported(f, "a fragment before the moov");
            moof     = start;
            moof_end = next;
            moof_hdr = hdr;
        } else if (type == MKTAG('m','d','a','t')) {
            if (moof >= 0) {
                Frag fr = { moof, start + hdr, next };
                if (avio_seek(f->in, moof + moof_hdr, SEEK_SET) != moof + moof_hdr)
                    return f->in->error ? f->in->error : unsupported(f, "a moof out of reach");
                /* the samples before a damaged box are given already: the remux starts over */
                if ((ret = parse_moof(f, &fr, moof_end)) < 0)
                    return ret == AVERROR_INVALIDDATA ? unsupported(f, "a damaged fragment") : ret;
                moof = -1;
            } else if (size > hdr) {
                return unsupported(f, "media outside fragments");
            }
        }
        if (avio_seek(f->in, next, SEEK_SET) != next)
            break;
    }
    if (f->in->error)
        return f->in->error;
    if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA)
        return ret;
    /* cut short in the middle of a fragment's media: its whole samples are kept */
    if (ret == AVERROR_INVALIDDATA && moof >= 0 && cut_mdat(type, size, hdr)) {
        Frag fr = { moof, avio_tell(f->in), f->file_size, 1 };
        if (avio_seek(f->in, moof + moof_hdr, SEEK_SET) != moof + moof_hdr)
            return f->in->error ? f->in->error : unsupported(f, "a moof out of reach");
        if ((ret = parse_moof(f, &fr, moof_end)) < 0)
            return ret == AVERROR_INVALIDDATA ? unsupported(f, "a damaged fragment") : ret;
        av_log(f->s, AV_LOG_WARNING, "'%s' ends early: keeping its whole samples\n", f->ic->url);
    }
    return moov ? 0 : unsupported(f, "no moov");
}

/* Move every chunk offset of the moov (stco, co64) by delta; 0 or an error. */
static int shift_offsets(uint8_t *p, int64_t len, int64_t delta, int depth)
{
    while (len >= 8) {
        int64_t size = AV_RB32(p), hdr = 8;
        uint32_t type = AV_RL32(p + 4);
        if (size == 1 && len >= 16) {
            size = AV_RB64(p + 8);
            hdr  = 16;
        }
        if (size < hdr || size > len)
            return AVERROR_INVALIDDATA;
        if (type == MKTAG('t','r','a','k') || type == MKTAG('m','d','i','a') ||
            type == MKTAG('m','i','n','f') || type == MKTAG('s','t','b','l')) {
            int ret;
            if (depth >= MAX_DEPTH)
                return AVERROR_INVALIDDATA;
            if ((ret = shift_offsets(p + hdr, size - hdr, delta, depth + 1)) < 0)
                return ret;
        } else if (type == MKTAG('s','t','c','o') || type == MKTAG('c','o','6','4')) {
            int wide = type == MKTAG('c','o','6','4');
            uint32_t n;
            if (size < hdr + 8)
                return AVERROR_INVALIDDATA;
            n = AV_RB32(p + hdr + 4);
            if (n > (size - hdr - 8) / (wide ? 8 : 4))
                return AVERROR_INVALIDDATA;
            for (uint32_t i = 0; i < n; i++) {
                uint8_t *e = p + hdr + 8 + i * (wide ? 8 : 4);
                if (wide) {
                    AV_WB64(e, AV_RB64(e) + delta);
                } else {
                    if (AV_RB32(e) + delta > UINT32_MAX)
                        return AVERROR_PATCHWELCOME;
                    AV_WB32(e, AV_RB32(e) + delta);
                }
            }
        }
        p   += size;
        len -= size;
    }
    return 0;
}

/*
 * The checks of ff_liverec_mp4_check(). moov: its sample tables must be empty (the samples are in
 * the fragments). Returns 0 or < 0.
 */
static int check_tables(AVIOContext *pb, int64_t end, int depth)
{
    int64_t size;
    uint32_t type;
    int hdr, ret;

    while ((ret = read_box(pb, end, &size, &type, &hdr)) >= 0) {
        int64_t next = avio_tell(pb) - hdr + size;
        if (type == MKTAG('t','r','a','k') || type == MKTAG('m','d','i','a') ||
            type == MKTAG('m','i','n','f') || type == MKTAG('s','t','b','l')) {
            if (depth >= MAX_DEPTH)
                return AVERROR_INVALIDDATA;
            if ((ret = check_tables(pb, next, depth + 1)) < 0)
                return ret;
        } else if (type == MKTAG('s','t','t','s') || type == MKTAG('s','t','s','c') ||
                   type == MKTAG('s','t','c','o') || type == MKTAG('c','o','6','4') ||
                   type == MKTAG('c','t','t','s') || type == MKTAG('s','t','s','s') ||
                   type == MKTAG('s','t','s','z') || type == MKTAG('s','t','z','2')) {
            if (size < hdr + 8)
                return AVERROR_INVALIDDATA;
            avio_rb32(pb);                          /* version, flags */
            if (type == MKTAG('s','t','s','z') || type == MKTAG('s','t','z','2'))
                avio_rb32(pb);                      /* sample size, or field size */
            if (avio_rb32(pb))
                return AVERROR_INVALIDDATA;         /* samples outside the fragments */
        }
        if (avio_seek(pb, next, SEEK_SET) != next)
            return AVERROR_INVALIDDATA;
    }
    return ret == AVERROR_EOF ? 0 : ret;
}

/* moof: the samples its truns announce, each trun's table within its box; or < 0. */
static int64_t check_moof(AVIOContext *pb, int64_t end, int depth)
{
    int64_t size, samples = 0;
    uint32_t type;
    int hdr, ret, boxes = 0;

    while ((ret = read_box(pb, end, &size, &type, &hdr)) >= 0) {
        int64_t next = avio_tell(pb) - hdr + size;
        /* a traf starts with its tfhd (ISO/IEC 14496-12, 8.8.7): the mov demuxer reads a trun
         * without one as one of the track before (and spent seconds on such a file) */
        if (depth == 1 && !boxes++ && type != MKTAG('t','f','h','d'))
            return AVERROR_INVALIDDATA;
        if (type == MKTAG('t','r','a','f')) {
            int64_t n;
            if (depth >= 1 || (n = check_moof(pb, next, depth + 1)) < 0)
                return AVERROR_INVALIDDATA;
            samples += n;
        } else if (type == MKTAG('t','r','u','n') && depth == 1) {
            uint32_t flags, count;
            int64_t table;
            if (size < hdr + 8)
                return AVERROR_INVALIDDATA;
            flags = avio_rb32(pb) & 0xffffff;
            count = avio_rb32(pb);
            table = size - hdr - 8 - 4 * (!!(flags & TRUN_DATA_OFFSET) + !!(flags & TRUN_FIRST_FLAGS));
            if (table < (int64_t)count * 4 * (!!(flags & TRUN_DURATION) + !!(flags & TRUN_SIZE) +
                                              !!(flags & TRUN_FLAGS) + !!(flags & TRUN_CTS)))
                return AVERROR_INVALIDDATA;
            samples += count;
        }
        if (avio_seek(pb, next, SEEK_SET) != next)
            return AVERROR_INVALIDDATA;
    }
    return ret == AVERROR_EOF ? samples : AVERROR_INVALIDDATA;
}

/* ff_liverec_mp4_check() of the working file that starts base bytes into url (after the room
 * inserted by a switch that a kill interrupted). */
static int check_from(AVFormatContext *s, const char *url, int64_t base, int64_t *keep,
                      int64_t *file_size)
{
    AVIOContext *pb = NULL;
    int64_t size, end, moof = -1, samples = 0;
    uint32_t type;
    int hdr, ret, moov = 0;

    *keep = 0;
    if ((ret = s->io_open(s, &pb, url, AVIO_FLAG_READ, NULL)) < 0)
        return ret;
    if ((end = *file_size = avio_size(pb)) < 0) {
        ret = end;
        goto done;
    }
    avio_seek(pb, base, SEEK_SET);
    if ((ret = read_box(pb, end, &size, &type, &hdr)) < 0 || type != MKTAG('f','t','y','p')) {
        ret = AVERROR_INVALIDDATA;
        goto done;
    }
    avio_seek(pb, base + size, SEEK_SET);
    /* damage before the end (a box that holds what it says but not what it should) keeps the
     * file as it is, for a person to look at; only a tail that is no whole box is cut off */
    while ((ret = read_box(pb, end, &size, &type, &hdr)) >= 0) {
        int64_t start = avio_tell(pb) - hdr, next = start + size;
        if (type == MKTAG('m','o','o','v')) {
            if (moov++ || (ret = check_tables(pb, next, 0)) < 0)
                goto damaged;
            *keep = next;
        } else if (type == MKTAG('m','o','o','f') && moov) {
            if (moof >= 0 || (samples = check_moof(pb, next, 0)) < 0)
                goto damaged;                       /* (a moof without its mdat before it) */
            moof = samples ? start : -1;            /* whole once its mdat is */
            if (!samples)
                *keep = next;
        } else if (type == MKTAG('m','d','a','t') && moof >= 0) {
            /* every sample has a byte at least: a count past that is no count of this file */
            if (samples > size - hdr)
                goto damaged;
            *keep = next;
            moof  = -1;
        } else if (moof >= 0) {
            goto damaged;                           /* a moof's samples not in the next mdat */
        } else if (type == MKTAG('f','r','e','e') || type == MKTAG('s','k','i','p') ||
                   type == MKTAG('m','f','r','a') || type == MKTAG('m','d','a','t')) {
            *keep = next;
        } else {
            /* anything else at the top: the mov demuxer reads a trun there as one of the last
             * fragment's, with as many samples as it announces */
            goto damaged;
        }
        if (avio_seek(pb, next, SEEK_SET) != next) {
            ret = pb->error ? pb->error : AVERROR(EIO);
            goto done;
        }
    }
    if (ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA)
        goto done;                                  /* a read error */
    /* a fragment whose media a crash cut short: the mov demuxer keeps its whole samples; a count
     * past the bytes that are there is no count of this file */
    if (ret == AVERROR_INVALIDDATA && moof >= 0 && cut_mdat(type, size, hdr) &&
        samples <= end - avio_tell(pb) + 4096)
        *keep = end;
    ret = moov ? 0 : AVERROR_INVALIDDATA;
    goto done;
damaged:
    ret = pb->error ? pb->error : AVERROR_INVALIDDATA;
done:
    ff_format_io_close(s, &pb);
    return ret;
}

int ff_liverec_mp4_check(AVFormatContext *s, const char *url, int64_t *keep, int64_t *file_size)
{
    return check_from(s, url, 0, keep, file_size);
}

static int open_index_muxer(Final *f, const char *out_url)
{
    AVFormatContext *s = f->s;
    Sink *k = &f->sink;
    uint8_t *buf;
    int ret;

    if (!f->ic->nb_streams)
        return unsupported(f, "no stream");
    if ((ret = ff_liverec_nested_alloc(s, &f->oc, "mp4", out_url)) < 0)
        return ret;
    for (unsigned i = 0; i < f->ic->nb_streams; i++) {
        const AVStream *ist = f->ic->streams[i];
        const AVCodecParameters *par = ist->codecpar;
        AVStream *st;
        /* the mov muxer reads no sample of these (it was given the zeros): it would read an
         * H.264 or HEVC stream's first one without extradata, or one in Annex B */
        if (par->codec_id == AV_CODEC_ID_AAC ||
            ((par->codec_id == AV_CODEC_ID_H264 || par->codec_id == AV_CODEC_ID_HEVC) &&
             par->extradata_size > 6 && par->extradata[0] == 1)) {
        } else {
            return unsupported(f, avcodec_get_name(par->codec_id));
        }
        if (f->nb_tracks == MAX_TRACKS)
            return unsupported(f, "too many tracks");
        f->tracks[f->nb_tracks++] = (Track){ .id = ist->id, .index = i };
        if (!(st = avformat_new_stream(f->oc, NULL)))
            return AVERROR(ENOMEM);
        if ((ret = avcodec_parameters_copy(st->codecpar, par)) < 0)
            return ret;
        st->codecpar->codec_tag = 0;
        st->time_base = ist->time_base;
    }
    k->data_start = k->data_end = -1;
    if (!(buf = av_malloc(32768)))
        return AVERROR(ENOMEM);
    if (!(f->oc->pb = avio_alloc_context(buf, 32768, 1, k, NULL, sink_write, sink_seek))) {
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    f->oc->pb->direct = 1;          /* the media bytes are not copied into its buffer */
    f->oc->flags     |= AVFMT_FLAG_CUSTOM_IO;
    return 0;
}

/* Copy the runs of media bytes from the working file to out, written as they are read when out
 * is direct: in pieces no larger than its protocol takes in one write (256 KiB for a file). */
static int copy_media(Final *f, AVIOContext *out)
{
    int chunk = out->max_packet_size > 0 ? FFMIN(out->max_packet_size, COPY_CHUNK) : COPY_CHUNK;
    uint8_t *buf = av_malloc(chunk);
    int ret = 0;

    if (!buf)
        return AVERROR(ENOMEM);
    for (int i = 0; i < f->nb_runs && ret >= 0; i++) {
        int64_t pos = f->runs[i].pos, left = f->runs[i].size;
        if (avio_seek(f->in, pos, SEEK_SET) != pos)
            ret = AVERROR(EIO);
        while (ret >= 0 && left > 0) {
            int n = avio_read(f->in, buf, FFMIN(left, chunk));
            if (n <= 0) {
                ret = n < 0 ? n : AVERROR(EIO);
                break;
            }
            avio_write(out, buf, n);
            left -= n;
        }
    }
    av_free(buf);
    return ret < 0 ? ret : out->error;
}

/* The mov muxer's output is its ftyp, the rest of its header, the media, its moov: *ftyp is the
 * ftyp's size. In place, the media are the working file's bytes from the first sample on. */
static int check_sink(Final *f, int64_t *ftyp)
{
    const Sink *k = &f->sink;

    if (k->bad || k->data_start < 16 || k->head_len != k->data_start || k->data_end < 0 ||
        (!f->in_place && k->data_end - k->data_start != f->media_bytes) ||
        k->end != k->data_end + k->tail_len || k->tail_len < 8 || AV_RB32(k->tail) != k->tail_len ||
        AV_RL32(k->tail + 4) != MKTAG('m','o','o','v') ||
        AV_RL32(k->head + 4) != MKTAG('f','t','y','p') || (*ftyp = AV_RB32(k->head)) < 8 ||
        *ftyp > k->head_len - 8)
        return unsupported(f, "the mov muxer wrote another layout");
    return 0;
}

/* Move the chunk offsets of the sink's moov by delta. */
static int shift_moov(Final *f, int64_t delta)
{
    int ret = shift_offsets(f->sink.tail + 8, f->sink.tail_len - 8, delta, 0);

    if (ret < 0)
        return unsupported(f, ret == AVERROR_PATCHWELCOME ? "offsets past 4 GiB in stco" :
                              "a moov the mov muxer wrote in another layout");
    return 0;
}

/* Open the file url to write into it (the file protocol truncates a file it opens to write). */
static int open_rw(AVFormatContext *s, AVIOContext **pb, const char *url)
{
    AVDictionary *opts = NULL;
    int ret;

    av_dict_set(&opts, "truncate", "0", 0);
    ret = s->io_open(s, pb, url, AVIO_FLAG_READ_WRITE, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        av_log(s, AV_LOG_ERROR, "Cannot open '%s' for writing: %s\n", url, av_err2str(ret));
    return ret;
}

static char *switch_url(const char *url)
{
    return av_asprintf("%s" LIVEREC_MP4_SWITCH_SUFFIX, url);
}

/* Write the ftyp, the moov and a free box into the room before the working file's boxes (delta
 * bytes were inserted before them, or the switch is finished with delta 0), then the header of
 * the mdat that holds them from the end of the working file's moov on. */
static int write_head(Final *f, int64_t ftyp, int64_t delta)
{
    const Sink *k = &f->sink;
    const char *url = f->ic->url;
    AVIOContext *pb = NULL;
    int64_t head = ftyp + k->tail_len, media = f->media_box + delta;
    int ret;

    if (media < head + 8)
        return AVERROR_BUG;
    if ((ret = open_rw(f->s, &pb, url)) < 0)
        return ret;
    avio_write(pb, k->head, ftyp);
    avio_write(pb, k->tail, k->tail_len);
    avio_wb32(pb, media - head);
    avio_wl32(pb, MKTAG('f','r','e','e'));
    avio_flush(pb);
    /* the head is whole: one write of the mdat header says so */
    if (!pb->error) {
        avio_seek(pb, media, SEEK_SET);
        avio_wb32(pb, 1);
        avio_wl32(pb, MKTAG('m','d','a','t'));
        avio_wb64(pb, f->file_size + delta - media);
        avio_flush(pb);
    }
    ret = pb->error;
    ff_format_io_close(f->s, &pb);
    if (ret < 0)
        av_log(f->s, AV_LOG_ERROR, "Cannot write the index into '%s': %s\n", url, av_err2str(ret));
    return ret;
}

/* The working file becomes the final file: room for the head inserted before it, or (base) the
 * room inserted by a switch that a kill interrupted. */
static int switch_in_place(Final *f)
{
    const char *url = f->ic->url, *path;
    char *journal = NULL;
    AVIOContext *pb = NULL;
    struct stat st;
    int64_t ftyp, room, blk;
    int ret;

    if ((ret = check_sink(f, &ftyp)) < 0)
        return ret;
    if (f->base) {
        room = f->base;
        if (ftyp + f->sink.tail_len + 8 > room) {
            av_log(f->s, AV_LOG_ERROR, "The index of '%s' (%"PRId64" bytes) no longer fits in "
                   "the %"PRId64" bytes inserted before it\n", url, ftyp + f->sink.tail_len, room);
            return AVERROR_INVALIDDATA;
        }
        return write_head(f, ftyp, 0);
    }
    if (!ff_liverec_local_path(url, &path) || stat(path, &st) < 0 || st.st_size != f->file_size)
        return unsupported(f, "no local file of the size read");
    /* whole blocks of the file system, with room for the free box's header */
    blk  = FFMAX(st.st_blksize, 512);
    room = (ftyp + f->sink.tail_len + 8 + blk - 1) / blk * blk;
    if ((ret = shift_moov(f, room)) < 0)
        return ret;
    if (!(journal = switch_url(url)))
        return AVERROR(ENOMEM);
    if ((ret = f->s->io_open(f->s, &pb, journal, AVIO_FLAG_WRITE, NULL)) >= 0) {
        avio_printf(pb, "%"PRId64" %"PRId64"\n", f->file_size, room);
        avio_flush(pb);
        ret = pb->error;
        ff_format_io_close(f->s, &pb);
    }
    if (ret < 0) {
        av_log(f->s, AV_LOG_WARNING, "Cannot write '%s' (%s): finalizing by a copy\n", journal,
               av_err2str(ret));
        ffurl_delete(journal);
        av_free(journal);
        return AVERROR_PATCHWELCOME;
    }
    if ((ret = ff_liverec_insert_front(path, room, f->s)) < 0) {
        /* nothing changed: the copy instead */
        ffurl_delete(journal);
        av_free(journal);
        return unsupported(f, ret == AVERROR(ENOSYS) ? "the file system cannot insert a range" :
                              "inserting a range failed");
    }
    av_free(journal);
    return write_head(f, ftyp, room);
}

static int write_final(Final *f, const char *out_url)
{
    Sink *k = &f->sink;
    AVIOContext *out = NULL;
    int64_t ftyp;
    int ret, close_ret;

    if ((ret = check_sink(f, &ftyp)) < 0)
        return ret;
    /* the moov goes between the ftyp and the rest: everything after it moves by its size */
    if ((ret = shift_moov(f, k->tail_len)) < 0)
        return ret;
    if ((ret = f->s->io_open(f->s, &out, out_url, AVIO_FLAG_WRITE, NULL)) < 0) {
        av_log(f->s, AV_LOG_ERROR, "Cannot open '%s' for writing: %s\n", out_url, av_err2str(ret));
        return ret;
    }
    avio_write(out, k->head, ftyp);
    avio_write(out, k->tail, k->tail_len);
    avio_write(out, k->head + ftyp, k->head_len - ftyp);
    /* the media bytes go from copy_media()'s buffer to the file, not through out's buffer */
    avio_flush(out);
    out->direct = 1;
    ret = copy_media(f, out);
    avio_flush(out);
    if (ret >= 0)
        ret = out->error;
    close_ret = ff_format_io_close(f->s, &out);
    return ret < 0 ? ret : close_ret;
}

/* out_url NULL: in place, base: the bytes before the working file's boxes (a switch begun). */
static int finalize_index(AVFormatContext *s, AVFormatContext *ic, const char *out_url,
                          int64_t base, int64_t *duration)
{
    Final f = { .s = s, .ic = ic, .first = AV_NOPTS_VALUE, .end = INT64_MIN,
                .in_place = !out_url, .base = base };
    int ret;

    if (!(f.pkt = av_packet_alloc()))
        return AVERROR(ENOMEM);
    if ((ret = open_index_muxer(&f, out_url)) < 0)
        goto end;
    if ((ret = s->io_open(s, &f.in, ic->url, AVIO_FLAG_READ, NULL)) < 0)
        goto end;
    if ((f.file_size = avio_size(f.in)) < 0) {
        ret = unsupported(&f, "an input of unknown size");
        goto end;
    }
    if ((ret = avformat_write_header(f.oc, NULL)) < 0)
        goto end;
    avio_flush(f.oc->pb);
    f.sink.data_start = f.sink.pos;
    if ((ret = parse_file(&f)) < 0)
        goto end;
    if (!f.nb_samples) {
        *duration = -1;             /* no media: nothing to write */
        ret = 0;
        goto end;
    }
    avio_flush(f.oc->pb);
    f.sink.data_end = f.sink.pos;
    if ((ret = av_write_trailer(f.oc)) < 0)
        goto end;
    avio_flush(f.oc->pb);
    if ((ret = f.in_place ? switch_in_place(&f) : write_final(&f, out_url)) < 0)
        goto end;
    *duration = f.end - f.first;
    av_log(s, AV_LOG_VERBOSE, "'%s' finalized by its index%s: %"PRId64" samples, %d runs\n",
           ic->url, f.in_place ? " in place" : "", f.nb_samples, f.nb_runs);
end:
    if (f.oc && f.oc->pb) {
        av_freep(&f.oc->pb->buffer);
        avio_context_free(&f.oc->pb);
    }
    ff_liverec_nested_free(s, &f.oc);
    ff_format_io_close(s, &f.in);
    av_packet_free(&f.pkt);
    av_free(f.zeros);
    av_free(f.runs);
    av_free(f.sink.head);
    av_free(f.sink.tail);
    return ret;
}

int ff_liverec_mp4_finalize(AVFormatContext *s, AVFormatContext *ic, const char *out_url,
                            int64_t *duration)
{
    return finalize_index(s, ic, out_url, 0, duration);
}

/* A switch whose mdat header is written: the file is final, its tracks say how long it is. */
static int final_duration(AVFormatContext *s, const char *url, int64_t *duration)
{
    AVFormatContext *ic = NULL;
    int ret;

    if ((ret = avformat_open_input(&ic, url, av_find_input_format("mov"), NULL)) < 0)
        return ret;
    *duration = 0;
    for (unsigned i = 0; i < ic->nb_streams; i++)
        if (ic->streams[i]->duration > 0)
            *duration = FFMAX(*duration, av_rescale_q(ic->streams[i]->duration,
                                                      ic->streams[i]->time_base, AV_TIME_BASE_Q));
    avformat_close_input(&ic);
    return 0;
}

int ff_liverec_mp4_resume(AVFormatContext *s, const char *url, int64_t *duration)
{
    AVFormatContext *ic = NULL;
    AVDictionary *opts = NULL;
    AVIOContext *pb = NULL;
    AVBPrint bp;
    char *journal = switch_url(url);
    int64_t before, room, size, box, media, mdat_size = 0;
    uint32_t type, mdat = 0;
    int hdr, ret;

    if (!journal)
        return AVERROR(ENOMEM);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
    if ((ret = ff_liverec_read_file(s, journal, &bp, 64, NULL)) == AVERROR(ENOENT)) {
        ret = 0;
        goto end;
    }
    if (ret < 0 || sscanf(bp.str, "%"SCNd64" %"SCNd64, &before, &room) != 2 || before <= 0 ||
        room <= 0 || room > INT32_MAX) {
        av_log(s, AV_LOG_WARNING, "'%s' is no switch begun: removed\n", journal);
        ffurl_delete(journal);
        ret = 0;
        goto end;
    }
    if ((ret = s->io_open(s, &pb, url, AVIO_FLAG_READ, NULL)) < 0)
        goto end;
    size = avio_size(pb);
    if (size == before) {
        /* killed before the insert: nothing changed */
        ff_format_io_close(s, &pb);
        ffurl_delete(journal);
        ret = 0;
        goto end;
    }
    if (size != before + room) {
        av_log(s, AV_LOG_ERROR, "'%s' has %"PRId64" bytes, neither the %"PRId64" before its "
               "switch nor the %"PRId64" after: left as it is\n", url, size, before, before + room);
        ret = AVERROR_INVALIDDATA;
        goto end;
    }
    /* the working file's ftyp, then its moov, whose last 16 bytes are the mdat header once the
     * head is whole */
    avio_seek(pb, room, SEEK_SET);
    if ((ret = read_box(pb, size, &box, &type, &hdr)) >= 0 &&
        avio_seek(pb, room + box, SEEK_SET) == room + box &&
        (ret = read_box(pb, size, &media, &type, &hdr)) >= 0 && type == MKTAG('m','o','o','v') &&
        media >= 16 + 8) {
        media += room + box - 16;
        avio_seek(pb, media, SEEK_SET);
        avio_rb32(pb);
        mdat      = avio_rl32(pb);
        mdat_size = avio_rb64(pb);
    }
    ff_format_io_close(s, &pb);
    if (ret < 0 || type != MKTAG('m','o','o','v')) {
        av_log(s, AV_LOG_ERROR, "'%s' has no moov after the %"PRId64" bytes of its switch: left "
               "as it is\n", url, room);
        ret = AVERROR_INVALIDDATA;
        goto end;
    }
    av_log(s, AV_LOG_WARNING, "Finishing the switch of '%s' to its final form\n", url);
    if (mdat == MKTAG('m','d','a','t') && mdat_size == size - media) {
        ret = final_duration(s, url, duration);
    } else {
        /* the head may be cut short: written again from the fragments, which are untouched,
         * checked as before the switch (they were: no tail is left to cut) before the mov
         * demuxer reads them */
        int64_t keep, end;
        if ((ret = check_from(s, url, room, &keep, &end)) < 0 || keep != end) {
            av_log(s, AV_LOG_ERROR, "'%s' after the %"PRId64" bytes of its switch is no working "
                   "file of liverec_mp4: left as it is\n", url, room);
            ret = ret < 0 ? ret : AVERROR_INVALIDDATA;
            goto end;
        }
        ic = avformat_alloc_context();
        if (!ic) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        ic->interrupt_callback = s->interrupt_callback;
        ic->flags |= AVFMT_FLAG_IGNIDX;
        av_dict_set_int(&opts, "skip_initial_bytes", room, 0);
        if ((ret = avformat_open_input(&ic, url, av_find_input_format("mov"), &opts)) >= 0)
            ret = finalize_index(s, ic, NULL, room, duration);
        if (ret == AVERROR_PATCHWELCOME)
            ret = AVERROR_INVALIDDATA;
    }
    if (ret < 0)
        av_log(s, AV_LOG_ERROR, "Cannot finish the switch of '%s': %s\n", url, av_err2str(ret));
    else
        ret = 1;
end:
    ff_format_io_close(s, &pb);
    av_dict_free(&opts);
    avformat_close_input(&ic);
    av_bprint_finalize(&bp, NULL);
    av_free(journal);
    return ret;
}

int ff_liverec_mp4_switch_begun(const char *url)
{
    char *journal = switch_url(url);
    int ret = journal && avio_check(journal, 0) >= 0;

    av_free(journal);
    return ret;
}

int ff_liverec_mp4_switch_end(const char *url)
{
    char *journal = switch_url(url);

    if (!journal)
        return AVERROR(ENOMEM);
    ffurl_delete(journal);
    av_free(journal);
    return 0;
}
