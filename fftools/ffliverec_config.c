/*
 * ffliverec: configuration loading, validation and rule matching
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

#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "libavutil/avstring.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/parseutils.h"
#include "libavutil/thread.h"

#include "ffliverec.h"

#define CONFIG_MAX_SIZE (4 << 20)

/* liverec/schema/liverec.xsd, embedded at build time (bin2c) */
extern const unsigned char ff_liverec_xsd_data[];
extern const unsigned int  ff_liverec_xsd_len;

const char *const ff_liverec_format_names[LIVEREC_NB_FORMATS] = { "flv", "hls", "mp4", "aac" };
static const char *const param_elements[LIVEREC_NB_FORMATS] = {
    "FlvParam", "HlsParam", "Mp4Param", "AacParam",
};

typedef struct Loader {
    const char *path;
    int errors;
} Loader;

static void xml_error(void *opaque, xmlErrorPtr err)
{
    Loader *l = opaque;
    size_t len = err->message ? strlen(err->message) : 0;

    if (err->level == XML_ERR_WARNING)
        return;
    /* libxml2's messages end with a newline */
    while (len && (err->message[len - 1] == '\n' || err->message[len - 1] == ' '))
        len--;
    av_log(NULL, AV_LOG_ERROR, "%s:%d: %.*s\n", l->path, err->line, (int)len,
           err->message ? err->message : "invalid XML");
    l->errors++;
}

static void sem_error(Loader *l, int line, const char *fmt, ...) av_printf_format(3, 4);
static void sem_error(Loader *l, int line, const char *fmt, ...)
{
    char msg[512];
    va_list vl;
    va_start(vl, fmt);
    vsnprintf(msg, sizeof(msg), fmt, vl);
    va_end(vl);
    av_log(NULL, AV_LOG_ERROR, "%s:%d: %s\n", l->path, line, msg);
    l->errors++;
}

/* An attribute as a new string ("" when absent); NULL only on ENOMEM. */
static char *attr(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *s = av_strdup(v ? (const char *)v : "");
    xmlFree(v);
    return s;
}

static int has_attr(xmlNodePtr n, const char *name)
{
    return xmlHasProp(n, (const xmlChar *)name) != NULL;
}

static int64_t attr_int(xmlNodePtr n, const char *name, int64_t def)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    int64_t r = v ? strtoll((const char *)v, NULL, 10) : def;
    xmlFree(v);
    return r;
}

/* Unix seconds or an ISO 8601 date (the schema's Time type), from 1970 (Unix seconds cannot say
 * earlier, and -export writes them so). */
static int attr_time(xmlNodePtr n, const char *name, int64_t *t)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    const char *s = (const char *)v;
    int64_t us;
    int ret = 0;

    if (!v)
        return AVERROR(ENOENT);
    if (s[strspn(s, "0123456789")] == 0) {
        *t = strtoll(s, NULL, 10);
    } else if (av_parse_time(&us, s, 0) >= 0 && us >= 0) {
        *t = us / 1000000;
    } else {
        ret = AVERROR(EINVAL);
    }
    xmlFree(v);
    return ret;
}

static int is_element(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/*
 * The built-in schema, compiled once: a compiled schema is only read while documents are
 * validated, each with its own validation context. Compiling it took most of a load's time (the
 * service loads the configuration at every reload and API change).
 */
static xmlSchemaPtr schema;
static AVOnce schema_once = AV_ONCE_INIT;

static void compile_schema(void)
{
    xmlSchemaParserCtxtPtr pctx = xmlSchemaNewMemParserCtxt((const char *)ff_liverec_xsd_data,
                                                            ff_liverec_xsd_len);
    if (pctx)
        schema = xmlSchemaParse(pctx);
    xmlSchemaFreeParserCtxt(pctx);
}

static int validate(Loader *l, xmlDocPtr doc)
{
    xmlSchemaValidCtxtPtr vctx;
    int ret;

    ff_thread_once(&schema_once, compile_schema);
    if (!schema) {
        av_log(NULL, AV_LOG_FATAL, "the built-in configuration schema does not load\n");
        return AVERROR_BUG;
    }
    if (!(vctx = xmlSchemaNewValidCtxt(schema)))
        return AVERROR(ENOMEM);
    xmlSchemaSetValidStructuredErrors(vctx, xml_error, l);
    /* the schema's default attribute values go into the tree: one place for defaults */
    xmlSchemaSetValidOptions(vctx, XML_SCHEMA_VAL_VC_I_CREATE);
    ret = xmlSchemaValidateDoc(vctx, doc) ? AVERROR_INVALIDDATA : 0;
    xmlSchemaFreeValidCtxt(vctx);
    return ret;
}

#define GROW(arr, nb) do {                                                     \
        void *tmp_ = av_realloc_array(arr, (nb) + 1, sizeof(*(arr)));          \
        if (!tmp_)                                                             \
            return AVERROR(ENOMEM);                                            \
        arr = tmp_;                                                            \
        memset(&(arr)[nb], 0, sizeof(*(arr)));                                 \
    } while (0)

