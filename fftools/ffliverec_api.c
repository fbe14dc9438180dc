/*
 * ffliverec -serve: the cloud's live recording API (API 3.0, POST /)
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
 * Requests and answers exactly as the cloud's API 3.0 takes and gives them, so that a program
 * written for the cloud works by changing its endpoint: the action in X-TC-Action, a JSON body,
 * a TC3-HMAC-SHA256 signature (ffliverec_tc3.c); HTTP 200 always (the cloud's SDKs read anything
 * else as a transport failure), {"Response": {..., "RequestId"}} or {"Response": {"Error":
 * {"Code", "Message"}, "RequestId"}}. Parameters are checked as the cloud checks them (names,
 * types, ranges; an unknown one is UnknownParameter); where the cloud limits only because it is
 * shared (50 templates, 50 rules, 3 tasks a stream), nothing is limited here.
 *
 * Changes go through the manager (ff_liverec_manager_change()): one transaction in the catalog,
 * then the configuration in force is rebuilt. Rules and templates apply from the next push, as
 * the cloud says; a task applies at once, and the answer comes when it has.
 */

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/parseutils.h"
#include "libavutil/random_seed.h"
#include "libavutil/time.h"

#include "ffliverec_serve.h"

#define VERSION_LIVE "2018-08-01"
#define VERSION_VOD  "2018-07-17"
#define TASK_WAIT    10000000       ///< usec a task's reply waits for its sessions
#define DEFAULT_TEMPLATE_NAME "liverec-default-hls"

typedef struct Call {
    LiveRecManager *m;
    json_t *req;                    ///< the body: the action's parameters
    json_t *resp;                   ///< the Response object being made
    const char *code;               ///< the cloud's error code, NULL: none
    AVBPrint why;                   ///< its Message
    int64_t now;                    ///< Unix seconds
    const char *task_id;            ///< CreateRecordTask's new task (for its reply)
    char new_task_id[33];
    const LiveRecTask *task;        ///< Stop/DeleteRecordTask: the task, in the config in force
    char *domain, *app, *stream;    ///< the stream a task change is for (wait for its sessions)
    int64_t template_id;
    int denied;                     ///< the signature was refused
} Call;

typedef struct Action {
    const char *name;
    const char *version;
    const char *const *params;      ///< the parameters it takes, NULL-terminated
    int (*run)(Call *c);
} Action;

/* From the system's source; without one (no /dev/urandom), av_get_random_seed()'s fallbacks */
static void random_bytes(uint8_t *b, size_t n)
{
    if (av_random_bytes(b, n) < 0)
        for (size_t i = 0; i < n; i++)
            b[i] = av_get_random_seed();
}

static int fail(Call *c, const char *code, const char *fmt, ...) av_printf_format(3, 4);
static int fail(Call *c, const char *code, const char *fmt, ...)
{
    va_list vl;
    c->code = code;
    av_bprint_clear(&c->why);
    va_start(vl, fmt);
    av_vbprintf(&c->why, fmt, vl);
    va_end(vl);
    return AVERROR(EINVAL);
}

