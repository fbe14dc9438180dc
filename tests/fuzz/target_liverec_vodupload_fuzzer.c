/*
 * Fuzz vodupload's readers of what comes from outside: its journal and S3's replies
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
 * Some of the protocol's readers are private to their files, so the files are compiled into this
 * target (as FFmpeg's own tests/ do with theirs). The input is up to five parts, each ending at a line "--":
 *   1. a journal, as a crash left it, read for the object http://127.0.0.1:9/b/k;
 *   2. a ListParts reply, checked against the journal's parts;
 *   3. an S3 reply read for its <Error> (the first byte picks the HTTP status and whether a 200
 *      may carry an error);
 *   4. reply header lines, read for the ETag;
 *   5. a CreateMultipartUpload reply, read for its UploadId.
 * What is read must hold what the protocol relies on (else abort()), and a journal that was read
 * must come back the same after the protocol writes it again.
 */

#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "libavformat/s3.c"
#include "libavformat/vodupload.c"
#include "libavformat/vodupload_resume.c"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], journal[96], journal2[96];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void cleanup(void)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct stat st;

    av_log_set_level(getenv("FUZZ_VERBOSE") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    /* the journal is fsync()ed: on tmpfs that costs nothing */
    snprintf(dir, sizeof(dir), "%s/liverec-fuzz-vodupload-%d",
             stat("/dev/shm", &st) ? "/tmp" : "/dev/shm", (int)getpid());
    snprintf(journal, sizeof(journal), "%s/journal", dir);
    snprintf(journal2, sizeof(journal2), "%s/journal2", dir);
    if (mkdir(dir, 0700) < 0)
        abort();
    atexit(cleanup);
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        abort();
}

/* The next part of the input: up to a line "--" or the end. */
static const uint8_t *next_part(const uint8_t **p, const uint8_t *end, size_t *len)
{
    const uint8_t *start = *p, *s = start;

    while (s + 4 <= end && memcmp(s, "\n--\n", 4))
        s++;
    if (s + 4 > end) {
        *len = end - start;
        *p   = end;
    } else {
        *len = s - start;
        *p   = s + 4;
    }
    return start;
}

static void context_init(VodUploadContext *c, const char *journal_path)
{
    memset(c, 0, sizeof(*c));
    c->class    = &vodupload_class;
    c->journal  = (char *)journal_path;
    c->endpoint = (char *)"http://127.0.0.1:9";
    c->bucket   = (char *)"b";
    c->key      = (char *)"k";
    c->name     = (char *)"b/k";
}

static void context_uninit(VodUploadContext *c)
{
    av_freep(&c->upload_id);
    av_freep(&c->resume);
    av_freep(&c->parts);
}

/* What ff_vodupload_journal_read() promises the upload. */
static void check_journal(const VodUploadContext *c)
{
    if (!c->upload_id || !ff_vodupload_valid_token(c->upload_id, 500) || c->nb_resume < 0 || c->nb_resume > MAX_PARTS)
        abort();
    for (int i = 0; i < c->nb_resume; i++)
        if (c->resume[i].size <= 0 || c->resume[i].size > MAX_PART_SIZE ||
            !ff_vodupload_valid_token(c->resume[i].etag, 78))
            abort();
}

/* The journal read back after ff_vodupload_journal_write() of what was read: the same upload. */
static void journal_round_trip(VodUploadContext *c)
{
    VodUploadContext c2;

    if (!(c->parts = av_calloc(FFMAX(c->nb_resume, 1), sizeof(*c->parts))))
        abort();
    if (c->nb_resume)
        memcpy(c->parts, c->resume, c->nb_resume * sizeof(*c->parts));
    c->nb_parts = c->nb_resume;
    c->journal  = journal2;
    ff_vodupload_journal_write(c);
    c->journal  = journal;
    if (c->journal_off)
        abort();
    context_init(&c2, journal2);
    if (ff_vodupload_journal_read(&c2) != 1 || strcmp(c2.upload_id, c->upload_id) || c2.nb_resume != c->nb_resume)
        abort();
    for (int i = 0; i < c->nb_resume; i++)
        if (c2.resume[i].size != c->resume[i].size || memcmp(c2.resume[i].md5, c->resume[i].md5, 16) ||
            strcmp(c2.resume[i].etag, c->resume[i].etag))
            abort();
    context_uninit(&c2);
}

