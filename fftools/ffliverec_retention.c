/*
 * ffliverec: retention, deleting recordings past their StorageTime
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
 * A recording whose format has a StorageTime gets an expiry in the catalog when it is finished
 * (finish time + StorageTime). Once that has passed, this worker deletes it where it is kept: the
 * object (HLS: its segments, then its playlist, read back from the bucket) through vodupload, or
 * the local file when there is no storage. Only then is it marked deleted. A recording still
 * waiting for its upload is deleted after the upload; a deletion that fails is tried again a
 * minute later, also by the next run. StorageTime 0 keeps a recording forever.
 */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "libavutil/dict.h"
#include "libavutil/error.h"
#include "libavutil/log.h"
#include "libavutil/mem.h"
#include "libavutil/time.h"
#include "libavformat/liverec.h"

#include "ffliverec.h"


typedef struct Retention {
    LiveRecWorker *worker;
    AVDictionary *opts;             ///< for vodupload: the storage's Region
} Retention;

static int interrupt_cb(void *opaque)
{
    Retention *r = opaque;
    return ff_liverec_worker_stopping(r->worker);
}

static int delete_one(void *opaque, const char *url)
{
    Retention *r = opaque;
    AVIOInterruptCB icb = { interrupt_cb, r };
    AVDictionary *opts = NULL;
    int ret = av_dict_copy(&opts, r->opts, 0);

    if (ret >= 0)
        ret = avpriv_liverec_delete(url, &opts, &icb);
    av_dict_free(&opts);
    /* gone already (an earlier try, or by hand) is what we want */
    if (ret == AVERROR(ENOENT))
        ret = 0;
    if (ret < 0)
        av_log(NULL, AV_LOG_WARNING, "retention: cannot delete %s: %s\n", url, av_err2str(ret));
    return ret;
}

static int delete_recording(Retention *r, const LiveRecFile *f)
{
    char *where;
    int ret = 0;

    if (*f->object_key)
        where = av_asprintf("vodupload+%s", f->object_key);
    else
        where = av_strdup(f->local_path);
    if (!where)
        return AVERROR(ENOMEM);
    /* the playlist lists what else goes; without it (deleted by an earlier try) nothing is left */
    if (!strcmp(f->format, "hls")) {
        ret = ff_liverec_hls_files(where, *f->object_key ? r->opts : NULL, delete_one, r);
        if (ret == AVERROR(ENOENT) || ret == AVERROR_HTTP_NOT_FOUND)
            ret = 0;
    }
    if (ret >= 0)
        ret = delete_one(r, where);
    av_free(where);
    return ret;
}

static int retention_step(LiveRecWorker *w, void *priv, LiveRecState *st)
{
    Retention *r = priv;
    int64_t now = av_gettime() / 1000000;
    LiveRecFile f;
    int ret;

    r->worker = w;
    if ((ret = ff_liverec_state_next_expired(st, now, &f)) <= 0)
        return ret;
    ret = delete_recording(r, &f);
    if (ret >= 0) {
        av_log(NULL, AV_LOG_INFO, "retention: deleted %s (its StorageTime ended %"PRId64" s ago)\n",
               *f.object_key ? f.object_key : f.local_path, now - f.expires);
        ff_liverec_state_deleted(st, f.id);
    } else if (!ff_liverec_worker_stopping(w)) {
        ff_liverec_state_delete_later(st, f.id, now + LIVEREC_DELETE_RETRY);
    }
    ff_liverec_file_free(&f);
    return 1;
}

static int retention_pending(LiveRecState *st)
{
    return ff_liverec_state_expired(st, av_gettime() / 1000000);
}

static void retention_uninit(void *priv)
{
    Retention *r = priv;
    if (!r)
        return;
    av_dict_free(&r->opts);
    av_free(r);
}

/* the storage's Region, for deletions through vodupload */
static void retention_set_config(void *priv, const LiveRecConfig *cfg)
{
    Retention *r = priv;
    av_dict_set(&r->opts, "region", cfg->storage_region, 0);
}

static const LiveRecWorkerOps retention_ops = {
    .set_config = retention_set_config,
    .name    = "deletion",
    .step    = retention_step,
    .pending = retention_pending,
    .uninit  = retention_uninit,
};

int ff_liverec_retention_start(LiveRecWorker **w, const LiveRecConfig *cfg, const char *state_dir,
                               volatile int *stop, LiveRecConfigHolder *holder)
{
    Retention *r = av_mallocz(sizeof(*r));

    *w = NULL;
    if (!r || (cfg->storage_region && av_dict_set(&r->opts, "region", cfg->storage_region, 0) < 0)) {
        retention_uninit(r);
        return AVERROR(ENOMEM);
    }
    return ff_liverec_worker_start(w, &retention_ops, r, state_dir, stop, holder);
}