static int parse_template(LiveRecConfig *cfg, xmlNodePtr n)
{
    LiveRecTemplate *t;

    GROW(cfg->templates, cfg->nb_templates);
    t = &cfg->templates[cfg->nb_templates++];
    t->line        = xmlGetLineNo(n);
    t->id          = attr_int(n, "TemplateId", 0);
    t->hls_max_duration = LIVEREC_HLS_MAX_DURATION;
    t->name        = attr(n, "TemplateName");
    t->description = attr(n, "Description");
    if (!t->name || !t->description)
        return AVERROR(ENOMEM);
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is_element(c, "HlsSpecialParam")) {
            t->flow_continue_duration = attr_int(c, "FlowContinueDuration", 0);
            t->hls_max_duration       = attr_int(c, "MaxDuration", LIVEREC_HLS_MAX_DURATION);
            continue;
        }
        for (int f = 0; f < LIVEREC_NB_FORMATS; f++) {
            LiveRecFormatParam *p = &t->param[f];
            if (!is_element(c, param_elements[f]))
                continue;
            p->present         = 1;
            p->enable          = attr_int(c, "Enable", 1);
            p->record_interval = attr_int(c, "RecordInterval", 1800);
            p->storage_time    = attr_int(c, "StorageTime", 0);
            if (has_attr(c, "VodFileName") && !(p->vod_file_name = attr(c, "VodFileName")))
                return AVERROR(ENOMEM);
        }
    }
    return 0;
}

static int parse_rule(LiveRecConfig *cfg, xmlNodePtr n)
{
    LiveRecRule *r;

    GROW(cfg->rules, cfg->nb_rules);
    r = &cfg->rules[cfg->nb_rules++];
    r->line        = xmlGetLineNo(n);
    r->domain      = attr(n, "DomainName");
    r->app         = attr(n, "AppName");
    r->stream      = attr(n, "StreamName");
    r->template_id = attr_int(n, "TemplateId", 0);
    return r->domain && r->app && r->stream ? 0 : AVERROR(ENOMEM);
}

static int parse_task(Loader *l, LiveRecConfig *cfg, xmlNodePtr n)
{
    LiveRecTask *t;
    int ret;

    GROW(cfg->tasks, cfg->nb_tasks);
    t = &cfg->tasks[cfg->nb_tasks++];
    t->line        = xmlGetLineNo(n);
    t->id          = attr(n, "TaskId");
    t->domain      = attr(n, "DomainName");
    t->app         = attr(n, "AppName");
    t->stream      = attr(n, "StreamName");
    t->extension   = attr(n, "Extension");
    t->template_id = attr_int(n, "TemplateId", 0);
    t->stream_type = attr_int(n, "StreamType", 0);
    if (!t->id || !t->domain || !t->app || !t->stream || !t->extension)
        return AVERROR(ENOMEM);
    ret = attr_time(n, "StartTime", &t->start_time);
    if (ret == AVERROR(ENOENT))
        t->start_time = INT64_MIN;
    else if (ret < 0)
        sem_error(l, t->line, "task '%s': StartTime is not a date from 1970 on", t->id);
    if (attr_time(n, "EndTime", &t->end_time) < 0)
        sem_error(l, t->line, "task '%s': EndTime is not a date from 1970 on", t->id);
    return 0;
}

const char *const ff_liverec_origin_type_names[LIVEREC_NB_ORIGIN_TYPES] = {
    "nginx-rtmp", "srs", "mediamtx", "node-media-server",
};