static void reply_set(S3Request *r, const uint8_t *data, size_t len)
{
    av_bprint_append_data(&r->reply, (const char *)data, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = { 200, 400, 403, 404, 409, 500, 503, 206 };
    const uint8_t *p = data, *end = data + size, *part;
    VodUploadContext c;
    S3Request r;
    char msg[256], id[512];
    int next = -1;
    uint8_t flags;
    size_t len;

    /* 1. the journal */
    part = next_part(&p, end, &len);
    write_file(journal, part, len);
    context_init(&c, journal);
    if (ff_vodupload_journal_read(&c) == 1) {
        check_journal(&c);
        journal_round_trip(&c);
    } else if (c.upload_id || c.resume || c.nb_resume) {
        abort();   /* a refused journal leaves nothing behind */
    }

    /* 2. a ListParts page against the journal's parts: every part it keeps has a size, a
     *    part number within the limit and an ETag that fits */
    part = next_part(&p, end, &len);
    ff_s3_request_init(&r, "GET", c.bucket, c.key);
    reply_set(&r, part, len);
    if (ff_vodupload_parse_list_parts(&c, &r.reply, &next) >= 0) {
        if (c.nb_resume > MAX_PARTS)
            abort();
        for (int i = 0; i < c.nb_resume; i++) {
            const Part *q = &c.resume[i];
            if ((unsigned)q->listed > 2 ||
                (q->listed && (q->size <= 0 || q->size > MAX_PART_SIZE ||
                               !memchr(q->etag, 0, sizeof(q->etag)))))
                abort();
        }
    }
    av_bprint_finalize(&r.reply, NULL);

    /* 3. an error reply */
    part  = next_part(&p, end, &len);
    flags = len ? part[0] : 0;
    ff_s3_request_init(&r, "POST", c.bucket, c.key);
    r.status       = statuses[flags & 7];
    r.error_in_200 = flags >> 3 & 1;
    if (len)
        reply_set(&r, part + 1, len - 1);
    ff_s3_reply_error(&r, msg, sizeof(msg));
    if (strnlen(r.code, sizeof(r.code)) >= sizeof(r.code) || strnlen(msg, sizeof(msg)) >= sizeof(msg) ||
        (r.status < 300 && !r.error_in_200 && r.code[0]))
        abort();
    av_bprint_finalize(&r.reply, NULL);

    /* 4. header lines */
    part = next_part(&p, end, &len);
    ff_s3_request_init(&r, "PUT", c.bucket, c.key);
    for (const uint8_t *h = part, *hend = part + len; h < hend; ) {
        const uint8_t *nl = memchr(h, '\n', hend - h);
        size_t n = nl ? nl + 1 - h : hend - h;
        /* curl hands the callback one line, not 0-terminated: exactly n bytes, so that
         * AddressSanitizer sees a read past it */
        char *line = av_malloc(FFMAX(n, 1));
        if (!line)
            abort();
        memcpy(line, h, n);
        if (header_cb(line, 1, n, &r) != n)
            abort();
        av_free(line);
        h += n;
    }
    if (strnlen(r.etag, sizeof(r.etag)) >= sizeof(r.etag))
        abort();
    ff_vodupload_etag_is_md5(r.etag, (const uint8_t *)"0123456789abcdef");
    av_bprint_finalize(&r.reply, NULL);

    /* 5. the UploadId */
    part = next_part(&p, end, &len);
    ff_s3_request_init(&r, "POST", c.bucket, c.key);
    reply_set(&r, part, len);
    parse_upload_id(&r.reply, id, sizeof(id));
    if (strnlen(id, sizeof(id)) >= sizeof(id))
        abort();
    av_bprint_finalize(&r.reply, NULL);

    context_uninit(&c);
    return 0;
}
