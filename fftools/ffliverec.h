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

#ifndef FFTOOLS_FFLIVEREC_H
#define FFTOOLS_FFLIVEREC_H

#include <stdint.h>

#include "libavutil/bprint.h"

/* The recording model of DESIGN.md section 3; names follow the cloud API. */

enum LiveRecFormat {
    LIVEREC_FLV,
    LIVEREC_HLS,
    LIVEREC_MP4,
    LIVEREC_AAC,
    LIVEREC_NB_FORMATS,
};

typedef struct LiveRecFormatParam {
    int     present;            ///< the element is in the template
    int     enable;
    int     record_interval;    ///< seconds
    int64_t storage_time;       ///< seconds, 0 = keep forever
    char   *vod_file_name;      ///< NULL: the muxer's default
} LiveRecFormatParam;

typedef struct LiveRecTemplate {
    int64_t id;
    char   *name;
    char   *description;
    LiveRecFormatParam param[LIVEREC_NB_FORMATS];
    int     flow_continue_duration;   ///< HlsSpecialParam, seconds (splice timeout)
    int     line;
} LiveRecTemplate;

typedef struct LiveRecRule {
    char   *domain, *app, *stream;    ///< "" = wildcard
    int64_t template_id;
    int     line;
} LiveRecRule;

typedef struct LiveRecTask {
    char   *id;
    char   *domain, *app, *stream;
    int64_t start_time;               ///< Unix seconds; INT64_MIN: none (starts now)
    int64_t end_time;                 ///< Unix seconds
    int64_t template_id;
    int     stream_type;
    char   *extension;
    int     line;
} LiveRecTask;

typedef struct LiveRecConfig {
    char   *path;
    char   *pull_url;                 ///< Origin PullUrl template, or NULL
    int     origin_line, storage_line;
    char   *storage_endpoint;         ///< NULL: no storage, files stay in the spool folder
    char   *storage_bucket;
    char   *storage_key_template;
    char   *storage_region;
    char   *callback_url;             ///< NULL: no callbacks
    char   *callback_key;
    int     callback_max_attempts;
    int     callback_retry_interval;
    LiveRecTemplate *templates;
    int     nb_templates;
    LiveRecRule *rules;
    int     nb_rules;
    LiveRecTask *tasks;
    int     nb_tasks;
} LiveRecConfig;

extern const char *const ff_liverec_format_names[LIVEREC_NB_FORMATS];

/**
 * Load, validate (schema, then meaning) and parse a configuration file.
 * Every problem is logged as "FILE:LINE: what is wrong".
 *
 * @param now Unix seconds, to warn about tasks that have ended
 * @return 0 on success, a negative AVERROR on failure (*cfg is then NULL)
 */
int ff_liverec_config_load(LiveRecConfig **cfg, const char *path, int64_t now);

void ff_liverec_config_free(LiveRecConfig **cfg);

const LiveRecTemplate *ff_liverec_find_template(const LiveRecConfig *cfg, int64_t id);

/** 1 if the template records at least one format, 0 if it is an exclusion template. */
int ff_liverec_template_records(const LiveRecTemplate *t);

/**
 * Check a domain, app or stream name that came from outside (non-empty, at most 128 bytes,
 * [A-Za-z0-9_.~-] only, not "." or ".."). Returns 0 or AVERROR(EINVAL) with a message in why.
 */
int ff_liverec_check_stream_name(const char *name, const char *what, AVBPrint *why);

/**
 * The rule that decides a stream's template (DESIGN.md section 3): the most specific match wins;
 * priority 0 = domain and stream exact, 1 = domain exact and stream empty, 2 = domain empty and
 * stream exact, 3 = both empty; among equal priorities an exact AppName beats an empty one.
 * If explain is not NULL, every rule is listed with why it matches or not.
 *
 * @return the rule, or NULL if none matches
 */
const LiveRecRule *ff_liverec_match_rule(const LiveRecConfig *cfg, const char *domain,
                                         const char *app, const char *stream, AVBPrint *explain);

/** Priority of a rule that matches (0..3), as above. */
int ff_liverec_rule_priority(const LiveRecRule *r);

/** 1 if the task is for this stream. */
int ff_liverec_task_matches(const LiveRecTask *t, const char *domain, const char *app,
                            const char *stream);

typedef struct LiveRecSession LiveRecSession;

typedef struct LiveRecSessionOptions {
    const char *domain, *app, *stream;  ///< checked with ff_liverec_check_stream_name()
    const char *input;                  ///< URL, or NULL: the config's Origin PullUrl
    const char *spool;                  ///< folder the recordings are written into
    int64_t rw_timeout;                 ///< microseconds without data that end a push
    volatile int *stop;                 ///< set (by a signal) to end the session cleanly
} LiveRecSessionOptions;

/**
 * Record one stream: every enabled format of the matched rule's template and of each task
 * whose window is open, demuxed once, until the push is gone for longer than the longest
 * FlowContinueDuration (or *opts->stop is set). Returns 0 or a negative AVERROR.
 */
int ff_liverec_session_run(const LiveRecConfig *cfg, const LiveRecSessionOptions *opts);

#endif /* FFTOOLS_FFLIVEREC_H */
