/*
 * ffliverec: what the streams of a live FLV input are, from their headers, without decoding
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
 * A recording copies the streams: it needs their codecs, their headers (extradata), a video's
 * size and an audio's rate and channels, and nothing a decoder finds beyond that.
 * avformat_find_stream_info() opens a decoder per stream, decodes the first frames and closes
 * the decoders again; for a 720p H.264 + AAC push that is most of what starting a session costs
 * (allocating and clearing the decoders' contexts and a frame's buffers). An FLV input (an RTMP
 * play) says all the recording needs in its sequence headers: the demuxer reads the audio's
 * from its AudioSpecificConfig, and the codec's parser reads the video's size from the first
 * frame's parameter sets. The packets read meanwhile are kept and handed out first.
 *
 * A stream this cannot settle (a codec without a parser, a keyframe the parser learns nothing
 * from, an audio codec whose frame size it does not know) is left to
 * avformat_find_stream_info(), which then reads on from there.
 */

#include "libavcodec/avcodec.h"
#include "libavformat/avformat.h"
#include "libavutil/fifo.h"
#include "libavutil/mem.h"

#include "ffliverec.h"

/* what avformat_find_stream_info() reads at most by default: 5 s of the input */
#define PROBE_DURATION (5 * AV_TIME_BASE)
/* and packets kept: 5 s of 120 fps video and 48 kHz AAC are 835; an input whose timestamps do
 * not move or whose packets are tiny is not kept without bound */
#define PROBE_PACKETS  4096

typedef struct StreamProbe {
    AVCodecParserContext *parser;       ///< a video's, until its size is known
    AVCodecContext *avctx;              ///< the parser's
    int known;                          ///< what a recording needs is in the stream's codecpar
} StreamProbe;

struct LiveRecProbe {
    AVFifo *queue;                      ///< AVPacket *: read while probing, not handed out yet
};

static void stream_probe_uninit(StreamProbe *sp)
{
    av_parser_close(sp->parser);
    sp->parser = NULL;
    avcodec_free_context(&sp->avctx);
}

/* Returns 1 when the stream is known now, 0 when more packets are needed, AVERROR(ENOSYS)
 * when only decoding can tell, another negative AVERROR on failure. */
static int probe_video(AVStream *st, StreamProbe *sp, const AVPacket *pkt)
{
    AVCodecParameters *par = st->codecpar;
    uint8_t *out;
    int ret, out_size;

    if (par->codec_id == AV_CODEC_ID_NONE)
        return 0;
    if (!sp->parser) {
        /* the FLV demuxer has the sequence header (extradata) before the first frame */
        if (!(sp->parser = av_parser_init(par->codec_id)))
            return AVERROR(ENOSYS);
        sp->parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
        if (!(sp->avctx = avcodec_alloc_context3(NULL)))
            return AVERROR(ENOMEM);
        if ((ret = avcodec_parameters_to_context(sp->avctx, par)) < 0)
            return ret;
    }
    av_parser_parse2(sp->parser, sp->avctx, &out, &out_size, pkt->data, pkt->size,
                     pkt->pts, pkt->dts, pkt->pos);
    if (sp->parser->width <= 0 || sp->parser->height <= 0)
        return pkt->flags & AV_PKT_FLAG_KEY ? AVERROR(ENOSYS) : 0;
    par->width  = sp->parser->width;
    par->height = sp->parser->height;
    if (sp->parser->format >= 0)
        par->format = sp->parser->format;
    if (par->field_order == AV_FIELD_UNKNOWN)
        par->field_order = sp->parser->field_order;
    if (par->profile == AV_PROFILE_UNKNOWN)
        par->profile = sp->avctx->profile;
    if (par->level == AV_LEVEL_UNKNOWN)
        par->level = sp->avctx->level;
    stream_probe_uninit(sp);
    return 1;
}

static int probe_audio(AVStream *st)
{
    AVCodecParameters *par = st->codecpar;

    /* the AAC sequence header comes before the first frame; until then the rate and channels
     * are the FLV tag's, which for AAC are always 44.1 kHz stereo */
    if (par->codec_id == AV_CODEC_ID_NONE || (par->codec_id == AV_CODEC_ID_AAC && !par->extradata))
        return 0;
    if (par->sample_rate <= 0 || par->ch_layout.nb_channels <= 0)
        return 0;
    /* what the decoder would say: 1024 for AAC (2048 for HE-AAC, counted at the doubled rate),
     * 1152 for MP3 (576 below 32 kHz). The muxers use it to tell compressed audio from PCM and,
     * for a stream of audio alone, to space MPEG-TS clock references. */
    if (!par->frame_size) {
        if (par->codec_id == AV_CODEC_ID_AAC)
            par->frame_size = 1024;
        else if (par->codec_id == AV_CODEC_ID_MP3)
            par->frame_size = par->sample_rate >= 32000 ? 1152 : 576;
        else
            return AVERROR(ENOSYS);
    }
    return 1;
}

