/*
 * S3 requests for the vodupload protocol
 *
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

#ifndef AVFORMAT_S3_H
#define AVFORMAT_S3_H

#include <stdint.h>
#include <curl/curl.h>
#include <libxml/tree.h>

#include "libavutil/bprint.h"
#include "avio.h"

#define S3_MAX_XML_REPLY    (1 << 20)     ///< the longest reply read, but for ranged GETs
#define S3_MAX_RETRY_DELAY  60000000LL    ///< usec: the longest wait between two attempts

/** Where requests go and how they are made; shared read-only by the threads that use it. */
typedef struct S3Client {
    void *log_ctx;              ///< messages are logged with it (an AVClass context)
    const char *name;           ///< "bucket/key" in messages
    const char *endpoint;       ///< scheme://host[:port]
    const char *access_key;     ///< NULL: $AWS_ACCESS_KEY_ID
    const char *secret_key;     ///< NULL: $AWS_SECRET_ACCESS_KEY
    char sigv4[128];            ///< set by ff_s3_set_region()
    int max_retries;
    int64_t retry_delay;        ///< usec before the first retry, doubled for each next one
    int64_t timeout;            ///< usec: connect timeout, and the longest time without progress
    AVIOInterruptCB icb;        ///< checked during every request and every wait
} S3Client;

/* One HTTP request and what came back. */
typedef struct S3Request {
    const char *method;
    const char *bucket;
    const char *key;           ///< NULL or "" for the bucket
    const char *query;         ///< already encoded, without '?'
    const uint8_t *body;
    size_t body_size;
    size_t body_pos;
    const char *content_type;
    const char *content_md5;
    const char *copy_source;   ///< already encoded
    const char *if_match;      ///< ETag the object must have (ranged reads)
    int error_in_200;          ///< S3 may answer 200 with an <Error> body (Complete, Copy)
    int64_t range_start;       ///< -1: no Range
    int64_t range_end;
    size_t reply_max;
    AVBPrint reply;
    long status;
    char etag[80];
    int64_t length;            ///< Content-Length of a HEAD, -1 if unknown
    char code[64];             ///< S3 error code of the last failed attempt, "" if none
    int too_big;
} S3Request;

/** libcurl's and libxml2's global set-up, once per process. */
int ff_s3_init(void *log_ctx);

/** The SigV4 scope of region: region, else $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1. */
int ff_s3_set_region(S3Client *cl, const char *region);

/** A request with no body, no Range, replies up to S3_MAX_XML_REPLY; free r->reply after. */
void ff_s3_request_init(S3Request *r, const char *method, const char *bucket, const char *key);

/**
 * Perform r on curl, with retries. Returns 0 on a 2xx (without an <Error> body where
 * r->error_in_200), AVERROR(ENOENT) on a 404 when ok_404, AVERROR_EXIT when interrupted, else
 * an AVERROR (the HTTP status's) after logging what and S3's code and message.
 */
int ff_s3_request(S3Client *cl, CURL *curl, S3Request *r, const char *what, int ok_404);

/**
 * The S3 error code and message of a failed reply into r->code and msg ("" if none). A 2xx
 * counts as failed only for requests that S3 may answer with 200 and an <Error> body.
 */
void ff_s3_reply_error(S3Request *r, char *msg, int msg_size);

/** An S3 XML reply, NULL if it is none (or declares a DTD: entities are not expanded). */
xmlDocPtr ff_s3_xml_parse(const AVBPrint *bp);

/** The text of the first element called name below parent into buf; "" if absent. */
void ff_s3_xml_text(xmlNodePtr parent, const char *name, char *buf, int size);

/**
 * Percent-encode everything but the unreserved characters (and '/' when keep_slash), as SigV4
 * requires for the canonical URI and query.
 */
void ff_s3_uri_encode(AVBPrint *bp, const char *s, int keep_slash);

/** The Content-Type for key's extension (application/octet-stream if none is known). */
const char *ff_s3_content_type(const char *key);

#endif /* AVFORMAT_S3_H */