static int parse_origin(LiveRecConfig *cfg, xmlNodePtr n)
{
    LiveRecOrigin *o;
    char *type;

    GROW(cfg->origins, cfg->nb_origins);
    o = &cfg->origins[cfg->nb_origins++];
    o->line     = xmlGetLineNo(n);
    o->name     = attr(n, "Name");
    o->pull_url = attr(n, "PullUrl");
    if (has_attr(n, "StatusUrl") && !(o->status_url = attr(n, "StatusUrl")))
        return AVERROR(ENOMEM);
    if (has_attr(n, "Domain") && !(o->domain = attr(n, "Domain")))
        return AVERROR(ENOMEM);
    if (!(type = attr(n, "Type")) || !o->name || !o->pull_url) {
        av_free(type);
        return AVERROR(ENOMEM);
    }
    /* the schema allows only these */
    for (int i = 0; i < LIVEREC_NB_ORIGIN_TYPES; i++)
        if (!strcmp(type, ff_liverec_origin_type_names[i]))
            o->type = i;
    av_free(type);
    if (cfg->nb_origins == 1) {
        cfg->origin_line = o->line;
        return (cfg->pull_url = av_strdup(o->pull_url)) ? 0 : AVERROR(ENOMEM);
    }
    return 0;
}

static int parse_events(LiveRecConfig *cfg, xmlNodePtr n)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)"Events");
    const char *p = v ? (const char *)v : "100 332 1 0";

    cfg->callback_events = 0;
    /* a list of 100, 332, 1 and 0 (the schema checked it) */
    while (*p) {
        char *end;
        long e = strtol(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        cfg->callback_events |= e == 100 ? LIVEREC_EVENT_RECORD_FILE :
                                e == 332 ? LIVEREC_EVENT_RECORD_STATUS :
                                e == 1   ? LIVEREC_EVENT_PUSH : LIVEREC_EVENT_PUSH_END;
        p = end;
    }
    xmlFree(v);
    return 0;
}

static int parse_settings(LiveRecConfig *cfg, xmlNodePtr n)
{
    if (is_element(n, "Origin")) {
        return parse_origin(cfg, n);
    } else if (is_element(n, "Service")) {
        cfg->max_sessions = attr_int(n, "MaxSessions", 200);
        if (has_attr(n, "HookToken") && !(cfg->hook_token = attr(n, "HookToken")))
            return AVERROR(ENOMEM);
        if (has_attr(n, "CredentialsFile") && !(cfg->credentials_file = attr(n, "CredentialsFile")))
            return AVERROR(ENOMEM);
        return 0;
    } else if (is_element(n, "Storage")) {
        cfg->storage_line         = xmlGetLineNo(n);
        cfg->storage_endpoint     = attr(n, "Endpoint");
        cfg->storage_bucket       = attr(n, "Bucket");
        cfg->storage_key_template = attr(n, "KeyTemplate");
        cfg->storage_region       = attr(n, "Region");
        cfg->storage_max_uploads  = attr_int(n, "MaxConcurrentUploads", LIVEREC_MAX_UPLOADS);
        return cfg->storage_endpoint && cfg->storage_bucket && cfg->storage_key_template &&
               cfg->storage_region ? 0 : AVERROR(ENOMEM);
    } else if (is_element(n, "Callback")) {
        cfg->callback_url            = attr(n, "Url");
        cfg->callback_key            = attr(n, "Key");
        cfg->callback_max_attempts   = attr_int(n, "MaxAttempts", 12);
        cfg->callback_retry_interval = attr_int(n, "RetryInterval", 60);
        parse_events(cfg, n);
        return cfg->callback_url && cfg->callback_key ? 0 : AVERROR(ENOMEM);
    }
    return 0;
}

/* {Name} placeholders of a template string must be among allowed; "." / ".." segments refused */
static int placeholders_ok(const char *s, const char *const *allowed, AVBPrint *why)
{
    const char *p = s, *seg = s;

    while ((p = strchr(p, '{'))) {
        const char *end = strchr(p, '}');
        int ok = 0;
        if (!end) {
            av_bprintf(why, "'{' without '}'");
            return AVERROR(EINVAL);
        }
        for (int i = 0; allowed[i]; i++)
            ok |= strlen(allowed[i]) == end - p - 1 && !strncmp(p + 1, allowed[i], end - p - 1);
        if (!ok) {
            av_bprintf(why, "unknown placeholder %.*s", (int)FFMIN(end - p + 1, 64), p);
            return AVERROR(EINVAL);
        }
        p = end + 1;
    }
    for (p = s; ; p++) {
        if (*p == '/' || !*p) {
            if ((p - seg == 1 && seg[0] == '.') || (p - seg == 2 && seg[0] == '.' && seg[1] == '.')) {
                av_bprintf(why, "'.' and '..' segments are not allowed");
                return AVERROR(EINVAL);
            }
            seg = p + 1;
        }
        if (!*p)
            break;
    }
    return 0;
}

