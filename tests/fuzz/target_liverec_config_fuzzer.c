/*
 * Fuzz ffliverec's configuration loader: XML, the schema, then the checks of meaning
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
 * A configuration file is untrusted input (DESIGN.md section 3): the loader takes a path, so each
 * input is written to a file of this process's own, loaded, and what loaded is copied and
 * exported again (ffliverec -export's path), which must load too.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "libavutil/bprint.h"
#include "libavutil/log.h"

#include "fftools/ffliverec.h"
#include "fftools/ffliverec_serve.h"

#include "liverec_fuzz.h"

static char path[64], path2[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cleanup(void)
{
    unlink(path);
    unlink(path2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(getenv("FUZZ_VERBOSE") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    xmlInitParser();
    snprintf(path, sizeof(path), "%s/liverec-fuzz-config-%d.xml", liverec_fuzz_tmpdir(), (int)getpid());
    snprintf(path2, sizeof(path2), "%s/liverec-fuzz-config-%d-export.xml", liverec_fuzz_tmpdir(),
             (int)getpid());
    atexit(cleanup);
    return 0;
}

static int write_file(const char *p, const void *data, size_t size)
{
    FILE *f = fopen(p, "wb");
    int ok = f && fwrite(data, 1, size, f) == size;
    if (f)
        ok &= !fclose(f);
    return ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LiveRecConfig *cfg = NULL, *copy, *again = NULL;
    AVBPrint xml;

    if (write_file(path, data, size) < 0)
        abort();
    if (ff_liverec_config_load(&cfg, path, 1796000000) < 0)
        goto end;
    /* what loads is exported as it would be by -export, and that loads again */
    if (!(copy = ff_liverec_config_dup(cfg)))
        goto end;
    av_bprint_init(&xml, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (ff_liverec_objects_export(copy, &xml) >= 0 && write_file(path2, xml.str, xml.len) >= 0 &&
        ff_liverec_config_load(&again, path2, 1796000000) < 0) {
        fprintf(stderr, "the export of a valid configuration does not load:\n%s\n", xml.str);
        abort();
    }
    av_bprint_finalize(&xml, NULL);
    for (int i = 0; again && i < again->nb_rules; i++)
        ff_liverec_match_rule(again, again->rules[i].domain, again->rules[i].app,
                              again->rules[i].stream, NULL);
    ff_liverec_config_free(&again);
    ff_liverec_config_free(&copy);
end:
    ff_liverec_config_free(&cfg);
    return 0;
}