/* Parameters from outside, shown in messages: printable ASCII, at most 64 bytes. */
static const char *shown(char *buf, size_t size, const char *s)
{
    size_t i;
    for (i = 0; s[i] && i < FFMIN(size - 4, 64); i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    strcpy(buf + i, s[i] ? "..." : "");
    return buf;
}

static int get_int(Call *c, const char *name, int required, int64_t min, int64_t max, int64_t *v)
{
    int ret = ff_liverec_json_int(c->req, name, min, max, v, &c->code, &c->why);
    if (!ret && required)
        return fail(c, "MissingParameter", "The parameter `%s` is missing.", name);
    return ret;
}

static int get_str(Call *c, const char *name, int required, size_t max, const char **v)
{
    int ret = ff_liverec_json_str(c->req, name, max, v, &c->code, &c->why);
    if (!ret && required)
        return fail(c, "MissingParameter", "The parameter `%s` is missing.", name);
    return ret;
}

/* A domain, app or stream name: "" allowed when optional (a rule's wildcard) */
static int get_name(Call *c, const char *name, int required, int empty_ok, const char *code,
                    const char **v)
{
    AVBPrint why;
    int ret;

    *v = "";
    if ((ret = get_str(c, name, required, 128, v)) <= 0)
        return ret;
    if (!**v && empty_ok)
        return 1;
    av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
    ret = ff_liverec_check_stream_name(*v, name, &why);
    if (ret < 0)
        fail(c, code, "%s", why.str);
    av_bprint_finalize(&why, NULL);
    return ret < 0 ? ret : 1;
}

static void gmtime_str(char *buf, size_t size, int64_t t, int beijing)
{
    time_t tt = t + (beijing ? 8 * 3600 : 0);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, beijing ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Where an object of the configuration file is, for the refusal to change it through the API */
static int read_only(Call *c, const char *what, const LiveRecConfig *cfg, int line)
{
    return fail(c, "UnsupportedOperation", "%s is defined in %s, line %d; change it there (objects "
                "of the configuration file are read-only through the API)", what, cfg->path, line);
}

/* ---- templates ---- */

static const LiveRecTemplate *find_template(Call *c, const LiveRecConfig *cfg, int64_t id)
{
    const LiveRecTemplate *t = ff_liverec_find_template(cfg, id);
    if (!t)
        fail(c, "FailedOperation.NotFound", "There is no template %"PRId64".", id);
    return t;
}

static int64_t next_template_id(const LiveRecConfig *cfg)
{
    /* the API's ids start above those a file would use, as the cloud's do */
    int64_t id = 1000000;
    for (int i = 0; i < cfg->nb_templates; i++)
        id = FFMAX(id, cfg->templates[i].id);
    return id + 1;
}

static int create_template(LiveRecState *st, const LiveRecConfig *cfg, void *opaque)
{
    Call *c = opaque;
    LiveRecTemplate t = { .id = next_template_id(cfg), .created = c->now, .updated = c->now,
                          .hls_max_duration = LIVEREC_HLS_MAX_DURATION };
    int ret;

    if ((ret = ff_liverec_template_params(&t, c->req, &c->code, &c->why)) >= 0)
        ret = ff_liverec_objects_put_template(st, &t);
    ff_liverec_template_free(&t);
    c->template_id = t.id;
    return ret;
}

static int api_create_template(Call *c)
{
    const char *name;
    int64_t v;
    int ret;

    if ((ret = get_str(c, "TemplateName", 1, 30, &name)) < 0 ||
        (ret = get_int(c, "IsDelayLive", 0, 0, 1, &v)) < 0 ||
        (ret = get_int(c, "CosStore", 0, 0, 0, &v)) < 0)
        return ret;
    if ((ret = ff_liverec_manager_change(c->m, create_template, c)) < 0)
        return ret;
    json_object_set_new(c->resp, "TemplateId", json_integer(c->template_id));
    return 0;
}

static int modify_template(LiveRecState *st, const LiveRecConfig *cfg, void *opaque)
{
    Call *c = opaque;
    const LiveRecTemplate *old;
    LiveRecTemplate t = { 0 };
    char what[64];
    int ret;

    if (!(old = find_template(c, cfg, c->template_id)))
        return AVERROR(EINVAL);
    if (old->line) {
        snprintf(what, sizeof(what), "Template %"PRId64, old->id);
        return read_only(c, what, cfg, old->line);
    }
    /* a copy of the one in force, changed by the parameters given */
    ret = ff_liverec_template_copy(&t, old);
    t.updated = c->now;
    if (ret >= 0 && (ret = ff_liverec_template_params(&t, c->req, &c->code, &c->why)) >= 0)
        ret = ff_liverec_objects_put_template(st, &t);
    ff_liverec_template_free(&t);
    return ret;
}

static int api_modify_template(Call *c)
{
    int ret;
    if ((ret = get_int(c, "TemplateId", 1, 1, INT64_MAX, &c->template_id)) < 0)
        return ret;
    return ff_liverec_manager_change(c->m, modify_template, c);
}

static int delete_template(LiveRecState *st, const LiveRecConfig *cfg, void *opaque)
{
    Call *c = opaque;
    const LiveRecTemplate *t;
    char what[64];

    if (!(t = find_template(c, cfg, c->template_id)))
        return AVERROR(EINVAL);
    if (t->line) {
        snprintf(what, sizeof(what), "Template %"PRId64, t->id);
        return read_only(c, what, cfg, t->line);
    }
    for (int i = 0; i < cfg->nb_rules; i++)
        if (cfg->rules[i].template_id == t->id)
            return fail(c, "FailedOperation.ConfInUsed", "Template %"PRId64" is used by the rule "
                        "of DomainName '%s' AppName '%s' StreamName '%s'.", t->id,
                        cfg->rules[i].domain, cfg->rules[i].app, cfg->rules[i].stream);
    for (int i = 0; i < cfg->nb_tasks; i++)
        if (cfg->tasks[i].template_id == t->id && cfg->tasks[i].end_time > c->now)
            return fail(c, "FailedOperation.ConfInUsed", "Template %"PRId64" is used by task %s.",
                        t->id, cfg->tasks[i].id);
    return ff_liverec_objects_delete_template(st, t->id);
}

static int api_delete_template(Call *c)
{
    int ret;
    if ((ret = get_int(c, "TemplateId", 1, 1, INT64_MAX, &c->template_id)) < 0)
        return ret;
    return ff_liverec_manager_change(c->m, delete_template, c);
}

static int api_describe_template(Call *c)
{
    AVBufferRef *ref;
    const LiveRecTemplate *t;
    int64_t id;
    int ret;

    if ((ret = get_int(c, "TemplateId", 1, 1, INT64_MAX, &id)) < 0)
        return ret;
    if (!(ref = ff_liverec_manager_config(c->m)))
        return AVERROR(ENOMEM);
    if ((t = find_template(c, (const LiveRecConfig *)ref->data, id)))
        json_object_set_new(c->resp, "Template", ff_liverec_template_info(t));
    av_buffer_unref(&ref);
    return t ? 0 : AVERROR(EINVAL);
}

static int api_describe_templates(Call *c)
{
    AVBufferRef *ref;
    const LiveRecConfig *cfg;
    json_t *a = json_array();
    int64_t delay = 0;
    int ret;

    if (!a)
        return AVERROR(ENOMEM);
    if ((ret = get_int(c, "IsDelayLive", 0, 0, 1, &delay)) < 0 ||
        !(ref = ff_liverec_manager_config(c->m))) {
        json_decref(a);
        return ret < 0 ? ret : AVERROR(ENOMEM);
    }
    cfg = (const LiveRecConfig *)ref->data;
    /* slow live (IsDelayLive 1) is not a thing here: it has no templates */
    for (int i = 0; !delay && i < cfg->nb_templates; i++)
        json_array_append_new(a, ff_liverec_template_info(&cfg->templates[i]));
    av_buffer_unref(&ref);
    json_object_set_new(c->resp, "Templates", a);
    return 0;
}

/* ---- rules ---- */

static int get_rule_names(Call *c, LiveRecRule *r)
{
    int ret;
    if ((ret = get_name(c, "DomainName", 1, 0, "InvalidParameter.DomainFormatError",
                        (const char **)&r->domain)) < 0 ||
        (ret = get_name(c, "AppName", 0, 1, "InvalidParameterValue", (const char **)&r->app)) < 0 ||
        (ret = get_name(c, "StreamName", 0, 1, "InvalidParameterValue", (const char **)&r->stream)) < 0)
        return ret;
    return 0;
}

static int keep_names(Call *c, const LiveRecRule *r)
{
    if (!(c->domain = av_strdup(r->domain)) || !(c->app = av_strdup(r->app)) ||
        !(c->stream = av_strdup(r->stream)))
        return AVERROR(ENOMEM);
    return 0;
}

static const LiveRecRule *find_rule(const LiveRecConfig *cfg, const LiveRecRule *r)
{
    for (int i = 0; i < cfg->nb_rules; i++) {
        const LiveRecRule *o = &cfg->rules[i];
        if (!strcmp(o->domain, r->domain) && !strcmp(o->app, r->app) && !strcmp(o->stream, r->stream))
            return o;
    }
    return NULL;
}

static int create_rule(LiveRecState *st, const LiveRecConfig *cfg, void *opaque)
{
    Call *c = opaque;
    LiveRecRule r = { .domain = c->domain, .app = c->app, .stream = c->stream,
                      .template_id = c->template_id, .created = c->now, .updated = c->now };
    const LiveRecRule *o;

    if (!ff_liverec_find_template(cfg, r.template_id))
        return fail(c, "InvalidParameter.ConfNotFound", "There is no template %"PRId64".",
                    r.template_id);
    if ((o = find_rule(cfg, &r)))
        return fail(c, "FailedOperation.RuleAlreadyExist", "A rule for DomainName '%s' AppName "
                    "'%s' StreamName '%s' exists%s%s%s.", r.domain, r.app, r.stream,
                    o->line ? " (in " : "", o->line ? cfg->path : "", o->line ? ")" : "");
    return ff_liverec_objects_put_rule(st, &r);
}

static int api_create_rule(Call *c)
{
    LiveRecRule r = { 0 };
    int ret;

    if ((ret = get_rule_names(c, &r)) < 0 ||
        (ret = get_int(c, "TemplateId", 1, 1, INT64_MAX, &c->template_id)) < 0)
        return ret;
    if ((ret = keep_names(c, &r)) < 0)
        return ret;
    return ff_liverec_manager_change(c->m, create_rule, c);
}

static int delete_rule(LiveRecState *st, const LiveRecConfig *cfg, void *opaque)
{
    Call *c = opaque;
    LiveRecRule r = { .domain = c->domain, .app = c->app, .stream = c->stream };
    const LiveRecRule *o = find_rule(cfg, &r);

    if (!o)
        return fail(c, "FailedOperation.NotFound", "There is no rule for DomainName '%s' AppName "
                    "'%s' StreamName '%s' (an exact match is needed).", r.domain, r.app, r.stream);
    if (o->line)
        return read_only(c, "This rule", cfg, o->line);
    return ff_liverec_objects_delete_rule(st, r.domain, r.app, r.stream);
}

static int api_delete_rule(Call *c)
{
    LiveRecRule r = { 0 };
    int ret;

    if ((ret = get_rule_names(c, &r)) < 0)
        return ret;
    if ((ret = keep_names(c, &r)) < 0)
        return ret;
    return ff_liverec_manager_change(c->m, delete_rule, c);
}

static int api_describe_rules(Call *c)
{
    AVBufferRef *ref = ff_liverec_manager_config(c->m);
    const LiveRecConfig *cfg;
    json_t *a = json_array();

    if (!ref || !a) {
        av_buffer_unref(&ref);
        json_decref(a);
        return AVERROR(ENOMEM);
    }
    cfg = (const LiveRecConfig *)ref->data;
    for (int i = 0; i < cfg->nb_rules; i++) {
        const LiveRecRule *r = &cfg->rules[i];
        char created[32], updated[32];
        /* the file's rules: when the file was loaded */
        gmtime_str(created, sizeof(created), r->created, 1);
        gmtime_str(updated, sizeof(updated), r->updated, 1);
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}",
                                           "CreateTime", created, "UpdateTime", updated,
                                           "TemplateId", (json_int_t)r->template_id,
                                           "DomainName", r->domain, "AppName", r->app,
                                           "StreamName", r->stream));
    }
    av_buffer_unref(&ref);
    json_object_set_new(c->resp, "Rules", a);
    return 0;
}

