/*
 * liverec: helpers shared by the live recording muxers
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

/* F_OFD_SETLK and fallocate() (glibc declares them for _GNU_SOURCE) */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#if HAVE_UNISTD_H
#include <unistd.h>
#endif
#if HAVE_FCNTL
#include <fcntl.h>
#endif

#include "libavutil/avstring.h"
#include "libavutil/error.h"
#include "libavutil/file_open.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"
#include "libavutil/parseutils.h"
#include "libavutil/time.h"
#include "libavutil/time_internal.h"

#include "avio.h"
#include "internal.h"
#include "url.h"
#include "liverec.h"

int ff_liverec_parse_time_zone(const char *tz, int *offset, int *local)
{
    const char *p = tz;
    int sign, h = 0, m = 0, n = 0;

    *offset = 0;
    *local  = 0;
    if (!tz || !av_strcasecmp(tz, "UTC") || !av_strcasecmp(tz, "Z"))
        return 0;
    if (!av_strcasecmp(tz, "local")) {
        *local = 1;
        return 0;
    }
    if (!av_strncasecmp(p, "UTC", 3))
        p += 3;
    if (*p != '+' && *p != '-')
        return AVERROR(EINVAL);
    sign = *p++ == '-' ? -1 : 1;
    while (*p >= '0' && *p <= '9' && n < 2) {
        h = h * 10 + *p++ - '0';
        n++;
    }
    if (!n)
        return AVERROR(EINVAL);
    if (*p == ':')
        p++;
    if (*p) {
        if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') || p[2])
            return AVERROR(EINVAL);
        m = (p[0] - '0') * 10 + p[1] - '0';
    }
    if (h > 14 || m > 59 || h * 60 + m > 14 * 60)
        return AVERROR(EINVAL);
    *offset = sign * (h * 3600 + m * 60);
    return 0;
}

