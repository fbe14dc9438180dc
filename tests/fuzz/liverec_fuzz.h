/*
 * What the fuzz targets of tests/fuzz/ share
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

#ifndef LIVEREC_FUZZ_H
#define LIVEREC_FUZZ_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/**
 * The folder for a target's files: /dev/shm where there is one. The targets write a file or a
 * database for every input, and on a disk each truncation and close starts a write-back (on ext4
 * a third of the config target's time); a tmpfs costs nothing of that.
 */
static inline const char *liverec_fuzz_tmpdir(void)
{
    struct stat sb;
    return stat("/dev/shm", &sb) || !S_ISDIR(sb.st_mode) ? "/tmp" : "/dev/shm";
}

static inline int liverec_fuzz_remove_one(const char *path, const struct stat *st, int flag,
                                          struct FTW *ftw)
{
    return remove(path);
}

/** Remove a folder and what it holds (at the process's exit). */
static inline void liverec_fuzz_remove_tree(const char *dir)
{
    nftw(dir, liverec_fuzz_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/** Empty a folder of plain files between inputs: what one left must not feed the next. */
static inline void liverec_fuzz_empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    if (!d)
        abort();
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
}

#endif /* LIVEREC_FUZZ_H */
