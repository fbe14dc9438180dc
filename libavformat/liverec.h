/*
 * liverec: helpers shared by the live recording muxers
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

#ifndef AVFORMAT_LIVEREC_H
#define AVFORMAT_LIVEREC_H

#include <stdint.h>

#include "libavutil/bprint.h"
#include "avformat.h"

/** The cloud API's default VodFileName. */
/* how far back the first packets' arrival may move a push's date (the probing delay) */
#define LIVEREC_MAX_WALL_CORRECTION (10 * 1000000LL)

#define LIVEREC_DEFAULT_VOD_FILE_NAME \
    "{StreamID}_{StartYear}-{StartMonth}-{StartDay}-{StartHour}-{StartMinute}-{StartSecond}_" \
    "{EndYear}-{EndMonth}-{EndDay}-{EndHour}-{EndMinute}-{EndSecond}"

/**
 * Parse a time_zone option: "UTC", "local" (the process's local time) or a fixed
 * offset "+HH:MM", "-HH:MM", "+HH", "UTC+8", "UTC-05:30".
 *
 * @param offset set to the offset from UTC in seconds (ignored when *local is set)
 * @param local  set to 1 for "local"
 * @return 0 or AVERROR(EINVAL)
 */
int ff_liverec_parse_time_zone(const char *tz, int *offset, int *local);

/**
 * Replace in a name that comes from outside (stream, app or domain name) everything that could
 * make a path escape its folder or confuse a playlist: only [A-Za-z0-9._-] are kept, others
 * become '_', and a leading '.' becomes '_'. An empty result becomes "_".
 */
void ff_liverec_sanitize_name(AVBPrint *bp, const char *name);

/**
 * Expand a VodFileName template (DESIGN.md section 3): {StreamID}, {StartYear}, {StartMonth},
 * {StartDay}, {StartHour}, {StartMinute}, {StartSecond}, {StartMillisecond} and the same with
 * End. Times are microseconds since the Unix epoch, rendered in time_zone. The stream id is
 * sanitized; the template itself must not contain path separators.
 *
 * @return 0, or AVERROR(EINVAL) with a message for an unknown placeholder or a bad template
 */
int ff_liverec_expand_name(AVBPrint *bp, const char *tmpl, const char *stream_id,
                           int64_t start_us, int64_t end_us, const char *time_zone,
                           void *log_ctx);

/**
 * Check a template without expanding it for real (for init time errors).
 */
int ff_liverec_check_name_template(const char *tmpl, const char *time_zone, void *log_ctx);

/**
 * Find a name DIR + NAME + EXT that does not exist yet: NAME, then NAME_1, NAME_2, ...
 * The result (with DIR) is written to bp. opts: the protocol's options (NULL: none).
 */
int ff_liverec_unique_url(AVFormatContext *s, AVBPrint *bp, const char *dir, const char *name,
                          const char *ext, const AVDictionary *opts);

/*
 * Files of a muxer with the options of their protocol (opts, NULL: none; e.g. the region and
 * credentials of a vodupload bucket), for every file it opens, checks or renames: opening
 * through s->io_open with a copy of opts, checking as avio_check() does, renaming as
 * avpriv_io_move() does (a server-side move where the protocol has one), deleting as
 * ffurl_delete() does.
 */
int ff_liverec_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                       const AVDictionary *opts);
int ff_liverec_io_check(AVFormatContext *s, const char *url, int flags, const AVDictionary *opts);
int ff_liverec_io_move(AVFormatContext *s, const char *src, const char *dst,
                       const AVDictionary *opts);
int ff_liverec_io_delete(AVFormatContext *s, const char *url, const AVDictionary *opts);

/**
 * Format wall-clock microseconds as an ISO 8601 UTC date with milliseconds,
 * "2026-11-25T14:48:35.123Z" (the form of EXT-X-PROGRAM-DATE-TIME).
 */
void ff_liverec_format_iso8601(AVBPrint *bp, int64_t us);

/**
 * Write the contents of bp to url atomically: to url.tmp first, then rename.
 */
int ff_liverec_write_atomic(AVFormatContext *s, const char *url, const AVBPrint *bp,
                            const AVDictionary *opts);

/**
 * Read a whole small file (at most max_size bytes) into bp.
 * @return 0, AVERROR(ENOENT) when it does not exist, AVERROR_INVALIDDATA when it is larger
 *         than max_size, or another error
 */
int ff_liverec_read_file(AVFormatContext *s, const char *url, AVBPrint *bp, int max_size,
                         const AVDictionary *opts);

/**
 * @return 1 when url names a local file (no protocol or file:), setting *path to its path
 */
int ff_liverec_local_path(const char *url, const char **path);

/**
 * Take an exclusive lock on the local file path (created if needed) without waiting.
 * @return a file descriptor to keep while the lock is needed, AVERROR(EBUSY) when another
 *         process holds it, or another error
 */
int ff_liverec_lock(const char *path, void *log_ctx);
void ff_liverec_unlock(int *fd);

/**
 * Insert len bytes (a multiple of the file system's block size) of zeros before the first byte
 * of the local file path, without copying its bytes (FALLOC_FL_INSERT_RANGE: ext4, XFS).
 * @return 0, AVERROR(ENOSYS) when the system or the file system cannot, or another error; the
 *         file is unchanged unless 0 is returned
 */
