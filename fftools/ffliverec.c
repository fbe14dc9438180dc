/*
 * ffliverec: record live streams by templates, rules and tasks
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

/**
 * @file
 * ffliverec: the recording model of DESIGN.md section 3 on top of the liverec muxers and the
 * vodupload protocol. This file holds the command line; the configuration (XML validated against
 * liverec/schema/liverec.xsd, rule matching) is in ffliverec_config.c.
 */

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/mem.h"
#include "libavutil/parseutils.h"
#include "libavutil/time.h"
#include "libavformat/avformat.h"

#include <curl/curl.h>
#include <libxml/parser.h>

#include "cmdutils.h"
#include "ffliverec.h"
#include "ffliverec_serve.h"
#include "opt_common.h"

const char program_name[] = "ffliverec";
const int program_birth_year = 2026;

typedef struct LiveRecOptions {
    char *config;
    char *match;
    char *now;
    int   check;
    char *domain, *app, *stream;
    char *input;
    char *spool;
    char *state;
    int   list;
    int   flush;
    int64_t rw_timeout;
    int64_t read_coalesce;
    int   probe_decode;
    int64_t hook_hold;
    int   serve;
    int   status;
    int   export;
    char *listen;
    int64_t stats_period;
} LiveRecOptions;

static LiveRecOptions opts = { .rw_timeout = 3000000, .read_coalesce = 250000,
                               .hook_hold = 2000000, .stats_period = 10000000 };

/* set by SIGINT/SIGTERM: sessions end cleanly (files finalized) */
static volatile int received_signal;

/* log lines of a thread carry its stream (the service records many at once) */
static _Thread_local const char *log_prefix;
static _Thread_local int log_line_start = 1;

void ff_liverec_log_set_prefix(const char *prefix)
{
    log_prefix = prefix;
}

static void log_default(int level, const char *fmt, ...)
{
    va_list vl;
    va_start(vl, fmt);
    av_log_default_callback(NULL, level, fmt, vl);
    va_end(vl);
}

static void log_callback(void *avcl, int level, const char *fmt, va_list vl)
{
    char line[1024];
    int print_prefix = log_line_start, len;

    if (!log_prefix || level > av_log_get_level()) {
        av_log_default_callback(avcl, level, fmt, vl);
        return;
    }
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    len = strlen(line);
    if (len == sizeof(line) - 1 && line[len - 1] != '\n')
        line[len - 1] = '\n';      /* cut short: the next message starts a line */
    log_default(level, "%s%s%s%s", log_line_start ? "[" : "",
                            log_line_start ? log_prefix : "", log_line_start ? "] " : "", line);
    log_line_start = len && line[len - 1] == '\n';
}

static void signal_handler(int sig)
{
    received_signal = sig;
}

