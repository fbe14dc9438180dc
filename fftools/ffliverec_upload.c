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
 * The upload worker takes the catalog's pending files, oldest first, with Storage
 * MaxConcurrentUploads threads (so one long file does not hold back the short ones behind it),
 * and copies each into storage through the
 * vodupload protocol (a multipart upload with a journal in the state folder, so a restart after
 * kill -9 resumes it). An HLS recording is its segments, then its playlist. Only when the upload
 * is confirmed is the file marked uploaded in the catalog, and then the local copy is removed. A
 * failed upload is retried later with backoff (5 s doubling to 5 min), also by the next run;
 * the first upload that works makes every waiting retry due at once (the storage is back).
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/buffer.h"
#include "libavutil/dict.h"
#include "libavutil/error.h"
#include "libavutil/mem.h"
#include "libavutil/thread.h"
#include "libavutil/time.h"
#include "libavformat/avio.h"

#include "ffliverec.h"

#define COPY_BUFFER (1 << 20)
/* A finished file up to this size goes in one PUT (one request instead of four: against Swift
 * 0.116 s instead of 0.150 s for 15 MiB); vodupload's buffer then grows to the file's size. */
#define SINGLE_PUT_MAX (32 << 20)

/* The files the threads are uploading: one slot a thread, 0 when it uploads none. */
typedef struct Claims {
    pthread_mutex_t lock;
    int64_t *ids;
    int nb;
} Claims;

/* One upload thread's. */
typedef struct Uploader {
    const LiveRecConfig *cfg;
    char *state_dir;
    LiveRecWorker *worker;
    LiveRecWorker *notifier;        ///< told when a callback was queued (NULL: no callbacks)
    uint8_t *buf;
    AVBufferRef *claims;            ///< Claims, shared by the threads
    int slot;                       ///< this thread's in the claims
} Uploader;

static int interrupt_cb(void *opaque)
{
    Uploader *u = opaque;
    return ff_liverec_worker_stopping(u->worker);
}