static void check_placeholders(Loader *l, int line, const char *what, const char *s,
                               const char *const *allowed)
{
    AVBPrint why;
    av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
    if (placeholders_ok(s, allowed, &why) < 0)
        sem_error(l, line, "%s '%s': %s", what, s, why.str);
    av_bprint_finalize(&why, NULL);
}

int ff_liverec_check_vod_file_name(const char *v, AVBPrint *why)
{
    static const char *const name_fields[] = {
        "StreamID", "StartYear", "StartMonth", "StartDay", "StartHour", "StartMinute",
        "StartSecond", "StartMillisecond", "EndYear", "EndMonth", "EndDay", "EndHour",
        "EndMinute", "EndSecond", "EndMillisecond", NULL
    };
    if (strchr(v, '/') || strchr(v, '\\')) {
        av_bprintf(why, "may not contain a path separator");
        return AVERROR(EINVAL);
    }
    return placeholders_ok(v, name_fields, why);
}

static void check_meaning(Loader *l, LiveRecConfig *cfg, int64_t now)
{
    static const char *const key_fields[] = { "DomainName", "AppName", "StreamName", NULL };

    if (cfg->storage_key_template)
        check_placeholders(l, cfg->storage_line, "Storage KeyTemplate", cfg->storage_key_template, key_fields);
    for (int i = 0; i < cfg->nb_origins; i++) {
        const LiveRecOrigin *o = &cfg->origins[i];
        check_placeholders(l, o->line, "Origin PullUrl", o->pull_url, key_fields);
        for (int j = 0; j < i; j++)
            if (cfg->origins[j].type == o->type && !strcmp(cfg->origins[j].name, o->name))
                sem_error(l, o->line, "a second %s Origin named '%s' (first on line %d): give "
                          "each origin of a type its own Name", ff_liverec_origin_type_names[o->type],
                          o->name, cfg->origins[j].line);
    }

    for (int i = 0; i < cfg->nb_templates; i++) {
        const LiveRecTemplate *t = &cfg->templates[i];
        for (int j = 0; j < i; j++)
            if (cfg->templates[j].id == t->id)
                sem_error(l, t->line, "duplicate TemplateId %"PRId64" (first on line %d)",
                          t->id, cfg->templates[j].line);
        for (int f = 0; f < LIVEREC_NB_FORMATS; f++) {
            const char *v = t->param[f].vod_file_name;
            AVBPrint why;
            if (!v)
                continue;
            av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
            if (ff_liverec_check_vod_file_name(v, &why) < 0)
                sem_error(l, t->line, "template %"PRId64": %s VodFileName '%s': %s", t->id,
                          param_elements[f], v, why.str);
            av_bprint_finalize(&why, NULL);
        }
    }
    for (int i = 0; i < cfg->nb_rules; i++) {
        const LiveRecRule *r = &cfg->rules[i];
        if (!ff_liverec_find_template(cfg, r->template_id))
            sem_error(l, r->line, "rule for '%s/%s/%s': unknown TemplateId %"PRId64,
                      r->domain, r->app, r->stream, r->template_id);
        for (int j = 0; j < i; j++) {
            const LiveRecRule *o = &cfg->rules[j];
            if (!strcmp(o->domain, r->domain) && !strcmp(o->app, r->app) &&
                !strcmp(o->stream, r->stream))
                sem_error(l, r->line, "duplicate rule for DomainName='%s' AppName='%s' "
                          "StreamName='%s' (first on line %d)", r->domain, r->app, r->stream, o->line);
        }
    }
    for (int i = 0; i < cfg->nb_tasks; i++) {
        const LiveRecTask *t = &cfg->tasks[i];
        AVBPrint why;
        av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
        if (ff_liverec_check_stream_name(t->domain, "DomainName", &why) < 0 ||
            ff_liverec_check_stream_name(t->app, "AppName", &why) < 0 ||
            ff_liverec_check_stream_name(t->stream, "StreamName", &why) < 0)
            sem_error(l, t->line, "task '%s': %s", t->id, why.str);
        av_bprint_finalize(&why, NULL);
        if (!ff_liverec_find_template(cfg, t->template_id))
            sem_error(l, t->line, "task '%s': unknown TemplateId %"PRId64, t->id, t->template_id);
        if (t->start_time != INT64_MIN && t->end_time <= t->start_time)
            sem_error(l, t->line, "task '%s': EndTime is not after StartTime", t->id);
        else if (t->end_time <= now)
            av_log(NULL, AV_LOG_WARNING, "%s:%d: task '%s' has ended; it records nothing\n",
                   l->path, t->line, t->id);
        for (int j = 0; j < i; j++)
            if (!strcmp(cfg->tasks[j].id, t->id))
                sem_error(l, t->line, "duplicate TaskId '%s' (first on line %d)", t->id,
                          cfg->tasks[j].line);
    }
}

