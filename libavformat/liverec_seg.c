/*
 * liverec_mp4, liverec_flv, liverec_aac: one complete, playable file per record interval
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
 * The segmenting core of the liverec file muxers (modelled on segment.c).
 *
 * The output URL names a folder. Each file is written by a nested muxer under a working name,
 * START_STREAMID.EXT.recording, in a form a crash cannot spoil: fragmented MP4 (every complete
 * fragment readable), FLV and ADTS as they stream. A new file starts at the first keyframe of the
 * reference stream (first video stream; every packet of an audio-only input) at least
 * record_interval after the start of the current one; timestamps start at 0 in every file.
 * When a file's end is known it is finalized: remuxed into its final form (MP4 with the moov up
 * front, FLV with duration, size and a keyframe index in onMetaData; ADTS as it is) under the
 * name from vod_file_name, then the working file is removed. An MP4 on a local file system that
 * can insert a range becomes final in its working file instead (liverec_mp4final.c). Working
 * files left by a crash are found on the next start in the folder and finalized the same way,
 * never deleted unread.
 */

#include "config.h"
#include "config_components.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#if HAVE_UNISTD_H
#include <unistd.h>
#endif

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/mathematics.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"
#include "libavutil/time.h"

#include "avformat.h"
#include "avio_internal.h"
#include "internal.h"
#include "liverec.h"
#include "mux.h"
#include "url.h"

#define WORK_SUFFIX ".recording"

typedef struct LiveRecSegKind {
    const char *ext;        ///< extension of the files
    const char *format;     ///< nested muxer
    const char *work_opts;  ///< nested muxer options while recording
    const char *final_opts; ///< nested muxer options of the finalizing remux, NULL: rename only
    int audio_only;
    int final_in_place;     ///< a cleanly closed working file is final already: rename only
    int need_probe;         ///< the demuxer learns the streams from the packets (FLV, ADTS)
} LiveRecSegKind;

static const LiveRecSegKind kind_mp4 = {
    /* a fragment at every video keyframe, and at least every second (audio only) */
    "mp4", "mp4", "movflags=+frag_keyframe+empty_moov+default_base_moof:frag_duration=1000000",
    "movflags=+faststart", 0, 0, 0,
};
/* FLV keeps its duration, size and keyframe index up to date itself when its file is closed
 * (it rewrites onMetaData in place); the remux is only for a file a crash left behind */
static const LiveRecSegKind kind_flv = {
    "flv", "flv", "flvflags=+add_keyframe_index", "flvflags=+add_keyframe_index", 0, 1, 1,
};
static const LiveRecSegKind kind_aac = {
    "aac", "adts", NULL, NULL, 1, 1, 1,
};

typedef struct LiveRecSegContext {
    const AVClass *class;

    /* options */
    int64_t record_interval;
    int     in_place;       ///< MP4: finalize in the working file when the file system can
    int64_t files_finished; ///< exported: files finalized since the open (a caller collects them)
    char   *vod_file_name;
    char   *stream_id;
    char   *time_zone;
    char   *wallclock;

    const LiveRecSegKind *kind;
    char   *dir;            ///< output folder, ending in '/'
    char   *sid;            ///< sanitized stream id
    int     local;          ///< the folder is local: working files are locked and recovered
    int64_t now;

    int     ref;            ///< stream whose keyframes cut, -1 before init
    int    *map;            ///< outer stream -> nested stream, -1 when not recorded
    int     nb_mapped;

    AVFormatContext *oc;    ///< the open file
    char   *work_url;
    int     lock_fd;
    int64_t file_start;     ///< microseconds, input timeline, where the open file starts
    int64_t file_end;       ///< microseconds, end of the latest packet in the open file
    int64_t next_cut;
    int64_t file_wall;      ///< wall clock of file_start
    int64_t wall_base, ts_base;
    int64_t anchor;         ///< wall_base as first set
    int     base_fixed;     ///< the first file is closed: its dates are final
    int     have_base;
    int     nb_files;
    int     io_error;       ///< writing or opening a file failed: nothing more is written
} LiveRecSegContext;

static int set_options(AVFormatContext *s, AVDictionary **opts, const char *spec)
{
    int ret = spec ? av_dict_parse_string(opts, spec, "=", ":", 0) : 0;

    if (ret < 0)
        av_log(s, AV_LOG_ERROR, "Invalid nested muxer options '%s'\n", spec);
    return ret;
}