/* ---- tasks ---- */

/* CreateRecordTask without a TemplateId (or with a wrong one) records HLS, kept for ever, as the
 * cloud does: that template is made once, as an object of the API, visible and exportable */
static int default_template(LiveRecState *st, const LiveRecConfig *cfg, Call *c, int64_t *id)
{
    LiveRecTemplate t = { .id = next_template_id(cfg), .created = c->now, .updated = c->now,
                          .hls_max_duration = LIVEREC_HLS_MAX_DURATION };
    int ret;

    for (int i = 0; i < cfg->nb_templates; i++) {
        const LiveRecTemplate *o = &cfg->templates[i];
        if (!o->line && !strcmp(o->name, DEFAULT_TEMPLATE_NAME)) {
            *id = o->id;
            return 0;
        }
    }
    if (!(t.name = av_strdup(DEFAULT_TEMPLATE_NAME)) ||
        !(t.description = av_strdup("CreateRecordTask without TemplateId: HLS, kept for ever"))) {
        ff_liverec_template_free(&t);
        return AVERROR(ENOMEM);
    }
    t.param[LIVEREC_HLS] = (LiveRecFormatParam){ .present = 1, .enable = 1, .record_interval = 1800 };
    ret = ff_liverec_objects_put_template(st, &t);
    ff_liverec_template_free(&t);
    *id = t.id;
    return ret;
}

static int create_task(LiveRecState *st, const LiveRecConfig *cfg, void *opaque)
{
    Call *c = opaque;
    LiveRecTask *t = (LiveRecTask *)c->task;
    int ret;

    if (!ff_liverec_find_template(cfg, t->template_id) &&
        (ret = default_template(st, cfg, c, &t->template_id)) < 0)
        return ret;
    for (int i = 0; i < cfg->nb_tasks; i++)
        if (!strcmp(cfg->tasks[i].id, t->id))
            return AVERROR(EAGAIN);     /* 128 random bits met again: never, but not silently */
    return ff_liverec_objects_put_task(st, t);
}

