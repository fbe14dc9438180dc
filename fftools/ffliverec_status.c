/*
 * ffliverec -serve: what an operator looks at (status page, its JSON, metrics, the player's media)
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
 * Every route here runs on one of the listener's threads: each request opens its own catalog
 * connection (SQLite connections are not shared between threads) and reads the manager only
 * through its own locked accessors.
 *
 * Paths come from anyone who can reach the listener. A file is served only if every segment of
 * its path is a plain name ([A-Za-z0-9_.~-], not "." or ".."), it is a kind a player asks for
 * (.m3u8, .ts, .m4s, .mp4), and, below the spool folder, no level of it is a symbolic link (each
 * folder is opened with O_NOFOLLOW relative to the one before). Of a finished recording, only
 * its playlist and the files that playlist lists are served, wherever the catalog says it is.
 */

/* openat(), O_NOFOLLOW, O_DIRECTORY and O_CLOEXEC are POSIX 2008; the build asks for 2001 */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "libavutil/avstring.h"
#include "libavutil/avutil.h"
#include "libavutil/bprint.h"
#include "libavutil/buffer.h"
#include "libavutil/dict.h"
#include "libavutil/error.h"
#include "libavutil/ffversion.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/time.h"
#include "libavformat/avio.h"

#include "ffliverec_heap.h"
#include "ffliverec_serve.h"

/* liverec's own version; the build may pass the repository's (git describe) */
#ifndef LIVEREC_VERSION
#define LIVEREC_VERSION FFMPEG_VERSION "-liverec"
#endif

#define MEDIA_MAX         (64 << 20)    ///< largest file served (a segment is a few MB)
#define NAME_MAX_LEN      255
#define MAX_SEGMENTS      8             ///< /live/DOMAIN/APP/STREAM/task-ID/hls/FILE is 7
#define RECENT            20            ///< recordings on the status page
#define STATUS_BODY_MAX   (8 << 20)     ///< of /status.json, read by ffliverec -status

/* the status page and its player, embedded at build time (bin2c) */
extern const unsigned char ff_liverec_page_data[];
extern const unsigned int  ff_liverec_page_len;
extern const unsigned char ff_liverec_hlsjs_data[];
extern const unsigned int  ff_liverec_hlsjs_len;

LiveRecMetrics ff_liverec_metrics;

static const struct MediaType {
    const char *ext, *type;
    int playlist;
} media_types[] = {
    { ".m3u8", "application/vnd.apple.mpegurl", 1 },
    { ".ts",   "video/mp2t",        0 },
    { ".m4s",  "video/iso.segment", 0 },
    { ".mp4",  "video/mp4",         0 },
};

static const struct MediaType *media_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < FF_ARRAY_ELEMS(media_types); i++)
        if (!strcmp(dot, media_types[i].ext))
            return &media_types[i];
    return NULL;
}

/* A name of one file or folder among others, as the muxers and the session make them. */
static int plain_name(const char *s)
{
    size_t len = strlen(s);

    if (!len || len > NAME_MAX_LEN || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !av_isdigit(c) &&
            c != '_' && c != '.' && c != '~' && c != '-')
            return 0;
    }
    return 1;
}

/* Split path (changed in place) at every '/' into seg; -1 if there are too many or one is empty. */
static int split_path(char *path, char **seg, int max)
{
    int n = 0;

    for (char *p = path; ; ) {
        char *slash = strchr(p, '/');
        if (n == max)
            return -1;
        seg[n++] = p;
        if (!slash)
            break;
        *slash = 0;
        p = slash + 1;
    }
    for (int i = 0; i < n; i++)
        if (!*seg[i])
            return -1;
    return n;
}

/* DOMAIN APP STREAM [task-ID] hls FILE: a live HLS file's place in the spool folder */
static int live_path_ok(char **seg, int n)
{
    if (n != 5 && n != 6)
        return 0;
    for (int i = 0; i < n; i++)
        if (!plain_name(seg[i]))
            return 0;
    if (n == 6 && (!av_strstart(seg[3], "task-", NULL) || !seg[3][5]))
        return 0;
    return !strcmp(seg[n - 2], "hls") && media_type(seg[n - 1]);
}

static int reply_error(LiveRecHttpResponse *resp, int status, const char *message)
{
    return ff_liverec_http_reply(resp, status, "application/json",
                                 "{\"code\":%d,\"message\":\"%s\"}", status, message);
}

/* Answer with a copy of data (the listener av_free()s the body). */
static int reply_data(LiveRecHttpResponse *resp, const char *type, const char *cache,
                      const void *data, size_t len)
{
    av_freep(&resp->body);
    if (!(resp->body = av_malloc(len + 1)))
        return AVERROR(ENOMEM);
    memcpy(resp->body, data, len);
    resp->status        = MHD_HTTP_OK;
    resp->content_type  = type;
    resp->cache_control = cache;
    resp->len           = len;
    return 0;
}

