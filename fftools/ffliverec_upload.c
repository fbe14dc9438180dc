/*
 * ffliverec: the upload worker
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
 * One thread takes the catalog's pending files in order and copies each into storage through the
 * vodupload protocol (a multipart upload with a journal in the state folder, so a restart after
 * kill -9 resumes it). An HLS recording is its segments, then its playlist. Only when the upload
 * is confirmed is the file marked uploaded in the catalog, and then the local copy is removed. A
 * failed upload is retried later with backoff (5 s doubling to 5 min), also by the next run.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/dict.h"
#include "libavutil/error.h"
#include "libavutil/mem.h"
#include "libavutil/thread.h"
#include "libavutil/time.h"
#include "libavformat/avio.h"

#include "ffliverec.h"

#define COPY_BUFFER (1 << 20)

struct LiveRecUploader {
    const LiveRecConfig *cfg;
    char *state_dir;
    LiveRecState *state;            ///< the worker's own connection
    volatile int *stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int kicked, quit, drain;
    uint8_t *buf;
};

static int interrupt_cb(void *opaque)
{
    LiveRecUploader *u = opaque;
    return u->stop && *u->stop;
}

static int copy_file(LiveRecUploader *u, const char *src, const char *url, const char *journal)
{
    AVIOInterruptCB icb = { interrupt_cb, u };
    AVIOContext *in = NULL, *out = NULL;
    AVDictionary *opts = NULL;
    int ret;

    if ((ret = avio_open2(&in, src, AVIO_FLAG_READ, &icb, NULL)) < 0) {
        av_log(NULL, AV_LOG_ERROR, "upload: cannot read %s: %s\n", src, av_err2str(ret));
        return ret;
    }
    if (journal)
        av_dict_set(&opts, "journal", journal, 0);
    if (u->cfg->storage_region)
        av_dict_set(&opts, "region", u->cfg->storage_region, 0);
    /* a few quick retries per request; the catalog's retries (5 s doubling) do the long wait */
    av_dict_set(&opts, "max_retries", "2", 0);
    av_dict_set(&opts, "retry_delay", "1", 0);
    ret = avio_open2(&out, url, AVIO_FLAG_WRITE, &icb, &opts);
    av_dict_free(&opts);
    while (ret >= 0) {
        int n = avio_read(in, u->buf, COPY_BUFFER);
        if (n == AVERROR_EOF)
            break;
        if (n < 0) {
            ret = n;
            break;
        }
        avio_write(out, u->buf, n);
        ret = out->error;
    }
    avio_closep(&in);
    if (out) {
        int ret2 = avio_closep(&out);
        if (ret >= 0)
            ret = ret2;
    }
    return ret;
}

typedef struct HlsUpload {
    LiveRecUploader *u;
    const char *key_dir;            ///< object key of the playlist's folder, with '/'
    int ret;
} HlsUpload;

static char *object_url(const LiveRecConfig *cfg, const char *key)
{
    return av_asprintf("vodupload+%s/%s/%s", cfg->storage_endpoint, cfg->storage_bucket, key);
}

static int upload_segment(void *opaque, const char *path)
{
    HlsUpload *h = opaque;
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char *key = av_asprintf("%s%s", h->key_dir, name);
    char *url = key ? object_url(h->u->cfg, key) : NULL;
    int ret = url ? copy_file(h->u, path, url, NULL) : AVERROR(ENOMEM);
    av_free(key);
    av_free(url);
    return ret;
}

static int remove_segment(void *opaque, const char *path)
{
    if (unlink(path) < 0)
        av_log(NULL, AV_LOG_WARNING, "cannot remove %s after its upload\n", path);
    return 0;
}

static int upload_one(LiveRecUploader *u, const LiveRecFile *f, char **video_url)
{
    char *url = object_url(u->cfg, f->object_key);
    char *journal = av_asprintf("%s/upload-%"PRId64".journal", u->state_dir, f->id);
    int ret = url && journal ? 0 : AVERROR(ENOMEM);

    if (ret >= 0 && !strcmp(f->format, "hls")) {
        const char *slash = strrchr(f->object_key, '/');
        char *key_dir = av_strndup(f->object_key, slash ? slash - f->object_key + 1 : 0);
        HlsUpload h = { u, key_dir };
        ret = key_dir ? ff_liverec_hls_files(f->local_path, upload_segment, &h) : AVERROR(ENOMEM);
        av_free(key_dir);
    }
    if (ret >= 0)
        ret = copy_file(u, f->local_path, url, journal);
    if (ret >= 0)
        *video_url = av_asprintf("%s/%s/%s", u->cfg->storage_endpoint, u->cfg->storage_bucket,
                                 f->object_key);
    av_free(url);
    av_free(journal);
    return ret < 0 ? ret : *video_url ? 0 : AVERROR(ENOMEM);
}