void ff_liverec_sanitize_name(AVBPrint *bp, const char *name)
{
    const char *p;

    for (p = name; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '-' || c == '_' || (c == '.' && p != name);
        av_bprint_chars(bp, ok ? c : '_', 1);
    }
    if (!*name)
        av_bprint_chars(bp, '_', 1);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

static int split_time(int64_t us, const char *time_zone, struct tm *tm, int *ms)
{
    int offset, local, ret;
    time_t t;

    if ((ret = ff_liverec_parse_time_zone(time_zone, &offset, &local)) < 0)
        return ret;
    *ms = us - floor_div(us, 1000000) * 1000000;
    *ms /= 1000;
    t = floor_div(us, 1000000);
    if (local) {
        if (!localtime_r(&t, tm))
            return AVERROR(EINVAL);
    } else {
        t += offset;
        if (!gmtime_r(&t, tm))
            return AVERROR(EINVAL);
    }
    return 0;
}

static const struct {
    const char *name;
    int field;
} placeholders[] = {
    { "Year", 0 }, { "Month", 1 }, { "Day", 2 }, { "Hour", 3 },
    { "Minute", 4 }, { "Second", 5 }, { "Millisecond", 6 },
};

int ff_liverec_expand_name(AVBPrint *bp, const char *tmpl, const char *stream_id,
                           int64_t start_us, int64_t end_us, const char *time_zone,
                           void *log_ctx)
{
    struct tm tms[2];
    int ms[2], ret, i;
    const char *p = tmpl;

    if ((ret = split_time(start_us, time_zone, &tms[0], &ms[0])) < 0 ||
        (ret = split_time(end_us,   time_zone, &tms[1], &ms[1])) < 0) {
        av_log(log_ctx, AV_LOG_ERROR, "Invalid time_zone '%s': use UTC, local or an offset "
               "like +08:00\n", time_zone);
        return ret;
    }
    if (!*tmpl) {
        av_log(log_ctx, AV_LOG_ERROR, "The file name template is empty\n");
        return AVERROR(EINVAL);
    }
    while (*p) {
        const char *close;
        char key[32];
        int which, found = 0;
        size_t len;

        if (*p == '/' || *p == '\\') {
            av_log(log_ctx, AV_LOG_ERROR, "File name template '%s' contains a path separator; "
                   "names stay inside the output folder\n", tmpl);
            return AVERROR(EINVAL);
        }
        if (*p != '{') {
            av_bprint_chars(bp, *p++, 1);
            continue;
        }
        close = strchr(p, '}');
        len   = close ? close - p - 1 : 0;
        if (!close || len >= sizeof(key)) {
            av_log(log_ctx, AV_LOG_ERROR, "Unterminated or overlong placeholder in file name "
                   "template '%s'\n", tmpl);
            return AVERROR(EINVAL);
        }
        memcpy(key, p + 1, len);
        key[len] = 0;
        p = close + 1;
        if (!strcmp(key, "StreamID")) {
            ff_liverec_sanitize_name(bp, stream_id ? stream_id : "");
            continue;
        }
        if (av_strstart(key, "Start", NULL))
            which = 0;
        else if (av_strstart(key, "End", NULL))
            which = 1;
        else
            which = -1;
        for (i = 0; which >= 0 && i < FF_ARRAY_ELEMS(placeholders); i++) {
            const struct tm *tm = &tms[which];
            if (strcmp(key + (which ? 3 : 5), placeholders[i].name))
                continue;
            found = 1;
            switch (placeholders[i].field) {
            case 0: av_bprintf(bp, "%04d", tm->tm_year + 1900); break;
            case 1: av_bprintf(bp, "%02d", tm->tm_mon + 1);     break;
            case 2: av_bprintf(bp, "%02d", tm->tm_mday);        break;
            case 3: av_bprintf(bp, "%02d", tm->tm_hour);        break;
            case 4: av_bprintf(bp, "%02d", tm->tm_min);         break;
            case 5: av_bprintf(bp, "%02d", tm->tm_sec);         break;
            case 6: av_bprintf(bp, "%03d", ms[which]);          break;
            }
        }
        if (!found) {
            av_log(log_ctx, AV_LOG_ERROR, "Unknown placeholder {%s} in file name template '%s'; "
                   "known: {StreamID}, {Start|End}{Year|Month|Day|Hour|Minute|Second|Millisecond}\n",
                   key, tmpl);
            return AVERROR(EINVAL);
        }
    }
    if (!av_bprint_is_complete(bp))
        return AVERROR(ENOMEM);
    if (!strcmp(bp->str, ".") || !strcmp(bp->str, "..") || bp->len > 200) {
        av_log(log_ctx, AV_LOG_ERROR, "File name template '%s' gives an unusable name '%s'\n",
               tmpl, bp->str);
        return AVERROR(EINVAL);
    }
    return 0;
}

int ff_liverec_check_name_template(const char *tmpl, const char *time_zone, void *log_ctx)
{
    AVBPrint bp;
    int ret;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = ff_liverec_expand_name(&bp, tmpl, "x", 0, 0, time_zone, log_ctx);
    av_bprint_finalize(&bp, NULL);
    return ret;
}

int ff_liverec_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                       const AVDictionary *opts)
{
    AVDictionary *tmp = NULL;
    int ret;

    if (!opts)
        return s->io_open(s, pb, url, flags, NULL);
    if ((ret = av_dict_copy(&tmp, opts, 0)) >= 0)
        ret = s->io_open(s, pb, url, flags, &tmp);
    av_dict_free(&tmp);
    return ret;
}

/* The protocol context of url, not connected, with opts set on it as ffurl_connect() would. */
static int url_alloc(const AVIOInterruptCB *int_cb, URLContext **h, const char *url, int flags,
                     const AVDictionary *opts)
{
    AVDictionary *tmp = NULL;
    int ret = ffurl_alloc(h, url, flags, int_cb);

    if (ret < 0 || !opts || !(*h)->prot->priv_data_class)
        return ret;
    /* what it does not know is left */
    if ((ret = av_dict_copy(&tmp, opts, 0)) >= 0)
        ret = av_opt_set_dict2((*h)->priv_data, &tmp, AV_OPT_SEARCH_CHILDREN);
    av_dict_free(&tmp);
    if (ret < 0)
        ffurl_closep(h);
    return ret;
}

int ff_liverec_io_check(AVFormatContext *s, const char *url, int flags, const AVDictionary *opts)
{
    URLContext *h;
    int ret;

    if (!opts)
        return avio_check(url, flags);
    if ((ret = url_alloc(&s->interrupt_callback, &h, url, flags, opts)) < 0)
        return ret;
    if (h->prot->url_check) {
        ret = h->prot->url_check(h, flags);
    } else {
        AVDictionary *tmp = NULL;
        if ((ret = av_dict_copy(&tmp, opts, 0)) >= 0 && (ret = ffurl_connect(h, &tmp)) >= 0)
            ret = flags;
        av_dict_free(&tmp);
    }
    ffurl_closep(&h);
    return ret;
}

