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
 * its rows are untrusted input (DESIGN.md section 3). The input is SQL run against an empty catalog
 * (rows only: the schema cannot be changed, nothing outside the database reached); then every
 * reader runs on what it left: the upload, callback, event and retention queues, the search
 * behind SearchMedia and the status page, -list, and the merge of the API's templates, rules and
 * tasks into a configuration, whose -export must load again.
 *
 * Both connections (the input's and the state's) stay open for the whole run and every table is
 * emptied before each input: opening a connection parses the schema again, and with SQLite's
 * allocations going through ASan that made this target run at ~150 inputs a second. Since the
 * input cannot change the schema, an emptied catalog is a new one to every reader.
 */

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
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
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "fftools/ffliverec.h"
#include "fftools/ffliverec_serve.h"

#include "liverec_fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1796000000

static char dir[64], db[96], cfg_path[96], export_path[96];
static LiveRecState *st;        ///< the catalog as its readers see it
static sqlite3 *edit;           ///< the input's connection, rows only
static int steps;               ///< the input's progress, in thousands of instructions
static char *empty_sql;         ///< "DELETE FROM" every table
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
    ff_liverec_state_close(&st);
    sqlite3_close(edit);
    av_freep(&empty_sql);
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        abort();
}

/*
 * Rows only: no schema change, no ATTACH, no PRAGMA, no recursion. And nothing that would make an
 * input's outcome depend on the inputs before it on this long-lived connection (the row counts
 * of the last changes, the last rowid, the file's page layout through dbstat, sqlite_offset() or
 * the pragma_ tables), on the clock or on chance: a crash must come back from its input alone.
 */
static int authorize(void *opaque, int action, const char *a, const char *b, const char *c,
                     const char *d)
{
    static const char *const functions[] = {
        "changes", "total_changes", "last_insert_rowid", "sqlite_offset", "random", "randomblob",
        "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff",
        "current_date", "current_time", "current_timestamp",
    };
    static const char *const tables[] = { "dbstat", "sqlite_stmt", "sqlite_dbpage" };

    switch (action) {
    case SQLITE_FUNCTION:
        for (int i = 0; i < FF_ARRAY_ELEMS(functions); i++)
            if (b && !sqlite3_stricmp(b, functions[i]))
                return SQLITE_DENY;
        return SQLITE_OK;
    case SQLITE_READ:
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
        for (int i = 0; i < FF_ARRAY_ELEMS(tables); i++)
            if (a && !sqlite3_stricmp(a, tables[i]))
                return SQLITE_DENY;
        return a && !sqlite3_strnicmp(a, "pragma_", 7) ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_SELECT:
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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sqlite3_stmt *q;
    AVBPrint sql;

    av_log_set_level(getenv("FUZZ_VERBOSE") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    xmlInitParser();
    snprintf(dir, sizeof(dir), "%s/liverec-fuzz-catalog-%d", liverec_fuzz_tmpdir(), (int)getpid());
    snprintf(db, sizeof(db), "%s/ffliverec.db", dir);
    snprintf(cfg_path, sizeof(cfg_path), "%s/config.xml", dir);
    snprintf(export_path, sizeof(export_path), "%s/export.xml", dir);
    if (mkdir(dir, 0700) < 0)
        abort();
    atexit(cleanup);
    if (ff_liverec_state_open(&st, dir) < 0 ||
        sqlite3_open_v2(db, &edit, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        abort();
    /* every table the schema has, so that a new one is emptied too */
    av_bprint_init(&sql, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (sqlite3_prepare_v2(edit, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &q,
                           NULL) != SQLITE_OK)
        abort();
    while (sqlite3_step(q) == SQLITE_ROW)
        av_bprintf(&sql, "DELETE FROM \"%s\";", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    if (!av_bprint_is_complete(&sql) || !sql.len || av_bprint_finalize(&sql, &empty_sql) < 0)
        abort();
    sqlite3_limit(edit, SQLITE_LIMIT_LENGTH, 1 << 20);
    sqlite3_progress_handler(edit, 1000, progress, &steps);
    sqlite3_set_authorizer(edit, authorize, NULL);
    write_file(cfg_path, config_xml, sizeof(config_xml) - 1);
    if (ff_liverec_config_load(&base, cfg_path, NOW) < 0)
        abort();
    /* -list prints: not to the fuzzer's output */
    if (!freopen("/dev/null", "w", stdout))
        abort();
    return 0;
}

static void edit_catalog(const uint8_t *data, size_t size)
{
    char *sql = av_malloc(size + 1);

    if (!sql)
        abort();
    memcpy(sql, data, size);
    sql[size] = 0;
    /* the last input's rows go, however many it left: no limit on this one */
    steps = INT_MIN;
    if (sqlite3_exec(edit, empty_sql, NULL, NULL, NULL) != SQLITE_OK)
        abort();
    steps = 0;
    sqlite3_exec(edit, sql, NULL, NULL, NULL);
    /* what the input left uncommitted is lost, as when its connection closed */
    steps = INT_MIN;
    if (!sqlite3_get_autocommit(edit) && sqlite3_exec(edit, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        abort();
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
    unlink(export_path);
    edit_catalog(data, size);
    queues(st);
    searches(st);
    merge(st);
    return 0;
}