static int api_create_task(Call *c)
{
    LiveRecTask t = { .created = c->now };
    const char *ext = "";
    uint8_t rnd[16];
    int64_t start = 0, end, type = 0, tmpl = 0;
    int ret;

    if ((ret = get_name(c, "StreamName", 1, 0, "InvalidParameterValue", (const char **)&t.stream)) < 0 ||
        (ret = get_name(c, "DomainName", 1, 0, "InvalidParameter.DomainFormatError",
                        (const char **)&t.domain)) < 0 ||
        (ret = get_name(c, "AppName", 1, 0, "InvalidParameterValue", (const char **)&t.app)) < 0 ||
        (ret = get_int(c, "EndTime", 1, 0, INT64_MAX, &end)) < 0 ||
        (ret = get_int(c, "StartTime", 0, 0, INT64_MAX, &start)) < 0 ||
        (ret = get_int(c, "StreamType", 0, 0, 1, &type)) < 0 ||
        (ret = get_int(c, "TemplateId", 0, 0, INT64_MAX, &tmpl)) < 0 ||
        (ret = get_str(c, "Extension", 0, 512, &ext)) < 0)
        return ret;
    if (type == 1)
        return fail(c, "UnsupportedOperation", "StreamType 1 (a mixed stream) is not recorded here.");
    /* StartTime absent (or 0): a real-time recording, from now */
    t.start_time = start ? start : c->now;
    t.end_time   = end;
    if (end <= c->now)
        return fail(c, "InvalidParameterValue", "EndTime must be later than now.");
    if (end <= t.start_time)
        return fail(c, "InvalidParameterValue", "EndTime must be later than StartTime.");
    if (end > c->now + 7 * 86400)
        return fail(c, "InvalidParameterValue", "EndTime must be within 7 days from now.");
    if (end - t.start_time > 86400)
        return fail(c, "InvalidParameterValue", "A task lasts at most 24 hours (EndTime - StartTime).");
    t.template_id = tmpl;
    t.extension   = (char *)ext;
    /* 128 random bits, as letters and digits: a task id is not guessable */
    random_bytes(rnd, sizeof(rnd));
    for (int i = 0; i < 32; i++)
        c->new_task_id[i] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            [((rnd[i / 2] >> (i % 2 * 4)) & 15) + 16 * (i & 1)];
    c->new_task_id[32] = 0;
    t.id    = c->new_task_id;
    c->task = &t;
    if ((ret = ff_liverec_manager_change(c->m, create_task, c)) < 0)
        return ret == AVERROR(EAGAIN) ? fail(c, "InternalError", "Try again.") : ret;
    /* the answer comes when the sessions of the stream record it (or none is live) */
    if (!ff_liverec_manager_wait_tasks(c->m, t.domain, t.app, t.stream, TASK_WAIT))
        av_log(NULL, AV_LOG_WARNING, "task %s: its stream's session did not take it within %d s\n",
               t.id, TASK_WAIT / 1000000);
    json_object_set_new(c->resp, "TaskId", json_string(t.id));
    return 0;
}

static const LiveRecTask *find_task(Call *c, const LiveRecConfig *cfg, const char *id)
{
    char buf[80];
    for (int i = 0; i < cfg->nb_tasks; i++)
        if (!strcmp(cfg->tasks[i].id, id))
            return &cfg->tasks[i];
    fail(c, "InvalidParameter", "There is no task %s.", shown(buf, sizeof(buf), id));
    return NULL;
}

static int change_task(LiveRecState *st, const LiveRecConfig *cfg, void *opaque, int stop)
{
    Call *c = opaque;
    const LiveRecTask *t = find_task(c, cfg, c->task_id);
    char what[96];

    if (!t)
        return AVERROR(EINVAL);
    if (t->line) {
        snprintf(what, sizeof(what), "Task %s", t->id);
        return read_only(c, what, cfg, t->line);
    }
    if (!(c->domain = av_strdup(t->domain)) || !(c->app = av_strdup(t->app)) ||
        !(c->stream = av_strdup(t->stream)))
        return AVERROR(ENOMEM);
    return stop ? ff_liverec_objects_stop_task(st, t->id, c->now) :
                  ff_liverec_objects_delete_task(st, t->id);
}

static int stop_task(LiveRecState *st, const LiveRecConfig *cfg, void *opaque)
{
    return change_task(st, cfg, opaque, 1);
}

static int delete_task(LiveRecState *st, const LiveRecConfig *cfg, void *opaque)
{
    return change_task(st, cfg, opaque, 0);
}

static int api_change_task(Call *c, int stop)
{
    int ret;

    if ((ret = get_str(c, "TaskId", 1, 64, &c->task_id)) < 0 ||
        (ret = ff_liverec_manager_change(c->m, stop ? stop_task : delete_task, c)) < 0)
        return ret;
    /* the answer comes when the task's files are closed */
    ff_liverec_manager_wait_tasks(c->m, c->domain, c->app, c->stream, TASK_WAIT);
    av_freep(&c->domain);
    av_freep(&c->app);
    av_freep(&c->stream);
    return 0;
}

static int api_stop_task(Call *c)
{
    return api_change_task(c, 1);
}

static int api_delete_task(Call *c)
{
    return api_change_task(c, 0);
}

