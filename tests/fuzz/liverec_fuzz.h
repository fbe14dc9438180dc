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

#include <sys/stat.h>

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

#endif /* LIVEREC_FUZZ_H */
