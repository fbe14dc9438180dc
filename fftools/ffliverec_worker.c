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
 * A worker owns one thread (or several: ff_liverec_worker_start_n()), each with its own
 * connection to the state database, its own private data and its own snapshot of the
 * configuration. Each takes the items of the queue (a table of the database) through
 * ops->step() until told to quit, or, when drained, until ops->pending() says nothing is left.
 * Between items that are not due yet it sleeps up to a second, or until kicked.
 */

#include <stdio.h>
#include <time.h>

#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/thread.h"
#include "libavutil/time.h"

#include "ffliverec.h"

typedef struct WorkerThread {
    struct LiveRecWorker *w;
    void *priv;
    LiveRecState *state;
    AVBufferRef *cfg;               ///< the snapshot the last step used
    pthread_t thread;
    int running;
} WorkerThread;

struct LiveRecWorker {
    const LiveRecWorkerOps *ops;
    WorkerThread *threads;
    int nb_threads;
    volatile int *stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int kicked, quit, drain;
    int told_waiting;               ///< "waiting for the pending ..." was logged
    LiveRecConfigHolder *holder;    ///< the configuration in force, or NULL: the first one
};

/* A step uses the configuration in force: the holder's, told to the thread when it changed. */
static void follow_config(LiveRecWorker *w, WorkerThread *t)
{
    AVBufferRef *ref;

    if (!w->holder || !(ref = ff_liverec_config_holder_get(w->holder)))
        return;
    if ((!t->cfg || t->cfg->data != ref->data) && w->ops->set_config)
        w->ops->set_config(t->priv, (const LiveRecConfig *)ref->data);
    av_buffer_unref(&t->cfg);
    t->cfg = ref;
}

int ff_liverec_worker_stopping(const LiveRecWorker *w)
{
    return w->stop && *w->stop;
}

static void *worker_main(void *arg)
{
    WorkerThread *t = arg;
    LiveRecWorker *w = t->w;
    char name[16];

    snprintf(name, sizeof(name), "lr-%s", w->ops->name);
    ff_thread_setname(name);
    while (!ff_liverec_worker_stopping(w)) {
        follow_config(w, t);
        if (w->ops->step(w, t->priv, t->state) > 0)
            continue;
        pthread_mutex_lock(&w->lock);
        if (w->quit)
            goto quit;
        /* the connection is this thread's: only it asks how much is left (the items the other
         * threads are doing are counted until they are done) */
        if (w->drain) {
            int pending = w->ops->pending(t->state);
            if (pending <= 0) {
                /* the threads waiting for this one's item see that nothing is left now,
                 * not at the end of their wait */
                pthread_cond_broadcast(&w->cond);
                goto quit;
            }
            if (!w->told_waiting++)
                av_log(NULL, AV_LOG_INFO, "waiting for %d pending %s%s\n", pending,
                       w->ops->name, pending == 1 ? "" : "s");
        }
        if (!w->kicked) {
            struct timespec ts;
            int64_t until = av_gettime() + 1000000;
            ts.tv_sec  = until / 1000000;
            ts.tv_nsec = until % 1000000 * 1000;
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

/* End the threads that run (they are told to quit or drain before) and free everything. */
static void worker_free(LiveRecWorker **pw, int nb_privs)
{
    LiveRecWorker *w = *pw;

    for (int i = 0; i < w->nb_threads; i++)
        if (w->threads[i].running)
            pthread_join(w->threads[i].thread, NULL);
    for (int i = 0; i < nb_privs; i++) {
        WorkerThread *t = &w->threads[i];
        ff_liverec_state_close(&t->state);
        w->ops->uninit(t->priv);
        av_buffer_unref(&t->cfg);
    }
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    av_free(w->threads);
    av_freep(pw);
}

int ff_liverec_worker_start_n(LiveRecWorker **pw, const LiveRecWorkerOps *ops, void **privs,
                              int n, const char *state_dir, volatile int *stop,
                              LiveRecConfigHolder *holder)
{
    LiveRecWorker *w = av_mallocz(sizeof(*w));
    int ret = 0;

    *pw = NULL;
    if (!w || !(w->threads = av_calloc(n, sizeof(*w->threads)))) {
        av_free(w);
        for (int i = 0; i < n; i++)
            ops->uninit(privs[i]);
        return AVERROR(ENOMEM);
    }
    w->ops        = ops;
    w->stop       = stop;
    w->holder     = holder;
    w->nb_threads = n;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    for (int i = 0; i < n; i++) {
        w->threads[i].w    = w;
        w->threads[i].priv = privs[i];
    }
    for (int i = 0; i < n && ret >= 0; i++) {
        WorkerThread *t = &w->threads[i];
        if ((ret = ff_liverec_state_connect(&t->state, state_dir)) >= 0 &&
            (ret = AVERROR(pthread_create(&t->thread, NULL, worker_main, t))) >= 0)
            t->running = 1;
    }
    if (ret < 0) {
        pthread_mutex_lock(&w->lock);
        w->quit = 1;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        worker_free(&w, n);
        return ret;
    }
    *pw = w;
    return 0;
}

int ff_liverec_worker_start(LiveRecWorker **pw, const LiveRecWorkerOps *ops, void *priv,
                            const char *state_dir, volatile int *stop,
                            LiveRecConfigHolder *holder)
{
    return ff_liverec_worker_start_n(pw, ops, &priv, 1, state_dir, stop, holder);
}

void ff_liverec_worker_kick(LiveRecWorker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->kicked = 1;
    pthread_cond_broadcast(&w->cond);
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
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nb_threads; i++) {
        pthread_join(w->threads[i].thread, NULL);
        w->threads[i].running = 0;
    }
    pending = w->ops->pending(w->threads[0].state);
    if (pending > 0)
        av_log(NULL, AV_LOG_WARNING, "%d %s%s pending; the next run with this state folder "
               "continues\n", pending, w->ops->name, pending == 1 ? " is" : "s are");
    worker_free(pw, w->nb_threads);
    return pending > 0 ? AVERROR(EAGAIN) : 0;
}
