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
#include <stdlib.h>
#include <time.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if HAVE_SYS_RESOURCE_H && HAVE_SETRLIMIT
#include <sys/resource.h>
#endif

#include "libavutil/cpu.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/macros.h"
#include "libavutil/time.h"
#include "libavformat/avformat.h"

#include "ffliverec_serve.h"

static volatile int stop_requested;

#define HEAP_TRIM_PERIOD    60000000    ///< usec between two returns of free heap memory to the system
#define HEAP_MMAP_THRESHOLD (512 << 10) ///< blocks from this size up are mapped on their own
#define HEAP_TRIM_THRESHOLD (1 << 20)   ///< free memory an arena's top keeps before giving it back

/*
 * glibc's allocator gives each thread that meets a locked arena a new one, up to 8 per core, and
 * an arena keeps what was freed in it. Sessions mostly wait on their sockets but cut their files
 * at the same moments, so with 50 sessions the service held some 140 MiB more with the default
 * than with 2 arenas on 2 cores (tests/soak/run, 60 s cuts), for no gain in speed: one arena
 * per core.
 *
 * glibc also raises its mmap threshold to the size of every large block freed (up to 32 MiB):
 * once a probe that decodes (-probe_decode) has freed its decoded frames, every later block of
 * that size stays in the heap, and what they leave free is kept between trims. Fixed thresholds
 * keep the largest blocks out of the heap (measured when every probe decoded and every MP4
 * fragment had a new buffer; 20 pushes, 40 s: 95.2-102.8 MiB resident with the dynamic
 * threshold, 86.5 MiB with 512 KiB; 50 pushes in tests/bench/service: VmHWM 3.8-4.0 -> 3.6 MiB
 * per stream, the same CPU ratio to nginx). Fixing the mmap threshold would
 * also fix the trim threshold at 128 KiB, a return to the kernel for every 128 KiB freed at the
 * top: it is set too.
 *
 * The user's own settings (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_)
 * stand. Must be called before any thread starts.
 */
static void heap_setup(void)
{
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
    if (!getenv("MALLOC_ARENA_MAX"))    /* the user's choice stands */
        mallopt(M_ARENA_MAX, FFMAX(av_cpu_count(), 2));
#endif
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    if (!getenv("MALLOC_MMAP_THRESHOLD_") && !getenv("MALLOC_TRIM_THRESHOLD_")) {
        mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD);
        mallopt(M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD);
    }
#endif
}

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

/* Hand what the allocator holds free back to the system (it keeps what a burst left otherwise). */
static void heap_trim(int64_t *last)
{
#if defined(__GLIBC__)
    int64_t now = av_gettime_relative();
    if (now - *last < HEAP_TRIM_PERIOD)
        return;
    *last = now;
    malloc_trim(0);
#endif
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
    int64_t trimmed = av_gettime_relative();
    int ret = 0, ret2;

    heap_setup();
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
        heap_trim(&trimmed);
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
