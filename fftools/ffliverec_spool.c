/*
 * ffliverec: the spool, its folders and what a recorder that stopped short left in it
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
 * A session records into SPOOL/DOMAIN/APP/STREAM/[task-ID/]FORMAT/. The muxers keep their work
 * there in a form a crash cannot spoil (MP4/FLV/AAC: NAME.EXT.recording; HLS: the working
 * playlist STREAM.m3u8 and its sidecar STREAM.m3u8.liverec) and take it up again when they are
 * next opened in that folder. A stream that is not pushed again after a crash would leave that
 * work there for ever: the service looks for it when it starts.
 */

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/dict.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavformat/avio.h"

#include "ffliverec.h"

int ff_liverec_make_dirs(const char *path, int mode)
{
    char *p = av_strdup(path), *s;
    int ret = 0;

    if (!p)
        return AVERROR(ENOMEM);
    for (size_t len = strlen(p); len > 1 && p[len - 1] == '/'; len--)
        p[len - 1] = 0;
    for (s = p + 1; ret >= 0; s++) {
        char c = *s;
        if (c != '/' && c)
            continue;
        *s = 0;
        if (mkdir(p, c ? 0755 : mode) < 0 && errno != EEXIST)
            ret = AVERROR(errno);
        *s = c;
        if (!c)
            break;
    }
    if (ret < 0)
        av_log(NULL, AV_LOG_ERROR, "cannot create the folder %s: %s\n", path, av_err2str(ret));
    av_free(p);
    return ret;
}


int ff_liverec_hls_files(const char *playlist, const AVDictionary *options,
                         int (*cb)(void *opaque, const char *path), void *opaque)
{
    const char *slash = strrchr(playlist, '/');
    int dir_len = slash ? slash - playlist + 1 : 0;
    AVDictionary *opts = NULL;
    AVIOContext *pb = NULL;
    AVBPrint text;
    char *line, *next;
    int ret;

    if ((ret = av_dict_copy(&opts, options, 0)) >= 0)
        ret = avio_open2(&pb, playlist, AVIO_FLAG_READ, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0)
        return ret;
    av_bprint_init(&text, 0, AV_BPRINT_SIZE_UNLIMITED);
    /* ours are a few hundred bytes per segment; 64 MiB is a day of 2 s segments many times over */
    ret = avio_read_to_bprint(pb, &text, 64 << 20);
    avio_closep(&pb);
    if (ret >= 0 && !av_bprint_is_complete(&text))
        ret = AVERROR(ENOMEM);
    for (line = text.str; ret >= 0 && line && *line; line = next) {
        char *name = line, *end, *path;
        if ((next = strchr(line, '\n')))
            *next++ = 0;
        line[strcspn(line, "\r")] = 0;
        if (av_strstart(line, "#EXT-X-MAP:URI=\"", (const char **)&name)) {
            if ((end = strchr(name, '"')))
                *end = 0;
        } else if (line[0] == '#' || !line[0]) {
            continue;
        }
        /* our own muxer wrote it, but it is read back from disk or a bucket: plain names only */
        if (!*name || strchr(name, '/') || strchr(name, '\\') || strchr(name, ':') ||
            !strcmp(name, ".") || !strcmp(name, "..")) {
            av_log(NULL, AV_LOG_ERROR, "%s lists '%s', which is not a file beside it\n", playlist, name);
            ret = AVERROR_INVALIDDATA;
            break;
        }
        if (!(path = av_asprintf("%.*s%s", dir_len, playlist, name))) {
            ret = AVERROR(ENOMEM);
            break;
        }
        ret = cb(opaque, path);
        av_free(path);
    }
    av_bprint_finalize(&text, NULL);
    return ret;
}

/* Whether name in parent is a plain folder (not a link, not hidden); its path into path. */
static int subdir(const char *parent, const char *name, char *path, size_t size)
{
    struct stat st;

    return name[0] != '.' && snprintf(path, size, "%s/%s", parent, name) < size &&
           !lstat(path, &st) && S_ISDIR(st.st_mode);
}

int ff_liverec_spool_has_leftover(const char *dir, enum LiveRecFormat f, const char *stream)
{
    char suffix[32], sidecar[300];
    struct dirent *e;
    DIR *d = opendir(dir);
    int found = 0;

    if (!d)
        return 0;
    snprintf(suffix, sizeof(suffix), ".%s.recording", ff_liverec_format_names[f]);
    snprintf(sidecar, sizeof(sidecar), "%s.m3u8.liverec", stream);
    while (!found && (e = readdir(d))) {
        size_t len = strlen(e->d_name), slen = strlen(suffix);
        if (f == LIVEREC_HLS)
            found = !strcmp(e->d_name, sidecar);
        else
            found = len > slen && !strcmp(e->d_name + len - slen, suffix);
    }
    closedir(d);
    return found;
}

/* Whether SPOOL/D/A/S/[task-ID/] (path) holds a format folder with leftovers. */
static int stream_has_leftover(const char *path, const char *stream, int depth)
{
    char sub[4096];
    struct dirent *e;
    DIR *d = opendir(path);
    int found = 0;

    if (!d)
        return 0;
    while (!found && (e = readdir(d))) {
        int f;
        if (!subdir(path, e->d_name, sub, sizeof(sub)))
            continue;
        for (f = 0; f < LIVEREC_NB_FORMATS; f++)
            if (!strcmp(e->d_name, ff_liverec_format_names[f]))
                break;
        if (f < LIVEREC_NB_FORMATS)
            found = ff_liverec_spool_has_leftover(sub, f, stream);
        else if (!depth && av_strstart(e->d_name, "task-", NULL))
            found = stream_has_leftover(sub, stream, 1);
    }
    closedir(d);
    return found;
}

int ff_liverec_spool_stream_has_leftover(const char *spool, const char *domain,
                                         const char *app, const char *stream)
{
    char path[4096];

    return snprintf(path, sizeof(path), "%s/%s/%s/%s", spool, domain, app, stream) <
           sizeof(path) && stream_has_leftover(path, stream, 0);
}

int ff_liverec_spool_leftovers(const char *spool,
                               int (*cb)(void *opaque, const char *domain, const char *app,
                                         const char *stream),
                               void *opaque)
{
    char dpath[4096], apath[4096], spath[4096];
    DIR *dd, *ad, *sd;
    struct dirent *de, *ae, *se;
    int n = 0, ret = 0;

    if (!(dd = opendir(spool)))
        return errno == ENOENT ? 0 : AVERROR(errno);
    while (ret >= 0 && (de = readdir(dd))) {
        AVBPrint why;
        av_bprint_init(&why, 0, 1);
        if (ff_liverec_check_stream_name(de->d_name, "domain", &why) < 0 ||
            !subdir(spool, de->d_name, dpath, sizeof(dpath)) || !(ad = opendir(dpath)))
            continue;
        while (ret >= 0 && (ae = readdir(ad))) {
            if (ff_liverec_check_stream_name(ae->d_name, "app", &why) < 0 ||
                !subdir(dpath, ae->d_name, apath, sizeof(apath)) || !(sd = opendir(apath)))
                continue;
            while (ret >= 0 && (se = readdir(sd))) {
                if (ff_liverec_check_stream_name(se->d_name, "stream", &why) < 0 ||
                    !subdir(apath, se->d_name, spath, sizeof(spath)))
                    continue;
                if (stream_has_leftover(spath, se->d_name, 0)) {
                    n++;
                    ret = cb(opaque, de->d_name, ae->d_name, se->d_name);
                }
            }
            closedir(sd);
        }
        closedir(ad);
    }
    closedir(dd);
    return ret < 0 ? ret : n;
}
