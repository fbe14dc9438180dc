/*
 * ffliverec -serve: the templates, rules and tasks made through the API, and their shapes
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
 * One source of truth for each object: those of the configuration file are read-only through the
 * API; those made through the API live in the catalog (tables api_templates, api_rules,
 * api_tasks), so they survive restarts. The configuration in force is a copy of the file's with
 * the API's objects appended (ff_liverec_objects_merge()); ffliverec -export writes it back as a
 * configuration file (libxml2 does the escaping).
 */

#include <inttypes.h>
#include <string.h>

#include <jansson.h>
#include <libxml/tree.h>
#include <sqlite3.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "ffliverec_serve.h"

static const char *const param_names[LIVEREC_NB_FORMATS] = {
    "FlvParam", "HlsParam", "Mp4Param", "AacParam",
};

/* ---- shapes: the cloud's RecordTemplateInfo ---- */

json_t *ff_liverec_template_info(const LiveRecTemplate *t)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:{s:i}, s:b}",
                          "TemplateId", (json_int_t)t->id,
                          "TemplateName", t->name,
                          "Description", t->description ? t->description : "",
                          "IsDelayLive", 0,
                          "HlsSpecialParam", "FlowContinueDuration", t->flow_continue_duration,
                          "RemoveWatermark", 0);

    for (int f = 0; o && f < LIVEREC_NB_FORMATS; f++) {
        const LiveRecFormatParam *p = &t->param[f];
        /* a format the template does not have is shown disabled, as the cloud does */
        json_object_set_new(o, param_names[f],
                            json_pack("{s:i, s:I, s:i, s:s, s:i}",
                                      "RecordInterval", p->present ? p->record_interval : 1800,
                                      "StorageTime", (json_int_t)(p->present ? p->storage_time : 0),
                                      "Enable", p->present && p->enable,
                                      "VodFileName", p->vod_file_name ? p->vod_file_name : "",
                                      "VodSubAppId", 0));
    }
    return o;
}

static int bad(const char **code, const char *c, AVBPrint *why, const char *fmt, ...)
    av_printf_format(4, 5);
static int bad(const char **code, const char *c, AVBPrint *why, const char *fmt, ...)
{
    va_list vl;
    *code = c;
    va_start(vl, fmt);
    av_vbprintf(why, fmt, vl);
    va_end(vl);
    return AVERROR(EINVAL);
}

/* An integer parameter within [min, max]: 1 if set, 0 if absent, < 0 (code, why) if wrong. */
int ff_liverec_json_int(json_t *o, const char *name, int64_t min, int64_t max, int64_t *v,
                        const char **code, AVBPrint *why)
{
    json_t *j = json_object_get(o, name);

    if (!j)
        return 0;
    if (!json_is_integer(j))
        return bad(code, "InvalidParameter", why, "%s must be an integer", name);
    if (json_integer_value(j) < min || json_integer_value(j) > max)
        return bad(code, "InvalidParameterValue", why, "%s must be from %"PRId64" to %"PRId64,
                   name, min, max);
    *v = json_integer_value(j);
    return 1;
}

/* A string parameter of at most max bytes: 1 if set, 0 if absent, < 0 (code, why) if wrong. */
int ff_liverec_json_str(json_t *o, const char *name, size_t max, const char **v,
                        const char **code, AVBPrint *why)
{
    json_t *j = json_object_get(o, name);

    if (!j)
        return 0;
    if (!json_is_string(j))
        return bad(code, "InvalidParameter", why, "%s must be a string", name);
    if (json_string_length(j) > max || strlen(json_string_value(j)) != json_string_length(j))
        return bad(code, "InvalidParameterValue", why, "%s must be at most %zu bytes, without NUL",
                   name, max);
    /* what a configuration file (-export) cannot hold: control characters, U+FFFE, U+FFFF */
    for (const unsigned char *s = (const unsigned char *)json_string_value(j); *s; s++)
        if (*s < 0x20 || (s[0] == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf)))
            return bad(code, "InvalidParameterValue", why, "%s must not contain control "
                       "characters (or U+FFFE, U+FFFF)", name);
    *v = json_string_value(j);
    return 1;
}

