/*
 * Fuzz the API's template parameters (CreateLiveRecordTemplate, ModifyLiveRecordTemplate) and
 * the way a template is kept in the catalog and read back
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
 * The input is a request body. What the API accepts is stored as the cloud's RecordTemplateInfo
 * (ff_liverec_template_info()); read back through the same parameters it must give the same
 * template, and a configuration file holding it must load (-export).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libxml/parser.h>

#include "libavutil/bprint.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"

#include "fftools/ffliverec.h"
#include "fftools/ffliverec_serve.h"

#include "liverec_fuzz.h"

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cleanup(void)
{
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(getenv("FUZZ_VERBOSE") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    xmlInitParser();
    snprintf(path, sizeof(path), "%s/liverec-fuzz-template-%d.xml", liverec_fuzz_tmpdir(),
             (int)getpid());
    atexit(cleanup);
    return 0;
}

static int same(const LiveRecTemplate *a, const LiveRecTemplate *b)
{
    if (strcmp(a->name, b->name) || strcmp(a->description ? a->description : "",
                                           b->description ? b->description : "") ||
        a->flow_continue_duration != b->flow_continue_duration ||
        a->hls_max_duration != b->hls_max_duration)
        return 0;
    for (int f = 0; f < LIVEREC_NB_FORMATS; f++) {
        const LiveRecFormatParam *p = &a->param[f], *q = &b->param[f];
        int on_p = p->present && p->enable, on_q = q->present && q->enable;
        if (on_p != on_q || (on_p && (p->record_interval != q->record_interval ||
                                      p->storage_time != q->storage_time ||
                                      strcmp(p->vod_file_name ? p->vod_file_name : "",
                                             q->vod_file_name ? q->vod_file_name : ""))))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LiveRecTemplate t    = { .id = 1000001, .hls_max_duration = LIVEREC_HLS_MAX_DURATION },
                    back = { .id = 1000001, .hls_max_duration = LIVEREC_HLS_MAX_DURATION };
    LiveRecConfig cfg = { .path = path, .max_sessions = 200 }, *loaded = NULL;
    json_t *req = json_loadb((const char *)data, size, 0, NULL), *info = NULL;
    const char *code;
    AVBPrint why, xml;

    av_bprint_init(&why, 0, AV_BPRINT_SIZE_AUTOMATIC);
    av_bprint_init(&xml, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!json_is_object(req) || ff_liverec_template_params(&t, req, &code, &why) < 0 || !t.name)
        goto end;
    /* kept, read back: the same template */
    if (!(info = ff_liverec_template_info(&t)) ||
        ff_liverec_template_params(&back, info, &code, &why) < 0 || !same(&t, &back)) {
        fprintf(stderr, "a template does not come back as it was stored: %s\n", why.str);
        abort();
    }
    /* and a configuration file can hold it */
    cfg.templates    = &t;
    cfg.nb_templates = 1;
    if (ff_liverec_objects_export(&cfg, &xml) >= 0) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(xml.str, 1, xml.len, f) != xml.len || fclose(f))
            abort();
        if (ff_liverec_config_load(&loaded, path, 1796000000) < 0) {
            fprintf(stderr, "the export of an accepted template does not load:\n%s\n", xml.str);
            abort();
        }
        ff_liverec_config_free(&loaded);
    }
end:
    av_bprint_finalize(&why, NULL);
    av_bprint_finalize(&xml, NULL);
    json_decref(info);
    json_decref(req);
    ff_liverec_template_free(&t);
    ff_liverec_template_free(&back);
    return 0;
}
