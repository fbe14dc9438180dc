/*
 * vodupload: what lets an upload go on after its writer restarts
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
 * The journal (the journal option) keeps the upload id and every finished part's size, MD5 and
 * ETag. A restarted writer reads it back, asks the server which of those parts it still has
 * (ListParts), and does not send again a part whose bytes come again the same. The journal and
 * the server's replies are untrusted: whatever they hold, the upload only skips parts whose
 * size and ETag the server confirms.
 */

#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>
#if HAVE_UNISTD_H
#include <unistd.h>
#endif

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/file_open.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "internal.h"
#include "os_support.h"
#include "s3.h"
#include "vodupload.h"

void ff_vodupload_md5_hex(const uint8_t *sum, char *hex)
{
    ff_data_to_hex(hex, sum, 16, 1);
    hex[32] = 0;
}

/* An ETag compared with an MD5: without quotes, any case. */
int ff_vodupload_etag_is_md5(const char *etag, const uint8_t *sum)
{
    char hex[33];
    size_t len = strlen(etag);
    ff_vodupload_md5_hex(sum, hex);
    if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
        etag++;
        len -= 2;
    }
    return len == 32 && !av_strncasecmp(etag, hex, 32);
}

/* The MD5 an ETag holds ("hex" or hex, 32 digits); 0 if it holds none (SSE-KMS, multipart). */
static int etag_md5(const char *etag, uint8_t *sum)
{
    size_t len = strlen(etag);
    if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
        etag++;
        len -= 2;
    }
    if (len != 32 || strspn(etag, "0123456789abcdefABCDEF") < 32)
        return 0;
    ff_hex_to_data(sum, etag);
    return 1;
}

/* The journal only saves work after a restart: when it cannot be written, go on without it. */
void ff_vodupload_journal_write(VodUploadContext *c)
{
    AVBPrint bp;
    char *tmp = NULL, hex[33];
    int fd, ret = 0;

    if (!c->journal || c->journal_off)
        return;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, JOURNAL_MAGIC "\nurl %s/%s\nupload_id %s\n", c->endpoint, c->name, c->upload_id);
    for (int i = 0; i < c->nb_parts && c->parts[i].etag[0]; i++) {
        ff_vodupload_md5_hex(c->parts[i].md5, hex);
        av_bprintf(&bp, "part %d %"PRId64" %s %s\n", i + 1, c->parts[i].size, hex, c->parts[i].etag);
    }
    tmp = av_asprintf("%s.tmp", c->journal);
    if (!tmp || !av_bprint_is_complete(&bp)) {
        ret = AVERROR(ENOMEM);
    } else if ((fd = avpriv_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
        ret = AVERROR(errno);
    } else {
        ssize_t n = write(fd, bp.str, bp.len);
        if (n != bp.len)
            ret = n < 0 ? AVERROR(errno) : AVERROR(EIO);
        else if (fsync(fd) < 0)
            ret = AVERROR(errno);
        if (close(fd) < 0 && ret >= 0)
            ret = AVERROR(errno);
        if (ret >= 0 && rename(tmp, c->journal) < 0)
            ret = AVERROR(errno);
    }
    if (ret < 0) {
        av_log(c, AV_LOG_WARNING, "cannot write the journal %s (%s): going on without it\n",
               c->journal, av_err2str(ret));
        c->journal_off = 1;
    }
    av_free(tmp);
    av_bprint_finalize(&bp, NULL);
}

void ff_vodupload_journal_remove(VodUploadContext *c)
{
    if (c->journal && unlink(c->journal) < 0 && errno != ENOENT)
        av_log(c, AV_LOG_WARNING, "cannot remove the journal %s: %s\n", c->journal,
               av_err2str(AVERROR(errno)));
}

int ff_vodupload_valid_token(const char *s, int max)
{
    int n = 0;
    for (; *s; s++, n++)
        if (n >= max || *s <= ' ' || *s > '~')
            return 0;
    return n > 0;
}

/* Read the journal: 1 and c->upload_id + c->resume set if it describes this object. */
int ff_vodupload_journal_read(VodUploadContext *c)
{
    FILE *f;
    char line[1024], want[1024];
    int ln = 0, ok = 1;

    if (!c->journal || !(f = avpriv_fopen_utf8(c->journal, "r")))
        return 0;
    snprintf(want, sizeof(want), "url %s/%s", c->endpoint, c->name);
    while (ok && fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        char id[512], hex[64], etag[128];
        int num, n = 0;
        int64_t size;

        if (!len || line[len - 1] != '\n') {
            ok = 0;
            break;
        }
        line[--len] = 0;
        ln++;
        if (ln == 1) {
            ok = !strcmp(line, JOURNAL_MAGIC);
        } else if (ln == 2) {
            ok = !strcmp(line, want);
        } else if (ln == 3) {
            ok = sscanf(line, "upload_id %511s%n", id, &n) == 1 && !line[n] && ff_vodupload_valid_token(id, 500) &&
                 (c->upload_id = av_strdup(id));
        } else {
            Part *parts;
            ok = sscanf(line, "part %d %"SCNd64" %63s %127s%n", &num, &size, hex, etag, &n) == 4 &&
                 !line[n] && num == c->nb_resume + 1 && num <= MAX_PARTS && size > 0 &&
                 size <= MAX_PART_SIZE && strlen(hex) == 32 &&
                 strspn(hex, "0123456789abcdef") == 32 && ff_vodupload_valid_token(etag, 78);
            if (ok && (parts = av_realloc_array(c->resume, num, sizeof(*parts)))) {
                Part *p = &parts[num - 1];
                c->resume = parts;
                p->size   = size;
                p->listed = 0;
                ff_hex_to_data(p->md5, hex);
                av_strlcpy(p->etag, etag, sizeof(p->etag));
                c->nb_resume = num;
            } else {
                ok = 0;
            }
        }
    }
    fclose(f);
    if (!ok || ln < 3) {
        av_log(c, AV_LOG_WARNING, "the journal %s does not describe %s (line %d): starting a "
               "new upload\n", c->journal, c->name, ln);
        av_freep(&c->upload_id);
        av_freep(&c->resume);
        c->nb_resume = 0;
        return 0;
    }
    return 1;
}