static const OptionDef options[] = {
    CMDUTILS_COMMON_OPTIONS
    { "config", OPT_TYPE_STRING, 0, { &opts.config }, "recording configuration (XML)", "file" },
    { "check",  OPT_TYPE_BOOL,   0, { &opts.check },  "validate the configuration and exit" },
    { "match",  OPT_TYPE_STRING, 0, { &opts.match },
      "print which rule, template and tasks apply to a stream, and why", "domain/app/stream" },
    { "now",    OPT_TYPE_STRING, OPT_EXPERT, { &opts.now },
      "take this date (Unix seconds or ISO 8601) as the current time", "date" },
    { "domain", OPT_TYPE_STRING, 0, { &opts.domain }, "push domain of the stream to record", "name" },
    { "app",    OPT_TYPE_STRING, 0, { &opts.app },    "app of the stream to record", "name" },
    { "stream", OPT_TYPE_STRING, 0, { &opts.stream }, "name of the stream to record", "name" },
    { "i",      OPT_TYPE_STRING, 0, { &opts.input },
      "input URL (default: the configuration's Origin PullUrl)", "url" },
    { "spool",  OPT_TYPE_STRING, 0, { &opts.spool },
      "folder the recordings are written into (default: spool)", "folder" },
    { "state",  OPT_TYPE_STRING, 0, { &opts.state },
      "folder of the catalog and upload queue (SQLite, default: state)", "folder" },
    { "list",   OPT_TYPE_BOOL,   0, { &opts.list },  "print the catalog of recordings and exit" },
    { "flush",  OPT_TYPE_BOOL,   0, { &opts.flush },
      "deliver what is pending in the state folder (uploads, callbacks, deletions past "
      "StorageTime), then exit" },
    { "rw_timeout", OPT_TYPE_TIME, OPT_EXPERT, { &opts.rw_timeout },
      "time without data after which a push counts as interrupted (default 3 s)", "duration" },
    { "read_coalesce", OPT_TYPE_TIME, OPT_EXPERT, { &opts.read_coalesce },
      "how much of an RTMP pull's data to let gather before each read (default 0.25 s, "
      "0: read at once)", "duration" },
    { "probe_decode", OPT_TYPE_BOOL, OPT_EXPERT, { &opts.probe_decode },
      "learn what an RTMP (FLV) input's streams are by decoding their first frames, as ffmpeg "
      "does, instead of from their headers" },
    { "hook_hold", OPT_TYPE_TIME, OPT_EXPERT, { &opts.hook_hold },
      "how long -serve may hold an nginx-rtmp publish hook's answer until the recording has "
      "subscribed, so that it starts at the push's first frame (default 2 s, 0: answer at once)",
      "duration" },
    { "serve",  OPT_TYPE_BOOL,   0, { &opts.serve },
      "run as a service: record every push the origins' hooks announce, until SIGINT/SIGTERM" },
    { "listen", OPT_TYPE_STRING, 0, { &opts.listen },
      "address of the service's HTTP listener (hooks, API, status page; default "
      "127.0.0.1:8090)", "host:port" },
    { "status", OPT_TYPE_BOOL,   0, { &opts.status },
      "print the summary of the service on -listen's address and exit" },
    { "export", OPT_TYPE_BOOL,   0, { &opts.export },
      "print the configuration in force (the file's and the API's objects of -state) as XML "
      "and exit" },
    { "stats_period", OPT_TYPE_TIME, OPT_EXPERT, { &opts.stats_period },
      "time between the service's status lines (default 10 s, 0: none)", "duration" },
    { NULL, },
};

static void show_usage(void)
{
    av_log(NULL, AV_LOG_INFO, "Record live streams by templates, rules and tasks\n");
    av_log(NULL, AV_LOG_INFO, "usage: %s -config FILE -check\n"
           "       %s -config FILE -match DOMAIN/APP/STREAM\n"
           "       %s -config FILE -domain DOMAIN -app APP -stream STREAM [-i URL] [-spool FOLDER]\n"
           "       %s -config FILE -serve [-listen 127.0.0.1:8090] [-state FOLDER] [-spool FOLDER]\n"
           "       %s -status [-listen 127.0.0.1:8090]\n"
           "       %s -config FILE -state FOLDER -export\n",
           program_name, program_name, program_name, program_name, program_name, program_name);
    av_log(NULL, AV_LOG_INFO, "\n");
}

void show_help_default(const char *opt, const char *arg)
{
    show_usage();
    show_help_options(options, "Main options:", 0, OPT_EXPERT);
    show_help_options(options, "Advanced options:", OPT_EXPERT, 0);
}

static int parse_now(int64_t *now)
{
    int64_t us;

    if (!opts.now) {
        *now = av_gettime() / 1000000;
        return 0;
    }
    if (opts.now[strspn(opts.now, "0123456789")] == 0 && *opts.now) {
        *now = strtoll(opts.now, NULL, 10);
        return 0;
    }
    if (av_parse_time(&us, opts.now, 0) < 0) {
        av_log(NULL, AV_LOG_ERROR, "-now '%s' is not a date\n", opts.now);
        return AVERROR(EINVAL);
    }
    *now = us / 1000000;
    return 0;
}

