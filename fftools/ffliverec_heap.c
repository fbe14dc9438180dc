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

/*
 * ffliverec is linked with gperftools' tcmalloc (tcmalloc_minimal), which takes malloc() and its
 * kin for the whole process. Every av_malloc() is a posix_memalign(): glibc 2.36 serves those
 * from a locked arena, never from the thread's cache, and a session makes several per packet
 * (packet references, interleaving list entries, the FLV demuxer's and the MPEG-TS muxer's
 * buffers). tcmalloc serves them from the thread's cache (doc/ffliverec.texi, liverec_heap_bytes,
 * has the figures). jemalloc did as well, but it reads the clock while it starts, which
 * deadlocks under libfaketime (tests/liverec/t-clock-jump.sh moves the service's wall clock so).
 */

/* RTLD_DEFAULT is a GNU extension */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

#include "libavutil/error.h"
#include "libavutil/macros.h"
#include "libavutil/thread.h"

#include "ffliverec_heap.h"

static AVOnce      checked = AV_ONCE_INIT;
static const char *version;

/* gperftools' C API (gperftools/malloc_extension_c.h, tcmalloc.h), looked up in the process, so
 * that nothing but the program's link (configure) needs tcmalloc: the fuzz targets do without */
static int  (*get_property)(const char *name, size_t *value);
static int  (*set_property)(const char *name, size_t value);
static void (*release_free)(void);

static size_t property(const char *name)
{
    size_t v = 0;
    return get_property(name, &v) ? v : 0;
}

/*
 * tcmalloc is linked, but it allocates only if nothing before it took malloc(): a sanitizer's
 * malloc() comes first, for one. What av_malloc() calls is the posix_memalign() found first in
 * the process, the one dlsym() finds; tcmalloc's is an alias of its tc_posix_memalign().
 */
static void check_allocator(void)
{
    void *m = dlsym(RTLD_DEFAULT, "posix_memalign"), *t = dlsym(RTLD_DEFAULT, "tc_posix_memalign");
    const char *(*tc_version)(int *major, int *minor, const char **patch);

    tc_version   = (const char *(*)(int *, int *, const char **))dlsym(RTLD_DEFAULT, "tc_version");
    get_property = (int (*)(const char *, size_t *))dlsym(RTLD_DEFAULT,
                                                          "MallocExtension_GetNumericProperty");
    set_property = (int (*)(const char *, size_t))dlsym(RTLD_DEFAULT,
                                                        "MallocExtension_SetNumericProperty");
    release_free = (void (*)(void))dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
    if (m && m == t && tc_version && get_property && set_property && release_free)
        version = tc_version(NULL, NULL, NULL);
}

const char *ff_liverec_heap_allocator(void)
{
    ff_thread_once(&checked, check_allocator);
    return version;
}

int ff_liverec_heap_stats(size_t *in_use, size_t *kept)
{
    size_t heap, unmapped;

    if (!ff_liverec_heap_allocator())
        return AVERROR(ENOSYS);
    /* the heap is what tcmalloc took from the system; what it gave back is counted apart */
    *in_use  = property("generic.current_allocated_bytes");
    heap     = property("generic.heap_size");
    unmapped = property("tcmalloc.pageheap_unmapped_bytes");
    *kept    = heap > unmapped + *in_use ? heap - unmapped - *in_use : 0;
    return 0;
}

void ff_liverec_heap_release(void)
{
    if (ff_liverec_heap_allocator())
        release_free();
}

/*
 * Each session runs in a thread of its own and allocates and frees per packet (packets, the
 * demuxer's and the muxers' buffers). tcmalloc shares one bound among all its threads' caches,
 * 32 MiB by default: with 200 sessions that is 160 KiB a thread, and the caches kept handing
 * objects back to the central lists and fetching them again
 * (tcmalloc::CentralFreeList::FetchFromOneSpans alone was 3.6 % of the service's perf samples, 200
 * pushes). A larger bound is only what the caches may keep; they grow as they are used.
 */
size_t ff_liverec_heap_setup(int max_sessions)
{
    const char *name = "tcmalloc.max_total_thread_cache_bytes";
    size_t want = FFMIN((size_t)max_sessions * LIVEREC_HEAP_CACHE_PER_SESSION,
                        LIVEREC_HEAP_CACHE_MAX);

    if (!ff_liverec_heap_allocator() || getenv("TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES"))
        return 0;
    if (property(name) >= want)
        return 0;
    return set_property(name, want) ? property(name) : 0;
}
