/*
 * Fuzz liverec_mp4's finalizing of a working file a crash left (liverec_mp4final.c)
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
 * A recorder finalizes the working files it finds in its folder (START_SID.mp4.recording) when it
 * starts: anything could be there. The input is such a file; a liverec_mp4 muxer is opened on the
 * folder and closed. Its fragments' index (moof, traf, tfhd, tfdt, trun) is read by
 * liverec_mp4final.c; what it cannot take goes to the remux, as before. Every file it writes
 * must stay in that folder.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libavutil/dict.h"
#include "libavutil/log.h"
#include "libavformat/avformat.h"

#include "liverec_fuzz.h"

static char dir[64], work[128];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the folder goes with the process */
static void cleanup(void)
{
    liverec_fuzz_remove_tree(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(getenv("FUZZ_VERBOSE") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    snprintf(dir, sizeof(dir), "%s/liverec-fuzz-mp4-%d", liverec_fuzz_tmpdir(), (int)getpid());
    snprintf(work, sizeof(work), "%s/1790000000000_cam.mp4.recording", dir);
    mkdir(dir, 0700);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AVFormatContext *oc = NULL;
    AVDictionary *opts = NULL;
    char url[96];
    AVStream *st;
    FILE *f;

    liverec_fuzz_empty_dir(dir);
    if (!(f = fopen(work, "wb")) || fwrite(data, 1, size, f) != size || fclose(f))
        abort();
    /* an input whose last byte is odd comes with the note of a switch in place that a kill
     * interrupted (liverec_mp4final.c): its first 4 KiB (or 8) as the room inserted, or (bit 1)
     * the note of a switch not begun */
    if (size > 8192 && (data[size - 1] & 1)) {
        size_t room = data[size - 1] & 4 ? 8192 : 4096;
        snprintf(url, sizeof(url), "%s.switch", work);
        if (!(f = fopen(url, "w")) ||
            fprintf(f, "%zu %zu\n", data[size - 1] & 2 ? size : size - room, room) < 0 || fclose(f))
            abort();
    }
    snprintf(url, sizeof(url), "%s/", dir);
    if (avformat_alloc_output_context2(&oc, NULL, "liverec_mp4", url) < 0)
        return 0;
    if (!(st = avformat_new_stream(oc, NULL)))
        goto end;
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id   = AV_CODEC_ID_MPEG4;
    st->codecpar->width      = 64;
    st->codecpar->height     = 48;
    st->time_base            = (AVRational){ 1, 25 };
    av_dict_set(&opts, "stream_id", "next", 0);
    av_dict_set(&opts, "wallclock", "2026-01-01T00:00:10Z", 0);
    if (avformat_write_header(oc, &opts) >= 0)
        av_write_trailer(oc);
end:
    av_dict_free(&opts);
    avformat_free_context(oc);
    return 0;
}