static void print_template(AVBPrint *bp, const LiveRecTemplate *t)
{
    int any = 0;

    av_bprintf(bp, "template %"PRId64" '%s' (line %d): ", t->id, t->name, t->line);
    if (!ff_liverec_template_records(t)) {
        av_bprintf(bp, "no format enabled: the stream is NOT recorded\n");
        return;
    }
    for (int f = 0; f < LIVEREC_NB_FORMATS; f++) {
        const LiveRecFormatParam *p = &t->param[f];
        if (!p->present || !p->enable)
            continue;
        av_bprintf(bp, "%s%s", any++ ? ", " : "records ", ff_liverec_format_names[f]);
        if (f == LIVEREC_HLS && t->hls_max_duration)
            av_bprintf(bp, " (spliced across interruptions up to %d s, at most %d s a recording)",
                       t->flow_continue_duration, t->hls_max_duration);
        else if (f == LIVEREC_HLS)
            av_bprintf(bp, " (spliced across interruptions up to %d s)", t->flow_continue_duration);
        else
            av_bprintf(bp, " (a file every %d s)", p->record_interval);
        if (p->storage_time)
            av_bprintf(bp, " kept %"PRId64" s", p->storage_time);
    }
    av_bprintf(bp, "\n");
}

static int do_match(const LiveRecConfig *cfg, int64_t now)
{
    const char *names[3] = { 0 };
    char *copy = av_strdup(opts.match), *p, *slash;
    const LiveRecRule *rule;
    AVBPrint bp, why;
    int ret = 0, nb_tasks = 0;

    if (!copy)
        return AVERROR(ENOMEM);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
    /* DOMAIN/APP/STREAM */
    p = copy;
    for (int i = 0; i < 3; i++) {
        names[i] = p;
        slash = i < 2 ? strchr(p, '/') : NULL;
        if (i < 2 && !slash) {
            av_log(NULL, AV_LOG_ERROR, "-match '%s': expected DOMAIN/APP/STREAM\n", opts.match);
            ret = AVERROR(EINVAL);
            goto end;
        }
        if (slash) {
            *slash = 0;
            p = slash + 1;
        }
    }
    if (ff_liverec_check_stream_name(names[0], "domain", &why) < 0 ||
        ff_liverec_check_stream_name(names[1], "app", &why) < 0 ||
        ff_liverec_check_stream_name(names[2], "stream", &why) < 0) {
        av_log(NULL, AV_LOG_ERROR, "-match: %s\n", why.str);
        ret = AVERROR(EINVAL);
        goto end;
    }

    av_bprintf(&bp, "stream %s/%s/%s\nrules:\n", names[0], names[1], names[2]);
    rule = ff_liverec_match_rule(cfg, names[0], names[1], names[2], &bp);
    if (av_log_get_level() >= AV_LOG_VERBOSE) {
        /* what a push costs the service (tests/bench/api): the match alone, without listing */
        int64_t t0 = av_gettime_relative();
        for (int i = 0; i < 1000; i++)
            ff_liverec_match_rule(cfg, names[0], names[1], names[2], NULL);
        av_log(NULL, AV_LOG_VERBOSE, "matching %s/%s/%s against %d rules takes %.1f us (mean of "
               "1000)\n", names[0], names[1], names[2], cfg->nb_rules,
               (av_gettime_relative() - t0) / 1000.0);
    }
    if (rule) {
        av_bprintf(&bp, "rule on line %d wins (priority %d, app %s)\n", rule->line,
                   ff_liverec_rule_priority(rule), *rule->app ? "exact" : "any");
        print_template(&bp, ff_liverec_find_template(cfg, rule->template_id));
    } else {
        av_bprintf(&bp, "no rule matches: no template records the stream\n");
    }

    for (int i = 0; i < cfg->nb_tasks; i++) {
        const LiveRecTask *t = &cfg->tasks[i];
        const char *state;
        if (!ff_liverec_task_matches(t, names[0], names[1], names[2]))
            continue;
        state = t->end_time <= now ? "ended" :
                t->start_time != INT64_MIN && t->start_time > now ? "waiting for its StartTime" :
                "active now";
        av_bprintf(&bp, "task '%s' (line %d), %s: ", t->id, t->line, state);
        print_template(&bp, ff_liverec_find_template(cfg, t->template_id));
        nb_tasks++;
    }
    if (!nb_tasks)
        av_bprintf(&bp, "no task for this stream\n");
    if (!av_bprint_is_complete(&bp)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    fputs(bp.str, stdout);
end:
    av_bprint_finalize(&bp, NULL);
    av_bprint_finalize(&why, NULL);
    av_free(copy);
    return ret;
}

/* The state folder, created if needed, and its catalog. */
static int open_state(LiveRecState **st, const char **dir)
{
    int ret;

    *dir = opts.state ? opts.state : "state";
    if ((ret = ff_liverec_make_dirs(*dir, 0700)) < 0)
        return ret;
    return ff_liverec_state_open(st, *dir);
}

static int do_list(void)
{
    LiveRecState *st = NULL;
    const char *dir;
    int ret = open_state(&st, &dir);
    if (ret >= 0)
        ret = ff_liverec_state_list(st);
    ff_liverec_state_close(&st);
    return ret;
}

/* The queues of the catalog, each worked through by its own thread (ffliverec_worker.c). */
typedef struct Workers {
    LiveRecWorker *uploader, *notifier, *retention;
} Workers;

static int start_workers(const LiveRecConfig *cfg, const char *dir, Workers *w)
{
    int ret = 0;
    if (cfg->callback_url)
        ret = ff_liverec_notifier_start(&w->notifier, cfg, dir, &received_signal, NULL);
    if (ret >= 0 && cfg->storage_endpoint)
        ret = ff_liverec_uploader_start(&w->uploader, cfg, dir, &received_signal, w->notifier, NULL);
    if (ret >= 0)
        ret = ff_liverec_retention_start(&w->retention, cfg, dir, &received_signal, NULL);
    return ret;
}

/* Uploads first (they queue callbacks and make files deletable), then callbacks and deletions;
 * a signal leaves them for the next run. */
static int finish_workers(int ret, Workers *w)
{
    int ret2 = ff_liverec_worker_finish(&w->uploader, ret >= 0);
    int ret3 = ff_liverec_worker_finish(&w->notifier, ret >= 0);
    int ret4 = ff_liverec_worker_finish(&w->retention, ret >= 0);
    return ret < 0 ? ret : ret2 < 0 ? ret2 : ret3 < 0 ? ret3 : ret4;
}

static int do_flush(const LiveRecConfig *cfg)
{
    Workers w = { 0 };
    LiveRecState *st = NULL;
    const char *dir;
    int ret;

    if ((ret = open_state(&st, &dir)) < 0)
        return ret;
    ff_liverec_state_close(&st);
    signal(SIGINT, signal_handler);
    signal(SIGTERM, signal_handler);
    avformat_network_init();
    ret = start_workers(cfg, dir, &w);
    ret = finish_workers(ret, &w);
    avformat_network_deinit();
    return ret;
}

/* durations, unlike ffmpeg's -rw_timeout in microseconds: 3000000 would be 35 days */
static int check_durations(void)
{
    if (opts.rw_timeout < 100000 || opts.rw_timeout > 3600000000LL) {
        av_log(NULL, AV_LOG_ERROR, "-rw_timeout must be between 0.1 s and 1 hour (it is a "
               "duration, like 3 or 2.5s or 00:00:03, not microseconds)\n");
        return AVERROR(EINVAL);
    }
    if (opts.read_coalesce < 0 || opts.read_coalesce > 1000000) {
        av_log(NULL, AV_LOG_ERROR, "-read_coalesce must be between 0 and 1 s (it is a "
               "duration, like 0.1 or 100ms)\n");
        return AVERROR(EINVAL);
    }
    if (opts.hook_hold < 0 || opts.hook_hold > 5000000) {
        av_log(NULL, AV_LOG_ERROR, "-hook_hold must be between 0 and 5 s (it is a duration, "
               "like 2 or 500ms)\n");
        return AVERROR(EINVAL);
    }
    return 0;
}

/* The API's objects kept in the state folder, with the file's, as a configuration file. */
static int do_export(const LiveRecConfig *file)
{
    LiveRecConfig *cfg = ff_liverec_config_dup(file);
    LiveRecState *st = NULL;
    const char *dir;
    AVBPrint xml;
    int ret;

    if (!cfg)
        return AVERROR(ENOMEM);
    av_bprint_init(&xml, 0, AV_BPRINT_SIZE_UNLIMITED);
    if ((ret = open_state(&st, &dir)) >= 0 && (ret = ff_liverec_objects_merge(st, cfg)) >= 0 &&
        (ret = ff_liverec_objects_export(cfg, &xml)) >= 0)
        fwrite(xml.str, 1, xml.len, stdout);
    av_bprint_finalize(&xml, NULL);
    ff_liverec_state_close(&st);
    ff_liverec_config_free(&cfg);
    return ret;
}

/* The API and the status page answer anyone who reaches the listener: off this machine only
 * with keys that are not in the environment of whoever started it by hand */
static int listen_is_local(const char *listen)
{
    return av_strstart(listen, "127.", NULL) || av_strstart(listen, "[::1]:", NULL) ||
           av_strstart(listen, "localhost:", NULL);
}

static int do_serve(LiveRecConfig *cfg)
{
    LiveRecServeOptions so = {
        .config_path  = opts.config,
        .listen       = opts.listen ? opts.listen : "127.0.0.1:8090",
        .spool        = opts.spool  ? opts.spool  : "spool",
        .rw_timeout   = opts.rw_timeout,
        .read_coalesce = opts.read_coalesce,
        .probe_decode = opts.probe_decode,
        .hook_hold    = opts.hook_hold,
        .stats_period = opts.stats_period,
    };
    LiveRecState *st = NULL;
    int ret;

    if ((ret = check_durations()) < 0)
        return ret;
    if (!listen_is_local(so.listen) && !cfg->credentials_file) {
        av_log(NULL, AV_LOG_ERROR, "-listen %s is reachable from other machines: the API needs "
               "its keys in a Service CredentialsFile (see the manual, \"The API\")\n", so.listen);
        return AVERROR(EINVAL);
    }
    if (opts.stats_period < 0) {
        av_log(NULL, AV_LOG_ERROR, "-stats_period must not be negative\n");
        return AVERROR(EINVAL);
    }
    /* the catalog's schema is set up once, here, before any thread connects to it */
    if ((ret = open_state(&st, &so.state_dir)) < 0)
        return ret;
    ff_liverec_state_close(&st);
    avformat_network_init();
    ret = ff_liverec_serve(cfg, &so);
    avformat_network_deinit();
    return ret;
}

static int do_record(const LiveRecConfig *cfg)
{
    LiveRecSessionOptions so = {
        .domain     = opts.domain ? opts.domain : "",
        .app        = opts.app    ? opts.app    : "",
        .stream     = opts.stream ? opts.stream : "",
        .input      = opts.input,
        .spool      = opts.spool  ? opts.spool  : "spool",
        .rw_timeout = opts.rw_timeout,
        .read_coalesce = opts.read_coalesce,
        .probe_decode = opts.probe_decode,
        .stop       = &received_signal,
    };
    Workers w = { 0 };
    AVBPrint why;
    const char *dir;
    int ret = 0;

    av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
    if (ff_liverec_check_stream_name(so.domain, "-domain", &why) < 0 ||
        ff_liverec_check_stream_name(so.app, "-app", &why) < 0 ||
        ff_liverec_check_stream_name(so.stream, "-stream", &why) < 0) {
        av_log(NULL, AV_LOG_ERROR, "%s\n", why.str);
        ret = AVERROR(EINVAL);
    }
    av_bprint_finalize(&why, NULL);
    if (ret < 0)
        return ret;
    if ((ret = check_durations()) < 0)
        return ret;
    if ((ret = open_state(&so.state, &dir)) < 0)
        return ret;
    signal(SIGINT, signal_handler);
    signal(SIGTERM, signal_handler);
    avformat_network_init();
    ret = start_workers(cfg, dir, &w);
    so.uploader = w.uploader;
    so.notifier = w.notifier;
    if (ret >= 0)
        ret = ff_liverec_session_run(cfg, &so);
    /* the session is over: finish the queues (a signal leaves them for the next run) */
    ret = finish_workers(ret, &w);
    ff_liverec_state_close(&so.state);
    avformat_network_deinit();
    return ret;
}

int main(int argc, char **argv)
{
    LiveRecConfig *cfg = NULL;
    int64_t now;
    int ret;

    init_dynload();
    av_log_set_flags(AV_LOG_SKIP_REPEATED);
    av_log_set_callback(log_callback);
    /* once, before any thread: libxml2 2.9 initializes itself lazily, and not thread-safely */
    xmlInitParser();
    /* before any thread: curl_easy_init() would otherwise initialize libcurl from two threads */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        av_log(NULL, AV_LOG_FATAL, "libcurl could not be initialized\n");
        return 1;
    }
    parse_loglevel(argc, argv, options);
    show_banner(argc, argv, options);

    ret = parse_options(NULL, argc, argv, options, NULL);
    if (ret < 0) {
        ret = ret == AVERROR_EXIT ? 0 : ret;
        goto end;
    }
    if (opts.list) {
        ret = do_list();
        goto end;
    }
    if (opts.status) {
        ret = ff_liverec_status_print(opts.listen ? opts.listen : "127.0.0.1:8090");
        goto end;
    }
    if (!opts.config) {
        show_usage();
        av_log(NULL, AV_LOG_ERROR, "Use -config FILE; -h for all options, 'man %s' for more.\n",
               program_name);
        ret = AVERROR(EINVAL);
        goto end;
    }
    if ((ret = parse_now(&now)) < 0)
        goto end;
    if ((ret = ff_liverec_config_load(&cfg, opts.config, now)) < 0)
        goto end;

    if (opts.export) {
        ret = do_export(cfg);
    } else if (opts.match) {
        ret = do_match(cfg, now);
    } else if (opts.serve) {
        ret = do_serve(cfg);
    } else if (opts.domain || opts.app || opts.stream) {
        ret = do_record(cfg);
    } else if (opts.flush) {
        ret = do_flush(cfg);
    } else if (opts.check) {
        printf("%s: valid: %d templates, %d rules, %d tasks%s%s\n", opts.config,
               cfg->nb_templates, cfg->nb_rules, cfg->nb_tasks,
               cfg->storage_endpoint ? ", storage" : "", cfg->callback_url ? ", callbacks" : "");
    } else {
        av_log(NULL, AV_LOG_ERROR, "nothing to do: use -check, -match DOMAIN/APP/STREAM or "
               "-domain D -app A -stream S\n");
        ret = AVERROR(EINVAL);
    }

end:
    ff_liverec_config_free(&cfg);
    av_freep(&opts.config);
    av_freep(&opts.match);
    av_freep(&opts.now);
    av_freep(&opts.domain);
    av_freep(&opts.app);
    av_freep(&opts.stream);
    av_freep(&opts.input);
    av_freep(&opts.spool);
    av_freep(&opts.state);
    av_freep(&opts.listen);
    uninit_opts();
    curl_global_cleanup();
    return ret < 0;
}