static int set_str(char **dst, const char *src)
{
    char *s = av_strdup(src);
    if (!s)
        return AVERROR(ENOMEM);
    av_free(*dst);
    *dst = s;
    return 0;
}

static int name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((unsigned char)*s >= 0x80 || av_isdigit(*s) || av_toupper(*s) != av_tolower(*s) ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int ff_liverec_template_params(LiveRecTemplate *t, json_t *o, const char **code, AVBPrint *why)
{
    const char *s;
    int64_t v;
    int ret;

    if ((ret = ff_liverec_json_str(o, "TemplateName", 30, &s, code, why)) < 0)
        return ret;
    /* the cloud's: letters (any script: UTF-8 bytes), digits, '_' and '-' */
    if (ret && !name_ok(s))
        return bad(code, "InvalidParameterValue", why, "TemplateName must be 1 to 30 bytes of "
                   "letters, digits, '_' and '-'");
    if (ret && (ret = set_str(&t->name, s)) < 0)
        return ret;
    if ((ret = ff_liverec_json_str(o, "Description", 100, &s, code, why)) < 0)
        return ret;
    if (ret && (ret = set_str(&t->description, s)) < 0)
        return ret;

    for (int f = 0; f < LIVEREC_NB_FORMATS; f++) {
        LiveRecFormatParam *p = &t->param[f];
        json_t *j = json_object_get(o, param_names[f]);
        if (!j || json_is_null(j))
            continue;
        if (!json_is_object(j))
            return bad(code, "InvalidParameter", why, "%s must be an object", param_names[f]);
        if (!p->present) {
            p->present         = 1;
            p->enable          = 0;     /* as the cloud: a format is recorded when enabled */
            p->record_interval = 1800;
        }
        /* the cloud's ranges; RecordInterval below 60 s only in a configuration file (tests) */
        if ((ret = ff_liverec_json_int(j, "RecordInterval", 60, f == LIVEREC_AAC ? 7200 : 43200,
                                       &v, code, why)) < 0)
            return ret;
        if (ret)
            p->record_interval = v;
        if ((ret = ff_liverec_json_int(j, "StorageTime", 0, 1500 * 86400, &v, code, why)) < 0)
            return ret;
        if (ret)
            p->storage_time = v;
        if ((ret = ff_liverec_json_int(j, "Enable", 0, 1, &v, code, why)) < 0)
            return ret;
        if (ret)
            p->enable = v;
        if ((ret = ff_liverec_json_str(j, "VodFileName", 256, &s, code, why)) < 0)
            return ret;
        if (ret && *s && ff_liverec_check_vod_file_name(s, why) < 0) {
            *code = "InvalidParameter.InvalidVodFileName";
            return AVERROR(EINVAL);
        }
        if (ret) {
            av_freep(&p->vod_file_name);
            if (*s && !(p->vod_file_name = av_strdup(s)))
                return AVERROR(ENOMEM);
        }
    }
    {
        json_t *j = json_object_get(o, "HlsSpecialParam");
        if (j && !json_is_null(j)) {
            if (!json_is_object(j))
                return bad(code, "InvalidParameter", why, "HlsSpecialParam must be an object");
            if ((ret = ff_liverec_json_int(j, "FlowContinueDuration", 0, 1800, &v, code, why)) < 0)
                return ret;
            if (ret)
                t->flow_continue_duration = v;
        }
    }
    return 0;
}

/* ---- the catalog's tables ---- */

static int db_error(sqlite3 *db, const char *what)
{
    av_log(NULL, AV_LOG_ERROR, "state: %s: %s\n", what, sqlite3_errmsg(db));
    return AVERROR_EXTERNAL;
}

static const char *col(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? (const char *)t : "";
}

/* Run one statement: ?1.. bound from fmt ('s' string, 'i' int64), as many as given. */
static int run(LiveRecState *st, const char *sql, const char *fmt, ...)
{
    sqlite3 *db = ff_liverec_state_handle(st);
    sqlite3_stmt *q;
    va_list vl;
    int ret;

    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return db_error(db, sql);
    va_start(vl, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 's')
            sqlite3_bind_text(q, i + 1, va_arg(vl, const char *), -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(q, i + 1, va_arg(vl, int64_t));
    }
    va_end(vl);
    ret = sqlite3_step(q);
    sqlite3_finalize(q);
    if (ret != SQLITE_DONE)
        return db_error(db, sql);
    return sqlite3_changes(db);
}

int ff_liverec_objects_put_template(LiveRecState *st, const LiveRecTemplate *t)
{
    json_t *o = ff_liverec_template_info(t);
    char *info = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int ret;

    json_decref(o);
    if (!info)
        return AVERROR(ENOMEM);
    ret = run(st, "INSERT INTO api_templates (id, info, created, updated) VALUES (?1, ?2, ?3, ?4)"
              " ON CONFLICT (id) DO UPDATE SET info = ?2, updated = ?4", "isii",
              t->id, info, t->created, t->updated);
    free(info);
    return ret;
}

int ff_liverec_objects_delete_template(LiveRecState *st, int64_t id)
{
    return run(st, "DELETE FROM api_templates WHERE id = ?1", "i", id);
}

int ff_liverec_objects_put_rule(LiveRecState *st, const LiveRecRule *r)
{
    return run(st, "INSERT INTO api_rules (domain, app, stream, template_id, created, updated)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", "sssiii", r->domain, r->app, r->stream,
               r->template_id, r->created, r->updated);
}

int ff_liverec_objects_delete_rule(LiveRecState *st, const char *domain, const char *app,
                                   const char *stream)
{
    return run(st, "DELETE FROM api_rules WHERE domain = ?1 AND app = ?2 AND stream = ?3", "sss",
               domain, app, stream);
}

int ff_liverec_objects_put_task(LiveRecState *st, const LiveRecTask *t)
{
    return run(st, "INSERT INTO api_tasks (task_id, domain, app, stream, start_time, end_time,"
               " template_id, stream_type, extension, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
               " ?7, ?8, ?9, ?10)", "ssssiiiisi", t->id, t->domain, t->app, t->stream,
               t->start_time, t->end_time, t->template_id, (int64_t)t->stream_type,
               t->extension ? t->extension : "", t->created);
}

int ff_liverec_objects_stop_task(LiveRecState *st, const char *id, int64_t now)
{
    return run(st, "UPDATE api_tasks SET stopped = ?2 WHERE task_id = ?1 AND stopped = 0", "si",
               id, now);
}

int ff_liverec_objects_delete_task(LiveRecState *st, const char *id)
{
    return run(st, "DELETE FROM api_tasks WHERE task_id = ?1", "s", id);
}

static int template_from_row(LiveRecTemplate *t, const char *info)
{
    json_error_t err;
    json_t *o = json_loads(info, 0, &err);
    const char *code;
    AVBPrint why;
    int ret;

    if (!o) {
        av_log(NULL, AV_LOG_ERROR, "state: template %"PRId64" is skipped: its JSON does not "
               "parse (%s)\n", t->id, err.text);
        return AVERROR_INVALIDDATA;
    }
    av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
    ret = ff_liverec_template_params(t, o, &code, &why);
    if (ret >= 0 && (!t->name || !*t->name))
        ret = bad(&code, "MissingParameter", &why, "TemplateName is missing");
    /* what was stored was checked when it was made; only a damaged catalog fails here, and
     * the row is skipped (AVERROR_INVALIDDATA), not the service */
    if (ret == AVERROR(EINVAL)) {
        av_log(NULL, AV_LOG_ERROR, "state: template %"PRId64" is skipped: %s\n", t->id, why.str);
        ret = AVERROR_INVALIDDATA;
    }
    av_bprint_finalize(&why, NULL);
    json_decref(o);
    return ret;
}

/*
 * The catalog's rows were checked when the API made them; one that is not as the API makes it
 * (a damaged or edited catalog) is skipped with an error, as a configuration file would be
 * refused, so that it never reaches a session or makes an -export that does not load.
 */
static int text_ok(const char *s, size_t max)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + strlen(s);

    if (end - p > max)
        return 0;
    /* what XML carries: valid UTF-8 without control characters or non-characters */
    while (p < end) {
        int32_t code;
        if (av_utf8_decode(&code, &p, end, AV_UTF8_FLAG_EXCLUDE_XML_INVALID_CONTROL_CODES) < 0 ||
            code < 0x20)
            return 0;
    }
    return 1;
}