int ff_liverec_config_load(LiveRecConfig **pcfg, const char *path, int64_t now)
{
    Loader l = { .path = path };
    LiveRecConfig *cfg;
    xmlDocPtr doc = NULL;
    struct stat st;
    int ret = 0;

    *pcfg = NULL;
    if (stat(path, &st) < 0) {
        ret = AVERROR(errno);
        av_log(NULL, AV_LOG_ERROR, "%s: %s\n", path, av_err2str(ret));
        return ret;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_SIZE) {
        av_log(NULL, AV_LOG_ERROR, "%s: not a regular file of at most %d bytes\n", path,
               CONFIG_MAX_SIZE);
        return AVERROR(EINVAL);
    }
    if (!(cfg = av_mallocz(sizeof(*cfg))) || !(cfg->path = av_strdup(path))) {
        av_free(cfg);
        return AVERROR(ENOMEM);
    }
    cfg->max_sessions    = 200;
    cfg->callback_events = LIVEREC_EVENT_RECORD_FILE | LIVEREC_EVENT_RECORD_STATUS |
                           LIVEREC_EVENT_PUSH | LIVEREC_EVENT_PUSH_END;

    /* no network, no entity expansion, no DTD loading: a config file is untrusted input */
    xmlSetStructuredErrorFunc(&l, xml_error);
    doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOCDATA);
    if (!doc) {
        if (!l.errors)
            av_log(NULL, AV_LOG_ERROR, "%s: cannot be parsed as XML\n", path);
        ret = AVERROR_INVALIDDATA;
        goto end;
    }
    if ((ret = validate(&l, doc)) < 0)
        goto end;

    for (xmlNodePtr n = xmlDocGetRootElement(doc)->children; n && ret >= 0; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (is_element(n, "Template"))
            ret = parse_template(cfg, n);
        else if (is_element(n, "Rule"))
            ret = parse_rule(cfg, n);
        else if (is_element(n, "Task"))
            ret = parse_task(&l, cfg, n);
        else
            ret = parse_settings(cfg, n);
    }
    if (ret >= 0)
        check_meaning(&l, cfg, now);
    /* the file's objects were made when it was loaded (DescribeLiveRecordRules shows it) */
    for (int i = 0; ret >= 0 && i < cfg->nb_rules; i++)
        cfg->rules[i].created = cfg->rules[i].updated = now;
    for (int i = 0; ret >= 0 && i < cfg->nb_templates; i++)
        cfg->templates[i].created = cfg->templates[i].updated = now;
    if (ret >= 0 && l.errors)
        ret = AVERROR_INVALIDDATA;

end:
    xmlSetStructuredErrorFunc(NULL, NULL);
    xmlFreeDoc(doc);
    if (ret < 0) {
        if (ret == AVERROR_INVALIDDATA)
            av_log(NULL, AV_LOG_ERROR, "%s: %d error%s; the configuration is not used\n", path,
                   FFMAX(l.errors, 1), l.errors > 1 ? "s" : "");
        ff_liverec_config_free(&cfg);
        return ret;
    }
    *pcfg = cfg;
    return 0;
}