static void *uploader_main(void *arg)
{
    LiveRecUploader *u = arg;

    for (;;) {
        int64_t now = av_gettime() / 1000000;
        LiveRecFile f;
        int ret;

        if (u->stop && *u->stop)
            break;
        ret = ff_liverec_state_next_upload(u->state, now, &f);
        if (ret > 0) {
            char *video_url = NULL;
            int64_t t0 = av_gettime_relative();
            ret = upload_one(u, &f, &video_url);
            if (ret >= 0 && ff_liverec_state_uploaded(u->state, f.id, video_url, av_gettime() / 1000000) >= 0) {
                av_log(NULL, AV_LOG_INFO, "uploaded %s (%"PRId64" bytes, %.1f s) to %s\n",
                       f.local_path, f.size, (av_gettime_relative() - t0) / 1e6, video_url);
                /* the catalog says uploaded: only now the local copy goes */
                if (!strcmp(f.format, "hls"))
                    ff_liverec_hls_files(f.local_path, remove_segment, NULL);
                remove_segment(NULL, f.local_path);
            } else if (!(u->stop && *u->stop)) {
                int64_t delay = FFMIN(5LL << FFMIN(f.attempts, 6), 300);
                av_log(NULL, AV_LOG_WARNING, "upload of %s failed (%s); retry %d in %"PRId64" s\n",
                       f.local_path, av_err2str(ret), f.attempts + 1, delay);
                ff_liverec_state_retry_later(u->state, f.id, now + delay);
            }
            av_free(video_url);
            ff_liverec_file_free(&f);
            continue;
        }
        pthread_mutex_lock(&u->lock);
        if (u->quit || (u->drain && ff_liverec_state_pending(u->state) <= 0)) {
            pthread_mutex_unlock(&u->lock);
            break;
        }
        if (!u->kicked) {
            struct timespec ts;
            int64_t t = av_gettime() + 1000000;
            ts.tv_sec  = t / 1000000;
            ts.tv_nsec = t % 1000000 * 1000;
            pthread_cond_timedwait(&u->cond, &u->lock, &ts);
        }
        u->kicked = 0;
        pthread_mutex_unlock(&u->lock);
    }
    return NULL;
}

int ff_liverec_uploader_start(LiveRecUploader **pu, const LiveRecConfig *cfg,
                              const char *state_dir, volatile int *stop)
{
    LiveRecUploader *u = av_mallocz(sizeof(*u));
    int ret;

    *pu = NULL;
    if (!u || !(u->state_dir = av_strdup(state_dir)) || !(u->buf = av_malloc(COPY_BUFFER))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    u->cfg  = cfg;
    u->stop = stop;
    if ((ret = ff_liverec_state_open(&u->state, state_dir)) < 0)
        goto fail;
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->cond, NULL);
    if ((ret = pthread_create(&u->thread, NULL, uploader_main, u))) {
        ret = AVERROR(ret);
        pthread_cond_destroy(&u->cond);
        pthread_mutex_destroy(&u->lock);
        goto fail;
    }
    *pu = u;
    return 0;
fail:
    if (u) {
        ff_liverec_state_close(&u->state);
        av_free(u->state_dir);
        av_free(u->buf);
        av_free(u);
    }
    return ret;
}

void ff_liverec_uploader_kick(LiveRecUploader *u)
{
    if (!u)
        return;
    pthread_mutex_lock(&u->lock);
    u->kicked = 1;
    pthread_cond_signal(&u->cond);
    pthread_mutex_unlock(&u->lock);
}

int ff_liverec_uploader_finish(LiveRecUploader **pu, int drain)
{
    LiveRecUploader *u = *pu;
    int pending;

    if (!u)
        return 0;
    pthread_mutex_lock(&u->lock);
    if (drain)
        u->drain = 1;
    else
        u->quit = 1;
    u->kicked = 1;
    pthread_cond_signal(&u->cond);
    pthread_mutex_unlock(&u->lock);
    if (drain)
        av_log(NULL, AV_LOG_INFO, "waiting for the pending uploads\n");
    pthread_join(u->thread, NULL);
    pending = ff_liverec_state_pending(u->state);
    if (pending > 0)
        av_log(NULL, AV_LOG_WARNING, "%d upload%s pending; the next run with this state folder "
               "continues them\n", pending, pending == 1 ? " is" : "s are");
    pthread_cond_destroy(&u->cond);
    pthread_mutex_destroy(&u->lock);
    ff_liverec_state_close(&u->state);
    av_free(u->state_dir);
    av_free(u->buf);
    av_freep(pu);
    return pending > 0 ? AVERROR(EAGAIN) : 0;
}