static int row_name_ok(const char *what, const char *v, int wildcard, AVBPrint *why)
{
    return (wildcard && !*v) || ff_liverec_check_stream_name(v, what, why) >= 0;
}

static int rule_row_ok(const LiveRecRule *r, AVBPrint *why)
{
    return row_name_ok("DomainName", r->domain, 0, why) && row_name_ok("AppName", r->app, 1, why) &&
           row_name_ok("StreamName", r->stream, 1, why);
}

static int task_row_ok(const LiveRecTask *t, AVBPrint *why)
{
    size_t len = strlen(t->id);

    if (!len || len > 64 || strspn(t->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789_-") != len) {
        av_bprintf(why, "TaskId is not 1 to 64 of A-Z a-z 0-9 _ -");
        return 0;
    }
    if (!row_name_ok("DomainName", t->domain, 0, why) || !row_name_ok("AppName", t->app, 0, why) ||
        !row_name_ok("StreamName", t->stream, 0, why))
        return 0;
    if (t->start_time < 0 || t->end_time <= t->start_time || t->stopped < 0 ||
        (unsigned)t->stream_type > 1 || !text_ok(t->extension, 512)) {
        av_bprintf(why, "its times, StreamType or Extension are not valid");
        return 0;
    }
    return 1;
}

int ff_liverec_objects_merge(LiveRecState *st, LiveRecConfig *cfg)
{
    sqlite3 *db = ff_liverec_state_handle(st);
    sqlite3_stmt *q;
    int ret = 0, step;

    /* templates first: rules and tasks name them */
    if (sqlite3_prepare_v2(db, "SELECT id, info, created, updated FROM api_templates ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        return db_error(db, "api_templates");
    while (ret >= 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
        LiveRecTemplate t = { .hls_max_duration = LIVEREC_HLS_MAX_DURATION,
                              .id = sqlite3_column_int64(q, 0), .created = sqlite3_column_int64(q, 2),
                              .updated = sqlite3_column_int64(q, 3) };
        const LiveRecTemplate *file = ff_liverec_find_template(cfg, t.id);
        if (t.id < 1) {
            av_log(NULL, AV_LOG_ERROR, "state: a template with id %"PRId64" is skipped\n", t.id);
            continue;
        }
        if (file) {
            av_log(NULL, AV_LOG_WARNING, "template %"PRId64" made through the API is hidden by "
                   "the one of %s, line %d\n", t.id, cfg->path, file->line);
            continue;
        }
        if ((ret = template_from_row(&t, col(q, 1))) >= 0)
            ret = ff_liverec_config_add_template(cfg, &t);
        ff_liverec_template_free(&t);
        if (ret == AVERROR_INVALIDDATA)
            ret = 0;            /* a damaged row is skipped, not the service */
    }
    sqlite3_finalize(q);
    if (ret < 0)
        return ret;

    if (sqlite3_prepare_v2(db, "SELECT domain, app, stream, template_id, created, updated"
                           " FROM api_rules ORDER BY created, rowid", -1, &q, NULL) != SQLITE_OK)
        return db_error(db, "api_rules");
    {
        int nb_file = cfg->nb_rules;
        while (ret >= 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
            LiveRecRule r = {
                .domain = (char *)col(q, 0), .app = (char *)col(q, 1), .stream = (char *)col(q, 2),
                .template_id = sqlite3_column_int64(q, 3),
                .created = sqlite3_column_int64(q, 4), .updated = sqlite3_column_int64(q, 5),
            };
            int hidden = 0;
            AVBPrint why;
            av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
            if (!rule_row_ok(&r, &why)) {
                av_log(NULL, AV_LOG_ERROR, "state: a rule is skipped: %s\n", why.str);
                continue;
            }
            for (int i = 0; i < nb_file && !hidden; i++) {
                const LiveRecRule *o = &cfg->rules[i];
                hidden = !strcmp(o->domain, r.domain) && !strcmp(o->app, r.app) &&
                         !strcmp(o->stream, r.stream);
                if (hidden)
                    av_log(NULL, AV_LOG_WARNING, "the rule for '%s/%s/%s' made through the API "
                           "is hidden by the one of %s, line %d\n", r.domain, r.app, r.stream,
                           cfg->path, o->line);
            }
            if (!hidden && ff_liverec_find_template(cfg, r.template_id))
                ret = ff_liverec_config_add_rule(cfg, &r);
        }
    }
    sqlite3_finalize(q);
    if (ret < 0)
        return ret;

    if (sqlite3_prepare_v2(db, "SELECT task_id, domain, app, stream, start_time, end_time,"
                           " template_id, stream_type, extension, created, stopped"
                           " FROM api_tasks ORDER BY created, rowid", -1, &q, NULL) != SQLITE_OK)
        return db_error(db, "api_tasks");
    while (ret >= 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
        LiveRecTask t = {
            .id = (char *)col(q, 0), .domain = (char *)col(q, 1), .app = (char *)col(q, 2),
            .stream = (char *)col(q, 3), .start_time = sqlite3_column_int64(q, 4),
            .end_time = sqlite3_column_int64(q, 5), .template_id = sqlite3_column_int64(q, 6),
            .stream_type = sqlite3_column_int(q, 7), .extension = (char *)col(q, 8),
            .created = sqlite3_column_int64(q, 9), .stopped = sqlite3_column_int64(q, 10),
        };
        int hidden = 0;
        AVBPrint why;
        av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
        if (!task_row_ok(&t, &why)) {
            av_log(NULL, AV_LOG_ERROR, "state: a task is skipped: %s\n", why.str);
            continue;
        }
        for (int i = 0; i < cfg->nb_tasks && !hidden; i++)
            hidden = cfg->tasks[i].line && !strcmp(cfg->tasks[i].id, t.id);
        /* a stopped task's window ends at its stop; DescribeRecordTask shows both */
        t.planned_end = t.end_time;
        if (t.stopped)
            t.end_time = FFMIN(t.end_time, t.stopped);
        if (!hidden && ff_liverec_find_template(cfg, t.template_id))
            ret = ff_liverec_config_add_task(cfg, &t);
    }
    sqlite3_finalize(q);
    return ret;
}

/* ---- ffliverec -export ---- */

static void set_prop(xmlNodePtr n, const char *name, const char *value)
{
    if (value)
        xmlSetProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

static void set_int(xmlNodePtr n, const char *name, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%"PRId64, v);
    set_prop(n, name, buf);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    return xmlNewChild(parent, NULL, (const xmlChar *)name, NULL);
}

int ff_liverec_objects_export(const LiveRecConfig *cfg, AVBPrint *out)
{
    static const char *const event_names[] = { "100", "332", "1", "0" };
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr root, n;
    xmlChar *text = NULL;
    int len = 0;
    char events[32] = "";

    if (!doc || !(root = xmlNewNode(NULL, (const xmlChar *)"LiveRecordConfig"))) {
        xmlFreeDoc(doc);
        return AVERROR(ENOMEM);
    }
    xmlDocSetRootElement(doc, root);
    xmlAddChild(root, xmlNewComment((const xmlChar *)" written by ffliverec -export from the "
                                    "configuration file and the objects made through the API "));
    /* the schema's order: Origin, Storage, Callback, Service, Template, Rule, Task */
    for (int i = 0; i < cfg->nb_origins; i++) {
        const LiveRecOrigin *o = &cfg->origins[i];
        n = child(root, "Origin");
        set_prop(n, "Type", ff_liverec_origin_type_names[o->type]);
        if (*o->name)
            set_prop(n, "Name", o->name);
        set_prop(n, "PullUrl", o->pull_url);
        set_prop(n, "StatusUrl", o->status_url);
        set_prop(n, "Domain", o->domain);
    }
    if (cfg->storage_endpoint) {
        n = child(root, "Storage");
        set_prop(n, "Endpoint", cfg->storage_endpoint);
        set_prop(n, "Bucket", cfg->storage_bucket);
        set_prop(n, "KeyTemplate", cfg->storage_key_template);
        if (cfg->storage_region && *cfg->storage_region)
            set_prop(n, "Region", cfg->storage_region);
        set_int(n, "MaxConcurrentUploads", cfg->storage_max_uploads);
    }
    if (cfg->callback_url) {
        n = child(root, "Callback");
        set_prop(n, "Url", cfg->callback_url);
        set_prop(n, "Key", cfg->callback_key);
        set_int(n, "MaxAttempts", cfg->callback_max_attempts);
        set_int(n, "RetryInterval", cfg->callback_retry_interval);
        for (int i = 0; i < 4; i++)
            if (cfg->callback_events & (1 << i))
                av_strlcatf(events, sizeof(events), "%s%s", *events ? " " : "", event_names[i]);
        set_prop(n, "Events", events);
    }
    n = child(root, "Service");
    set_int(n, "MaxSessions", cfg->max_sessions);
    set_prop(n, "HookToken", cfg->hook_token);
    set_prop(n, "CredentialsFile", cfg->credentials_file);
    for (int i = 0; i < cfg->nb_templates; i++) {
        const LiveRecTemplate *t = &cfg->templates[i];
        n = child(root, "Template");
        set_int(n, "TemplateId", t->id);
        set_prop(n, "TemplateName", t->name);
        if (t->description && *t->description)
            set_prop(n, "Description", t->description);
        for (int f = 0; f < LIVEREC_NB_FORMATS; f++) {
            const LiveRecFormatParam *p = &t->param[f];
            xmlNodePtr c;
            if (!p->present)
                continue;
            c = child(n, param_names[f]);
            set_int(c, "Enable", p->enable);
            set_int(c, "RecordInterval", p->record_interval);
            set_int(c, "StorageTime", p->storage_time);
            set_prop(c, "VodFileName", p->vod_file_name);
        }
        if (t->flow_continue_duration || t->hls_max_duration != LIVEREC_HLS_MAX_DURATION) {
            xmlNodePtr h = child(n, "HlsSpecialParam");
            set_int(h, "FlowContinueDuration", t->flow_continue_duration);
            if (t->hls_max_duration != LIVEREC_HLS_MAX_DURATION)
                set_int(h, "MaxDuration", t->hls_max_duration);
        }
    }
    for (int i = 0; i < cfg->nb_rules; i++) {
        const LiveRecRule *r = &cfg->rules[i];
        n = child(root, "Rule");
        set_prop(n, "DomainName", r->domain);
        set_prop(n, "AppName", r->app);
        set_prop(n, "StreamName", r->stream);
        set_int(n, "TemplateId", r->template_id);
    }
    for (int i = 0; i < cfg->nb_tasks; i++) {
        const LiveRecTask *t = &cfg->tasks[i];
        if (t->start_time != INT64_MIN && t->end_time <= t->start_time) {
            /* stopped (StopRecordTask) before its window opened: nothing for a file to say */
            av_log(NULL, AV_LOG_WARNING, "task %s was stopped before its StartTime: it records "
                   "nothing and is left out\n", t->id);
            continue;
        }
        n = child(root, "Task");
        set_prop(n, "TaskId", t->id);
        set_prop(n, "DomainName", t->domain);
        set_prop(n, "AppName", t->app);
        set_prop(n, "StreamName", t->stream);
        if (t->start_time != INT64_MIN)
            set_int(n, "StartTime", t->start_time);
        set_int(n, "EndTime", t->end_time);
        set_int(n, "TemplateId", t->template_id);
        set_int(n, "StreamType", t->stream_type);
        if (t->extension && *t->extension)
            set_prop(n, "Extension", t->extension);
    }
    xmlDocDumpFormatMemoryEnc(doc, &text, &len, "UTF-8", 1);
    xmlFreeDoc(doc);
    if (!text)
        return AVERROR(ENOMEM);
    av_bprint_append_data(out, (const char *)text, len);
    xmlFree(text);
    return av_bprint_is_complete(out) ? 0 : AVERROR(ENOMEM);
}