int ff_liverec_insert_front(const char *path, int64_t len, void *log_ctx);

/**
 * The wall clock a recording starts from: the wallclock option (a date, for tests and
 * re-recording) when set, else the system clock. Microseconds since the Unix epoch.
 */
int ff_liverec_clock(void *log_ctx, const char *wallclock, int64_t *now);

/**
 * Allocate a nested muxer context of the given format for s, sharing its I/O callbacks,
 * interrupt callback, flags and max_delay (as segment.c does).
 */
int ff_liverec_nested_alloc(AVFormatContext *s, AVFormatContext **oc, const char *format,
                            const char *url);

/**
 * The stream whose keyframes cut files and segments: the first video stream, else the first
 * audio stream, among those with map[i] >= 0 (all when map is NULL).
 * @return its index, or -1 when there is neither
 */
int ff_liverec_reference_stream(const AVFormatContext *s, const int *map);

/** Close the nested context's file (if open) and free it. */
void ff_liverec_nested_free(AVFormatContext *s, AVFormatContext **oc);

/**
 * Write the regular MP4 (moov up front) of the fragmented MP4 that ic has opened (its header
 * read, no packet) to out_url, reading and writing each media byte once (liverec_mp4final.c).
 * With out_url NULL, the working file ic->url (a local file) becomes that MP4 in place, its
 * media bytes where they are; the caller renames it, then calls ff_liverec_mp4_switch_end().
 * *duration gets its length (AV_TIME_BASE), -1 when it holds no sample (nothing is written).
 * @return 0, AVERROR_PATCHWELCOME when the file's layout or codecs need a remux instead, or
 *         (in place) the file system cannot insert a range (nothing is written), another
 *         negative value on errors
 */
int ff_liverec_mp4_finalize(AVFormatContext *s, AVFormatContext *ic, const char *out_url,
                            int64_t *duration);

/**
 * Finish the switch to its final form in place that a kill interrupted in the working file url.
 * @return 0 when none was begun (the file is a working file as before), 1 when url is final now
 *         (*duration set; rename it, then call ff_liverec_mp4_switch_end()), a negative value
 *         when it cannot be finished (the file must stay as it is)
 */
int ff_liverec_mp4_resume(AVFormatContext *s, const char *url, int64_t *duration);

/** The note of a switch in place is the working file's name with this appended. */
#define LIVEREC_MP4_SWITCH_SUFFIX ".switch"

/** @return 1 when a switch in place was begun in the working file url (its note exists) */
int ff_liverec_mp4_switch_begun(const char *url);

/** After the rename of a file finalized in place: remove the note of its switch. */
int ff_liverec_mp4_switch_end(const char *url);

/**
 * Check a working file of liverec_mp4 before a demuxer reads it (a file left in the folder may be
 * anything): an ftyp, one moov whose sample tables are empty, then moof + mdat pairs whose truns
 * hold their tables and announce no more samples than their mdat has bytes.
 * @param keep      set to the bytes up to the last whole such pair (or the moov's end)
 * @param file_size set to the file's size
 * @return 0, AVERROR_INVALIDDATA when it is no such file, another negative value on errors
 */
int ff_liverec_mp4_check(AVFormatContext *s, const char *url, int64_t *keep, int64_t *file_size);

/**
 * Delete a file or an object (any protocol with url_delete: file, vodupload), for ffliverec's
 * retention: libavformat 7.1 has no public call for it (ffurl_delete() takes no options).
 * @param options the protocol's options (e.g. vodupload's region); NULL for none
 * @return 0 or a negative AVERROR (AVERROR(ENOSYS) if the protocol cannot delete)
 */
int avpriv_liverec_delete(const char *url, AVDictionary **options, const AVIOInterruptCB *int_cb);

/** The naming options every liverec muxer shares; ctx is its private context type. */
#define LIVEREC_NAMING_OPTIONS(ctx, stream_id_default, wallclock_of)                          \
    { "vod_file_name", "name template of the finished files",                                \
      offsetof(ctx, vod_file_name), AV_OPT_TYPE_STRING,                                       \
      { .str = LIVEREC_DEFAULT_VOD_FILE_NAME }, 0, 0, AV_OPT_FLAG_ENCODING_PARAM },           \
    { "stream_id", "value of {StreamID} (default: " stream_id_default ")",                   \
      offsetof(ctx, stream_id), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0,                    \
      AV_OPT_FLAG_ENCODING_PARAM },                                                           \
    { "time_zone", "time zone of the names: UTC, local, or an offset like +08:00",           \
      offsetof(ctx, time_zone), AV_OPT_TYPE_STRING, { .str = "UTC" }, 0, 0,                   \
      AV_OPT_FLAG_ENCODING_PARAM },                                                           \
    { "wallclock", "wall-clock time of " wallclock_of " instead of the system clock "        \
      "(tests, re-recording)", offsetof(ctx, wallclock), AV_OPT_TYPE_STRING, { .str = NULL }, \
      0, 0, AV_OPT_FLAG_ENCODING_PARAM }

#endif /* AVFORMAT_LIVEREC_H */