static int streams_described(const AVFormatContext *ic)
{
    for (int i = 0; i < ic->nb_streams; i++) {
        const AVCodecParameters *par = ic->streams[i]->codecpar;
        if ((par->codec_type == AVMEDIA_TYPE_VIDEO && (!par->width || !par->height)) ||
            (par->codec_type == AVMEDIA_TYPE_AUDIO && (!par->sample_rate || !par->ch_layout.nb_channels)))
            return 0;
    }
    return ic->nb_streams > 0;
}

/* Open a working file for reading; the moov of a fragmented MP4 usually describes the streams
 * fully, so probing (decoding) is left for FLV and ADTS and for an MP4 that needs it. */
static int open_working(AVFormatContext *s, const char *url, int flags, AVFormatContext **pic)
{
    LiveRecSegContext *c = s->priv_data;
    AVFormatContext *ic = avformat_alloc_context();
    int ret;

    if (!ic)
        return AVERROR(ENOMEM);
    ic->interrupt_callback = s->interrupt_callback;
    /* a crash cuts the last packet of a working file short: it is left out, not finalized */
    ic->flags |= AVFMT_FLAG_DISCARD_CORRUPT | flags;
    if ((ret = avformat_open_input(&ic, url, av_find_input_format(c->kind->format), NULL)) < 0 ||
        ((c->kind->need_probe || !streams_described(ic)) &&
         (ret = avformat_find_stream_info(ic, NULL)) < 0)) {
        av_log(s, AV_LOG_ERROR, "Cannot read working file '%s': %s\n", url, av_err2str(ret));
        avformat_close_input(&ic);
        return ret;
    }
    *pic = ic;
    return 0;
}

/*
 * An MP4 working file is checked before the mov demuxer reads it: what a crash or anyone left in
 * the folder could make it allocate for samples the file does not have. A tail after its last
 * whole fragment that is no whole box (a crash in a write) is cut off (local files).
 */
static int check_working(AVFormatContext *s, const char *url)
{
    const char *path;
    int64_t keep, size;
    int ret = ff_liverec_mp4_check(s, url, &keep, &size);

    if (ret < 0) {
        av_log(s, AV_LOG_ERROR, "'%s' is no working file of liverec_mp4: %s\n", url,
               av_err2str(ret));
        return ret;
    }
    if (keep < size && ff_liverec_local_path(url, &path)) {
        if (truncate(path, keep) < 0) {
            ret = AVERROR(errno);
            av_log(s, AV_LOG_ERROR, "Cannot cut '%s' after its last whole fragment: %s\n", path,
                   av_err2str(ret));
            return ret;
        }
        av_log(s, AV_LOG_WARNING, "'%s' cut after its last whole fragment (%"PRId64" of %"PRId64
               " bytes)\n", path, keep, size);
    }
    return 0;
}

typedef struct RemuxState {
    AVFormatContext *ic, *oc;
    AVPacket **held;        ///< per stream: its last packet read, written when the next comes
    int nb_streams;         ///< of the input when it was opened (held and last_duration)
    int64_t *last_duration; ///< per stream: of the packet written before, in its time base
    int64_t first, end;     ///< AV_TIME_BASE
} RemuxState;

/*
 * Write (or only measure, without oc) the packet held for stream i. A demuxer that was not asked
 * to probe gives no durations: the MP4 demuxer leaves them to the next sample, and none to the
 * last one of a file. A held packet without one gets the time to the next packet of its stream,
 * or at the end the duration of the one before it, so the final file's last samples last as long
 * as the others and its edit lists do not leave them out.
 */
static int write_held(RemuxState *r, int i, const AVPacket *next)
{
    AVPacket *pkt = r->held[i];
    const AVStream *ist = r->ic->streams[i];

    if (!pkt->data && !pkt->side_data_elems)
        return 0;
    if (pkt->duration <= 0) {
        if (next && next->dts != AV_NOPTS_VALUE && pkt->dts != AV_NOPTS_VALUE && next->dts > pkt->dts)
            pkt->duration = next->dts - pkt->dts;
        else if (!next)
            pkt->duration = r->last_duration[i];
    }
    r->last_duration[i] = pkt->duration;
    if (pkt->dts != AV_NOPTS_VALUE) {
        int64_t ts = av_rescale_q(pkt->dts, ist->time_base, AV_TIME_BASE_Q);
        int64_t d  = av_rescale_q(pkt->duration, ist->time_base, AV_TIME_BASE_Q);
        /* saturated, and without times that overflowed (AV_NOPTS_VALUE): a damaged file's
         * times may be anything */
        if (ts != AV_NOPTS_VALUE) {
            if (r->first == AV_NOPTS_VALUE)
                r->first = ts;
            r->end = FFMAX(r->end, av_sat_add64(ts, FFMAX(d, 0)));
        }
    }
    if (!r->oc) {
        av_packet_unref(pkt);
        return 0;
    }
    av_packet_rescale_ts(pkt, ist->time_base, r->oc->streams[i]->time_base);
    return av_interleaved_write_frame(r->oc, pkt);
}