/*
 * One page of a ListParts reply: a journal's part the server lists with the same size and ETag is
 * marked listed. A part the server has that the journal does not (it was in flight when the last
 * writer died, or its journal line was not written) is taken from the listing when its ETag is
 * the MD5 of its bytes: it is not sent again if the same bytes come for it. *next = the next
 * page's marker, 0 if this was the last page.
 */
int ff_vodupload_parse_list_parts(VodUploadContext *c, const AVBPrint *reply, int *next)
{
    xmlDocPtr doc = ff_s3_xml_parse(reply);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL, n;
    char buf[128];

    if (!root || strcmp((const char *)root->name, "ListPartsResult")) {
        xmlFreeDoc(doc);
        av_log(c, AV_LOG_ERROR, "ListParts %s: the reply is not a ListPartsResult\n", c->name);
        return AVERROR_INVALIDDATA;
    }
    for (n = root->children; n; n = n->next) {
        char etag[128];
        uint8_t sum[16];
        int num;
        int64_t size;
        Part *p;
        if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "Part"))
            continue;
        ff_s3_xml_text(n, "PartNumber", buf, sizeof(buf));
        num = atoi(buf);
        ff_s3_xml_text(n, "Size", buf, sizeof(buf));
        size = strtoll(buf, NULL, 10);
        ff_s3_xml_text(n, "ETag", etag, sizeof(etag));
        if (num < 1 || num > MAX_PARTS || size <= 0 || size > MAX_PART_SIZE)
            continue;
        if (num <= c->nb_resume && size == c->resume[num - 1].size &&
            !strcmp(etag, c->resume[num - 1].etag)) {
            c->resume[num - 1].listed = 1;
            continue;
        }
        if ((num <= c->nb_resume && c->resume[num - 1].listed) || !etag_md5(etag, sum) ||
            !ff_vodupload_valid_token(etag, 78))
            continue;
        if (num > c->nb_resume) {
            Part *parts = av_realloc_array(c->resume, num, sizeof(*parts));
            if (!parts) {
                xmlFreeDoc(doc);
                return AVERROR(ENOMEM);
            }
            memset(parts + c->nb_resume, 0, (num - c->nb_resume) * sizeof(*parts));
            c->resume    = parts;
            c->nb_resume = num;
        }
        p = &c->resume[num - 1];
        p->size   = size;
        p->listed = 2;
        memcpy(p->md5, sum, sizeof(sum));
        av_strlcpy(p->etag, etag, sizeof(p->etag));
    }
    ff_s3_xml_text(root, "IsTruncated", buf, sizeof(buf));
    *next = 0;
    if (!strcmp(buf, "true")) {
        ff_s3_xml_text(root, "NextPartNumberMarker", buf, sizeof(buf));
        *next = atoi(buf);
    }
    xmlFreeDoc(doc);
    return 0;
}

/* Keep only the parts the server lists (the journal's, with the same size and ETag). */
int ff_vodupload_resume_check(VodUploadContext *c)
{
    int marker = 0, kept = 0, adopted = 0, journaled = c->nb_resume, ret = 0;

    /* at most MAX_PARTS parts, at least 1 per page: the marker must grow */
    for (int page = 0; page <= MAX_PARTS; page++) {
        S3Request r;
        AVBPrint q;
        int next;

        /* SigV4 with libcurl 7.88: query parameters sorted and encoded by us */
        av_bprint_init(&q, 0, AV_BPRINT_SIZE_UNLIMITED);
        av_bprintf(&q, "part-number-marker=%d&uploadId=", marker);
        ff_s3_uri_encode(&q, c->upload_id, 0);
        ff_s3_request_init(&r, "GET", c->bucket, c->key);
        r.query = q.str;
        ret = av_bprint_is_complete(&q) ? ff_s3_request(&c->s3, c->curl, &r, "ListParts", 1) : AVERROR(ENOMEM);
        av_bprint_finalize(&q, NULL);
        if (ret < 0) {
            av_bprint_finalize(&r.reply, NULL);
            break;
        }
        ret = ff_vodupload_parse_list_parts(c, &r.reply, &next);
        av_bprint_finalize(&r.reply, NULL);
        if (ret < 0)
            break;
        if (!next)
            break;
        if (next <= marker || next > MAX_PARTS) {
            av_log(c, AV_LOG_ERROR, "ListParts %s: the part listing does not advance\n", c->name);
            ret = AVERROR_INVALIDDATA;
            break;
        }
        marker = next;
    }
    if (ret == AVERROR(ENOENT)) {
        av_log(c, AV_LOG_WARNING, "the journal's upload of %s no longer exists: starting a new "
               "upload\n", c->name);
        av_freep(&c->upload_id);
        c->nb_resume = 0;
        ff_vodupload_journal_remove(c);
        ret = 0;
    }
    for (int i = 0; i < c->nb_resume; i++) {
        if (!c->resume[i].listed)
            c->resume[i].size = 0;
        kept    += c->resume[i].listed == 1;
        adopted += c->resume[i].listed == 2;
    }
    if (ret >= 0 && c->upload_id)
        av_log(c, AV_LOG_INFO, "resuming the upload of %s: %d of %d journaled parts are on the "
               "server, and %d more it did not journal\n", c->name, kept, journaled, adopted);
    return ret;
}

