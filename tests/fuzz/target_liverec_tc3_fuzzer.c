/*
 * Fuzz the check of the cloud API's signature (TC3-HMAC-SHA256) and its credentials file
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
 * The input is a request as lines: Authorization, X-TC-Timestamp, Host, Content-Type,
 * X-TC-Action, then the body (the rest, any bytes). A first byte of 'C' makes the whole input a
 * credentials file instead. Every answer must come with a code and a printable reason.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/log.h"
#include "libavutil/error.h"
#include "libavutil/mem.h"

#include "fftools/ffliverec_serve.h"

#define NOW 1796000000

static LiveRecCredentials *creds;
static char cred_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cleanup(void)
{
    unlink(cred_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(getenv("FUZZ_VERBOSE") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    setenv("LIVEREC_SECRET_ID", "AKIDfuzz", 1);
    setenv("LIVEREC_SECRET_KEY", "fuzz-secret-key", 1);
    if (ff_liverec_credentials_load(&creds, NULL) != 1)
        abort();
    snprintf(cred_path, sizeof(cred_path), "/tmp/liverec-fuzz-credentials-%d", (int)getpid());
    atexit(cleanup);
    return 0;
}

typedef struct Request {
    const char *field[5];
} Request;

static const char *header(void *opaque, const char *name)
{
    static const char *const names[] = {
        "Authorization", "X-TC-Timestamp", "Host", "Content-Type", "X-TC-Action",
    };
    Request *r = opaque;
    for (int i = 0; i < 5; i++)
        if (!av_strcasecmp(name, names[i]))
            return r->field[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy, *p;
    Request r = { { 0 } };
    const char *code = NULL;
    AVBPrint why;
    int ret;

    if (size && data[0] == 'C') {
        LiveRecCredentials *c = NULL;
        FILE *f = fopen(cred_path, "wb");
        if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f))
            abort();
        chmod(cred_path, 0600);
        ff_liverec_credentials_load(&c, cred_path);
        ff_liverec_credentials_free(&c);
        return 0;
    }
    if (!(copy = av_malloc(size + 1)))
        return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    p = copy;
    for (int i = 0; i < 5 && p; i++) {
        char *nl = memchr(p, '\n', copy + size - p);
        r.field[i] = p;
        if (nl)
            *nl = 0;
        p = nl ? nl + 1 : NULL;
    }
    av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
    ret = ff_liverec_tc3_verify(creds, "POST", "/", "", header, &r, p ? p : "",
                                p ? copy + size - p : 0, NOW, &code, &why);
    if (ret < 0 && ret != AVERROR(ENOMEM)) {
        if (!code || !why.len)
            abort();
        for (unsigned i = 0; i < why.len; i++)
            if (why.str[i] < 0x20 || why.str[i] > 0x7e)
                abort();        /* the reason goes into a reply and a log line */
    }
    av_bprint_finalize(&why, NULL);
    av_free(copy);
    return 0;
}