/* A task's state: from its window and what its stream's session shows of its recordings. */
static void task_state(const LiveRecTask *t, json_t *streams, int64_t now, const char **state,
                       AVBPrint *reason)
{
    int recording = 0, failed = 0;
    size_t i;
    json_t *s;

    json_array_foreach(streams, i, s) {
        json_t *sess = json_object_get(s, "Session"), *outs, *o;
        size_t j;
        if (strcmp(json_string_value(json_object_get(s, "DomainName")), t->domain) ||
            strcmp(json_string_value(json_object_get(s, "AppName")), t->app) ||
            strcmp(json_string_value(json_object_get(s, "StreamName")), t->stream) ||
            !(outs = json_object_get(sess, "Outputs")))
            continue;
        json_array_foreach(outs, j, o) {
            if (strcmp(json_string_value(json_object_get(o, "TaskId")), t->id))
                continue;
            recording |= json_is_true(json_object_get(o, "Open"));
            if (json_is_true(json_object_get(o, "Failed")) && !failed++)
                av_bprintf(reason, "%s cannot be recorded (see the service's log)",
                           json_string_value(json_object_get(o, "Format")));
        }
    }
    if (t->stopped)
        *state = "stopped";
    else if (t->end_time <= now)
        *state = "ended";
    else if (recording)
        *state = "recording";
    else if (failed)
        *state = "failed";
    else {
        *state = "waiting";
        av_bprintf(reason, t->start_time > now ? "its StartTime has not come" : "the stream is not live");
    }
}

static int api_describe_tasks(Call *c)
{
    const char *domain = NULL, *app = NULL, *stream = NULL, *token = NULL;
    int64_t from, to, offset = 0, n = 0;
    AVBufferRef *ref;
    const LiveRecConfig *cfg;
    json_t *list, *streams;
    int ret, more = 0;

    if ((ret = get_int(c, "StartTime", 1, 0, INT64_MAX, &from)) < 0 ||
        (ret = get_int(c, "EndTime", 1, 0, INT64_MAX, &to)) < 0 ||
        (ret = get_str(c, "DomainName", 0, 128, &domain)) < 0 ||
        (ret = get_str(c, "AppName", 0, 128, &app)) < 0 ||
        (ret = get_str(c, "StreamName", 0, 128, &stream)) < 0 ||
        (ret = get_str(c, "ScrollToken", 0, 32, &token)) < 0)
        return ret;
    if (to <= from)
        return fail(c, "InvalidParameterValue", "EndTime must be later than StartTime.");
    if (token && *token && (token[strspn(token, "0123456789")] || (offset = strtoll(token, NULL, 10)) < 0))
        return fail(c, "InvalidParameterValue", "ScrollToken is not one this service gave.");
    if (!(ref = ff_liverec_manager_config(c->m)))
        return AVERROR(ENOMEM);
    cfg     = (const LiveRecConfig *)ref->data;
    list    = json_array();
    streams = ff_liverec_manager_streams(c->m);
    for (int i = 0; list && streams && i < cfg->nb_tasks; i++) {
        const LiveRecTask *t = &cfg->tasks[i];
        int64_t start = t->start_time == INT64_MIN ? 0 : t->start_time;
        const char *state;
        AVBPrint reason;
        /* the tasks whose window lies inside the range */
        if (start < from || t->end_time > to || (domain && strcmp(domain, t->domain)) ||
            (app && strcmp(app, t->app)) || (stream && strcmp(stream, t->stream)) || n++ < offset)
            continue;
        if (json_array_size(list) >= 100) {
            more = 1;
            break;
        }
        av_bprint_init(&reason, 0, AV_BPRINT_SIZE_AUTOMATIC);
        task_state(t, streams, c->now, &state, &reason);
        /* Status and Reason are liverec's: the cloud shows no state */
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s}",
                                              "TaskId", t->id, "DomainName", t->domain,
                                              "AppName", t->app, "StreamName", t->stream,
                                              "StartTime", (json_int_t)start,
                                              "EndTime", (json_int_t)(t->planned_end ? t->planned_end : t->end_time),
                                              "TemplateId", (json_int_t)t->template_id,
                                              "Stopped", (json_int_t)t->stopped,
                                              "Status", state, "Reason", reason.str));
        av_bprint_finalize(&reason, NULL);
    }
    av_buffer_unref(&ref);
    json_decref(streams);
    if (!list)
        return AVERROR(ENOMEM);
    json_object_set_new(c->resp, "TaskList", list);
    json_object_set_new(c->resp, "ScrollToken", more ? json_sprintf("%"PRId64, n - 1) : json_string(""));
    return 0;
}

/* ---- what is live ---- */

static int api_online_list(Call *c)
{
    const char *domain = NULL, *app = NULL, *stream = NULL;
    int64_t page = 1, size = 10, total = 0;
    json_t *streams, *s, *list;
    size_t i;
    int ret;

    if ((ret = get_str(c, "DomainName", 0, 128, &domain)) < 0 ||
        (ret = get_str(c, "AppName", 0, 128, &app)) < 0 ||
        (ret = get_str(c, "StreamName", 0, 128, &stream)) < 0 ||
        (ret = get_int(c, "PageNum", 0, 1, 1000000, &page)) < 0 ||
        (ret = get_int(c, "PageSize", 0, 10, 300000, &size)) < 0)
        return ret;
    if (!(streams = ff_liverec_manager_streams(c->m)) || !(list = json_array())) {
        json_decref(streams);
        return AVERROR(ENOMEM);
    }
    json_array_foreach(streams, i, s) {
        const char *d = json_string_value(json_object_get(s, "DomainName"));
        const char *a = json_string_value(json_object_get(s, "AppName"));
        const char *n = json_string_value(json_object_get(s, "StreamName"));
        char published[32];
        if (!json_is_true(json_object_get(s, "Live")) || (domain && *domain && strcmp(domain, d)) ||
            (app && *app && strcmp(app, a)) || (stream && *stream && strcmp(stream, n)))
            continue;
        if (total++ < (page - 1) * size || json_array_size(list) >= size)
            continue;
        gmtime_str(published, sizeof(published),
                   json_integer_value(json_object_get(s, "PublishTime")), 0);
        json_array_append_new(list, json_pack("{s:s, s:[{s:s}], s:s, s:s, s:i}",
                                              "StreamName", n, "PublishTimeList", "PublishTime",
                                              published, "AppName", a, "DomainName", d,
                                              "PushToDelay", 0));
    }
    json_decref(streams);
    json_object_set_new(c->resp, "OnlineInfo", list);
    json_object_set_new(c->resp, "TotalNum", json_integer(total));
    json_object_set_new(c->resp, "TotalPage", json_integer((total + size - 1) / size));
    json_object_set_new(c->resp, "PageNum", json_integer(page));
    json_object_set_new(c->resp, "PageSize", json_integer(size));
    return 0;
}

