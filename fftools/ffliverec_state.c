/*
 * ffliverec: the catalog of recordings and the upload queue, in SQLite
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
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/macros.h"
#include "libavutil/mem.h"
#include "libavutil/thread.h"

#include "ffliverec.h"

/* Statements kept prepared per connection: the workers run the same few queries every second.
 * Natively that saves little (a round of the four queue reads on an empty catalog: 470 -> 440
 * us, most of the rest was the page cache, see sqlite_setup()); under AddressSanitizer (the
 * catalog fuzzer) preparing was half of all the time. Memory: a few KiB per session's
 * connection, ~40 KiB for a worker's. */
#define STMT_CACHE 32

/* One connection per thread (SQLite connections are not shared); WAL lets the recorder insert
 * while the uploader updates. Every change is one statement, so one transaction. */
struct LiveRecState {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *cache[STMT_CACHE];    ///< prepared, reset, not in use; NULL: free slot
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS recordings ("
    "  id INTEGER PRIMARY KEY,"
    "  domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,"
    "  task_id TEXT NOT NULL DEFAULT '',"
    "  format TEXT NOT NULL,"
    "  local_path TEXT NOT NULL UNIQUE,"  /* the finished file (HLS: its playlist) */
    "  object_key TEXT NOT NULL,"         /* '' when no storage is configured */
    "  size INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"             /* local | pending | uploaded | deleted */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_try INTEGER NOT NULL DEFAULT 0,"
    "  url TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  uploaded INTEGER NOT NULL DEFAULT 0,"
    "  start_usec INTEGER NOT NULL DEFAULT 0,"  /* wall clock of the first and last media */
    "  end_usec INTEGER NOT NULL DEFAULT 0,"
    "  media_start_ms INTEGER NOT NULL DEFAULT 0,"
    "  expires INTEGER NOT NULL DEFAULT 0,"     /* Unix seconds past StorageTime, 0 = never */
    "  duration_ms INTEGER NOT NULL DEFAULT -1"  /* of the media; -1: end_usec - start_usec */
    ");"
    "CREATE TABLE IF NOT EXISTS callbacks ("
    "  id INTEGER PRIMARY KEY,"
    "  recording_id INTEGER NOT NULL UNIQUE REFERENCES recordings(id),"
    "  status TEXT NOT NULL DEFAULT 'pending',"  /* pending | delivered | failed */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_try INTEGER NOT NULL DEFAULT 0,"
    "  queued_usec INTEGER NOT NULL DEFAULT 0,"
    "  delivered_usec INTEGER NOT NULL DEFAULT 0"
    ");"
    /* version 2: the service's events (push 1/0, recording status 332), and indexes on what the
     * queues select by */
    "CREATE TABLE IF NOT EXISTS events ("
    "  id INTEGER PRIMARY KEY,"
    "  event_type INTEGER NOT NULL,"
    "  body TEXT NOT NULL,"                      /* JSON without t and sign (added when sent) */
    "  status TEXT NOT NULL DEFAULT 'pending',"  /* pending | delivered | failed */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_try INTEGER NOT NULL DEFAULT 0,"
    "  queued_usec INTEGER NOT NULL DEFAULT 0,"
    "  delivered_usec INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX IF NOT EXISTS recordings_queue ON recordings (status, next_try);"
    "CREATE INDEX IF NOT EXISTS recordings_expires ON recordings (expires);"
    "CREATE INDEX IF NOT EXISTS callbacks_queue ON callbacks (status, next_try);"
    "CREATE INDEX IF NOT EXISTS events_queue ON events (status, next_try);"
    /* version 3: templates, rules and tasks made through the service's API (ffliverec_objects.c) */
    "CREATE TABLE IF NOT EXISTS api_templates ("
    "  id INTEGER PRIMARY KEY,"
    "  info TEXT NOT NULL,"                      /* the cloud's RecordTemplateInfo, JSON */
    "  created INTEGER NOT NULL, updated INTEGER NOT NULL"
    ");"
    "CREATE TABLE IF NOT EXISTS api_rules ("
    "  domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,"
    "  template_id INTEGER NOT NULL,"
    "  created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    "  PRIMARY KEY (domain, app, stream)"
    ");"
    "CREATE TABLE IF NOT EXISTS api_tasks ("
    "  task_id TEXT PRIMARY KEY,"
    "  domain TEXT NOT NULL, app TEXT NOT NULL, stream TEXT NOT NULL,"
    "  start_time INTEGER NOT NULL, end_time INTEGER NOT NULL,"  /* Unix seconds */
    "  template_id INTEGER NOT NULL,"
    "  stream_type INTEGER NOT NULL DEFAULT 0,"
    "  extension TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL,"
    "  stopped INTEGER NOT NULL DEFAULT 0"       /* Unix seconds of StopRecordTask, 0: not stopped */
    ");"
    "CREATE INDEX IF NOT EXISTS recordings_stream ON recordings (stream, domain, app);";

/* PRAGMA user_version of the schema above; a database of a newer version is not touched */
#define SCHEMA_VERSION 3

static int db_error(LiveRecState *st, const char *what)
{
    av_log(NULL, AV_LOG_ERROR, "state %s: %s: %s\n", st->path, what, sqlite3_errmsg(st->db));
    return AVERROR_EXTERNAL;
}

/* sqlite3_prepare_v2() of sql, from the cache when it holds it. Give it back with put(). */
static int get(LiveRecState *st, const char *sql, sqlite3_stmt **q)
{
    for (int i = 0; i < STMT_CACHE; i++)
        if (st->cache[i] && !strcmp(sqlite3_sql(st->cache[i]), sql)) {
            *q = st->cache[i];
            st->cache[i] = NULL;
            return SQLITE_OK;
        }
    return sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, q, NULL);
}

/* Done with q: reset (its read or write is over, as with sqlite3_finalize()) and kept. */
static void put(LiveRecState *st, sqlite3_stmt *q)
{
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    for (int i = 0; i < STMT_CACHE; i++)
        if (!st->cache[i]) {
            st->cache[i] = q;
            return;
        }
    sqlite3_finalize(q);
}

/* The database's schema version, 0 for a new one, < 0 if it cannot be read (not SQLite). */
static int user_version(LiveRecState *st)
{
    sqlite3_stmt *q;
    int ret;

    if (get(st, "PRAGMA user_version", &q) != SQLITE_OK)
        return db_error(st, "not a state database");
    ret = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : db_error(st, "not a state database");
    put(st, q);
    return ret;
}

/*
 * Before SQLite's first use in the process: no bulk allocation of 20 pages (87 KiB) for every page
 * cache. Each queue read sorts its few rows in a temporary b-tree whose page cache was that bulk,
 * allocated and freed at every read; glibc gave the memory back to the kernel each time (brk and
 * a TLB flush). A round of the four queue reads on an empty catalog took 470 us, and takes 25 us.
 * Pages now come one by one from sqlite3_malloc(). If something else initialized SQLite first,
 * the call fails and the default stays.
 */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

static int state_open(LiveRecState **pst, const char *dir, int setup)
{
    static AVOnce once = AV_ONCE_INIT;
    LiveRecState *st;
    char *err = NULL;
    int version;

    ff_thread_once(&once, sqlite_setup);
    st = av_mallocz(sizeof(*st));

    *pst = NULL;
    if (!st || !(st->path = av_asprintf("%s/ffliverec.db", dir))) {
        av_free(st);
        return AVERROR(ENOMEM);
    }
    if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        int ret = db_error(st, "cannot open");
        ff_liverec_state_close(&st);
        return ret;
    }
    sqlite3_busy_timeout(st->db, 10000);
    if ((version = user_version(st)) > SCHEMA_VERSION) {
        av_log(NULL, AV_LOG_ERROR, "state %s: made by a newer ffliverec (schema %d, this one "
               "knows %d); it is left as it is\n", st->path, version, SCHEMA_VERSION);
        ff_liverec_state_close(&st);
        return AVERROR(EINVAL);
    }
    if (!setup && version != SCHEMA_VERSION) {
        av_log(NULL, AV_LOG_ERROR, "state %s: not set up (schema %d)\n", st->path, version);
        ff_liverec_state_close(&st);
        return AVERROR(EINVAL);
    }
    if (!setup) {
        /* a connection per session and worker: SQLite's default page cache (2 MiB each) would
         * grow with the catalog (a storage outage under many streams) up to that many times;
         * the catalog's rows are small and the kernel caches the file anyway */
        if (sqlite3_exec(st->db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-256;", NULL, NULL,
                         &err) != SQLITE_OK)
            goto fail;
        *pst = st;
        return 0;
    }
    if (version < 0 ||
        sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK ||
        /* version 1 had no duration: a spliced HLS recording lasts less than its wall clock */
        (version == 1 && sqlite3_exec(st->db, "ALTER TABLE recordings ADD COLUMN duration_ms"
                                      " INTEGER NOT NULL DEFAULT -1", NULL, NULL, &err) != SQLITE_OK) ||
        sqlite3_exec(st->db, schema_sql, NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_exec(st->db, "PRAGMA user_version = " AV_STRINGIFY(SCHEMA_VERSION), NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
fail:
        av_log(NULL, AV_LOG_ERROR, "state %s: %s\n", st->path, err ? err : "cannot be set up");
        sqlite3_free(err);
        ff_liverec_state_close(&st);
        return AVERROR_EXTERNAL;
    }
    *pst = st;
    return 0;
}

int ff_liverec_state_open(LiveRecState **pst, const char *dir)
{
    return state_open(pst, dir, 1);
}

int ff_liverec_state_connect(LiveRecState **pst, const char *dir)
{
    return state_open(pst, dir, 0);
}

void ff_liverec_state_close(LiveRecState **pst)
{
    LiveRecState *st = *pst;
    if (!st)
        return;
    for (int i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(st->cache[i]);
    sqlite3_close(st->db);
    av_freep(&st->path);
    av_freep(pst);
}

static int exec(LiveRecState *st, const char *sql)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_error(st, sql);
}

/* Run a query whose parameters ?1, ?2 (as many as it has) are a and b. */
static int prepare(LiveRecState *st, sqlite3_stmt **q, const char *sql, int64_t a, int64_t b)
{
    if (get(st, sql, q) != SQLITE_OK)
        return db_error(st, sql);
    if (sqlite3_bind_parameter_count(*q) >= 1)
        sqlite3_bind_int64(*q, 1, a);
    if (sqlite3_bind_parameter_count(*q) >= 2)
        sqlite3_bind_int64(*q, 2, b);
    return 0;
}

/* SELECT count(*) ...: the count, or a negative AVERROR. */
static int count_rows(LiveRecState *st, const char *sql, int64_t a)
{
    sqlite3_stmt *q;
    int ret = prepare(st, &q, sql, a, 0);
    if (ret < 0)
        return ret;
    ret = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : db_error(st, sql);
    put(st, q);
    return ret;
}

/* UPDATE ... (one statement, so one transaction). */
static int update_row(LiveRecState *st, const char *sql, int64_t a, int64_t b)
{
    sqlite3_stmt *q;
    int ret = prepare(st, &q, sql, a, b);
    if (ret < 0)
        return ret;
    ret = sqlite3_step(q) == SQLITE_DONE ? 0 : db_error(st, sql);
    put(st, q);
    return ret;
}

/* Queue the callback of recording id (once), inside the caller's transaction. */
static int queue_callback(LiveRecState *st, int64_t id, int64_t now_usec)
{
    sqlite3_stmt *q;
    int ret;

    if (get(st, "INSERT OR IGNORE INTO callbacks (recording_id, queued_usec)"
                           " VALUES (?, ?)", &q) != SQLITE_OK)
        return db_error(st, "queue callback");
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, now_usec);
    ret = sqlite3_step(q) == SQLITE_DONE ? 0 : db_error(st, "queue callback");
    put(st, q);
    return ret;
}

int ff_liverec_state_add(LiveRecState *st, const LiveRecFile *f, int callback)
{
    sqlite3_stmt *q;
    int ret, added;

    if ((ret = exec(st, "BEGIN IMMEDIATE")) < 0)
        return ret;
    if (get(st,
            "INSERT OR IGNORE INTO recordings (domain, app, stream, task_id, format, local_path,"
            " object_key, size, status, created, start_usec, end_usec, media_start_ms, expires,"
            " duration_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &q) != SQLITE_OK) {
        ret = db_error(st, "insert");
        exec(st, "ROLLBACK");
        return ret;
    }
    sqlite3_bind_text(q, 1, f->domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, f->app, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, f->stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, f->task_id ? f->task_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, f->format, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, f->local_path, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, f->object_key ? f->object_key : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, f->size);
    sqlite3_bind_text(q, 9, f->object_key ? "pending" : "local", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 10, f->created);
    sqlite3_bind_int64(q, 11, f->start_usec);
    sqlite3_bind_int64(q, 12, f->end_usec);
    sqlite3_bind_int64(q, 13, f->media_start_ms);
    sqlite3_bind_int64(q, 14, f->expires);
    sqlite3_bind_int64(q, 15, f->duration_ms);
    ret = sqlite3_step(q) == SQLITE_DONE ? sqlite3_changes(st->db) : db_error(st, "insert");
    put(st, q);
    added = ret > 0;
    /* without storage a file is done when it is finished: its callback goes now */
    if (added && callback && !f->object_key)
        ret = queue_callback(st, sqlite3_last_insert_rowid(st->db), f->created * 1000000);
    if (ret < 0) {
        exec(st, "ROLLBACK");
        return ret;
    }
    return (ret = exec(st, "COMMIT")) < 0 ? ret : added;
}

static char *column_dup(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    return av_strdup(t ? (const char *)t : "");
}

void ff_liverec_file_free(LiveRecFile *f)
{
    av_freep(&f->domain);
    av_freep(&f->app);
    av_freep(&f->stream);
    av_freep(&f->task_id);
    av_freep(&f->format);
    av_freep(&f->local_path);
    av_freep(&f->object_key);
}

int ff_liverec_state_next_upload(LiveRecState *st, int64_t now, const int64_t *skip, int nb_skip,
                                 LiveRecFile *f)
{
    sqlite3_stmt *q;
    int ret, skipped;

    memset(f, 0, sizeof(*f));
    if (get(st,
            "SELECT id, domain, app, stream, task_id, format, local_path, object_key, size, attempts,"
            " created FROM recordings WHERE status = 'pending'"
            " AND (next_try <= ?1 OR next_try > ?1 + " AV_STRINGIFY(LIVEREC_UPLOAD_RETRY_MAX) ")"
            " ORDER BY id LIMIT ?2", &q) != SQLITE_OK)
        return db_error(st, "select");
    sqlite3_bind_int64(q, 1, now);
    sqlite3_bind_int(q, 2, nb_skip + 1);
    do {
        skipped = 0;
        ret = sqlite3_step(q);
        for (int i = 0; ret == SQLITE_ROW && i < nb_skip; i++)
            skipped |= skip[i] == sqlite3_column_int64(q, 0);
    } while (skipped);
    if (ret == SQLITE_ROW) {
        f->id         = sqlite3_column_int64(q, 0);
        f->domain     = column_dup(q, 1);
        f->app        = column_dup(q, 2);
        f->stream     = column_dup(q, 3);
        f->task_id    = column_dup(q, 4);
        f->format     = column_dup(q, 5);
        f->local_path = column_dup(q, 6);
        f->object_key = column_dup(q, 7);
        f->size       = sqlite3_column_int64(q, 8);
        f->attempts   = sqlite3_column_int(q, 9);
        f->created    = sqlite3_column_int64(q, 10);
        ret = f->domain && f->app && f->stream && f->task_id && f->format && f->local_path &&
              f->object_key ? 1 : AVERROR(ENOMEM);
        if (ret < 0)
            ff_liverec_file_free(f);
    } else {
        ret = ret == SQLITE_DONE ? 0 : db_error(st, "select");
    }
    put(st, q);
    return ret;
}

int ff_liverec_state_pending(LiveRecState *st)
{
    return count_rows(st, "SELECT count(*) FROM recordings WHERE status = 'pending'", 0);
}

int ff_liverec_state_uploaded(LiveRecState *st, int64_t id, const char *url, int64_t now_usec,
                              int callback)
{
    sqlite3_stmt *q;
    int ret;

    if ((ret = exec(st, "BEGIN IMMEDIATE")) < 0)
        return ret;
    if (get(st, "UPDATE recordings SET status = 'uploaded', url = ?, uploaded = ?"
                           " WHERE id = ?", &q) != SQLITE_OK) {
        ret = db_error(st, "update");
        exec(st, "ROLLBACK");
        return ret;
    }
    sqlite3_bind_text(q, 1, url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, now_usec / 1000000);
    sqlite3_bind_int64(q, 3, id);
    ret = sqlite3_step(q) == SQLITE_DONE ? 0 : db_error(st, "update");
    put(st, q);
    /* uploaded and its callback queued: both or neither */
    if (ret >= 0 && callback)
        ret = queue_callback(st, id, now_usec);
    if (ret < 0) {
        exec(st, "ROLLBACK");
        return ret;
    }
    return exec(st, "COMMIT");
}

int ff_liverec_state_next_callback(LiveRecState *st, int64_t now, LiveRecCallback *cb)
{
    sqlite3_stmt *q;
    int ret;

    memset(cb, 0, sizeof(*cb));
    if (get(st,
            "SELECT c.id, c.attempts, c.queued_usec, r.id, r.domain, r.app, r.stream, r.task_id,"
            " r.format, r.size, r.url, r.start_usec, r.end_usec, r.media_start_ms, r.local_path,"
            " c.next_try, r.duration_ms"
            " FROM callbacks c JOIN recordings r ON r.id = c.recording_id"
            " WHERE c.status = 'pending' AND c.next_try <= ? ORDER BY c.id LIMIT 1", &q) != SQLITE_OK)
        return db_error(st, "select callback");
    sqlite3_bind_int64(q, 1, now);
    ret = sqlite3_step(q);
    if (ret == SQLITE_ROW) {
        LiveRecFile *f = &cb->file;
        cb->id          = sqlite3_column_int64(q, 0);
        cb->attempts    = sqlite3_column_int(q, 1);
        cb->queued_usec = sqlite3_column_int64(q, 2);
        f->id           = sqlite3_column_int64(q, 3);
        f->domain       = column_dup(q, 4);
        f->app          = column_dup(q, 5);
        f->stream       = column_dup(q, 6);
        f->task_id      = column_dup(q, 7);
        f->format       = column_dup(q, 8);
        f->size         = sqlite3_column_int64(q, 9);
        f->object_key   = column_dup(q, 10);   /* the object's URL once uploaded */
        f->start_usec   = sqlite3_column_int64(q, 11);
        f->end_usec     = sqlite3_column_int64(q, 12);
        f->media_start_ms = sqlite3_column_int64(q, 13);
        f->local_path   = column_dup(q, 14);
        cb->next_try    = sqlite3_column_int64(q, 15);
        f->duration_ms  = sqlite3_column_int64(q, 16);
        ret = f->domain && f->app && f->stream && f->task_id && f->format && f->object_key &&
              f->local_path ? 1 : AVERROR(ENOMEM);
        if (ret < 0)
            ff_liverec_file_free(f);
    } else {
        ret = ret == SQLITE_DONE ? 0 : db_error(st, "select callback");
    }
    put(st, q);
    return ret;
}

/* A delivery attempt of a callback or an event (table is one of ours, never from outside). */
static int attempt_done(LiveRecState *st, const char *table, int64_t id, int delivered,
                        int give_up, int64_t next_try, int64_t now_usec)
{
    sqlite3_stmt *q;
    char sql[160];
    int ret;

    snprintf(sql, sizeof(sql), "UPDATE %s SET attempts = attempts + 1, status = ?,"
             " next_try = ?, delivered_usec = ? WHERE id = ?", table);
    if (get(st, sql, &q) != SQLITE_OK)
        return db_error(st, sql);
    sqlite3_bind_text(q, 1, delivered ? "delivered" : give_up ? "failed" : "pending", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, next_try);
    sqlite3_bind_int64(q, 3, delivered ? now_usec : 0);
    sqlite3_bind_int64(q, 4, id);
    ret = sqlite3_step(q) == SQLITE_DONE ? 0 : db_error(st, sql);
    put(st, q);
    return ret;
}

int ff_liverec_state_callback_done(LiveRecState *st, int64_t id, int delivered, int give_up,
                                   int64_t next_try, int64_t now_usec)
{
    return attempt_done(st, "callbacks", id, delivered, give_up, next_try, now_usec);
}

int ff_liverec_state_callbacks_pending(LiveRecState *st)
{
    return count_rows(st, "SELECT count(*) FROM callbacks WHERE status = 'pending'", 0);
}

int ff_liverec_state_retry_later(LiveRecState *st, int64_t id, int64_t next_try)
{
    return update_row(st, "UPDATE recordings SET attempts = attempts + 1, next_try = ?2"
                      " WHERE id = ?1", id, next_try);
}

int ff_liverec_state_has_file(LiveRecState *st, const char *local_path)
{
    sqlite3_stmt *q;
    int ret;

    if (get(st, "SELECT 1 FROM recordings WHERE local_path = ?", &q) != SQLITE_OK)
        return db_error(st, "select");
    sqlite3_bind_text(q, 1, local_path, -1, SQLITE_STATIC);
    ret = sqlite3_step(q);
    ret = ret == SQLITE_ROW ? 1 : ret == SQLITE_DONE ? 0 : db_error(st, "select");
    put(st, q);
    return ret;
}

int ff_liverec_state_retry_all_now(LiveRecState *st, int64_t now)
{
    return update_row(st, "UPDATE recordings SET next_try = ?1 WHERE status = 'pending'"
                      " AND next_try > ?1", now, 0);
}

/* Retention: a recording past its StorageTime that is stored (uploaded) or kept locally, and
 * whose last deletion attempt (if any) asked to be tried again by now (?1). */
#define EXPIRED "status IN ('uploaded', 'local') AND expires > 0 AND expires <= ?1" \
                " AND (next_try <= ?1 OR next_try > ?1 + " AV_STRINGIFY(LIVEREC_DELETE_RETRY) ")"

int ff_liverec_state_next_expired(LiveRecState *st, int64_t now, LiveRecFile *f)
{
    sqlite3_stmt *q;
    int ret;

    memset(f, 0, sizeof(*f));
    if ((ret = prepare(st, &q, "SELECT id, format, local_path, url, expires FROM recordings"
                       " WHERE " EXPIRED " ORDER BY expires, id LIMIT 1", now, 0)) < 0)
        return ret;
    ret = sqlite3_step(q);
    if (ret == SQLITE_ROW) {
        f->id         = sqlite3_column_int64(q, 0);
        f->format     = column_dup(q, 1);
        f->local_path = column_dup(q, 2);
        f->object_key = column_dup(q, 3);   /* the object's URL, "" if it was never uploaded */
        f->expires    = sqlite3_column_int64(q, 4);
        ret = f->format && f->local_path && f->object_key ? 1 : AVERROR(ENOMEM);
        if (ret < 0)
            ff_liverec_file_free(f);
    } else {
        ret = ret == SQLITE_DONE ? 0 : db_error(st, "select expired");
    }
    put(st, q);
    return ret;
}

int ff_liverec_state_expired(LiveRecState *st, int64_t now)
{
    return count_rows(st, "SELECT count(*) FROM recordings WHERE " EXPIRED, now);
}

int ff_liverec_state_deleted(LiveRecState *st, int64_t id)
{
    return update_row(st, "UPDATE recordings SET status = 'deleted' WHERE id = ?1", id, 0);
}

int ff_liverec_state_delete_later(LiveRecState *st, int64_t id, int64_t next_try)
{
    /* next_try is the upload's retry time until the upload is done, then the deletion's */
    return update_row(st, "UPDATE recordings SET next_try = ?2 WHERE id = ?1", id, next_try);
}

struct sqlite3 *ff_liverec_state_handle(LiveRecState *st)
{
    return st->db;
}

int ff_liverec_state_search(LiveRecState *st, const LiveRecSearch *s, json_t **rows, int64_t *total)
{
    static const char *const cols[] = {
        "id", "domain", "app", "stream", "task_id", "format", "local_path", "object_key", "url",
        "size", "status", "created", "start_usec", "end_usec", "duration_ms", "expires",
    };
    /* ?N IS NULL: the condition is not asked for */
    static const char where[] =
        " FROM recordings WHERE status != 'deleted'"
        " AND (?1 IS NULL OR domain = ?1) AND (?2 IS NULL OR app = ?2)"
        " AND (?3 IS NULL OR stream = ?3) AND (?4 IS NULL OR task_id = ?4)"
        " AND (?5 IS NULL OR format = ?5) AND (?6 IS NULL OR end_usec >= ?6)"
        " AND (?7 IS NULL OR start_usec < ?7) AND (?8 IS NULL OR id = ?8)"
        " AND (?11 IS NULL OR created >= ?11) AND (?12 IS NULL OR created < ?12)";
    const char *text[] = { s->domain, s->app, s->stream, s->task_id, s->format };
    sqlite3_stmt *q = NULL;
    AVBPrint sql;
    int ret = 0;

    *rows  = NULL;
    *total = 0;
    av_bprint_init(&sql, 0, AV_BPRINT_SIZE_AUTOMATIC);
    for (int pass = 0; pass < 2 && ret >= 0; pass++) {
        av_bprint_clear(&sql);
        if (!pass) {
            av_bprintf(&sql, "SELECT count(*)%s", where);
        } else {
            av_bprintf(&sql, "SELECT ");
            for (int i = 0; i < FF_ARRAY_ELEMS(cols); i++)
                av_bprintf(&sql, "%s%s", i ? ", " : "", cols[i]);
            av_bprintf(&sql, "%s ORDER BY id %s LIMIT ?9 OFFSET ?10", where,
                       s->ascending ? "ASC" : "DESC");
        }
        if (get(st, sql.str, &q) != SQLITE_OK) {
            ret = db_error(st, "search");
            break;
        }
        for (int i = 0; i < FF_ARRAY_ELEMS(text); i++)
            if (text[i])
                sqlite3_bind_text(q, i + 1, text[i], -1, SQLITE_STATIC);
        if (s->from_usec)
            sqlite3_bind_int64(q, 6, s->from_usec);
        if (s->to_usec)
            sqlite3_bind_int64(q, 7, s->to_usec);
        if (s->id)
            sqlite3_bind_int64(q, 8, s->id);
        if (s->created_after)
            sqlite3_bind_int64(q, 11, s->created_after);
        if (s->created_before)
            sqlite3_bind_int64(q, 12, s->created_before);
        if (pass) {
            sqlite3_bind_int64(q, 9, s->limit);
            sqlite3_bind_int64(q, 10, s->offset);
            if (!(*rows = json_array()))
                ret = AVERROR(ENOMEM);
        }
        while (ret >= 0 && (ret = sqlite3_step(q)) == SQLITE_ROW) {
            json_t *row;
            if (!pass) {
                *total = sqlite3_column_int64(q, 0);
                continue;
            }
            if (!(row = json_object())) {
                ret = AVERROR(ENOMEM);
                break;
            }
            for (int i = 0; i < FF_ARRAY_ELEMS(cols); i++)
                json_object_set_new(row, cols[i], sqlite3_column_type(q, i) == SQLITE_INTEGER ?
                                    json_integer(sqlite3_column_int64(q, i)) :
                                    json_string((const char *)sqlite3_column_text(q, i)));
            json_array_append_new(*rows, row);
        }
        if (ret >= 0 && ret != SQLITE_DONE)
            ret = db_error(st, "search");
        else if (ret >= 0)
            ret = 0;
        put(st, q);
    }
    av_bprint_finalize(&sql, NULL);
    if (ret < 0) {
        json_decref(*rows);
        *rows = NULL;
    }
    return ret;
}

int ff_liverec_state_list(LiveRecState *st)
{
    sqlite3_stmt *q;
    int ret, n = 0;

    if (get(st, "SELECT id, domain, app, stream, task_id, format, status, size,"
                           " attempts, CASE WHEN url != '' THEN url ELSE local_path END,"
                           " CASE WHEN expires > 0 THEN strftime('%Y-%m-%dT%H:%M:%SZ', expires,"
                           " 'unixepoch') ELSE 'never' END"
                           " FROM recordings ORDER BY id", &q) != SQLITE_OK)
        return db_error(st, "list");
    printf("%-5s %-40s %-8s %-6s %-9s %12s %8s %-20s  %s\n", "id", "stream", "task", "format",
           "status", "bytes", "attempts", "expires", "location");
    while ((ret = sqlite3_step(q)) == SQLITE_ROW) {
        char stream[512];
        snprintf(stream, sizeof(stream), "%s/%s/%s", sqlite3_column_text(q, 1),
                 sqlite3_column_text(q, 2), sqlite3_column_text(q, 3));
        printf("%-5"PRId64" %-40s %-8s %-6s %-9s %12"PRId64" %8d %-20s  %s\n",
               (int64_t)sqlite3_column_int64(q, 0), stream, sqlite3_column_text(q, 4),
               sqlite3_column_text(q, 5), sqlite3_column_text(q, 6),
               (int64_t)sqlite3_column_int64(q, 7), sqlite3_column_int(q, 8),
               sqlite3_column_text(q, 10), sqlite3_column_text(q, 9));
        n++;
    }
    put(st, q);
    if (ret != SQLITE_DONE)
        return db_error(st, "list");
    printf("%d recording%s\n", n, n == 1 ? "" : "s");
    return 0;
}

int ff_liverec_state_add_event(LiveRecState *st, int event_type, const char *body, int64_t now_usec)
{
    sqlite3_stmt *q;
    int ret;

    if (get(st, "INSERT INTO events (event_type, body, queued_usec)"
                           " VALUES (?, ?, ?)", &q) != SQLITE_OK)
        return db_error(st, "queue event");
    sqlite3_bind_int(q, 1, event_type);
    sqlite3_bind_text(q, 2, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, now_usec);
    ret = sqlite3_step(q) == SQLITE_DONE ? 0 : db_error(st, "queue event");
    put(st, q);
    return ret;
}

int ff_liverec_state_next_event(LiveRecState *st, int64_t now, LiveRecEvent *ev)
{
    sqlite3_stmt *q;
    int ret;

    memset(ev, 0, sizeof(*ev));
    if ((ret = prepare(st, &q, "SELECT id, event_type, body, attempts, queued_usec, next_try FROM events"
                       " WHERE status = 'pending' AND next_try <= ?1 ORDER BY id LIMIT 1", now, 0)) < 0)
        return ret;
    ret = sqlite3_step(q);
    if (ret == SQLITE_ROW) {
        ev->id          = sqlite3_column_int64(q, 0);
        ev->event_type  = sqlite3_column_int(q, 1);
        ev->body        = column_dup(q, 2);
        ev->attempts    = sqlite3_column_int(q, 3);
        ev->queued_usec = sqlite3_column_int64(q, 4);
        ev->next_try    = sqlite3_column_int64(q, 5);
        ret = ev->body ? 1 : AVERROR(ENOMEM);
    } else {
        ret = ret == SQLITE_DONE ? 0 : db_error(st, "select event");
    }
    put(st, q);
    return ret;
}

int ff_liverec_state_event_done(LiveRecState *st, int64_t id, int delivered, int give_up,
                                int64_t next_try, int64_t now_usec)
{
    return attempt_done(st, "events", id, delivered, give_up, next_try, now_usec);
}

int ff_liverec_state_events_pending(LiveRecState *st)
{
    return count_rows(st, "SELECT count(*) FROM events WHERE status = 'pending'", 0);
}