int ff_liverec_io_move(AVFormatContext *s, const char *src, const char *dst,
                       const AVDictionary *opts)
{
    URLContext *hs = NULL, *hd = NULL;
    int ret;

    if (!opts)
        return ff_rename(src, dst, s);
    if ((ret = url_alloc(&s->interrupt_callback, &hs, src, AVIO_FLAG_READ_WRITE, opts)) >= 0 &&
        (ret = url_alloc(&s->interrupt_callback, &hd, dst, AVIO_FLAG_WRITE, opts)) >= 0)
        ret = hs->prot == hd->prot && hs->prot->url_move ? hs->prot->url_move(hs, hd) :
                                                           AVERROR(ENOSYS);
    if (ret < 0)
        av_log(s, AV_LOG_ERROR, "failed to rename file %s to %s: %s\n", src, dst, av_err2str(ret));
    ffurl_closep(&hs);
    ffurl_closep(&hd);
    return ret;
}

int ff_liverec_io_delete(AVFormatContext *s, const char *url, const AVDictionary *opts)
{
    URLContext *h;
    int ret;

    if ((ret = url_alloc(&s->interrupt_callback, &h, url, AVIO_FLAG_WRITE, opts)) < 0)
        return ret;
    ret = h->prot->url_delete ? h->prot->url_delete(h) : AVERROR(ENOSYS);
    ffurl_closep(&h);
    return ret;
}

int ff_liverec_unique_url(AVFormatContext *s, AVBPrint *bp, const char *dir, const char *name,
                          const char *ext, const AVDictionary *opts)
{
    int i;

    for (i = 0; i < 10000; i++) {
        av_bprint_clear(bp);
        if (i)
            av_bprintf(bp, "%s%s_%d%s", dir, name, i, ext);
        else
            av_bprintf(bp, "%s%s%s", dir, name, ext);
        if (!av_bprint_is_complete(bp))
            return AVERROR(ENOMEM);
        if (ff_liverec_io_check(s, bp->str, 0, opts) < 0)
            return 0;
    }
    return AVERROR(EEXIST);
}

void ff_liverec_format_iso8601(AVBPrint *bp, int64_t us)
{
    struct tm tm;
    int ms;

    if (split_time(us, "UTC", &tm, &ms) < 0)
        memset(&tm, 0, sizeof(tm));
    av_bprintf(bp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

int ff_liverec_write_atomic(AVFormatContext *s, const char *url, const AVBPrint *bp,
                            const AVDictionary *opts)
{
    AVIOContext *pb = NULL;
    char *tmp = av_asprintf("%s.tmp", url);
    int ret, err;

    if (!tmp)
        return AVERROR(ENOMEM);
    ret = ff_liverec_io_open(s, &pb, tmp, AVIO_FLAG_WRITE, opts);
    if (ret < 0) {
        av_log(s, AV_LOG_ERROR, "Cannot open '%s' for writing: %s\n", tmp, av_err2str(ret));
        goto end;
    }
    avio_write(pb, bp->str, bp->len);
    avio_flush(pb);
    err = pb->error;
    ret = ff_format_io_close(s, &pb);
    if (err < 0)
        ret = err;
    if (ret < 0) {
        av_log(s, AV_LOG_ERROR, "Cannot write '%s': %s\n", tmp, av_err2str(ret));
        goto end;
    }
    ret = ff_liverec_io_move(s, tmp, url, opts);
end:
    av_free(tmp);
    return ret;
}

int ff_liverec_read_file(AVFormatContext *s, const char *url, AVBPrint *bp, int max_size,
                         const AVDictionary *opts)
{
    AVIOContext *pb = NULL;
    unsigned char buf[4096];
    int ret;

    if (ff_liverec_io_check(s, url, AVIO_FLAG_READ, opts) < 0)
        return AVERROR(ENOENT);
    ret = ff_liverec_io_open(s, &pb, url, AVIO_FLAG_READ, opts);
    if (ret < 0)
        return ret;
    while ((ret = avio_read(pb, buf, sizeof(buf))) > 0) {
        if (bp->len + ret > max_size) {
            ret = AVERROR_INVALIDDATA;
            break;
        }
        av_bprint_append_data(bp, buf, ret);
    }
    if (ret == AVERROR_EOF)
        ret = 0;
    ff_format_io_close(s, &pb);
    if (ret >= 0 && !av_bprint_is_complete(bp))
        ret = AVERROR(ENOMEM);
    return ret;
}

int ff_liverec_local_path(const char *url, const char **path)
{
    const char *proto = avio_find_protocol_name(url);

    if (!proto || strcmp(proto, "file"))
        return 0;
    if (!av_strstart(url, "file:", path))
        *path = url;
    return 1;
}

int ff_liverec_lock(const char *path, void *log_ctx)
{
#if HAVE_FCNTL
    struct flock fl = { 0 };
    int fd = avpriv_open(path, O_RDWR | O_CREAT, 0644);

    if (fd < 0) {
        int err = AVERROR(errno);
        av_log(log_ctx, AV_LOG_ERROR, "Cannot open lock file '%s': %s\n", path, av_err2str(err));
        return err;
    }
    fl.l_type   = F_WRLCK;
    fl.l_whence = SEEK_SET;
    /* An open file description lock, not a process one: two recorders of the same stream in one
     * process (ffliverec -serve) exclude each other too, and closing some other descriptor of the
     * file does not drop the lock. Plain record locks where OFD locks do not exist. */
#ifdef F_OFD_SETLK
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
#else
    if (fcntl(fd, F_SETLK, &fl) < 0) {
#endif
        int err = errno;
        close(fd);
        if (err == EACCES || err == EAGAIN)
            return AVERROR(EBUSY);
        return AVERROR(err);
    }
    return fd;
#else
    return AVERROR(ENOSYS);
#endif
}

void ff_liverec_unlock(int *fd)
{
#if HAVE_FCNTL
    if (*fd >= 0)
        close(*fd);
#endif
    *fd = -1;
}

int ff_liverec_insert_front(const char *path, int64_t len, void *log_ctx)
{
#if HAVE_FCNTL && defined(FALLOC_FL_INSERT_RANGE)
    int fd = avpriv_open(path, O_RDWR), ret = 0;

    if (fd < 0)
        return AVERROR(errno);
    /* the file system moves the blocks: no byte is copied (ext4, XFS) */
    if (fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, len) < 0) {
        ret = AVERROR(errno);
        if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)
            ret = AVERROR(ENOSYS);
        av_log(log_ctx, AV_LOG_VERBOSE, "Cannot insert %"PRId64" bytes before '%s': %s\n", len,
               path, av_err2str(ret));
    }
    close(fd);
    return ret;
#else
    return AVERROR(ENOSYS);
#endif
}