/* ---- the catalog, as the VOD API's SearchMedia ---- */

static int iso_time(Call *c, json_t *range, const char *name, int64_t *usec)
{
    json_t *j = json_object_get(range, name);
    char buf[40];
    size_t len;
    int64_t t, offset = 0;

    if (!j)
        return 0;
    if (!json_is_string(j) || (len = json_string_length(j)) >= sizeof(buf))
        goto bad;
    memcpy(buf, json_string_value(j), len + 1);
    /* the cloud's examples give a zone offset (+08:00), which av_parse_time() does not read */
    if (len > 6 && (buf[len - 6] == '+' || buf[len - 6] == '-') && buf[len - 3] == ':' &&
        strspn(buf + len - 5, "0123456789") == 2 && strspn(buf + len - 2, "0123456789") == 2) {
        offset = (atoi(buf + len - 5) * 3600 + atoi(buf + len - 2) * 60) * 1000000LL;
        offset = buf[len - 6] == '+' ? offset : -offset;
        strcpy(buf + len - 6, "Z");
    }
    if (av_parse_time(&t, buf, 0) < 0)
        goto bad;
    *usec = t - offset;
    return 1;
bad:
    return fail(c, "InvalidParameterValue", "CreateTime.%s must be an ISO 8601 time, like "
                "2026-12-01T00:00:00Z or 2026-12-01T08:00:00+08:00.", name);
}

/* A string array parameter of at most max items: its first item in *v (the catalog is searched
 * for one value of each; more is refused rather than silently narrowed) */
static int one_of(Call *c, const char *name, const char **v)
{
    json_t *j = json_object_get(c->req, name);
    if (!j)
        return 0;
    if (!json_is_array(j) || json_array_size(j) > 1 ||
        (json_array_size(j) && !json_is_string(json_array_get(j, 0))))
        return fail(c, json_is_array(j) && json_array_size(j) > 1 ? "InvalidParameterValue" :
                    "InvalidParameter", "%s must be an array of one string here.", name);
    if (json_array_size(j))
        *v = json_string_value(json_array_get(j, 0));
    return 1;
}

static json_t *media_info(const LiveRecConfig *cfg, json_t *row, int basic, int meta)
{
    const char *format = json_string_value(json_object_get(row, "format"));
    const char *url = json_string_value(json_object_get(row, "url"));
    const char *local = json_string_value(json_object_get(row, "local_path"));
    const char *key = json_string_value(json_object_get(row, "object_key"));
    const char *path = *url ? url : local, *slash = strrchr(path, '/');
    int64_t created = json_integer_value(json_object_get(row, "created"));
    int64_t expires = json_integer_value(json_object_get(row, "expires"));
    int64_t start = json_integer_value(json_object_get(row, "start_usec"));
    int64_t end = json_integer_value(json_object_get(row, "end_usec"));
    int64_t dur_ms = json_integer_value(json_object_get(row, "duration_ms"));
    int64_t size = json_integer_value(json_object_get(row, "size"));
    double duration = (dur_ms >= 0 ? dur_ms : (end - start) / 1000) / 1000.0;
    char id[32], t_created[32], t_expires[32], t_start[32], t_end[32];
    json_t *o;

    snprintf(id, sizeof(id), "%"PRId64, (int64_t)json_integer_value(json_object_get(row, "id")));
    gmtime_str(t_created, sizeof(t_created), created, 0);
    if (expires)
        gmtime_str(t_expires, sizeof(t_expires), expires, 0);
    else
        av_strlcpy(t_expires, "9999-12-31T23:59:59Z", sizeof(t_expires));
    gmtime_str(t_start, sizeof(t_start), start / 1000000, 0);
    gmtime_str(t_end, sizeof(t_end), end / 1000000, 0);
    o = json_pack("{s:s}", "FileId", id);
    if (o && basic)
        json_object_set_new(o, "BasicInfo", json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s,"
            " s:{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}},"
            " s:s, s:s, s:[], s:s, s:s, s:s, s:s}",
            "Name", slash ? slash + 1 : path, "Description", "", "CreateTime", t_created,
            "UpdateTime", t_created, "ExpireTime", t_expires, "ClassId", 0, "ClassName", "",
            "ClassPath", "", "CoverUrl", "",
            "Type", !strcmp(format, "hls") ? "m3u8" : format, "MediaUrl", path,
            "SourceInfo", "SourceType", "Record",
            /* the task a recording belongs to: its SourceContext */
            "SourceContext", json_string_value(json_object_get(row, "task_id")),
            "LiveRecordInfo", "Domain", json_string_value(json_object_get(row, "domain")),
            "Path", json_string_value(json_object_get(row, "app")),
            "StreamId", json_string_value(json_object_get(row, "stream")),
            "RecordStartTime", t_start, "RecordEndTime", t_end,
            "StorageRegion", cfg->storage_region ? cfg->storage_region : "",
            "StoragePath", key, "TagSet", "Vid", id,
            "Category", !strcmp(format, "aac") ? "Audio" : "Video",
            "Status", "Normal", "StorageClass", "STANDARD"));
    if (o && meta)
        json_object_set_new(o, "MetaData", json_pack(
            "{s:I, s:s, s:I, s:i, s:i, s:f, s:i, s:[], s:[], s:f, s:f, s:s}",
            "Size", (json_int_t)size, "Container", !strcmp(format, "hls") ? "hls,applehttp" : format,
            "Bitrate", (json_int_t)(duration > 0 ? size * 8 / duration : 0),
            "Height", 0, "Width", 0, "Duration", duration, "Rotate", 0,
            "VideoStreamSet", "AudioStreamSet", "VideoDuration", duration,
            "AudioDuration", duration, "Md5", ""));
    return o;
}