/*
 * Copy the file at in_url into its final form at out_url (NULL: only read it); *duration gets its
 * length, -1 when it holds no packet.
 */
static int remux(AVFormatContext *s, const char *in_url, const char *out_url, int64_t *duration,
                 int *in_place)
{
    LiveRecSegContext *c = s->priv_data;
    RemuxState r = { .first = AV_NOPTS_VALUE };
    AVDictionary *opts = NULL;
    AVPacket *pkt = av_packet_alloc();
    int ret;

    if (!pkt)
        return AVERROR(ENOMEM);
    /* a switch in place that a kill interrupted is finished first: the file is no working
     * file until then */
    if (c->kind == &kind_mp4 && out_url &&
        (ret = ff_liverec_mp4_resume(s, in_url, duration)) != 0) {
        *in_place = ret > 0;
        goto end;
    }
    if (c->kind == &kind_mp4 && (ret = check_working(s, in_url)) < 0)
        goto end;
    if (c->kind == &kind_mp4 && out_url) {
        const char *path;
        /* the finalizer reads the fragments itself and takes only the streams from the demuxer:
         * with AVFMT_FLAG_IGNIDX, the mov demuxer stops after the first fragment instead of
         * reading every fragment into its index (2 % of the service's instructions) */
        if ((ret = open_working(s, in_url, AVFMT_FLAG_IGNIDX, &r.ic)) < 0)
            goto end;
        if (c->in_place && ff_liverec_local_path(in_url, &path)) {
            ret = ff_liverec_mp4_finalize(s, r.ic, NULL, duration);
            if (ret != AVERROR_PATCHWELCOME) {
                *in_place = ret >= 0 && *duration >= 0;
                goto end;
            }
        }
        if ((ret = ff_liverec_mp4_finalize(s, r.ic, out_url, duration)) != AVERROR_PATCHWELCOME)
            goto end;
        avformat_close_input(&r.ic);        /* the remux reads it from the top, as it was */
    }
    if ((ret = open_working(s, in_url, 0, &r.ic)) < 0)
        goto end;
    if (!(r.held = av_calloc(r.ic->nb_streams, sizeof(*r.held))) ||
        !(r.last_duration = av_calloc(r.ic->nb_streams, sizeof(*r.last_duration)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    r.nb_streams = r.ic->nb_streams;
    for (int i = 0; i < r.nb_streams; i++)
        if (!(r.held[i] = av_packet_alloc())) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
    if (!out_url)
        goto read;
    if ((ret = ff_liverec_nested_alloc(s, &r.oc, c->kind->format, out_url)) < 0)
        goto end;
    for (int i = 0; i < r.ic->nb_streams; i++) {
        AVStream *st = avformat_new_stream(r.oc, NULL);
        if (!st) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        if ((ret = avcodec_parameters_copy(st->codecpar, r.ic->streams[i]->codecpar)) < 0)
            goto end;
        st->codecpar->codec_tag = 0;
        st->time_base = r.ic->streams[i]->time_base;
    }
    if ((ret = s->io_open(s, &r.oc->pb, out_url, AVIO_FLAG_WRITE, NULL)) < 0) {
        av_log(s, AV_LOG_ERROR, "Cannot open '%s' for writing: %s\n", out_url, av_err2str(ret));
        goto end;
    }
    if ((ret = set_options(s, &opts, c->kind->final_opts)) < 0 ||
        (ret = avformat_write_header(r.oc, &opts)) < 0)
        goto end;
read:
    for (;;) {
        int i;
        ret = av_read_frame(r.ic, pkt);
        if (ret < 0) {
            /* the end of a file cut short by a crash is its end */
            if (ret != AVERROR_EOF)
                av_log(s, AV_LOG_WARNING, "'%s' ends early (%s): keeping what is complete\n",
                       in_url, av_err2str(ret));
            break;
        }
        i = pkt->stream_index;
        if (i >= r.nb_streams) {
            /* a stream that appeared after the header (FLV): there is no output for it */
            av_packet_unref(pkt);
            continue;
        }
        if ((ret = write_held(&r, i, pkt)) < 0)
            goto end;
        av_packet_move_ref(r.held[i], pkt);
    }
    for (int i = 0; i < r.nb_streams; i++)
        if ((ret = write_held(&r, i, NULL)) < 0)
            goto end;
    ret = r.oc ? av_write_trailer(r.oc) : 0;
    *duration = r.first == AV_NOPTS_VALUE ? -1 : FFMAX(av_sat_sub64(r.end, r.first), 0);
end:
    av_dict_free(&opts);
    av_packet_free(&pkt);
    for (int i = 0; r.held && i < r.nb_streams; i++)
        av_packet_free(&r.held[i]);
    av_freep(&r.held);
    av_freep(&r.last_duration);
    ff_liverec_nested_free(s, &r.oc);
    avformat_close_input(&r.ic);
    return ret;
}

/*
 * A fragmented MP4 working file that a failed write cut short ends inside a fragment: cut it after
 * its last whole top-level box that ends media (mdat, or moov before any), so that it ends with a
 * whole fragment and every player reads it to its end. Local files only. Returns 1 when the file
 * has media (an mdat box, whole or not), 0 when it has none (a kill right after its start left
 * its ftyp only), < 0 when that cannot be told.
 */
static int trim_fragments(AVFormatContext *s, const char *url)
{
    AVIOContext *pb = NULL;
    const char *path;
    int64_t size, pos = 0, keep = 0;
    int media = 0, ret;

    if (!ff_liverec_local_path(url, &path))
        return AVERROR(ENOSYS);
    if ((ret = s->io_open(s, &pb, url, AVIO_FLAG_READ, NULL)) < 0)
        return ret;
    size = avio_size(pb);
    while (pos + 8 <= size) {
        int64_t len  = avio_rb32(pb);
        uint32_t tag = avio_rl32(pb);
        if (len == 1)
            len = avio_rb64(pb);
        else if (!len && !tag && !pos) {
            /* zeros in front: room inserted for a switch in place whose note is lost; the
             * fragments after it are no file to remove */
            ff_format_io_close(s, &pb);
            return AVERROR_INVALIDDATA;
        } else if (!len)
            len = size - pos;           /* to the end of the file */
        if (pb->eof_reached)
            break;
        media |= tag == MKTAG('m','d','a','t');
        if (len < 8 || len > size - pos)
            break;
        pos += len;
        if (tag == MKTAG('m','d','a','t') || (tag == MKTAG('m','o','o','v') && !keep))
            keep = pos;
        if (avio_seek(pb, pos, SEEK_SET) != pos)
            break;
    }
    ff_format_io_close(s, &pb);
    if (keep > 0 && keep < size) {
        if (truncate(path, keep) < 0)
            av_log(s, AV_LOG_WARNING, "Cannot cut '%s' after its last whole fragment: %s\n", path,
                   av_err2str(AVERROR(errno)));
        else
            av_log(s, AV_LOG_INFO, "'%s' cut after its last whole fragment (%"PRId64" of %"PRId64
                   " bytes)\n", path, keep, size);
    }
    return media;
}

/* Give the working file work_url (started at wall-clock start) its final name and form. */
static int finalize(AVFormatContext *s, const char *work_url, const char *sid, int64_t start,
                    int64_t known_end)
{
    LiveRecSegContext *c = s->priv_data;
    AVBPrint name, url;
    char *tmp = NULL, ext[16];
    int64_t duration = 0;
    int ret, in_place = 0;

    av_bprint_init(&name, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&url, 0, AV_BPRINT_SIZE_UNLIMITED);
    snprintf(ext, sizeof(ext), ".%s", c->kind->ext);
    if (c->kind->final_opts && !(c->kind->final_in_place && known_end != AV_NOPTS_VALUE)) {
        /* remux first: the duration of a crashed file is known only after reading it */
        if (!(tmp = av_asprintf("%s.final", work_url))) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        if ((ret = remux(s, work_url, tmp, &duration, &in_place)) < 0) {
            ffurl_delete(tmp);
            av_freep(&tmp);
            if (c->kind == &kind_mp4 && ff_liverec_mp4_switch_begun(work_url)) {
                /* half switched in place: only ff_liverec_mp4_resume() may read it */
                av_log(s, AV_LOG_ERROR, "'%s' stays as it is for the next start to finish\n",
                       work_url);
                goto end;
            }
            if (c->kind == &kind_mp4 && !trim_fragments(s, work_url)) {
                duration = -1;      /* not a byte of media: removed below */
            } else {
                /* the final form needs as much space again (a full disk): the working file
                 * plays as it is (fragmented MP4, FLV), so it is the recording, not nothing */
                av_log(s, AV_LOG_WARNING, "Cannot remux '%s' (%s): the working file is kept as "
                       "the recording\n", work_url, av_err2str(ret));
                if ((ret = remux(s, work_url, NULL, &duration, &in_place)) < 0)
                    goto end;
            }
        }
        if (in_place) {
            ffurl_delete(tmp);
            av_freep(&tmp);
        }
    } else if (known_end == AV_NOPTS_VALUE) {
        if ((ret = remux(s, work_url, NULL, &duration, &in_place)) < 0)
            goto end;
    }
    if (duration < 0) {
        /* a file cut short before its first packet (a full disk or a kill at its start) is no
         * recording */
        av_log(s, AV_LOG_WARNING, "'%s' holds no media: removed, not finalized\n", work_url);
        if (tmp)
            ffurl_delete(tmp);
        ffurl_delete(work_url);
        ret = 0;
        goto end;
    }
    if (known_end == AV_NOPTS_VALUE)
        known_end = av_sat_add64(start, duration);     /* (a damaged file's times) */
    if ((ret = ff_liverec_expand_name(&name, c->vod_file_name, sid, start, known_end,
                                      c->time_zone, s)) < 0 ||
        (ret = ff_liverec_unique_url(s, &url, c->dir, name.str, ext, NULL)) < 0)
        goto end;
    if ((ret = ff_rename(tmp ? tmp : work_url, url.str, s)) < 0)
        goto end;
    if (tmp)
        ffurl_delete(work_url);
    if (in_place)
        ff_liverec_mp4_switch_end(work_url);
    av_log(s, AV_LOG_INFO, "Finalized '%s' (%.3f s)\n", url.str, (known_end - start) / 1000000.0);
    c->files_finished++;
end:
    if (ret < 0 && tmp)
        ffurl_delete(tmp);
    av_free(tmp);
    av_bprint_finalize(&name, NULL);
    av_bprint_finalize(&url, NULL);
    return ret;
}

/* Working files left by a crash: START_SID.EXT.recording, not locked by a live writer. */
static int recover(AVFormatContext *s, const char *path)
{
    LiveRecSegContext *c = s->priv_data;
    struct dirent *entry;
    char suffix[32];
    DIR *dir;
    int ret = 0;

    snprintf(suffix, sizeof(suffix), ".%s" WORK_SUFFIX, c->kind->ext);
    /* not avio_open_dir(): FFmpeg 7.1's file protocol closes fd 0 in avio_close_dir() */
    if (!(dir = opendir(path))) {
        ret = AVERROR(errno);
        av_log(s, AV_LOG_ERROR, "Cannot list the output folder '%s': %s\n", c->dir, av_err2str(ret));
        return ret;
    }
    while ((entry = readdir(dir))) {
        const char *name = entry->d_name;
        size_t len = strlen(name), slen = strlen(suffix);
        char *end, *url = NULL, *sid = NULL;
        int64_t start;
        int fd;
        size_t nlen = strlen(LIVEREC_MP4_SWITCH_SUFFIX);

        if (c->kind == &kind_mp4 && len > slen + nlen &&
            !strcmp(name + len - nlen, LIVEREC_MP4_SWITCH_SUFFIX) &&
            !memcmp(name + len - slen - nlen, suffix, slen)) {
            /* the note of a switch in place whose file was renamed before a kill removed it */
            if ((url = av_asprintf("%s%.*s", c->dir, (int)(len - nlen), name)) &&
                avio_check(url, 0) == AVERROR(ENOENT)) {
                av_log(s, AV_LOG_VERBOSE, "Removing the note of '%s': its file is final\n", url);
                ff_liverec_mp4_switch_end(url);
            }
            av_freep(&url);
            continue;
        }
        if (len <= slen || strcmp(name + len - slen, suffix))
            continue;
        start = strtoll(name, &end, 10);
        if (end == name || *end != '_' || start < 0 || end + 1 >= name + len - slen)
            continue;
        if (!(url = av_asprintf("%s%s", c->dir, name)) ||
            !(sid = av_strndup(end + 1, name + len - slen - end - 1))) {
            ret = AVERROR(ENOMEM);
        } else if ((fd = ff_liverec_lock(url, s)) >= 0) {
            av_log(s, AV_LOG_WARNING, "Finalizing '%s' left by an earlier recorder\n", url);
            ret = finalize(s, url, sid, start * 1000, AV_NOPTS_VALUE);
            ff_liverec_unlock(&fd);
            if (ret < 0)
                av_log(s, AV_LOG_ERROR, "'%s' stays as it is for the next start\n", url);
            ret = 0;
        } else if (fd != AVERROR(EBUSY)) {
            ret = fd;
        }
        av_free(url);
        av_free(sid);
        if (ret < 0)
            break;
    }
    closedir(dir);
    return ret < 0 ? ret : 0;
}

/* Finalize the working file as a crash leaves it: what is complete in it, its end read from it
 * (a file without media is removed). */
static void finalize_as_left(AVFormatContext *s)
{
    LiveRecSegContext *c = s->priv_data;

    if (finalize(s, c->work_url, c->sid, c->file_wall, AV_NOPTS_VALUE) < 0)
        av_log(s, AV_LOG_ERROR, "'%s' stays for the next start to finalize\n", c->work_url);
}

static int file_open(AVFormatContext *s, int64_t ts)
{
    LiveRecSegContext *c = s->priv_data;
    AVDictionary *opts = NULL, *io_opts = NULL;
    AVFormatContext *oc;
    const char *path;
    struct stat sb;
    int ret;

    c->file_start = c->file_end = ts;
    c->next_cut   = ts + c->record_interval;
    c->file_wall  = c->wall_base + (ts - c->ts_base);
    av_freep(&c->work_url);
    c->work_url = av_asprintf("%s%"PRId64"_%s.%s" WORK_SUFFIX, c->dir, c->file_wall / 1000,
                              c->sid, c->kind->ext);
    if (!c->work_url)
        return AVERROR(ENOMEM);
    if (c->local && ff_liverec_local_path(c->work_url, &path)) {
        c->lock_fd = ff_liverec_lock(path, s);
        if (c->lock_fd < 0) {
            av_log(s, AV_LOG_ERROR, "Cannot lock working file '%s'%s\n", c->work_url,
                   c->lock_fd == AVERROR(EBUSY) ? ": another recorder writes it" : "");
            return c->lock_fd == AVERROR(EBUSY) ? AVERROR(EEXIST) : c->lock_fd;
        }
    }

    if ((ret = ff_liverec_nested_alloc(s, &c->oc, c->kind->format, c->work_url)) < 0)
        goto fail;
    oc = c->oc;
    av_dict_copy(&oc->metadata, s->metadata, 0);
    for (int i = 0; i < s->nb_streams; i++) {
        AVStream *st;
        if (c->map[i] < 0)
            continue;
        if (!(st = ff_stream_clone(oc, s->streams[i]))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        st->codecpar->codec_tag = 0;
    }
    /* The lock created the working file. Opened again with O_TRUNC, it would be truncated, and
     * ext4 then writes a file truncated to nothing back to the disk when it is closed (its
     * auto_da_alloc, for files rewritten in place), in the recorder's thread; a file that is
     * renamed needs none of that. So an empty file is not truncated, one left with bytes is. */
    if (c->lock_fd >= 0 && !fstat(c->lock_fd, &sb) && !sb.st_size)
        av_dict_set(&io_opts, "truncate", "0", 0);
    ret = s->io_open(s, &oc->pb, c->work_url, AVIO_FLAG_WRITE, &io_opts);
    av_dict_free(&io_opts);
    if (ret < 0) {
        av_log(s, AV_LOG_ERROR, "Cannot open '%s': %s\n", c->work_url, av_err2str(ret));
        goto fail;
    }
    if ((ret = set_options(s, &opts, c->kind->work_opts)) >= 0)
        ret = avformat_write_header(oc, &opts);
    av_dict_free(&opts);
    c->nb_files++;
    if (ret < 0 || (ret = oc->pb->error) < 0)
        goto fail;
    return 0;

fail:
    /* A muxer whose header failed (a full disk) takes no packet and no trailer: it is freed, so
     * the next packet opens a new file; what was created of the working file is finalized. */
    if (c->oc) {
        int opened = !!c->oc->pb;
        ff_format_io_close(s, &c->oc->pb);
        ff_liverec_nested_free(s, &c->oc);
        if (opened)
            finalize_as_left(s);
    }
    ff_liverec_unlock(&c->lock_fd);
    return ret;
}

static int file_close(AVFormatContext *s)
{
    LiveRecSegContext *c = s->priv_data;
    int ret, ret2;

    if (!c->oc)
        return 0;
    c->base_fixed = 1;
    ret  = av_write_trailer(c->oc);
    ret2 = ff_format_io_close(s, &c->oc->pb);
    ff_liverec_nested_free(s, &c->oc);
    if (ret >= 0)
        ret = ret2;
    if (ret < 0) {
        av_log(s, AV_LOG_ERROR, "Writing '%s' failed (%s): finalizing what is complete\n",
               c->work_url, av_err2str(ret));
        finalize_as_left(s);
    } else {
        ret = finalize(s, c->work_url, c->sid, c->file_wall,
                       c->file_wall + (c->file_end - c->file_start));
    }
    ff_liverec_unlock(&c->lock_fd);
    return ret;
}

static int lrs_init(AVFormatContext *s)
{
    LiveRecSegContext *c = s->priv_data;
    AVBPrint bp;
    const char *path;
    size_t len;
    int ret;

    c->lock_fd = -1;
    c->ref     = -1;
    c->kind    = !strcmp(s->oformat->name, "liverec_aac") ? &kind_aac :
                 !strcmp(s->oformat->name, "liverec_flv") ? &kind_flv : &kind_mp4;
    len = strlen(s->url);
    if (!len) {
        av_log(s, AV_LOG_ERROR, "The output must name a folder\n");
        return AVERROR(EINVAL);
    }
    if (!(c->dir = av_asprintf("%s%s", s->url, s->url[len - 1] == '/' ? "" : "/")))
        return AVERROR(ENOMEM);
    if (avio_check(c->dir, 0) < 0) {
        av_log(s, AV_LOG_ERROR, "The output folder '%s' does not exist\n", c->dir);
        return AVERROR(ENOENT);
    }
    if ((ret = ff_liverec_check_name_template(c->vod_file_name, c->time_zone, s)) < 0)
        return ret;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (c->stream_id) {
        ff_liverec_sanitize_name(&bp, c->stream_id);
    } else {
        /* default: the folder's own name ("stream" for ".", "/" and the like) */
        char *d = av_strndup(c->dir, strlen(c->dir) - 1);
        const char *b = d ? av_basename(d) : "";
        ff_liverec_sanitize_name(&bp, strspn(b, "./") == strlen(b) ? "stream" : b);
        av_free(d);
    }
    if ((ret = av_bprint_finalize(&bp, &c->sid)) < 0)
        return ret;

    if (!(c->map = av_malloc_array(s->nb_streams, sizeof(*c->map))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < s->nb_streams; i++) {
        enum AVMediaType type = s->streams[i]->codecpar->codec_type;
        c->map[i] = -1;
        if (c->kind->audio_only && type != AVMEDIA_TYPE_AUDIO)
            continue;
        if (c->kind->audio_only && c->nb_mapped) {
            av_log(s, AV_LOG_WARNING, "Only the first audio stream is recorded into .aac\n");
            continue;
        }
        c->map[i] = c->nb_mapped++;
    }
    c->ref = ff_liverec_reference_stream(s, c->map);
    if (c->kind->audio_only && !c->nb_mapped) {
        av_log(s, AV_LOG_ERROR, "liverec_aac records the audio stream, and the input has none\n");
        return AVERROR(EINVAL);
    }
    if (c->ref < 0) {
        av_log(s, AV_LOG_ERROR, "The input has no audio or video stream to record\n");
        return AVERROR(EINVAL);
    }

    if ((ret = ff_liverec_clock(s, c->wallclock, &c->now)) < 0)
        return ret;
    c->local = ff_liverec_local_path(c->dir, &path);
    return c->local ? recover(s, path) : 0;
}

static int lrs_write_packet(AVFormatContext *s, AVPacket *pkt)
{
    LiveRecSegContext *c = s->priv_data;
    AVStream *st = s->streams[pkt->stream_index];
    int64_t ts, dur, offset;
    int ret;

    if (c->io_error)
        return AVERROR(EIO);
    if (c->map[pkt->stream_index] < 0)
        return 0;
    if (pkt->dts == AV_NOPTS_VALUE && pkt->pts == AV_NOPTS_VALUE) {
        av_log(s, AV_LOG_ERROR, "Packet without timestamps on stream %d\n", pkt->stream_index);
        return AVERROR(EINVAL);
    }
    ts  = av_rescale_q(pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts, st->time_base, AV_TIME_BASE_Q);
    dur = av_rescale_q(pkt->duration, st->time_base, AV_TIME_BASE_Q);
    if (!c->have_base) {
        c->wall_base = c->anchor = c->now;
        c->ts_base   = ts;
        c->have_base = 1;
    } else if (!c->wallclock && !c->base_fixed) {
        /* The packets buffered while the input was probed arrive in a burst at the open, later
         * ones in real time: the earliest arrival relative to its timestamp dates the media
         * best (as liverec_hls does). The first file's name is made at its end, from this. */
        int64_t cand = av_gettime() - (ts - c->ts_base);
        if (cand < c->wall_base && c->anchor - cand <= LIVEREC_MAX_WALL_CORRECTION) {
            c->wall_base = cand;
            if (c->oc)
                c->file_wall = c->wall_base + (c->file_start - c->ts_base);
        }
    }
    if (c->oc && pkt->stream_index == c->ref && (pkt->flags & AV_PKT_FLAG_KEY) && ts >= c->next_cut) {
        if ((ret = file_close(s)) < 0)
            return ret;
    }
    if (!c->oc && (ret = file_open(s, ts)) < 0) {
        /* not again for each packet the trailer flushes: the caller opens a new muxer */
        c->io_error = 1;
        return ret;
    }
    c->file_end = FFMAX(c->file_end, ts + FFMAX(dur, 0));

    /* every file starts at 0: the same offset for all streams keeps them in sync */
    offset = av_rescale_q(c->file_start, AV_TIME_BASE_Q, st->time_base);
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts -= offset;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts -= offset;
    ret = ff_write_chained(c->oc, c->map[pkt->stream_index], pkt, s, 0);
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts += offset;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts += offset;
    /* the nested muxers do not look at their output's errors: a failed write (a full disk) is
     * said now, not when the file ends */
    if (ret >= 0 && c->oc->pb && c->oc->pb->error < 0)
        ret = c->oc->pb->error;
    if (ret < 0) {
        c->io_error = 1;
        av_log(s, AV_LOG_ERROR, "Cannot write '%s': %s\n", c->work_url, av_err2str(ret));
    }
    return ret;
}

static int lrs_write_trailer(AVFormatContext *s)
{
    return file_close(s);
}

static void lrs_deinit(AVFormatContext *s)
{
    LiveRecSegContext *c = s->priv_data;

    /* an error mid-file: the working file stays for the next start to finalize */
    ff_liverec_nested_free(s, &c->oc);
    ff_liverec_unlock(&c->lock_fd);
    av_freep(&c->map);
    av_freep(&c->dir);
    av_freep(&c->sid);
    av_freep(&c->work_url);
}

#define OFFSET(x) offsetof(LiveRecSegContext, x)
#define E AV_OPT_FLAG_ENCODING_PARAM
static const AVOption options[] = {
    { "record_interval", "length of a file; the next starts at the first keyframe after it",
      OFFSET(record_interval), AV_OPT_TYPE_DURATION, { .i64 = 1800000000LL }, 1000000, 7200000000LL, E },
    { "in_place", "MP4: the working file becomes the final file where it is, its media bytes not "
      "copied, when it is local and its file system can insert a range (ext4, XFS)",
      OFFSET(in_place), AV_OPT_TYPE_BOOL, { .i64 = 1 }, 0, 1, E },
    { "files_finished", "files finalized since the muxer was opened (read only, for a caller that "
      "picks each file up as it is finished)", OFFSET(files_finished), AV_OPT_TYPE_INT64, { .i64 = 0 },
      0, INT64_MAX, E | AV_OPT_FLAG_EXPORT | AV_OPT_FLAG_READONLY },
    LIVEREC_NAMING_OPTIONS(LiveRecSegContext, "the output folder's name", "the first packet"),
    { NULL },
};

#define LIVEREC_SEG_MUXER(name_, long_name_, acodec, vcodec)                  \
static const AVClass name_ ## _class = {                                      \
    .class_name = #name_ " muxer",                                            \
    .item_name  = av_default_item_name,                                       \
    .option     = options,                                                    \
    .version    = LIBAVUTIL_VERSION_INT,                                      \
};                                                                            \
const FFOutputFormat ff_ ## name_ ## _muxer = {                               \
    .p.name         = #name_,                                                 \
    .p.long_name    = NULL_IF_CONFIG_SMALL(long_name_),                       \
    .p.audio_codec  = acodec,                                                 \
    .p.video_codec  = vcodec,                                                 \
    .p.flags        = AVFMT_NOFILE | AVFMT_GLOBALHEADER | AVFMT_VARIABLE_FPS, \
    .p.priv_class   = &name_ ## _class,                                       \
    .priv_data_size = sizeof(LiveRecSegContext),                              \
    .init           = lrs_init,                                               \
    .write_packet   = lrs_write_packet,                                       \
    .write_trailer  = lrs_write_trailer,                                      \
    .deinit         = lrs_deinit,                                             \
};

#if CONFIG_LIVEREC_MP4_MUXER
LIVEREC_SEG_MUXER(liverec_mp4, "liverec MP4 recording, one file per interval", AV_CODEC_ID_AAC, AV_CODEC_ID_H264)
#endif
#if CONFIG_LIVEREC_FLV_MUXER
LIVEREC_SEG_MUXER(liverec_flv, "liverec FLV recording, one file per interval", AV_CODEC_ID_AAC, AV_CODEC_ID_H264)
#endif
#if CONFIG_LIVEREC_AAC_MUXER
LIVEREC_SEG_MUXER(liverec_aac, "liverec AAC recording, one file per interval", AV_CODEC_ID_AAC, AV_CODEC_ID_NONE)
#endif
