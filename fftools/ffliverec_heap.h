/*
 * ffliverec's heap: the allocator it is linked with (tcmalloc), its figures and its releases
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

#ifndef FFTOOLS_FFLIVEREC_HEAP_H
#define FFTOOLS_FFLIVEREC_HEAP_H

#include <stddef.h>

/**
 * tcmalloc's version ("gperftools 2.10"), or NULL when the process does not allocate through
 * tcmalloc (a sanitizer's allocator came first, for one).
 */
const char *ff_liverec_heap_allocator(void);

/**
 * What the heap holds: the bytes allocated, and those the allocator keeps beside them (free in
 * its page heap, its central lists and its threads' caches, not handed back to the system).
 * @return 0, or a negative AVERROR code when the allocator has no figures
 */
int ff_liverec_heap_stats(size_t *in_use, size_t *kept);

/**
 * Hand back to the system the free pages the allocator holds (it does that itself, a little at a
 * time, only as it frees more: an idle service would keep them).
 */
void ff_liverec_heap_release(void);

/**
 * Let the threads' caches of the allocator hold up to LIVEREC_HEAP_CACHE_PER_SESSION bytes per
 * session that may run (at most LIVEREC_HEAP_CACHE_MAX in all), unless the environment sets it
 * (TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES) or the allocator is not tcmalloc.
 * @return the bytes the caches may hold now (as tcmalloc reads it back), 0 when left as they were
 */
size_t ff_liverec_heap_setup(int max_sessions);

#define LIVEREC_HEAP_CACHE_PER_SESSION (1 << 20)
#define LIVEREC_HEAP_CACHE_MAX         ((size_t)1 << 30)

#endif /* FFTOOLS_FFLIVEREC_HEAP_H */