void ff_liverec_config_free(LiveRecConfig **pcfg)
{
    LiveRecConfig *cfg = *pcfg;

    if (!cfg)
        return;
    for (int i = 0; i < cfg->nb_templates; i++)
        ff_liverec_template_free(&cfg->templates[i]);
    for (int i = 0; i < cfg->nb_rules; i++) {
        av_freep(&cfg->rules[i].domain);
        av_freep(&cfg->rules[i].app);
        av_freep(&cfg->rules[i].stream);
    }
    for (int i = 0; i < cfg->nb_tasks; i++) {
        LiveRecTask *t = &cfg->tasks[i];
        av_freep(&t->id);
        av_freep(&t->domain);
        av_freep(&t->app);
        av_freep(&t->stream);
        av_freep(&t->extension);
    }
    for (int i = 0; i < cfg->nb_origins; i++) {
        LiveRecOrigin *o = &cfg->origins[i];
        av_freep(&o->name);
        av_freep(&o->pull_url);
        av_freep(&o->status_url);
        av_freep(&o->domain);
    }
    av_freep(&cfg->origins);
    av_freep(&cfg->hook_token);
    av_freep(&cfg->credentials_file);
    av_freep(&cfg->templates);
    av_freep(&cfg->rules);
    av_freep(&cfg->tasks);
    av_freep(&cfg->path);
    av_freep(&cfg->pull_url);
    av_freep(&cfg->storage_endpoint);
    av_freep(&cfg->storage_bucket);
    av_freep(&cfg->storage_key_template);
    av_freep(&cfg->storage_region);
    av_freep(&cfg->callback_url);
    av_freep(&cfg->callback_key);
    av_freep(pcfg);
}

static int dup_str(char **dst, const char *src)
{
    if (!src)
        return 0;
    return (*dst = av_strdup(src)) ? 0 : AVERROR(ENOMEM);
}

int ff_liverec_template_copy(LiveRecTemplate *t, const LiveRecTemplate *src)
{
    int ret;

    *t = *src;
    t->name = t->description = NULL;
    for (int f = 0; f < LIVEREC_NB_FORMATS; f++)
        t->param[f].vod_file_name = NULL;
    if ((ret = dup_str(&t->name, src->name)) < 0 ||
        (ret = dup_str(&t->description, src->description)) < 0)
        return ret;
    for (int f = 0; f < LIVEREC_NB_FORMATS; f++)
        if ((ret = dup_str(&t->param[f].vod_file_name, src->param[f].vod_file_name)) < 0)
            return ret;
    return 0;
}

void ff_liverec_template_free(LiveRecTemplate *t)
{
    av_freep(&t->name);
    av_freep(&t->description);
    for (int f = 0; f < LIVEREC_NB_FORMATS; f++)
        av_freep(&t->param[f].vod_file_name);
}

int ff_liverec_config_add_template(LiveRecConfig *cfg, const LiveRecTemplate *src)
{
    GROW(cfg->templates, cfg->nb_templates);
    return ff_liverec_template_copy(&cfg->templates[cfg->nb_templates++], src);
}

int ff_liverec_config_add_rule(LiveRecConfig *cfg, const LiveRecRule *src)
{
    LiveRecRule *r;
    int ret;

    GROW(cfg->rules, cfg->nb_rules);
    r  = &cfg->rules[cfg->nb_rules++];
    *r = *src;
    r->domain = r->app = r->stream = NULL;
    if ((ret = dup_str(&r->domain, src->domain)) < 0 || (ret = dup_str(&r->app, src->app)) < 0 ||
        (ret = dup_str(&r->stream, src->stream)) < 0)
        return ret;
    return 0;
}

int ff_liverec_config_add_task(LiveRecConfig *cfg, const LiveRecTask *src)
{
    LiveRecTask *t;
    int ret;

    GROW(cfg->tasks, cfg->nb_tasks);
    t  = &cfg->tasks[cfg->nb_tasks++];
    *t = *src;
    t->id = t->domain = t->app = t->stream = t->extension = NULL;
    if ((ret = dup_str(&t->id, src->id)) < 0 || (ret = dup_str(&t->domain, src->domain)) < 0 ||
        (ret = dup_str(&t->app, src->app)) < 0 || (ret = dup_str(&t->stream, src->stream)) < 0 ||
        (ret = dup_str(&t->extension, src->extension)) < 0)
        return ret;
    return 0;
}

