/*
 * Fuzz the readers of ffliverec's catalog
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
 * The catalog (STATE/ffliverec.db) outlives the process and anyone with the folder can edit it, so
 * its rows are untrusted input (DESIGN.md section 3). The input is SQL run against a new catalog
 * (rows only: the schema cannot be changed, nothing outside the database reached); then every
 * reader runs on what it left: the upload, callback, event and retention queues, the search
 * behind SearchMedia and the status page, -list, and the merge of the API's templates, rules and
 * tasks into a configuration, whose -export must load again.
 */

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <sqlite3.h>

#include "libavutil/bprint.h"
#include "libavutil/file.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "fftools/ffliverec.h"
#include "fftools/ffliverec_serve.h"

#include "liverec_fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1796000000

static char dir[64], db[96], cfg_path[96], export_path[96];
static uint8_t *blank;          ///< a new catalog's bytes
static size_t blank_size;
static LiveRecConfig *base;     ///< a configuration file's own objects (template 1, a rule)

static const char config_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<LiveRecordConfig>\n"
    "  <Origin PullUrl=\"rtmp://127.0.0.1:1935/{AppName}/{StreamName}\"/>\n"
    "  <Template TemplateId=\"1\" TemplateName=\"file\"><HlsParam Enable=\"1\"/></Template>\n"
    "  <Rule DomainName=\"live.example.com\" AppName=\"live\" StreamName=\"cam\" TemplateId=\"1\"/>\n"
    "</LiveRecordConfig>\n";

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void cleanup(void)
{
    ff_liverec_config_free(&base);
    av_freep(&blank);
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    LiveRecState *st = NULL;

    av_log_set_level(getenv("FUZZ_VERBOSE") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    xmlInitParser();
    snprintf(dir, sizeof(dir), "%s/liverec-fuzz-catalog-%d", liverec_fuzz_tmpdir(), (int)getpid());
    snprintf(db, sizeof(db), "%s/ffliverec.db", dir);
    snprintf(cfg_path, sizeof(cfg_path), "%s/config.xml", dir);
    snprintf(export_path, sizeof(export_path), "%s/export.xml", dir);
    if (mkdir(dir, 0700) < 0)
        abort();
    atexit(cleanup);
    if (ff_liverec_state_open(&st, dir) < 0)
        abort();
    ff_liverec_state_close(&st);
    {
        /* a copy: the file is truncated for every input */
        uint8_t *map;
        if (av_file_map(db, &map, &blank_size, 0, NULL) < 0 || !(blank = av_memdup(map, blank_size)))
            abort();
        av_file_unmap(map, blank_size);
    }
    write_file(cfg_path, config_xml, sizeof(config_xml) - 1);
    if (ff_liverec_config_load(&base, cfg_path, NOW) < 0)
        abort();
    /* -list prints: not to the fuzzer's output */
    if (!freopen("/dev/null", "w", stdout))
        abort();
    return 0;
}

/* Rows only: no schema change, no ATTACH, no PRAGMA, no recursion. */
static int authorize(void *opaque, int action, const char *a, const char *b, const char *c,
                     const char *d)
{
    switch (action) {
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
    case SQLITE_READ:
    case SQLITE_SELECT:
    case SQLITE_FUNCTION:
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        return SQLITE_OK;
    }
    return SQLITE_DENY;
}

static int progress(void *opaque)
{
    return ++*(int *)opaque > 1000;   /* called every 1,000 instructions: at most 1 M */
}

static void edit_catalog(const uint8_t *data, size_t size)
{
    sqlite3 *h;
    char *sql = av_malloc(size + 1);
    int steps = 0;

    if (!sql)
        abort();
    memcpy(sql, data, size);
    sql[size] = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        abort();
    sqlite3_limit(h, SQLITE_LIMIT_LENGTH, 1 << 20);
    sqlite3_progress_handler(h, 1000, progress, &steps);
    sqlite3_set_authorizer(h, authorize, NULL);
    sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    av_free(sql);
}

static void queues(LiveRecState *st)
{
    LiveRecFile f = { 0 };
    LiveRecCallback cb = { 0 };
    LiveRecEvent ev = { 0 };

    /* each reader as its worker calls it, a few rounds */
    for (int i = 0; i < 4; i++) {
        if (ff_liverec_state_next_upload(st, NOW, NULL, 0, &f) > 0)
            ff_liverec_state_retry_later(st, f.id, NOW + 60);
        ff_liverec_file_free(&f);
        if (ff_liverec_state_next_callback(st, NOW, &cb) > 0)
            ff_liverec_state_callback_done(st, cb.id, i & 1, 0, NOW + 60, NOW * 1000000LL);
        ff_liverec_file_free(&cb.file);
        if (ff_liverec_state_next_event(st, NOW, &ev) > 0)
            ff_liverec_state_event_done(st, ev.id, i & 1, 0, NOW + 60, NOW * 1000000LL);
        av_freep(&ev.body);
        if (ff_liverec_state_next_expired(st, NOW, &f) > 0)
            ff_liverec_state_delete_later(st, f.id, NOW + 60);
        ff_liverec_file_free(&f);
    }
    ff_liverec_state_pending(st);
    ff_liverec_state_callbacks_pending(st);
    ff_liverec_state_events_pending(st);
    ff_liverec_state_expired(st, NOW);
}

static void searches(LiveRecState *st)
{
    static const LiveRecSearch qs[] = {
        { .limit = 100 },
        { .limit = 10, .offset = 1, .ascending = 1 },
        { .domain = "live.example.com", .app = "live", .stream = "cam", .limit = 100 },
        { .format = "hls", .from_usec = 1, .to_usec = INT64_MAX, .limit = 100 },
        { .task_id = "t", .created_after = 1, .created_before = NOW, .limit = 100 },
        { .id = 1, .limit = 1 },
    };
    for (int i = 0; i < FF_ARRAY_ELEMS(qs); i++) {
        json_t *rows = NULL;
        int64_t total = -1;
        if (ff_liverec_state_search(st, &qs[i], &rows, &total) >= 0) {
            if (!rows || !json_is_array(rows) || total < 0)
                abort();
            free(json_dumps(rows, 0));   /* the API's reply is made from them */
        }
        json_decref(rows);
    }
    ff_liverec_state_list(st);
}

/* What the catalog holds joins the file's objects, is exported as -export does, and loads. */
static void merge(LiveRecState *st)
{
    LiveRecConfig *cfg = ff_liverec_config_dup(base), *again = NULL;
    AVBPrint xml;

    if (!cfg)
        abort();
    if (ff_liverec_objects_merge(st, cfg) >= 0) {
        av_bprint_init(&xml, 0, AV_BPRINT_SIZE_UNLIMITED);
        if (ff_liverec_objects_export(cfg, &xml) >= 0) {
            write_file(export_path, xml.str, xml.len);
            if (ff_liverec_config_load(&again, export_path, NOW) < 0) {
                fprintf(stderr, "the export of a merged catalog does not load:\n%s\n", xml.str);
                abort();
            }
        }
        av_bprint_finalize(&xml, NULL);
        for (int i = 0; again && i < again->nb_rules; i++)
            ff_liverec_match_rule(again, again->rules[i].domain, again->rules[i].app,
                                  again->rules[i].stream, NULL);
        ff_liverec_config_free(&again);
    }
    ff_liverec_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LiveRecState *st = NULL;

    unlink(export_path);
    write_file(db, blank, blank_size);
    for (const char *ext = "-wal\0-shm\0-journal\0"; *ext; ext += strlen(ext) + 1) {
        char p[128];
        snprintf(p, sizeof(p), "%s%s", db, ext);
        unlink(p);
    }
    edit_catalog(data, size);
    if (ff_liverec_state_open(&st, dir) < 0)
        return 0;
    queues(st);
    searches(st);
    merge(st);
    ff_liverec_state_close(&st);
    return 0;
}
