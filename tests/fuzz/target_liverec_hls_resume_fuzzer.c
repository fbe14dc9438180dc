/*
 * Fuzz liverec_hls's resume parsers: its sidecar state file and its working playlist
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
 * A recording left by an earlier process (or a crash) is resumed from two files anyone could have
 * edited: cam.m3u8.liverec and cam.m3u8. The input is the sidecar, a line "--playlist--", then
 * the playlist. The muxer is opened on them in a folder of this process's own, as a new push
 * within the splice window would open it, and closed: finalized (the input's last byte odd) or
 * left open for splicing. Every file it touches must stay in that folder.
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

static char dir[64], playlist[96], state[96];

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
    snprintf(dir, sizeof(dir), "%s/liverec-fuzz-hls-%d", liverec_fuzz_tmpdir(), (int)getpid());
    snprintf(playlist, sizeof(playlist), "%s/cam.m3u8", dir);
    snprintf(state, sizeof(state), "%s/cam.m3u8.liverec", dir);
    mkdir(dir, 0700);
    atexit(cleanup);
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n--playlist--\n";
    const uint8_t *split = memmem(data, size, sep, sizeof(sep) - 1);
    size_t state_size = split ? split - data : size;
    AVFormatContext *oc = NULL;
    AVDictionary *opts = NULL;
    AVStream *st;

    liverec_fuzz_empty_dir(dir);
    write_file(state, data, state_size);
    if (split)
        write_file(playlist, split + sizeof(sep) - 1, size - state_size - (sizeof(sep) - 1));
    /* the files the playlist names (plain names only, at most 64), so that resuming finds them */
    if (split) {
        const char *p = (const char *)split + sizeof(sep) - 1, *end = (const char *)data + size;
        for (int n = 0; p < end && n < 64; n++) {
            const char *nl = memchr(p, '\n', end - p);
            size_t len = (nl ? nl : end) - p;
            char path[256];
            int plain = len && len < 100 && p[0] != '#' && p[0] != '.';
            for (size_t i = 0; plain && i < len; i++)   /* (the input is not 0-terminated) */
                plain = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
                        (p[i] >= '0' && p[i] <= '9') || p[i] == '_' || p[i] == '-' || p[i] == '.';
            if (plain) {
                snprintf(path, sizeof(path), "%s/%.*s", dir, (int)len, p);
                write_file(path, (const uint8_t *)"G", 1);
            }
            p = nl ? nl + 1 : end;
        }
    }
    if (avformat_alloc_output_context2(&oc, NULL, "liverec_hls", playlist) < 0)
        return 0;
    if (!(st = avformat_new_stream(oc, NULL)))
        goto end;
    st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    st->codecpar->codec_id   = AV_CODEC_ID_MPEG4;
    st->codecpar->width      = 64;
    st->codecpar->height     = 48;
    st->time_base            = (AVRational){ 1, 25 };
    av_dict_set(&opts, "splice_timeout", "60", 0);
    av_dict_set(&opts, "wallclock", "2026-01-01T00:00:10Z", 0);
    if (size && data[size - 1] & 1)
        av_dict_set(&opts, "final", "1", 0);
    if (avformat_write_header(oc, &opts) >= 0)
        av_write_trailer(oc);
end:
    av_dict_free(&opts);
    avformat_free_context(oc);
    return 0;
}