static int copy_file(Uploader *u, const char *src, const char *url, const char *journal)
{
    AVIOInterruptCB icb = { interrupt_cb, u };
    AVIOContext *in = NULL, *out = NULL;
    AVDictionary *opts = NULL;
    int64_t size;
    int ret;

    if ((ret = avio_open2(&in, src, AVIO_FLAG_READ, &icb, NULL)) < 0) {
        av_log(NULL, AV_LOG_ERROR, "upload: cannot read %s: %s\n", src, av_err2str(ret));
        return ret;
    }
    if (journal)
        av_dict_set(&opts, "journal", journal, 0);
    size = avio_size(in);
    /* smaller files fit in vodupload's first part anyway (its part_size is at least 5 MiB) */
    if (size >= 5 << 20 && size <= SINGLE_PUT_MAX)
        av_dict_set_int(&opts, "part_size", ((size >> 20) + 1) << 20, 0);
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
    Uploader *u;
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

static int upload_one(Uploader *u, const LiveRecFile *f, char **video_url)
{
    char *url = object_url(u->cfg, f->object_key);
    char *journal = av_asprintf("%s/upload-%"PRId64".journal", u->state_dir, f->id);
    int ret = url && journal ? 0 : AVERROR(ENOMEM);

    if (ret >= 0 && !strcmp(f->format, "hls")) {
        const char *slash = strrchr(f->object_key, '/');
        char *key_dir = av_strndup(f->object_key, slash ? slash - f->object_key + 1 : 0);
        HlsUpload h = { u, key_dir };
        ret = key_dir ? ff_liverec_hls_files(f->local_path, NULL, upload_segment, &h) : AVERROR(ENOMEM);
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

static int upload_step(LiveRecWorker *w, void *priv, LiveRecState *st)
{
    Uploader *u = priv;
    Claims *cl = (Claims *)u->claims->data;
    int64_t now = av_gettime() / 1000000;
    char *video_url = NULL;
    int64_t t0 = av_gettime_relative();
    LiveRecFile f;
    int ret;

    u->worker = w;
    /* a reload may take the Storage away: the queue waits for one */
    if (!u->cfg->storage_endpoint)
        return 0;
    /* the next file no other thread has taken */
    pthread_mutex_lock(&cl->lock);
    if ((ret = ff_liverec_state_next_upload(st, now, cl->ids, cl->nb, &f)) > 0)
        cl->ids[u->slot] = f.id;
    pthread_mutex_unlock(&cl->lock);
    if (ret <= 0)
        return ret;
    ret = upload_one(u, &f, &video_url);
    if (ret >= 0 && (ret = ff_liverec_state_uploaded(st, f.id, video_url, av_gettime(),
                                                            u->notifier && (u->cfg->callback_events & LIVEREC_EVENT_RECORD_FILE))) >= 0) {
        av_log(NULL, AV_LOG_INFO, "uploaded %s (%"PRId64" bytes, %.1f s) to %s\n",
               f.local_path, f.size, (av_gettime_relative() - t0) / 1e6, video_url);
        ff_liverec_worker_kick(u->notifier);
        /* the storage answers again: what waits for a retry goes now, oldest first, instead
         * of each file when its backoff (up to 5 minutes) runs out */
        ff_liverec_state_retry_all_now(st, now);
        LIVEREC_COUNT(uploads[LIVEREC_RESULT_OK], 1);
        LIVEREC_COUNT(upload_bytes, f.size);
        /* the catalog says uploaded: only now the local copy goes */
        if (!strcmp(f.format, "hls"))
            ff_liverec_hls_files(f.local_path, NULL, remove_segment, NULL);
        remove_segment(NULL, f.local_path);
    } else if (!ff_liverec_worker_stopping(w)) {
        int64_t delay = FFMIN(5LL << FFMIN(f.attempts, 6), LIVEREC_UPLOAD_RETRY_MAX);
        LIVEREC_COUNT(uploads[LIVEREC_RESULT_FAILED], 1);
        av_log(NULL, AV_LOG_WARNING, "upload of %s failed (%s); retry %d in %"PRId64" s\n",
               f.local_path, av_err2str(ret), f.attempts + 1, delay);
        ff_liverec_state_retry_later(st, f.id, now + delay);
    }
    pthread_mutex_lock(&cl->lock);
    cl->ids[u->slot] = 0;
    pthread_mutex_unlock(&cl->lock);
    av_free(video_url);
    ff_liverec_file_free(&f);
    return 1;
}

static void upload_uninit(void *priv)
{
    Uploader *u = priv;
    if (!u)
        return;
    av_free(u->state_dir);
    av_free(u->buf);
    av_buffer_unref(&u->claims);
    av_free(u);
}

static void claims_free(void *opaque, uint8_t *data)
{
    Claims *cl = (Claims *)data;
    pthread_mutex_destroy(&cl->lock);
    av_free(cl->ids);
    av_free(cl);
}

static void upload_set_config(void *priv, const LiveRecConfig *cfg)
{
    ((Uploader *)priv)->cfg = cfg;
}

static const LiveRecWorkerOps upload_ops = {
    .name       = "upload",
    .step       = upload_step,
    .pending    = ff_liverec_state_pending,
    .uninit     = upload_uninit,
    .set_config = upload_set_config,
};

int ff_liverec_uploader_start(LiveRecWorker **w, const LiveRecConfig *cfg, const char *state_dir,
                              volatile int *stop, LiveRecWorker *notifier,
                              LiveRecConfigHolder *holder)
{
    int n = FFMAX(cfg->storage_max_uploads, 1), ret = 0;
    Claims *cl = av_mallocz(sizeof(*cl));
    AVBufferRef *claims = NULL;
    void **privs = av_calloc(n, sizeof(*privs));

    *w = NULL;
    if (cl && (cl->ids = av_calloc(n, sizeof(*cl->ids)))) {
        pthread_mutex_init(&cl->lock, NULL);
        cl->nb = n;
        if (!(claims = av_buffer_create((uint8_t *)cl, sizeof(*cl), claims_free, NULL, 0)))
            claims_free(NULL, (uint8_t *)cl);
    } else if (cl) {
        av_free(cl);
    }
    for (int i = 0; i < n; i++) {
        Uploader *u = privs && claims ? av_mallocz(sizeof(*u)) : NULL;
        if (!u || !(u->state_dir = av_strdup(state_dir)) || !(u->buf = av_malloc(COPY_BUFFER)) ||
            !(u->claims = av_buffer_ref(claims))) {
            upload_uninit(u);
            ret = AVERROR(ENOMEM);
            break;
        }
        u->cfg      = cfg;
        u->notifier = notifier;
        u->slot     = i;
        privs[i]    = u;
    }
    if (ret >= 0)
        ret = ff_liverec_worker_start_n(w, &upload_ops, privs, n, state_dir, stop, holder);
    else
        for (int i = 0; privs && i < n; i++)
            upload_uninit(privs[i]);
    av_buffer_unref(&claims);
    av_free(privs);
    return ret;
}