/* Answer with the buffer itself (taken). */
static int reply_taken(LiveRecHttpResponse *resp, const char *type, const char *cache,
                       char *data, size_t len)
{
    av_freep(&resp->body);
    resp->status        = MHD_HTTP_OK;
    resp->content_type  = type;
    resp->cache_control = cache;
    resp->body          = data;
    resp->len           = len;
    return 0;
}

/* ---- files ---- */

/*
 * Open dir/seg[0]/.../seg[n-1] for reading without following a symbolic link at any level below
 * dir (the names are plain: none goes up). A file descriptor or a negative AVERROR.
 */
static int open_beneath(const char *dir, char *const *seg, int n)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return AVERROR(errno);
    for (int i = 0; i < n; i++) {
        /* O_NONBLOCK: a FIFO put there must not hold the listener's thread */
        int next = openat(fd, seg[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
                          (i < n - 1 ? O_DIRECTORY : O_NONBLOCK));
        int err = errno;
        close(fd);
        if (next < 0)
            return AVERROR(err);
        fd = next;
    }
    return fd;
}

/* The whole regular file (at most MEDIA_MAX bytes) into *data (av_malloc()ed). Closes fd. */
static int read_fd(int fd, char **data, size_t *len)
{
    struct stat st;
    char *buf;
    int64_t got = 0;
    int ret = 0;

    *data = NULL;
    if (fstat(fd, &st) < 0)
        ret = AVERROR(errno);
    else if (!S_ISREG(st.st_mode))
        ret = AVERROR(ENOENT);
    else if (st.st_size > MEDIA_MAX)
        ret = AVERROR(EFBIG);
    if (ret < 0 || !(buf = av_malloc(st.st_size + 1))) {
        close(fd);
        return ret < 0 ? ret : AVERROR(ENOMEM);
    }
    /* a live playlist or segment may be replaced meanwhile: what was there at fstat() is served */
    while (got < st.st_size) {
        ssize_t r = read(fd, buf + got, st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = AVERROR(errno);
            av_free(buf);
            close(fd);
            return ret;
        }
        if (!r)
            break;
        got += r;
    }
    close(fd);
    *data = buf;
    *len  = got;
    return 0;
}

