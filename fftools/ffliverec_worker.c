/*
 * ffliverec: a queue worker thread (uploads, callbacks)
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
 * A worker owns one thread and its own connection to the state database. It takes the items of
 * its queue (a table of the database) one by one through ops->step() until told to quit, or,
 * when drained, until ops->pending() says nothing is left. Between items that are not due yet it
 * sleeps up to a second, or until kicked.
 */

#include <time.h>

#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/thread.h"
#include "libavutil/time.h"

#include "ffliverec.h"

struct LiveRecWorker {
    const LiveRecWorkerOps *ops;
    void *priv;
    LiveRecState *state;
    volatile int *stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int kicked, quit, drain;
    int told_waiting;               ///< "waiting for the pending ..." was logged
    LiveRecConfigHolder *holder;    ///< the configuration in force, or NULL: the first one
    AVBufferRef *cfg;               ///< the snapshot the last step used
};

/* A step uses the configuration in force: the holder's, told to the worker when it changed. */
static void follow_config(LiveRecWorker *w)
{
    AVBufferRef *ref;

    if (!w->holder || !(ref = ff_liverec_config_holder_get(w->holder)))
        return;
    if ((!w->cfg || w->cfg->data != ref->data) && w->ops->set_config)
        w->ops->set_config(w->priv, (const LiveRecConfig *)ref->data);
    av_buffer_unref(&w->cfg);
    w->cfg = ref;
}

int ff_liverec_worker_stopping(const LiveRecWorker *w)
{
    return w->stop && *w->stop;
}

static void *worker_main(void *arg)
{
    LiveRecWorker *w = arg;

    while (!ff_liverec_worker_stopping(w)) {
        follow_config(w);
        if (w->ops->step(w, w->priv, w->state) > 0)
            continue;
        pthread_mutex_lock(&w->lock);
        if (w->quit)
            goto quit;
        /* the connection is this thread's: only it asks how much is left */
        if (w->drain) {
            int pending = w->ops->pending(w->state);
            if (pending <= 0)
                goto quit;
            if (!w->told_waiting++)
                av_log(NULL, AV_LOG_INFO, "waiting for %d pending %s%s\n", pending,
                       w->ops->name, pending == 1 ? "" : "s");
        }
        if (!w->kicked) {
            struct timespec ts;
            int64_t t = av_gettime() + 1000000;
            ts.tv_sec  = t / 1000000;
            ts.tv_nsec = t % 1000000 * 1000;
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        w->kicked = 0;
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
quit:
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int ff_liverec_worker_start(LiveRecWorker **pw, const LiveRecWorkerOps *ops, void *priv,
                            const char *state_dir, volatile int *stop,
                            LiveRecConfigHolder *holder)
{
    LiveRecWorker *w = av_mallocz(sizeof(*w));
    int ret;

    *pw = NULL;
    if (!w) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    w->ops    = ops;
    w->priv   = priv;
    w->stop   = stop;
    w->holder = holder;
    if ((ret = ff_liverec_state_connect(&w->state, state_dir)) < 0)
        goto fail;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if ((ret = pthread_create(&w->thread, NULL, worker_main, w))) {
        ret = AVERROR(ret);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        goto fail;
    }
    *pw = w;
    return 0;
fail:
    if (w)
        ff_liverec_state_close(&w->state);
    av_free(w);
    ops->uninit(priv);
    return ret;
}

void ff_liverec_worker_kick(LiveRecWorker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->kicked = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int ff_liverec_worker_finish(LiveRecWorker **pw, int drain)
{
    LiveRecWorker *w = *pw;
    int pending;

    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    if (drain)
        w->drain = 1;
    else
        w->quit = 1;
    w->kicked = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pending = w->ops->pending(w->state);
    if (pending > 0)
        av_log(NULL, AV_LOG_WARNING, "%d %s%s pending; the next run with this state folder "
               "continues\n", pending, w->ops->name, pending == 1 ? " is" : "s are");
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    ff_liverec_state_close(&w->state);
    w->ops->uninit(w->priv);
    av_buffer_unref(&w->cfg);
    av_freep(pw);
    return pending > 0 ? AVERROR(EAGAIN) : 0;
}