LiveRecConfig *ff_liverec_config_dup(const LiveRecConfig *src)
{
    LiveRecConfig *cfg = av_mallocz(sizeof(*cfg));
    int ret = 0;

    if (!cfg)
        return NULL;
    *cfg = *src;
    /* nothing of src's is shared: every pointer is copied below or left NULL */
    cfg->origins   = NULL;
    cfg->templates = NULL;
    cfg->rules     = NULL;
    cfg->tasks     = NULL;
    cfg->nb_origins = cfg->nb_templates = cfg->nb_rules = cfg->nb_tasks = 0;
    cfg->path = cfg->pull_url = cfg->hook_token = cfg->credentials_file = NULL;
    cfg->storage_endpoint = cfg->storage_bucket = cfg->storage_key_template = NULL;
    cfg->storage_region = cfg->callback_url = cfg->callback_key = NULL;
    if ((ret = dup_str(&cfg->path, src->path)) < 0 ||
        (ret = dup_str(&cfg->pull_url, src->pull_url)) < 0 ||
        (ret = dup_str(&cfg->hook_token, src->hook_token)) < 0 ||
        (ret = dup_str(&cfg->credentials_file, src->credentials_file)) < 0 ||
        (ret = dup_str(&cfg->storage_endpoint, src->storage_endpoint)) < 0 ||
        (ret = dup_str(&cfg->storage_bucket, src->storage_bucket)) < 0 ||
        (ret = dup_str(&cfg->storage_key_template, src->storage_key_template)) < 0 ||
        (ret = dup_str(&cfg->storage_region, src->storage_region)) < 0 ||
        (ret = dup_str(&cfg->callback_url, src->callback_url)) < 0 ||
        (ret = dup_str(&cfg->callback_key, src->callback_key)) < 0)
        goto fail;
    if (src->nb_origins) {
        if (!(cfg->origins = av_calloc(src->nb_origins, sizeof(*cfg->origins))))
            goto fail;
        for (int i = 0; i < src->nb_origins; i++) {
            const LiveRecOrigin *a = &src->origins[i];
            LiveRecOrigin *o = &cfg->origins[cfg->nb_origins++];
            o->type = a->type;
            o->line = a->line;
            if (dup_str(&o->name, a->name) < 0 || dup_str(&o->pull_url, a->pull_url) < 0 ||
                dup_str(&o->status_url, a->status_url) < 0 || dup_str(&o->domain, a->domain) < 0)
                goto fail;
        }
    }
    for (int i = 0; i < src->nb_templates; i++)
        if (ff_liverec_config_add_template(cfg, &src->templates[i]) < 0)
            goto fail;
    for (int i = 0; i < src->nb_rules; i++)
        if (ff_liverec_config_add_rule(cfg, &src->rules[i]) < 0)
            goto fail;
    for (int i = 0; i < src->nb_tasks; i++)
        if (ff_liverec_config_add_task(cfg, &src->tasks[i]) < 0)
            goto fail;
    return cfg;
fail:
    ff_liverec_config_free(&cfg);
    return NULL;
}

const LiveRecTemplate *ff_liverec_find_template(const LiveRecConfig *cfg, int64_t id)
{
    for (int i = 0; i < cfg->nb_templates; i++)
        if (cfg->templates[i].id == id)
            return &cfg->templates[i];
    return NULL;
}

void ff_liverec_expand_names(AVBPrint *bp, const char *tmpl, const char *domain, const char *app,
                             const char *stream)
{
    while (*tmpl) {
        if (av_strstart(tmpl, "{DomainName}", &tmpl))
            av_bprintf(bp, "%s", domain);
        else if (av_strstart(tmpl, "{AppName}", &tmpl))
            av_bprintf(bp, "%s", app);
        else if (av_strstart(tmpl, "{StreamName}", &tmpl))
            av_bprintf(bp, "%s", stream);
        else
            av_bprint_chars(bp, *tmpl++, 1);
    }
}

int ff_liverec_template_records(const LiveRecTemplate *t)
{
    for (int f = 0; f < LIVEREC_NB_FORMATS; f++)
        if (t->param[f].present && t->param[f].enable)
            return 1;
    return 0;
}

