/*
 * Fuzz the service's listener with what reaches it from outside: each origin's hook body, the
 * API's requests (signed, so that they reach the actions) and the status routes
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
 * A service (manager and listener, no workers; a new one every RESTART_EVERY inputs) runs in the
 * fuzzer's process on 127.0.0.1 with a configuration that records nothing (an Origin, no
 * template): hooks, API changes and status requests are handled in full, and no session pulls
 * anything. The first byte of an input picks the route; for the API, the first line is the
 * action and the rest the body, signed here with the service's key (TC3-HMAC-SHA256, libavutil's
 * sha and hmac). Every request must be answered.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "libavutil/bprint.h"
#include "libavutil/hmac.h"
#include "libavutil/log.h"
#include "libavutil/macros.h"
#include "libavutil/mem.h"
#include "libavutil/sha.h"

#include "fftools/ffliverec.h"
#include "fftools/ffliverec_serve.h"

#include "liverec_fuzz.h"

static LiveRecManager *manager;
static LiveRecHttp *http;
static LiveRecConfig *config;
static volatile int stop;
static int port;
static unsigned inputs;
static char folder[64];

#define RESTART_EVERY 4096

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), p;

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        abort();
    p = ntohs(a.sin_port);
    close(fd);
    return p;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* the folder goes with the process */
