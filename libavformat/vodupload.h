/*
 * vodupload: the protocol's context, shared by its files
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

#ifndef AVFORMAT_VODUPLOAD_H
#define AVFORMAT_VODUPLOAD_H

#include <limits.h>
#include <stdint.h>
#include <curl/curl.h>

#include "libavutil/bprint.h"
#include "libavutil/log.h"
#include "libavutil/thread.h"
#include "s3.h"

#define MIN_PART_SIZE      (5LL << 20)
#define MAX_PART_SIZE      (INT_MAX & ~((1 << 20) - 1))  /* av_malloc's limit, whole MiB */
#define MAX_PARTS          10000   ///< S3's limit; max_part_count may lower it (Swift: 1000)
#define JOURNAL_MAGIC      "vodupload-journal 1"

typedef struct Part {
    int64_t size;
    uint8_t md5[16];          ///< of the data, computed while it was written
    char etag[80];            ///< as the server returned it (not always an MD5: SSE-KMS, ...)
    int listed;               ///< resuming: the server lists this journaled part (1), or this
                              ///< part the journal did not list (2)
} Part;

typedef struct Worker {
    struct VodUploadContext *c;
    pthread_t thread;
    CURL *curl;
    uint8_t *buf;             ///< the part it uploads; once done, the next part's fill buffer
    int64_t cap;              ///< allocated bytes of buf
    int job;                  ///< part number to upload, 0 when idle
} Worker;

typedef struct VodUploadContext {
    const AVClass *class;

    /* options */
    char *access_key;
    char *secret_key;
    char *region;
    int64_t part_size;
    int parts_in_flight;
    int max_part_count;
    int64_t max_buffer;
    int verify_etag;
    int max_retries;
    int64_t retry_delay;
    int64_t timeout;
    char *content_type;
    char *journal;

    /* the object */
    char *endpoint;           ///< scheme://host[:port]
    char *bucket;
    char *key;                ///< the key as written in the URL (not percent-decoded), may be empty
    char *name;               ///< "bucket/key" for messages
    CURL *curl;               ///< used by the caller's thread
    S3Client s3;              ///< how requests are made (the worker's too)
    int journal_off;          ///< the journal could not be written: go on without it

    /* writing */
    uint8_t *fill;            ///< part being filled
    int64_t fill_cap;         ///< allocated bytes of fill
    int64_t fill_target;      ///< size of the part being filled (part_bytes())
    int64_t fill_len;
    struct AVMD5 *md5;        ///< MD5 of the part being filled
    int64_t written;
    int nb_parts;             ///< parts handed to the workers (or skipped as already uploaded)
    int parts_size;           ///< allocated entries of parts
    Part *parts;              ///< with lock held once the workers run (they set the ETags)
    char *upload_id;          ///< set before the first part is handed off, then read only
    int failed;               ///< AVERROR of the first failure, 0 if none
    Worker *workers;
    int nb_workers;           ///< threads running
    pthread_mutex_t lock;     ///< guards parts, the workers' jobs, worker_err, quit, the journal
    pthread_cond_t cond;
    int quit;
    int worker_err;           ///< the first error of a worker, 0 if none
    Part *resume;             ///< parts the journal lists and the server still has
    int nb_resume;

    /* reading */
    int64_t size;
    int64_t pos;
    uint8_t *rbuf;
    int64_t rbuf_pos;
    int rbuf_len;
    char read_etag[80];       ///< ETag at open: every ranged GET must see the same object
} VodUploadContext;

/** sum as 32 lowercase hex digits and a 0 into hex[33]. */
void ff_vodupload_md5_hex(const uint8_t *sum, char *hex);

/** Whether etag (quoted or not, any case) is the MD5 sum. */
int ff_vodupload_etag_is_md5(const char *etag, const uint8_t *sum);

/** Whether s is 1 to max printable characters, none of them a space. */
int ff_vodupload_valid_token(const char *s, int max);

/** Save the upload id and the finished parts (c->parts) in c->journal, if there is one. */
void ff_vodupload_journal_write(VodUploadContext *c);

void ff_vodupload_journal_remove(VodUploadContext *c);

/** Read c->journal: 1 and c->upload_id + c->resume set if it describes this object, else 0. */
int ff_vodupload_journal_read(VodUploadContext *c);

/**
 * One page of a ListParts reply against the journal's parts (c->resume); *next = the next page's
 * marker, 0 if this was the last page.
 */
int ff_vodupload_parse_list_parts(VodUploadContext *c, const AVBPrint *reply, int *next);

/** Keep only the journal's parts that the server still has (ListParts, every page). */
int ff_vodupload_resume_check(VodUploadContext *c);

#endif /* AVFORMAT_VODUPLOAD_H */
