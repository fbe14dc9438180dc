/*
 * ffliverec -serve: the service's main loop, its signals and its parts
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
 * SIGINT, SIGTERM and SIGHUP are blocked before any thread starts (threads inherit the mask), so
 * only this thread takes them, with sigtimedwait(), between the manager's clock ticks; SIGPIPE is
 * ignored. The order of the parts: the workers (one catalog queue each), the manager, then the
 * listener, so that a hook always finds what it needs; they stop in the opposite order: no more
 * hooks, every session finalizes its files, then the workers (what is pending stays in the
 * catalog for the next start).
 */

#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>
#if HAVE_SYS_RESOURCE_H && HAVE_SETRLIMIT
#include <sys/resource.h>
#endif

#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/macros.h"
#include "libavutil/time.h"
#include "libavformat/avformat.h"

#include "ffliverec_heap.h"
#include "ffliverec_serve.h"

static volatile int stop_requested;

#define HEAP_RELEASE_PERIOD 60000000    ///< usec between two hand-backs of free heap pages

/* open files a session may hold at once: its pull, a file per format and the one it finalizes,
 * the catalog (database, WAL and its index), with room to spare */
#define FILES_PER_SESSION 16
/* what the service itself holds: listener, workers' catalogs and connections, logs */
#define FILES_BASE        256

/*
 * A shell's limit of open files is 1,024 by default (the soft limit), far below what hundreds of
 * sessions hold, while the hard limit usually allows much more: the service raises its soft
 * limit to the hard one, and says so when even that is too low for MaxSessions.
 */
static void files_setup(int max_sessions)
{
#if HAVE_SYS_RESOURCE_H && HAVE_SETRLIMIT
    struct rlimit rl;
    rlim_t need = (rlim_t)max_sessions * FILES_PER_SESSION + FILES_BASE;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
        rlim_t old = rl.rlim_cur;
        /* no more than the need: some libraries still loop over every possible descriptor */
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : FFMIN(rl.rlim_max, FFMAX(need, old));
        if (rl.rlim_cur > old && setrlimit(RLIMIT_NOFILE, &rl) >= 0)
            av_log(NULL, AV_LOG_VERBOSE, "open files: the limit is raised from %llu to %llu\n",
                   (unsigned long long)old, (unsigned long long)rl.rlim_cur);
        else if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
            return;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        av_log(NULL, AV_LOG_WARNING, "open files are limited to %llu (ulimit -n, hard limit %llu): "
               "Service MaxSessions %d may need up to %llu; sessions past the limit fail to open "
               "their files\n", (unsigned long long)rl.rlim_cur,
               (unsigned long long)rl.rlim_max, max_sessions, (unsigned long long)need);
#endif
}

/*
 * tcmalloc hands free pages back to the system a little at a time as it frees more: once a
 * minute, what it holds free goes back, so that the cuts' bursts and an idle service's last
 * sessions are not kept.
 */
static void heap_release(int64_t *last)
{
    int64_t now = av_gettime_relative();
    if (now - *last < HEAP_RELEASE_PERIOD)
        return;
    *last = now;
    ff_liverec_heap_release();
}

int ff_liverec_serve(LiveRecConfig *cfg, const LiveRecServeOptions *o)
{
    LiveRecManagerOptions mo = {
        .config_path  = o->config_path,
        .spool        = o->spool,
        .state_dir    = o->state_dir,
        .rw_timeout   = o->rw_timeout,
        .read_coalesce = o->read_coalesce,
        .probe_decode  = o->probe_decode,
        .hook_hold    = o->hook_hold,
        .stats_period = o->stats_period,
        .stop         = &stop_requested,
    };
    LiveRecWorker *uploader = NULL, *notifier = NULL, *retention = NULL;
    LiveRecConfigHolder *holder = NULL;
    LiveRecManager *m = NULL;
    LiveRecHttp *http = NULL;
    sigset_t set;
    int64_t released = av_gettime_relative();
    const char *allocator;
    int ret = 0, ret2;

    if ((allocator = ff_liverec_heap_allocator())) {
        size_t cache = ff_liverec_heap_setup(cfg->max_sessions);
        char caches[96] = "";
        if (cache)
            snprintf(caches, sizeof(caches), ", its threads' caches up to %zu MiB in all (Service "
                     "MaxSessions %d)", cache >> 20, cfg->max_sessions);
        av_log(NULL, AV_LOG_VERBOSE, "heap: tcmalloc (%s)%s\n", allocator, caches);
    } else
        av_log(NULL, AV_LOG_WARNING, "heap: tcmalloc does not serve malloc() (a sanitizer or a "
               "preloaded allocator took it first): liverec_heap_bytes is left out\n");
    files_setup(cfg->max_sessions);
    atomic_store(&ff_liverec_metrics.start_usec, av_gettime());
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* the workers follow reloads (a Storage or Callback may come or go): all of them run */
    ret = ff_liverec_config_holder_alloc(&holder, cfg);
    if (ret >= 0)
        ret = ff_liverec_notifier_start(&notifier, cfg, o->state_dir, &stop_requested, holder);
    if (ret >= 0)
        ret = ff_liverec_uploader_start(&uploader, cfg, o->state_dir, &stop_requested, notifier,
                                        holder);
    if (ret >= 0)
        ret = ff_liverec_retention_start(&retention, cfg, o->state_dir, &stop_requested, holder);
    mo.uploader = uploader;
    mo.notifier = notifier;
    mo.holder   = holder;
    if (ret >= 0)
        ret = ff_liverec_manager_start(&m, cfg, &mo);
    if (ret >= 0)
        ret = ff_liverec_http_start(&http, o->listen, m);
    if (ret >= 0) {
        av_log(NULL, AV_LOG_INFO, "serving %s: %d origin%s, %d templates, %d rules, %d tasks; "
               "SIGHUP reloads, SIGINT/SIGTERM stop\n", o->config_path, cfg->nb_origins,
               cfg->nb_origins == 1 ? "" : "s", cfg->nb_templates, cfg->nb_rules, cfg->nb_tasks);
        if (!cfg->nb_origins)
            av_log(NULL, AV_LOG_WARNING, "%s has no Origin: every hook is answered, nothing is "
                   "recorded\n", o->config_path);
    }

    while (ret >= 0) {
        struct timespec ts = { 0, 250000000 };
        siginfo_t si;
        int sig;

        ff_liverec_manager_tick(m);
        heap_release(&released);
        sig = sigtimedwait(&set, &si, &ts);
        if (sig == SIGHUP) {
            ff_liverec_manager_reload(m);
        } else if (sig == SIGINT || sig == SIGTERM) {
            av_log(NULL, AV_LOG_INFO, "%s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
            stop_requested = sig;
            break;
        }
    }

    ff_liverec_http_stop(&http);
    stop_requested = stop_requested ? stop_requested : SIGTERM;
    ff_liverec_manager_stop(&m);
    /* a stop does not wait for the network: what is pending stays queued */
    ret2 = ff_liverec_worker_finish(&uploader, 0);
    ff_liverec_worker_finish(&notifier, 0);
    ff_liverec_worker_finish(&retention, 0);
    ff_liverec_config_holder_free(&holder);
    if (ret2 < 0 && ret >= 0)
        av_log(NULL, AV_LOG_INFO, "uploads pending are kept in the catalog for the next start\n");
    return ret;
}