static void cleanup(void)
{
    nftw(folder, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A service with an empty catalog on a new port. */
static void service_start(void)
{
    static char state[96], spool[96], cfg_path[96], listen[32];
    LiveRecState *st = NULL;
    LiveRecManagerOptions mo = { 0 };
    FILE *f;

    snprintf(state, sizeof(state), "%s/state", folder);
    snprintf(spool, sizeof(spool), "%s/spool", folder);
    snprintf(cfg_path, sizeof(cfg_path), "%s/serve.xml", folder);
    mkdir(state, 0700);
    mkdir(spool, 0700);
    if (!(f = fopen(cfg_path, "w")))
        abort();
    fprintf(f, "<?xml version=\"1.0\"?>\n<LiveRecordConfig>\n"
            "  <Origin Type=\"nginx-rtmp\" PullUrl=\"rtmp://127.0.0.1:1/{AppName}/{StreamName}\" "
            "Domain=\"example.com\"/>\n"
            "  <Origin Type=\"srs\" PullUrl=\"rtmp://127.0.0.1:1/{AppName}/{StreamName}\"/>\n"
            "  <Origin Type=\"mediamtx\" PullUrl=\"rtmp://127.0.0.1:1/{AppName}/{StreamName}\"/>\n"
            "  <Origin Type=\"node-media-server\" PullUrl=\"rtmp://127.0.0.1:1/{AppName}/{StreamName}\"/>\n"
            "  <Service MaxSessions=\"4\"/>\n</LiveRecordConfig>\n");
    fclose(f);
    if (ff_liverec_config_load(&config, cfg_path, time(NULL)) < 0 ||
        ff_liverec_state_open(&st, state) < 0)
        abort();
    ff_liverec_state_close(&st);
    mo.config_path = cfg_path;
    mo.spool       = spool;
    mo.state_dir   = state;
    mo.rw_timeout  = 1000000;
    mo.stop        = &stop;
    port = free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    if (ff_liverec_manager_start(&manager, config, &mo) < 0 ||
        ff_liverec_http_start(&http, listen, manager) < 0)
        abort();
}

static void service_stop(void)
{
    ff_liverec_http_stop(&http);
    ff_liverec_manager_stop(&manager);
    ff_liverec_config_free(&config);
    nftw(folder, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(folder, 0700);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    av_log_set_level(getenv("FUZZ_VERBOSE") ? AV_LOG_VERBOSE : AV_LOG_QUIET);
    xmlInitParser();
    snprintf(folder, sizeof(folder), "%s/liverec-fuzz-service-%d", liverec_fuzz_tmpdir(),
             (int)getpid());
    mkdir(folder, 0700);
    atexit(cleanup);
    setenv("LIVEREC_SECRET_ID", "AKIDfuzz", 1);
    setenv("LIVEREC_SECRET_KEY", "fuzz-secret-key", 1);
    service_start();
    return 0;
}

static void hex(char *out, const uint8_t *d, int n)
{
    for (int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void sha256_hex(char *out, const void *data, size_t size)
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t d[32];
    if (!sha)
        abort();
    av_sha_init(sha, 256);
    av_sha_update(sha, data, size);
    av_sha_final(sha, d);
    av_free(sha);
    hex(out, d, 32);
}

static void hmac(uint8_t *out, const uint8_t *key, int key_len, const char *msg)
{
    AVHMAC *h = av_hmac_alloc(AV_HMAC_SHA256);
    if (!h)
        abort();
    av_hmac_calc(h, (const uint8_t *)msg, strlen(msg), key, key_len, out, 32);
    av_hmac_free(h);
}

/* The Authorization of the published algorithm: content-type;host signed, values as sent. */
static void sign(AVBPrint *auth, const char *host, int64_t ts, const uint8_t *body, size_t size)
{
    char body_hash[65], req_hash[65], date[16], sig[65], canon[512], tosign[256], k[64];
    uint8_t kd[32], ks[32], kk[32], s[32];
    time_t t = ts;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);
    sha256_hex(body_hash, body, size);
    snprintf(canon, sizeof(canon), "POST\n/\n\ncontent-type:application/json\nhost:%s\n\n"
             "content-type;host\n%s", host, body_hash);
    sha256_hex(req_hash, canon, strlen(canon));
    snprintf(tosign, sizeof(tosign), "TC3-HMAC-SHA256\n%"PRId64"\n%s/live/tc3_request\n%s",
             ts, date, req_hash);
    snprintf(k, sizeof(k), "TC3%s", "fuzz-secret-key");
    hmac(kd, (const uint8_t *)k, strlen(k), date);
    hmac(ks, kd, 32, "live");
    hmac(kk, ks, 32, "tc3_request");
    hmac(s, kk, 32, tosign);
    hex(sig, s, 32);
    av_bprintf(auth, "TC3-HMAC-SHA256 Credential=AKIDfuzz/%s/live/tc3_request, "
               "SignedHeaders=content-type;host, Signature=%s", date, sig);
}

/* A connect() interrupted by a signal: wait for it to finish. */
static int connected(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int err = 0;
    socklen_t len = sizeof(err);

    if (errno != EINTR)
        return 0;
    while (poll(&p, 1, 30000) < 0)
        if (errno != EINTR)
            return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        errno = err ? err : errno;
        return 0;
    }
    return 1;
}

static void request(const char *method, const char *path, const char *headers,
                    const uint8_t *body, size_t size)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { 30, 0 };
    /* closed with a reset: thousands of requests a second would otherwise use up the local
     * ports in TIME_WAIT */
    struct linger lg = { 1, 0 };
    AVBPrint req;
    char buf[4096];
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0), answered = 0;

    /* libFuzzer's timer signal interrupts system calls: a connect() goes on in the background,
     * a read() or write() is tried again */
    if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && !connected(fd))) {
        perror("connect to the service");
        abort();
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    av_bprint_init(&req, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s"
               "Content-Length: %zu\r\n\r\n", method, path, port, headers, size);
    av_bprint_append_data(&req, (const char *)body, size);
    for (size_t done = 0; done < req.len; ) {
        n = write(fd, req.str + done, req.len - done);
        if (n < 0 && errno != EINTR)
            abort();
        done += FFMAX(n, 0);
    }
    av_bprint_finalize(&req, NULL);
    {
        int64_t t0 = time(NULL);
        while ((n = read(fd, buf, sizeof(buf) - 1)) > 0 || (n < 0 && errno == EINTR)) {
            if (n < 0)
                continue;
            buf[n] = 0;
            answered |= !strncmp(buf, "HTTP/1.1 ", 9);
        }
        close(fd);
        if (!answered) {
            fprintf(stderr, "%s %s: no answer (%s after %d s)\n", method, path,
                    n < 0 ? strerror(errno) : "closed", (int)(time(NULL) - t0));
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const hooks[] = {
        "/hook/nginx-rtmp", "/hook/srs", "/hook/mediamtx", "/hook/node-media-server",
    };
    char path[256], action[64] = "";
    AVBPrint headers;

    if (!size || size > 60000)
        return 0;
    av_bprint_init(&headers, 0, AV_BPRINT_SIZE_AUTOMATIC);
    switch (data[0] % 6) {
    case 0:
        request("POST", hooks[0], "Content-Type: application/x-www-form-urlencoded\r\n",
                data + 1, size - 1);
        break;
    case 1: case 2: case 3:
        request("POST", hooks[data[0] % 6], "Content-Type: application/json\r\n", data + 1, size - 1);
        break;
    case 4: {
        /* ACTION\nBODY, signed now */
        const uint8_t *nl = memchr(data + 1, '\n', size - 1);
        size_t len = nl ? nl - data - 1 : 0;
        const uint8_t *body = nl ? nl + 1 : data + 1;
        size_t body_size = data + size - body;
        char host[32];
        AVBPrint auth;
        if (len >= sizeof(action))
            break;
        memcpy(action, data + 1, len);
        action[len] = 0;
        for (size_t i = 0; i < len; i++)
            if (action[i] < 0x21 || action[i] > 0x7e)
                action[i] = '_';
        snprintf(host, sizeof(host), "127.0.0.1:%d", port);
        av_bprint_init(&auth, 0, AV_BPRINT_SIZE_AUTOMATIC);
        sign(&auth, host, time(NULL), body, body_size);
        av_bprintf(&headers, "Content-Type: application/json\r\nX-TC-Action: %s\r\n"
                   "X-TC-Version: %s\r\nX-TC-Timestamp: %"PRId64"\r\nAuthorization: %s\r\n",
                   action, strcmp(action, "SearchMedia") ? "2018-08-01" : "2018-07-17",
                   (int64_t)time(NULL), auth.str);
        av_bprint_finalize(&auth, NULL);
        request("POST", "/", headers.str, body, body_size);
        break;
    }
    default: {
        /* a status route: the path from the input (printable, no spaces) */
        size_t n = FFMIN(size - 1, sizeof(path) - 2);
        path[0] = '/';
        for (size_t i = 0; i < n; i++)
            path[i + 1] = data[i + 1] > 0x20 && data[i + 1] < 0x7f ? data[i + 1] : '_';
        path[n + 1] = 0;
        request("GET", path, "", NULL, 0);
    }
    }
    av_bprint_finalize(&headers, NULL);
    /* the clock: tasks, reaping, as the service's main thread does about every second */
    if (!(++inputs % 64))
        ff_liverec_manager_tick(manager);
    /* what the inputs created (templates, rules, tasks: the API does not limit them) goes with a
     * new service now and then, so that an input's cost and the leak checks libFuzzer runs on
     * inputs that allocate more than they free do not grow with the inputs before it */
    if (!(inputs % RESTART_EVERY)) {
        service_stop();
        service_start();
    }
    return 0;
}

/* ffliverec.c (the program, not linked here) prefixes a thread's log lines */
void ff_liverec_log_set_prefix(const char *prefix)
{
}