int avpriv_liverec_delete(const char *url, AVDictionary **options, const AVIOInterruptCB *int_cb)
{
    URLContext *h;
    int ret = url_alloc(int_cb, &h, url, AVIO_FLAG_WRITE, options ? *options : NULL);

    if (ret < 0)
        return ret;
    ret = h->prot->url_delete ? h->prot->url_delete(h) : AVERROR(ENOSYS);
    ffurl_closep(&h);
    return ret;
}

int ff_liverec_clock(void *log_ctx, const char *wallclock, int64_t *now)
{
    if (!wallclock) {
        *now = av_gettime();
        return 0;
    }
    if (av_parse_time(now, wallclock, 0) < 0 || *now < 0) {
        av_log(log_ctx, AV_LOG_ERROR, "Invalid wallclock '%s': use a date like "
               "2026-01-31T12:00:00Z\n", wallclock);
        return AVERROR(EINVAL);
    }
    return 0;
}

int ff_liverec_nested_alloc(AVFormatContext *s, AVFormatContext **poc, const char *format,
                            const char *url)
{
    AVFormatContext *oc;
    int ret = avformat_alloc_output_context2(poc, NULL, format, url);

    if (ret < 0)
        return ret;
    oc = *poc;
    oc->interrupt_callback = s->interrupt_callback;
    oc->max_delay          = s->max_delay;
    oc->opaque             = s->opaque;
    oc->io_open            = s->io_open;
    oc->io_close2          = s->io_close2;
    oc->flags              = s->flags;
    return 0;
}

int ff_liverec_reference_stream(const AVFormatContext *s, const int *map)
{
    int audio = -1;

    for (int i = 0; i < s->nb_streams; i++) {
        enum AVMediaType type = s->streams[i]->codecpar->codec_type;
        if (map && map[i] < 0)
            continue;
        if (type == AVMEDIA_TYPE_VIDEO)
            return i;
        if (type == AVMEDIA_TYPE_AUDIO && audio < 0)
            audio = i;
    }
    return audio;
}

void ff_liverec_nested_free(AVFormatContext *s, AVFormatContext **oc)
{
    if (!*oc)
        return;
    ff_format_io_close(s, &(*oc)->pb);
    avformat_free_context(*oc);
    *oc = NULL;
}