static int probe_stream(AVStream *st, StreamProbe *sp, const AVPacket *pkt)
{
    switch (st->codecpar->codec_type) {
    case AVMEDIA_TYPE_VIDEO:
        return probe_video(st, sp, pkt);
    case AVMEDIA_TYPE_AUDIO:
        return probe_audio(st);
    default:
        /* data and subtitles need nothing more (as for avformat_find_stream_info()) */
        return 1;
    }
}

static int all_known(const AVFormatContext *ic, const StreamProbe *sp, unsigned nb_sp)
{
    if (!ic->nb_streams)
        return 0;
    for (unsigned i = 0; i < ic->nb_streams; i++) {
        enum AVMediaType type = ic->streams[i]->codecpar->codec_type;
        if ((type == AVMEDIA_TYPE_VIDEO || type == AVMEDIA_TYPE_AUDIO) &&
            (i >= nb_sp || !sp[i].known))
            return 0;
    }
    return 1;
}

int ff_liverec_probe_streams(AVFormatContext *ic, LiveRecProbe **probe)
{
    LiveRecProbe *p;
    StreamProbe *sp = NULL;
    AVPacket *pkt = av_packet_alloc();
    unsigned nb_sp = 0, nb_pkts = 0;
    int64_t first = INT64_MAX, bytes = 0;
    int64_t limit = ic->max_analyze_duration > 0 ? ic->max_analyze_duration : PROBE_DURATION;
    int ret = 0, decode = 0, eof = 0;

    if (!(p = *probe = av_mallocz(sizeof(*p))) || !pkt ||
        !(p->queue = av_fifo_alloc2(64, sizeof(AVPacket *), AV_FIFO_FLAG_AUTO_GROW))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    /* until every stream is there (the demuxer says so once it has audio and video) and known,
     * or 5 s (ic's max_analyze_duration), ic's probesize or PROBE_PACKETS of the input were
     * read: a push of one stream, or a stream whose headers are slow to come */
    while ((ic->ctx_flags & AVFMTCTX_NOHEADER) || !all_known(ic, sp, nb_sp)) {
        AVPacket *copy;
        int past = 0;

        if ((ret = av_read_frame(ic, pkt)) < 0) {
            if (ret == AVERROR_EOF) {
                eof = 1;
                ret = 0;
            }
            break;
        }
        if (nb_sp < ic->nb_streams) {
            StreamProbe *n = av_realloc_array(sp, ic->nb_streams, sizeof(*sp));
            if (!n) {
                av_packet_unref(pkt);
                ret = AVERROR(ENOMEM);
                break;
            }
            memset(n + nb_sp, 0, (ic->nb_streams - nb_sp) * sizeof(*n));
            sp = n;
            nb_sp = ic->nb_streams;
        }
        if (!sp[pkt->stream_index].known) {
            ret = probe_stream(ic->streams[pkt->stream_index], &sp[pkt->stream_index], pkt);
            if (ret == AVERROR(ENOSYS)) {
                decode = 1;
                ret = 0;
            } else if (ret > 0) {
                sp[pkt->stream_index].known = 1;
                ret = 0;
            }
        }
        bytes += pkt->size;
        if (pkt->dts != AV_NOPTS_VALUE) {
            int64_t t = av_rescale_q(pkt->dts, ic->streams[pkt->stream_index]->time_base,
                                     AV_TIME_BASE_Q);
            first = FFMIN(first, t);
            past  = t - first >= limit;
        }
        if (!(copy = av_packet_alloc())) {
            av_packet_unref(pkt);
            ret = AVERROR(ENOMEM);
            break;
        }
        av_packet_move_ref(copy, pkt);
        if (ret < 0 || (ret = av_fifo_write(p->queue, &copy, 1)) < 0) {
            av_packet_free(&copy);
            break;
        }
        if (decode || past || bytes >= ic->probesize || ++nb_pkts >= PROBE_PACKETS)
            break;
    }
    if (ret >= 0 && !eof && !all_known(ic, sp, nb_sp)) {
        av_log(NULL, AV_LOG_VERBOSE, "the stream headers do not say everything a recording "
               "needs: decoding the first frames\n");
        ret = avformat_find_stream_info(ic, NULL);
    }
end:
    for (unsigned i = 0; i < nb_sp; i++)
        stream_probe_uninit(&sp[i]);
    av_free(sp);
    av_packet_free(&pkt);
    if (ret < 0)
        ff_liverec_probe_free(probe);
    return ret;
}

int ff_liverec_probe_read(AVFormatContext *ic, LiveRecProbe **probe, AVPacket *pkt)
{
    AVPacket *queued;

    if (*probe && av_fifo_read((*probe)->queue, &queued, 1) >= 0) {
        av_packet_move_ref(pkt, queued);
        av_packet_free(&queued);
        return 0;
    }
    ff_liverec_probe_free(probe);
    return av_read_frame(ic, pkt);
}

void ff_liverec_probe_free(LiveRecProbe **probe)
{
    LiveRecProbe *p = *probe;
    AVPacket *queued;

    if (!p)
        return;
    while (p->queue && av_fifo_read(p->queue, &queued, 1) >= 0)
        av_packet_free(&queued);
    av_fifo_freep2(&p->queue);
    av_freep(probe);
}