/* The whole object or file url (at most MEDIA_MAX bytes) through avio into *data. */
static int read_url(const char *url, const AVDictionary *options, char **data, size_t *len)
{
    AVDictionary *opts = NULL;
    AVIOContext *pb = NULL;
    AVBPrint bp;
    int64_t size;
    int ret;

    *data = NULL;
    if ((ret = av_dict_copy(&opts, options, 0)) >= 0)
        ret = avio_open2(&pb, url, AVIO_FLAG_READ, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return ret;
    if ((size = avio_size(pb)) > MEDIA_MAX) {
        avio_closep(&pb);
        return AVERROR(EFBIG);
    }
    av_bprint_init(&bp, size > 0 ? size + 1 : 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = avio_read_to_bprint(pb, &bp, MEDIA_MAX + 1);
    avio_closep(&pb);
    if (ret >= 0 && bp.len > MEDIA_MAX)
        ret = AVERROR(EFBIG);
    if (ret >= 0 && !av_bprint_is_complete(&bp))
        ret = AVERROR(ENOMEM);
    if (ret < 0) {
        av_bprint_finalize(&bp, NULL);
        return ret;
    }
    *len = bp.len;
    return av_bprint_finalize(&bp, data);
}

static int not_found(int err)
{
    return err == AVERROR(ENOENT) || err == AVERROR(ENOTDIR) || err == AVERROR(ELOOP) ||
           err == AVERROR(EACCES) || err == AVERROR(ENXIO) || err == AVERROR_HTTP_NOT_FOUND;
}

/* The answer for a file that could not be read. */
static int reply_read_error(LiveRecHttpResponse *resp, const char *what, int err, int remote)
{
    if (err == AVERROR(ENOMEM))
        return err;
    if (not_found(err))
        return reply_error(resp, MHD_HTTP_NOT_FOUND, "no such file");
    if (err == AVERROR(EFBIG)) {
        av_log(NULL, AV_LOG_WARNING, "%s: larger than %d MiB, not served\n", what, MEDIA_MAX >> 20);
        return reply_error(resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "file too large to serve");
    }
    av_log(NULL, AV_LOG_WARNING, "%s: cannot read: %s\n", what, av_err2str(err));
    return remote ? reply_error(resp, MHD_HTTP_BAD_GATEWAY, "cannot read it from storage")
                  : reply_error(resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the file");
}

static int reply_media(LiveRecHttpResponse *resp, const char *name, char *data, size_t len,
                       int live)
{
    const struct MediaType *t = media_type(name);
    /* playlists change (EVENT while recording; a finished one may be spliced again): never
     * cached; a segment does not change once listed, but a live one is only a minute old */
    const char *cache = t->playlist ? "no-cache" : live ? "max-age=60" : "max-age=86400";
    return reply_taken(resp, t->type, cache, data, len);
}

/* GET /live/DOMAIN/APP/STREAM/[task-ID/]hls/FILE: seg without "live" */
static int live_media(LiveRecManager *m, char **seg, int n, LiveRecHttpResponse *resp)
{
    const LiveRecManagerOptions *o = ff_liverec_manager_options(m);
    char *data;
    size_t len;
    int fd, ret;

    if (!live_path_ok(seg, n) || !o->spool)
        return reply_error(resp, MHD_HTTP_NOT_FOUND, "no such file");
    if ((fd = open_beneath(o->spool, seg, n)) < 0)
        return reply_read_error(resp, seg[n - 1], fd, 0);
    if ((ret = read_fd(fd, &data, &len)) < 0)
        return reply_read_error(resp, seg[n - 1], ret, 0);
    return reply_media(resp, seg[n - 1], data, len, 1);
}

typedef struct Listed {
    const char *name;
    int found;
} Listed;

static int listed_cb(void *opaque, const char *path)
{
    Listed *l = opaque;
    const char *slash = strrchr(path, '/');
    l->found |= !strcmp(slash ? slash + 1 : path, l->name);
    return 0;
}

static const char *row_str(const json_t *row, const char *key)
{
    const char *s = json_string_value(json_object_get(row, key));
    return s ? s : "";
}

/* The storage's options for reading, as the upload worker writes (its Region). */
static int storage_options(LiveRecManager *m, AVDictionary **opts)
{
    AVBufferRef *ref = ff_liverec_manager_config(m);
    const LiveRecConfig *cfg = ref ? (const LiveRecConfig *)ref->data : NULL;
    int ret = 0;

    if (!ref)
        return AVERROR(ENOMEM);
    if (cfg->storage_region)
        ret = av_dict_set(opts, "region", cfg->storage_region, 0);
    av_buffer_unref(&ref);
    /* a player waits for this: fail soon rather than hold one of the listener's threads */
    if (ret >= 0)
        ret = av_dict_set(opts, "timeout", "10", 0);
    if (ret >= 0)
        ret = av_dict_set(opts, "max_retries", "1", 0);
    return ret;
}

/*
 * One file of a finished recording (row of the catalog): the playlist itself or one it lists,
 * from its folder ('local', 'pending') or its storage ('uploaded').
 */
static int recording_file(LiveRecManager *m, const json_t *row, const char *file,
                          char **data, size_t *len)
{
    const char *status = row_str(row, "status"), *local = row_str(row, "local_path");
    const char *url = row_str(row, "url"), *slash;
    Listed l = { file, 0 };
    int ret;

    if (!strcmp(status, "local") || !strcmp(status, "pending")) {
        char *dir, *name = (char *)file;
        int fd;
        if (!(slash = strrchr(local, '/')))
            return AVERROR(ENOENT);
        if (strcmp(file, slash + 1)) {
            if ((ret = ff_liverec_hls_files(local, NULL, listed_cb, &l)) < 0)
                return ret;
            if (!l.found)
                return AVERROR(ENOENT);
        }
        if (!(dir = av_strndup(local, slash - local + 1)))
            return AVERROR(ENOMEM);
        fd = open_beneath(dir, &name, 1);
        av_free(dir);
        return fd < 0 ? fd : read_fd(fd, data, len);
    } else if (!strcmp(status, "uploaded")) {
        AVDictionary *opts = NULL;
        char *playlist, *obj;
        /* the catalog's URL of the playlist object, as the upload worker wrote it */
        if ((!av_strstart(url, "http://", NULL) && !av_strstart(url, "https://", NULL)) ||
            !(slash = strrchr(url, '/')))
            return AVERROR(ENOENT);
        playlist = av_asprintf("vodupload+%s", url);
        obj      = av_asprintf("vodupload+%.*s%s", (int)(slash - url + 1), url, file);
        ret = playlist && obj ? storage_options(m, &opts) : AVERROR(ENOMEM);
        /* the playlist is read again for each segment: the listener keeps no state */
        if (ret >= 0 && strcmp(file, slash + 1)) {
            ret = ff_liverec_hls_files(playlist, opts, listed_cb, &l);
            if (ret >= 0 && !l.found)
                ret = AVERROR(ENOENT);
        }
        if (ret >= 0)
            ret = read_url(obj, opts, data, len);
        av_dict_free(&opts);
        av_free(playlist);
        av_free(obj);
        return ret;
    }
    return AVERROR(ENOENT);
}

/* GET /recordings/ID/FILE: seg without "recordings" */
static int recording_media(LiveRecManager *m, char **seg, int n, LiveRecHttpResponse *resp)
{
    const LiveRecManagerOptions *o = ff_liverec_manager_options(m);
    LiveRecState *st = NULL;
    int64_t id = 0, total;
    char *data = NULL;
    size_t len = 0;
    int ret, remote = 0;

    if (n != 2 || !seg[0][0] || strlen(seg[0]) > 18 || strspn(seg[0], "0123456789") != strlen(seg[0]) ||
        (id = strtoll(seg[0], NULL, 10)) <= 0 || !plain_name(seg[1]) || !media_type(seg[1]))
        return reply_error(resp, MHD_HTTP_NOT_FOUND, "no such file");
    if ((ret = ff_liverec_state_connect(&st, o->state_dir)) < 0)
        return ret;
    /* a pending upload may finish (and remove the local copy) while we read: look again once */
    for (int attempt = 0; attempt < 2; attempt++) {
        LiveRecSearch q = { .id = id, .limit = 1 };
        json_t *rows = NULL, *row;
        int retry = 0;

        if ((ret = ff_liverec_state_search(st, &q, &rows, &total)) < 0)
            break;
        row = json_array_get(rows, 0);
        if (!row || strcmp(row_str(row, "format"), "hls")) {
            ret = AVERROR(ENOENT);
        } else {
            ret    = recording_file(m, row, seg[1], &data, &len);
            remote = !strcmp(row_str(row, "status"), "uploaded");
            retry  = !attempt && not_found(ret) && !strcmp(row_str(row, "status"), "pending");
        }
        json_decref(rows);
        if (ret >= 0 || !retry)
            break;
    }
    ff_liverec_state_close(&st);
    if (ret < 0)
        return reply_read_error(resp, seg[1], ret, remote);
    return reply_media(resp, seg[1], data, len, 0);
}

int ff_liverec_status_media(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    char *seg[MAX_SEGMENTS], *path = av_strdup(req->path);
    int n, ret;

    if (!path)
        return AVERROR(ENOMEM);
    n = path[0] == '/' ? split_path(path + 1, seg, MAX_SEGMENTS) : -1;
    if (n >= 2 && !strcmp(seg[0], "live"))
        ret = live_media(m, seg + 1, n - 1, resp);
    else if (n >= 2 && !strcmp(seg[0], "recordings"))
        ret = recording_media(m, seg + 1, n - 1, resp);
    else
        ret = reply_error(resp, MHD_HTTP_NOT_FOUND, "no such file");
    av_free(path);
    return ret;
}

/* ---- the page ---- */

int ff_liverec_status_page(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    /* the page is small and changes with the build: always revalidated */
    if (!strcmp(req->path, "/"))
        return reply_data(resp, "text/html; charset=utf-8", "no-cache",
                          ff_liverec_page_data, ff_liverec_page_len);
    if (!strcmp(req->path, "/player/hls.min.js"))
        return reply_data(resp, "text/javascript; charset=utf-8", "max-age=300",
                          ff_liverec_hlsjs_data, ff_liverec_hlsjs_len);
    return reply_error(resp, MHD_HTTP_NOT_FOUND, "no such path");
}

/* ---- /status.json ---- */

static json_t *count_or_null(int n)
{
    return n >= 0 ? json_integer(n) : json_null();
}

/* Path of url relative to the spool folder, if it is a live HLS file's place in it. */
static char *live_play_url(const char *spool, const char *url)
{
    size_t len = strlen(spool);
    char *rel, *seg[MAX_SEGMENTS], *play = NULL;
    const char *p;

    while (len > 1 && spool[len - 1] == '/')
        len--;
    if (!len || strncmp(url, spool, len) || url[len] != '/')
        return NULL;
    for (p = url + len; *p == '/'; p++)
        ;
    if (!(rel = av_strdup(p)))
        return NULL;
    /* what the media route would refuse is not offered */
    if (live_path_ok(seg, split_path(rel, seg, MAX_SEGMENTS)))
        play = av_asprintf("/live/%s", p);
    av_free(rel);
    return play;
}

static int add_live_play_urls(json_t *streams, const char *spool)
{
    size_t i, j;
    json_t *s, *out;

    json_array_foreach(streams, i, s) {
        json_t *outs = json_object_get(json_object_get(s, "Session"), "Outputs");
        json_array_foreach(outs, j, out) {
            const char *url = json_string_value(json_object_get(out, "Url"));
            char *play;
            /* the playlist is written when the first segment is cut: offered from then on,
             * a player would otherwise start on a 404 */
            if (!url || !spool || !json_is_true(json_object_get(out, "Open")) ||
                strcmp(row_str(out, "Format"), "hls") || access(url, R_OK) < 0 ||
                !(play = live_play_url(spool, url)))
                continue;
            if (json_object_set_new(out, "PlayUrl", json_string(play)) < 0) {
                av_free(play);
                return AVERROR(ENOMEM);
            }
            av_free(play);
        }
    }
    return 0;
}

static int add_recording_play_urls(json_t *rows)
{
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row) {
        const char *local = row_str(row, "local_path"), *slash = strrchr(local, '/');
        const char *name = slash ? slash + 1 : local;
        const struct MediaType *t = media_type(name);
        char *play;
        /* what the media route would refuse is not offered */
        if (strcmp(row_str(row, "format"), "hls") || !plain_name(name) || !t || !t->playlist ||
            !json_is_integer(json_object_get(row, "id")))
            continue;
        if (!(play = av_asprintf("/recordings/%"JSON_INTEGER_FORMAT"/%s",
                                 json_integer_value(json_object_get(row, "id")), name)))
            return AVERROR(ENOMEM);
        if (json_object_set_new(row, "PlayUrl", json_string(play)) < 0) {
            av_free(play);
            return AVERROR(ENOMEM);
        }
        av_free(play);
    }
    return 0;
}

int ff_liverec_status_json(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    const LiveRecManagerOptions *o = ff_liverec_manager_options(m);
    json_t *root = json_object(), *streams = ff_liverec_manager_streams(m);
    json_t *queues = json_null(), *recs = NULL, *service = json_object();
    LiveRecState *st = NULL;
    LiveRecSearch q = { .limit = RECENT };
    int64_t total = 0;
    char *text;
    int ret = 0;

    /* without the catalog the live streams are still worth showing */
    if (ff_liverec_state_connect(&st, o->state_dir) >= 0) {
        json_decref(queues);
        queues = json_object();
        json_object_set_new(queues, "Uploads",   count_or_null(ff_liverec_state_pending(st)));
        json_object_set_new(queues, "Callbacks", count_or_null(ff_liverec_state_callbacks_pending(st)));
        json_object_set_new(queues, "Events",    count_or_null(ff_liverec_state_events_pending(st)));
        if (ff_liverec_state_search(st, &q, &recs, &total) < 0)
            recs = NULL;
        ff_liverec_state_close(&st);
    }
    if (!recs)
        recs = json_array();
    json_object_set_new(service, "StartTime",
                        json_integer(atomic_load(&ff_liverec_metrics.start_usec) / 1000000));
    json_object_set_new(service, "Now", json_integer(av_gettime() / 1000000));
    json_object_set_new(service, "Version", json_string(LIVEREC_VERSION));
    json_object_set_new(service, "FFmpegVersion", json_string(av_version_info()));

    if (!root || !streams || !queues || !recs || !service ||
        add_live_play_urls(streams, o->spool) < 0 || add_recording_play_urls(recs) < 0)
        ret = AVERROR(ENOMEM);
    /* json_object_set_new() takes each value, also when it fails: every one is handed over */
    if ((json_object_set_new(root, "Streams", streams) |
         json_object_set_new(root, "Queues", queues) |
         json_object_set_new(root, "Recordings", recs) |
         json_object_set_new(root, "Service", service)) < 0)
        ret = AVERROR(ENOMEM);
    text = ret < 0 ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return AVERROR(ENOMEM);
    ret = reply_data(resp, "application/json", "no-store", text, strlen(text));
    free(text);
    return ret;
}

/* ---- /metrics ---- */

/* A label value in the text format: backslash, double quote and newline escaped. */
static void label(AVBPrint *bp, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            av_bprintf(bp, "\\%c", *v);
        else if (*v == '\n')
            av_bprintf(bp, "\\n");
        else
            av_bprint_chars(bp, *v, 1);
    }
}

static void family(AVBPrint *bp, const char *name, const char *type, const char *help)
{
    av_bprintf(bp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int64_t counter(atomic_int_least64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static const char *const result_names[LIVEREC_NB_RESULTS] = { "ok", "failed" };
static const char *const event_names[LIVEREC_NB_METRIC_EVENTS] = { "100", "332", "1", "0" };
static const char *const request_names[LIVEREC_NB_REQUEST_RESULTS] = {
    "ok", "refused", "denied", "error",
};
static const char *const phase_names[] = { "connecting", "recording", "waiting" };
static const char *const hold_names[] = {
    [LIVEREC_HOLD_SUBSCRIBED] = "subscribed",
    [LIVEREC_HOLD_FAILED]     = "failed",
    [LIVEREC_HOLD_TIMEOUT]    = "timeout",
};

static void requests(AVBPrint *bp, const char *name, const char *help, atomic_int_least64_t *c)
{
    family(bp, name, "counter", help);
    for (int i = 0; i < LIVEREC_NB_REQUEST_RESULTS; i++)
        av_bprintf(bp, "%s{result=\"%s\"} %"PRId64"\n", name, request_names[i], counter(&c[i]));
}

int ff_liverec_status_metrics(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    LiveRecMetrics *c = &ff_liverec_metrics;
    const LiveRecManagerOptions *o = ff_liverec_manager_options(m);
    json_t *streams = ff_liverec_manager_streams(m), *s;
    int live = 0, idle = 0, phases[FF_ARRAY_ELEMS(phase_names)] = { 0 };
    LiveRecState *st = NULL;
    AVBPrint bp;
    char *text;
    size_t i;

    if (!streams)
        return AVERROR(ENOMEM);
    json_array_foreach(streams, i, s) {
        const char *phase = json_string_value(json_object_get(json_object_get(s, "Session"), "Phase"));
        if (json_is_true(json_object_get(s, "Live")))
            live++;
        else
            idle++;
        for (size_t j = 0; phase && j < FF_ARRAY_ELEMS(phase_names); j++)
            phases[j] += !strcmp(phase, phase_names[j]);
    }
    json_decref(streams);

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    family(&bp, "liverec_build_info", "gauge", "Versions of liverec and of the FFmpeg it is built on.");
    av_bprintf(&bp, "liverec_build_info{version=\"");
    label(&bp, LIVEREC_VERSION);
    av_bprintf(&bp, "\",ffmpeg_version=\"");
    label(&bp, av_version_info());
    av_bprintf(&bp, "\"} 1\n");
    family(&bp, "liverec_start_time_seconds", "gauge", "When the service started, in Unix seconds.");
    av_bprintf(&bp, "liverec_start_time_seconds %.3f\n", counter(&c->start_usec) / 1e6);

    family(&bp, "liverec_streams", "gauge", "Streams the service knows of: live (being published) or idle.");
    av_bprintf(&bp, "liverec_streams{state=\"live\"} %d\nliverec_streams{state=\"idle\"} %d\n", live, idle);
    family(&bp, "liverec_sessions", "gauge", "Recording sessions by phase (waiting: the push is gone, "
           "inside FlowContinueDuration).");
    for (size_t j = 0; j < FF_ARRAY_ELEMS(phase_names); j++)
        av_bprintf(&bp, "liverec_sessions{phase=\"%s\"} %d\n", phase_names[j], phases[j]);

    family(&bp, "liverec_recordings_started_total", "counter", "Recordings (outputs) opened.");
    av_bprintf(&bp, "liverec_recordings_started_total %"PRId64"\n", counter(&c->recordings_started));
    family(&bp, "liverec_recordings_failed_total", "counter", "Recordings that could not start or failed while writing.");
    av_bprintf(&bp, "liverec_recordings_failed_total %"PRId64"\n", counter(&c->recordings_failed));
    family(&bp, "liverec_pushes_behind_total", "counter", "Times a push was read more than 3 s later "
           "than real time (the machine does not keep up, or the publisher sends slowly).");
    av_bprintf(&bp, "liverec_pushes_behind_total %"PRId64"\n", counter(&c->behind));
    family(&bp, "liverec_push_gaps_total", "counter", "Jumps of more than 2 s in a push's timestamps: "
           "media missing (dropped by the origin for a late reader, or not sent).");
    av_bprintf(&bp, "liverec_push_gaps_total %"PRId64"\n", counter(&c->gaps));
    family(&bp, "liverec_files_total", "counter", "Finished recording files put in the catalog, by format.");
    for (int f = 0; f < LIVEREC_NB_FORMATS; f++) {
        av_bprintf(&bp, "liverec_files_total{format=\"");
        label(&bp, ff_liverec_format_names[f]);
        av_bprintf(&bp, "\"} %"PRId64"\n", counter(&c->files[f]));
    }
    family(&bp, "liverec_written_bytes_total", "counter", "Bytes of the finished recording files, by format.");
    for (int f = 0; f < LIVEREC_NB_FORMATS; f++) {
        av_bprintf(&bp, "liverec_written_bytes_total{format=\"");
        label(&bp, ff_liverec_format_names[f]);
        av_bprintf(&bp, "\"} %"PRId64"\n", counter(&c->bytes[f]));
    }

    family(&bp, "liverec_uploads_total", "counter", "Upload attempts by result.");
    for (int r = 0; r < LIVEREC_NB_RESULTS; r++)
        av_bprintf(&bp, "liverec_uploads_total{result=\"%s\"} %"PRId64"\n", result_names[r],
                   counter(&c->uploads[r]));
    family(&bp, "liverec_uploaded_bytes_total", "counter", "Bytes of the files uploaded to storage.");
    av_bprintf(&bp, "liverec_uploaded_bytes_total %"PRId64"\n", counter(&c->upload_bytes));
    family(&bp, "liverec_callbacks_total", "counter", "Callback and event deliveries by event_type and result.");
    for (int e = 0; e < LIVEREC_NB_METRIC_EVENTS; e++)
        for (int r = 0; r < LIVEREC_NB_RESULTS; r++)
            av_bprintf(&bp, "liverec_callbacks_total{event_type=\"%s\",result=\"%s\"} %"PRId64"\n",
                       event_names[e], result_names[r], counter(&c->callbacks[e][r]));
    requests(&bp, "liverec_hook_requests_total", "Origin hook requests by result.", c->hooks);
    requests(&bp, "liverec_api_requests_total", "Cloud API requests by result.", c->api);
    family(&bp, "liverec_publish_holds_total", "counter", "nginx-rtmp publish hooks held until the "
           "pull subscribed, by how the hold ended (timeout: the push may miss its first GOP).");
    for (int i = LIVEREC_HOLD_SUBSCRIBED; i <= LIVEREC_HOLD_TIMEOUT; i++)
        av_bprintf(&bp, "liverec_publish_holds_total{end=\"%s\"} %"PRId64"\n", hold_names[i],
                   counter(&c->holds[i]));

    {
        /* what the allocator holds: in use, and kept beside it (left out without tcmalloc) */
        size_t in_use, kept;
        if (ff_liverec_heap_stats(&in_use, &kept) >= 0) {
            family(&bp, "liverec_heap_bytes", "gauge", "Heap memory of the service (tcmalloc): "
                   "allocated, or free and kept by the allocator.");
            av_bprintf(&bp, "liverec_heap_bytes{state=\"in_use\"} %zu\n", in_use);
            av_bprintf(&bp, "liverec_heap_bytes{state=\"free\"} %zu\n", kept);
        }
    }

    /* the queues are in the catalog: left out when it cannot be opened (that logs why) */
    if (ff_liverec_state_connect(&st, o->state_dir) >= 0) {
        int uploads   = ff_liverec_state_pending(st);
        int callbacks = ff_liverec_state_callbacks_pending(st);
        int events    = ff_liverec_state_events_pending(st);
        ff_liverec_state_close(&st);
        if (uploads >= 0) {
            family(&bp, "liverec_upload_queue", "gauge", "Recordings waiting for their upload.");
            av_bprintf(&bp, "liverec_upload_queue %d\n", uploads);
        }
        if (callbacks >= 0 && events >= 0) {
            family(&bp, "liverec_callback_queue", "gauge", "Callbacks and events waiting for delivery.");
            av_bprintf(&bp, "liverec_callback_queue %d\n", callbacks + events);
        }
    }

    if (!av_bprint_is_complete(&bp)) {
        av_bprint_finalize(&bp, NULL);
        return AVERROR(ENOMEM);
    }
    i = bp.len;
    av_bprint_finalize(&bp, &text);
    if (!text)
        return AVERROR(ENOMEM);
    return reply_taken(resp, "text/plain; version=0.0.4; charset=utf-8", "no-store", text, i);
}

/* ---- ffliverec -status ---- */

/* Text from the service, for a terminal: no control characters. */
static void put_text(AVBPrint *bp, const char *s)
{
    for (; s && *s; s++)
        av_bprint_chars(bp, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, 1);
}

static void put_size(AVBPrint *bp, double n)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    size_t u = 0;
    while (n >= 1024 && u < FF_ARRAY_ELEMS(units) - 1) {
        n /= 1024;
        u++;
    }
    av_bprintf(bp, u ? "%.1f %s" : "%.0f %s", n, units[u]);
}

static void put_duration(AVBPrint *bp, int64_t s)
{
    if (s < 0)
        s = 0;
    av_bprintf(bp, "%"PRId64":%02d:%02d", s / 3600, (int)(s / 60 % 60), (int)(s % 60));
}

static void put_time(AVBPrint *bp, int64_t t)
{
    time_t tt = t;
    struct tm tm;
    char buf[64];
    if (t > 0 && localtime_r(&tt, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
        av_bprintf(bp, "%s", buf);
    else
        av_bprintf(bp, "-");
}

static int64_t jint(const json_t *o, const char *key)
{
    return (int64_t)json_number_value(json_object_get(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
    return row_str(o, key);
}

static void print_streams(AVBPrint *bp, const json_t *streams)
{
    size_t i, j, live = 0;
    json_t *s, *out;

    json_array_foreach(streams, i, s)
        live += json_is_true(json_object_get(s, "Live"));
    av_bprintf(bp, "streams: %zu live, %zu known\n", live, json_array_size(streams));
    json_array_foreach(streams, i, s) {
        const json_t *sess = json_object_get(s, "Session");
        av_bprintf(bp, "  ");
        put_text(bp, jstr(s, "DomainName"));
        av_bprint_chars(bp, '/', 1);
        put_text(bp, jstr(s, "AppName"));
        av_bprint_chars(bp, '/', 1);
        put_text(bp, jstr(s, "StreamName"));
        if (!json_is_object(sess)) {
            av_bprintf(bp, "  %s, not recording\n",
                       json_is_true(json_object_get(s, "Live")) ? "live" : "idle");
            continue;
        }
        av_bprintf(bp, "  ");
        put_text(bp, jstr(sess, "Phase"));
        av_bprintf(bp, "  push %"PRId64"  ", jint(sess, "Pushes"));
        put_duration(bp, jint(sess, "Seconds"));
        av_bprintf(bp, "  %.0f kbit/s  open:", json_number_value(json_object_get(sess, "Kbps")));
        json_array_foreach(json_object_get(sess, "Outputs"), j, out) {
            if (!json_is_true(json_object_get(out, "Open")))
                continue;
            av_bprint_chars(bp, ' ', 1);
            if (*jstr(out, "TaskId")) {
                av_bprintf(bp, "task-");
                put_text(bp, jstr(out, "TaskId"));
                av_bprint_chars(bp, ':', 1);
            }
            put_text(bp, jstr(out, "Format"));
        }
        if (!jint(sess, "Open"))
            av_bprintf(bp, " none");
        av_bprint_chars(bp, '\n', 1);
    }
}

static void print_recordings(AVBPrint *bp, const json_t *recs)
{
    size_t i;
    json_t *r;

    if (!json_array_size(recs)) {
        av_bprintf(bp, "no recordings in the catalog\n");
        return;
    }
    av_bprintf(bp, "last recordings:\n");
    json_array_foreach(recs, i, r) {
        int64_t start = jint(r, "start_usec"), ms = jint(r, "duration_ms");
        const char *status = jstr(r, "status");
        if (ms < 0)
            ms = (jint(r, "end_usec") - start) / 1000;
        av_bprintf(bp, "  ");
        put_time(bp, start > 0 ? start / 1000000 : jint(r, "created"));
        av_bprintf(bp, "  ");
        put_text(bp, jstr(r, "domain"));
        av_bprint_chars(bp, '/', 1);
        put_text(bp, jstr(r, "app"));
        av_bprint_chars(bp, '/', 1);
        put_text(bp, jstr(r, "stream"));
        if (*jstr(r, "task_id")) {
            av_bprintf(bp, " task-");
            put_text(bp, jstr(r, "task_id"));
        }
        av_bprintf(bp, "  ");
        put_text(bp, jstr(r, "format"));
        av_bprintf(bp, "  ");
        put_size(bp, json_number_value(json_object_get(r, "size")));
        av_bprintf(bp, "  ");
        put_duration(bp, (ms + 500) / 1000);
        av_bprintf(bp, "  ");
        put_text(bp, status);
        av_bprint_chars(bp, ' ', 1);
        put_text(bp, !strcmp(status, "uploaded") ? jstr(r, "url") : jstr(r, "local_path"));
        av_bprint_chars(bp, '\n', 1);
    }
}

static size_t body_cb(char *data, size_t size, size_t n, void *opaque)
{
    AVBPrint *b = opaque;
    if (b->len + size * n > STATUS_BODY_MAX)
        return 0;                       /* aborts the transfer */
    av_bprint_append_data(b, data, size * n);
    return av_bprint_is_complete(b) ? size * n : 0;
}

int ff_liverec_status_print(const char *listen)
{
    const char *port = listen ? strrchr(listen, ':') : NULL;
    json_t *root = NULL, *service, *queues;
    CURL *c = curl_easy_init();
    CURLcode res = CURLE_OUT_OF_MEMORY;
    AVBPrint body, out;
    char *url = NULL;
    long status = 0;
    int ret;

    if (!listen || !port) {
        av_log(NULL, AV_LOG_ERROR, "-listen '%s': expected an address and a port, like "
               "127.0.0.1:8090\n", listen ? listen : "");
        curl_easy_cleanup(c);
        return AVERROR(EINVAL);
    }
    /* a service listening on every address answers on the loopback one */
    if (av_strstart(listen, "0.0.0.0:", NULL))
        url = av_asprintf("http://127.0.0.1%s/status.json", port);
    else if (av_strstart(listen, "[::]:", NULL))
        url = av_asprintf("http://[::1]%s/status.json", port);
    else
        url = av_asprintf("http://%s/status.json", listen);
    av_bprint_init(&body, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (c && url) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        res = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(c);
    if (res != CURLE_OK) {
        av_log(NULL, AV_LOG_ERROR, "no ffliverec -serve answers on %s: %s\n", listen,
               res == CURLE_OUT_OF_MEMORY ? "out of memory" : curl_easy_strerror(res));
        ret = res == CURLE_OUT_OF_MEMORY            ? AVERROR(ENOMEM) :
              res == CURLE_OPERATION_TIMEDOUT       ? AVERROR(ETIMEDOUT) :
              res == CURLE_COULDNT_CONNECT          ? AVERROR(ECONNREFUSED) : AVERROR(EIO);
        goto end;
    }
    if (status != 200 || !av_bprint_is_complete(&body) ||
        !(root = json_loadb(body.str, body.len, 0, NULL)) || !json_is_object(root) ||
        !json_is_array(json_object_get(root, "Streams"))) {
        av_log(NULL, AV_LOG_ERROR, "no ffliverec -serve answers on %s: %s answered HTTP %ld "
               "without the service's status\n", listen, url, status);
        ret = AVERROR_INVALIDDATA;
        goto end;
    }

    av_bprint_init(&out, 0, AV_BPRINT_SIZE_UNLIMITED);
    service = json_object_get(root, "Service");
    av_bprintf(&out, "ffliverec ");
    put_text(&out, jstr(service, "Version"));
    av_bprintf(&out, " (FFmpeg ");
    put_text(&out, jstr(service, "FFmpegVersion"));
    av_bprintf(&out, ") on %s, running since ", listen);
    put_time(&out, jint(service, "StartTime"));
    if (jint(service, "StartTime") > 0 && jint(service, "Now") >= jint(service, "StartTime")) {
        av_bprintf(&out, " (");
        put_duration(&out, jint(service, "Now") - jint(service, "StartTime"));
        av_bprintf(&out, ")");
    }
    av_bprint_chars(&out, '\n', 1);
    print_streams(&out, json_object_get(root, "Streams"));
    queues = json_object_get(root, "Queues");
    if (json_is_object(queues))
        av_bprintf(&out, "queues: %"PRId64" uploads, %"PRId64" callbacks, %"PRId64" events pending\n",
                   jint(queues, "Uploads"), jint(queues, "Callbacks"), jint(queues, "Events"));
    else
        av_bprintf(&out, "queues: unknown (the service cannot read its catalog)\n");
    print_recordings(&out, json_object_get(root, "Recordings"));
    if (av_bprint_is_complete(&out)) {
        fputs(out.str, stdout);
        fflush(stdout);
        ret = 0;
    } else {
        ret = AVERROR(ENOMEM);
    }
    av_bprint_finalize(&out, NULL);
end:
    json_decref(root);
    av_bprint_finalize(&body, NULL);
    av_free(url);
    return ret;
}