static int api_search_media(Call *c)
{
    static const char *const formats[][2] = {
        { "mp4", "mp4" }, { "flv", "flv" }, { "m3u8", "hls" }, { "hls", "hls" }, { "aac", "aac" },
    };
    LiveRecSearch q = { .limit = 10 };
    const char *type = NULL, *file = NULL, *order = "Desc";
    json_t *range = json_object_get(c->req, "CreateTime"), *filters, *sort, *rows, *row, *set;
    int64_t v, total;
    AVBufferRef *ref;
    int ret, basic = 1, meta = 1;
    size_t i;

    if ((ret = one_of(c, "StreamIds", &q.stream)) < 0 || (ret = one_of(c, "StreamDomains", &q.domain)) < 0 ||
        (ret = one_of(c, "StreamPaths", &q.app)) < 0 || (ret = one_of(c, "MediaTypes", &type)) < 0 ||
        (ret = one_of(c, "FileIds", &file)) < 0 ||
        (ret = get_str(c, "StreamId", 0, 128, &q.stream)) < 0 ||
        (ret = get_int(c, "Offset", 0, 0, 5000, &v)) < 0)
        return ret;
    q.offset = ret ? v : 0;
    if ((ret = get_int(c, "Limit", 0, 1, 5000, &v)) < 0)
        return ret;
    q.limit = ret ? v : 10;
    if (q.offset + q.limit > 5000)
        return fail(c, "InvalidParameterValue.Offset", "Offset + Limit must be at most 5000.");
    if (range && (!json_is_object(range) || iso_time(c, range, "After", &q.created_after) < 0 ||
                  iso_time(c, range, "Before", &q.created_before) < 0))
        return c->code ? AVERROR(EINVAL) : fail(c, "InvalidParameter", "CreateTime must be an object.");
    q.created_after   = (q.created_after + 999999) / 1000000;
    q.created_before  = q.created_before ? (q.created_before + 999999) / 1000000 : 0;
    if ((sort = json_object_get(c->req, "Sort"))) {
        json_t *f = json_object_get(sort, "Field"), *o = json_object_get(sort, "Order");
        if (!json_is_string(f) || strcmp(json_string_value(f), "CreateTime") || !json_is_string(o) ||
            (strcmp(json_string_value(o), "Asc") && strcmp(json_string_value(o), "Desc")))
            return fail(c, "InvalidParameterValue.Sort", "Sort is {\"Field\": \"CreateTime\", "
                        "\"Order\": \"Asc\" or \"Desc\"}.");
        order = json_string_value(o);
    }
    q.ascending = !strcmp(order, "Asc");
    if ((filters = json_object_get(c->req, "Filters"))) {
        json_t *f;
        if (!json_is_array(filters))
            return fail(c, "InvalidParameter", "Filters must be an array of strings.");
        basic = meta = 0;
        json_array_foreach(filters, i, f) {
            basic |= json_is_string(f) && !strcmp(json_string_value(f), "basicInfo");
            meta  |= json_is_string(f) && !strcmp(json_string_value(f), "metaData");
        }
    }
    if (type) {
        for (i = 0; i < FF_ARRAY_ELEMS(formats) && strcmp(formats[i][0], type); i++)
            ;
        if (i == FF_ARRAY_ELEMS(formats))
            return fail(c, "InvalidParameterValue", "MediaTypes: recordings are mp4, flv, m3u8 or aac.");
        q.format = formats[i][1];
    }
    if (file) {
        if (!*file || file[strspn(file, "0123456789")])
            return fail(c, "InvalidParameterValue.FileIds", "FileIds are the catalog's numbers.");
        q.id = strtoll(file, NULL, 10);
    }
    if (!(ref = ff_liverec_manager_config(c->m)))
        return AVERROR(ENOMEM);
    if ((ret = ff_liverec_manager_search(c->m, &q, &rows, &total)) < 0) {
        av_buffer_unref(&ref);
        return ret;
    }
    if (!(set = json_array())) {
        av_buffer_unref(&ref);
        json_decref(rows);
        return AVERROR(ENOMEM);
    }
    json_array_foreach(rows, i, row)
        json_array_append_new(set, media_info((const LiveRecConfig *)ref->data, row, basic, meta));
    av_buffer_unref(&ref);
    json_decref(rows);
    json_object_set_new(c->resp, "TotalCount", json_integer(FFMIN(total, 5000)));
    json_object_set_new(c->resp, "MediaInfoSet", set);
    return 0;
}

/* ---- the actions ---- */

#define P(...) (const char *const []){ __VA_ARGS__, NULL }
#define TEMPLATE_PARAMS "TemplateName", "Description", "FlvParam", "HlsParam", "Mp4Param", \
                        "AacParam", "Mp3Param", "HlsSpecialParam", "RemoveWatermark", \
                        "FlvSpecialParam"