int ff_liverec_check_stream_name(const char *name, const char *what, AVBPrint *why)
{
    size_t len = strlen(name);

    if (!len || len > 128 || len != strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                 "abcdefghijklmnopqrstuvwxyz0123456789_-.~") ||
        !strcmp(name, ".") || !strcmp(name, "..")) {
        /* the name comes from outside: shown short, printable ASCII only (no log injection) */
        av_bprintf(why, "%s is not a valid name (1 to 128 of A-Z a-z 0-9 _ - . ~, and not '.' "
                   "or '..'): '", what);
        for (size_t i = 0; i < FFMIN(len, 64); i++)
            av_bprint_chars(why, name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?', 1);
        av_bprintf(why, "'%s", len > 64 ? "..." : "");
        return AVERROR(EINVAL);
    }
    return 0;
}

int ff_liverec_rule_priority(const LiveRecRule *r)
{
    if (*r->domain)
        return *r->stream ? 0 : 1;
    return *r->stream ? 2 : 3;
}

static int field_matches(const char *rule, const char *value)
{
    return !*rule || !strcmp(rule, value);
}

const LiveRecRule *ff_liverec_match_rule(const LiveRecConfig *cfg, const char *domain,
                                         const char *app, const char *stream, AVBPrint *explain)
{
    static const char *const prio_names[] = {
        "domain and stream exact", "domain exact, stream any", "domain any, stream exact", "domain and stream any",
    };
    const LiveRecRule *best = NULL;
    int best_prio = INT_MAX, best_app = 0;

    for (int i = 0; i < cfg->nb_rules; i++) {
        const LiveRecRule *r = &cfg->rules[i];
        int match = field_matches(r->domain, domain) && field_matches(r->app, app) &&
                    field_matches(r->stream, stream);
        int prio = ff_liverec_rule_priority(r), app_exact = !!*r->app;

        if (explain)
            av_bprintf(explain, "  line %d: DomainName='%s' AppName='%s' StreamName='%s' "
                       "TemplateId=%"PRId64": %s", r->line, r->domain, r->app, r->stream,
                       r->template_id, match ? "matches, priority " : "does not match\n");
        if (!match)
            continue;
        if (explain)
            av_bprintf(explain, "%d (%s), app %s\n", prio, prio_names[prio],
                       app_exact ? "exact" : "any");
        if (prio < best_prio || (prio == best_prio && app_exact > best_app)) {
            best      = r;
            best_prio = prio;
            best_app  = app_exact;
        }
    }
    return best;
}

int ff_liverec_task_matches(const LiveRecTask *t, const char *domain, const char *app,
                            const char *stream)
{
    return !strcmp(t->domain, domain) && !strcmp(t->app, app) && !strcmp(t->stream, stream);
}

struct LiveRecConfigHolder {
    pthread_mutex_t lock;
    AVBufferRef *ref;
    atomic_uint gen;
};

static void keep_config(void *opaque, uint8_t *data)
{
    /* the first configuration stays its owner's */
}

int ff_liverec_config_holder_alloc(LiveRecConfigHolder **ph, const LiveRecConfig *cfg)
{
    LiveRecConfigHolder *h = av_mallocz(sizeof(*h));

    *ph = NULL;
    if (!h || !(h->ref = av_buffer_create((uint8_t *)cfg, sizeof(*cfg), keep_config, NULL,
                                          AV_BUFFER_FLAG_READONLY))) {
        av_free(h);
        return AVERROR(ENOMEM);
    }
    pthread_mutex_init(&h->lock, NULL);
    *ph = h;
    return 0;
}

AVBufferRef *ff_liverec_config_holder_get(LiveRecConfigHolder *h)
{
    AVBufferRef *ref;
    pthread_mutex_lock(&h->lock);
    ref = av_buffer_ref(h->ref);
    pthread_mutex_unlock(&h->lock);
    return ref;
}

void ff_liverec_config_holder_set(LiveRecConfigHolder *h, AVBufferRef *ref)
{
    pthread_mutex_lock(&h->lock);
    av_buffer_unref(&h->ref);
    h->ref = ref;
    atomic_fetch_add(&h->gen, 1);
    pthread_mutex_unlock(&h->lock);
}

unsigned ff_liverec_config_holder_generation(LiveRecConfigHolder *h)
{
    return atomic_load(&h->gen);
}

void ff_liverec_config_holder_free(LiveRecConfigHolder **ph)
{
    LiveRecConfigHolder *h = *ph;
    if (!h)
        return;
    av_buffer_unref(&h->ref);
    pthread_mutex_destroy(&h->lock);
    av_freep(ph);
}