static const Action actions[] = {
    { "CreateLiveRecordTemplate",   VERSION_LIVE, P(TEMPLATE_PARAMS, "IsDelayLive", "CosStore"),
      api_create_template },
    { "ModifyLiveRecordTemplate",   VERSION_LIVE, P("TemplateId", TEMPLATE_PARAMS), api_modify_template },
    { "DeleteLiveRecordTemplate",   VERSION_LIVE, P("TemplateId"), api_delete_template },
    { "DescribeLiveRecordTemplate", VERSION_LIVE, P("TemplateId"), api_describe_template },
    { "DescribeLiveRecordTemplates", VERSION_LIVE, P("IsDelayLive"), api_describe_templates },
    { "CreateLiveRecordRule",       VERSION_LIVE, P("DomainName", "TemplateId", "AppName", "StreamName"),
      api_create_rule },
    { "DeleteLiveRecordRule",       VERSION_LIVE, P("DomainName", "AppName", "StreamName"), api_delete_rule },
    { "DescribeLiveRecordRules",    VERSION_LIVE, (const char *const []){ NULL }, api_describe_rules },
    { "CreateRecordTask",           VERSION_LIVE, P("StreamName", "DomainName", "AppName", "EndTime",
                                                    "StartTime", "StreamType", "TemplateId",
                                                    "Extension"), api_create_task },
    { "StopRecordTask",             VERSION_LIVE, P("TaskId"), api_stop_task },
    { "DeleteRecordTask",           VERSION_LIVE, P("TaskId"), api_delete_task },
    { "DescribeRecordTask",         VERSION_LIVE, P("StartTime", "EndTime", "StreamName", "DomainName",
                                                    "AppName", "ScrollToken"), api_describe_tasks },
    { "DescribeLiveStreamOnlineList", VERSION_LIVE, P("DomainName", "AppName", "PageNum", "PageSize",
                                                      "StreamName"), api_online_list },
    /* the VOD API's; what has no meaning for a local catalog is accepted and has no effect */
    { "SearchMedia",                VERSION_VOD,  P("StreamIds", "StreamId", "StreamDomains",
                                                    "StreamPaths", "MediaTypes", "FileIds", "CreateTime",
                                                    "Sort", "Offset", "Limit", "Filters", "SubAppId",
                                                    "SourceTypes", "Categories"), api_search_media },
};

static const char *header(void *opaque, const char *name)
{
    return ff_liverec_http_header(opaque, name);
}

static int reply(LiveRecHttpResponse *resp, json_t *r)
{
    char *text = json_dumps(r, JSON_COMPACT);
    int ret;

    if (!text)
        return AVERROR(ENOMEM);
    ret = ff_liverec_http_reply(resp, 200, "application/json", "%s", text);
    free(text);
    return ret;
}

/* A version 4 UUID, as the cloud's RequestId */
static void request_id(char *buf)
{
    uint8_t b[16];
    random_bytes(b, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

static int run_action(Call *c, LiveRecHttpRequest *req)
{
    const char *name = ff_liverec_http_header(req, "X-TC-Action");
    const char *version = ff_liverec_http_header(req, "X-TC-Version");
    const Action *a = NULL;
    AVBufferRef *creds;
    json_error_t err;
    const char *key;
    json_t *v;
    char buf[80];
    int ret;

    if (!(creds = ff_liverec_manager_credentials(c->m)))
        return AVERROR(ENOMEM);
    ret = ff_liverec_tc3_verify(*(LiveRecCredentials **)creds->data, req->method, "/",
                                "", header, req, req->body,
                                req->body_len, c->now, &c->code, &c->why);
    av_buffer_unref(&creds);
    if (ret < 0) {
        c->denied = 1;
        return ret;
    }
    if (!name)
        return fail(c, "MissingParameter", "The header X-TC-Action is missing.");
    for (int i = 0; i < FF_ARRAY_ELEMS(actions); i++)
        if (!strcmp(actions[i].name, name))
            a = &actions[i];
    if (!a)
        return fail(c, "InvalidAction", "The request `Action` is invalid or not found: %s.",
                    shown(buf, sizeof(buf), name));
    if (!version)
        return fail(c, "MissingParameter", "The header X-TC-Version is missing.");
    if (strcmp(version, a->version))
        return fail(c, "NoSuchVersion", "%s is of version %s, not %s.", a->name, a->version,
                    shown(buf, sizeof(buf), version));
    /* an empty body is an action without parameters */
    c->req = req->body_len ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err)
                           : json_object();
    if (!c->req || !json_is_object(c->req))
        return fail(c, "InvalidParameter", "The body must be a JSON object%s%s.",
                    c->req ? "" : ": ", c->req ? "" : err.text);
    json_object_foreach(c->req, key, v) {
        int known = 0;
        for (int i = 0; a->params[i] && !known; i++)
            known = !strcmp(a->params[i], key);
        if (!known)
            return fail(c, "UnknownParameter", "The parameter `%s` is not recognized.",
                        shown(buf, sizeof(buf), key));
    }
    av_log(NULL, AV_LOG_VERBOSE, "API: %s\n", a->name);
    return a->run(c);
}

int ff_liverec_api_request(LiveRecManager *m, LiveRecHttpRequest *req, LiveRecHttpResponse *resp)
{
    Call c = { .m = m, .now = av_gettime() / 1000000 };
    char id[37];
    json_t *r;
    int ret;

    ff_liverec_log_set_prefix("api");
    av_bprint_init(&c.why, 0, AV_BPRINT_SIZE_AUTOMATIC);
    request_id(id);
    if (!(c.resp = json_object())) {
        av_bprint_finalize(&c.why, NULL);
        return AVERROR(ENOMEM);
    }
    ret = run_action(&c, req);
    if (ret < 0 && !c.code) {
        av_log(NULL, AV_LOG_ERROR, "request failed: %s\n", av_err2str(ret));
        fail(&c, "InternalError", "%s", av_err2str(ret));
        LIVEREC_COUNT(api[LIVEREC_REQUEST_ERROR], 1);
    } else if (ret < 0) {
        LIVEREC_COUNT(api[c.denied ? LIVEREC_REQUEST_DENIED : LIVEREC_REQUEST_REFUSED], 1);
    } else if (ret >= 0) {
        LIVEREC_COUNT(api[LIVEREC_REQUEST_OK], 1);
    }
    if (ret < 0) {
        json_object_clear(c.resp);
        json_object_set_new(c.resp, "Error", json_pack("{s:s, s:s}", "Code", c.code,
                                                       "Message", c.why.str));
    }
    json_object_set_new(c.resp, "RequestId", json_string(id));
    r = json_pack("{s:o}", "Response", c.resp);
    ret = r ? reply(resp, r) : AVERROR(ENOMEM);
    json_decref(r);
    json_decref(c.req);
    av_freep(&c.domain);
    av_freep(&c.app);
    av_freep(&c.stream);
    av_bprint_finalize(&c.why, NULL);
    ff_liverec_log_set_prefix(NULL);
    return ret;
}
