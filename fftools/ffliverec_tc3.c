/*
 * ffliverec -serve: the cloud API 3.0 signature (TC3-HMAC-SHA256) and the keys it is checked with
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
 * The API takes what the cloud's SDKs and CLI send, signed as the cloud's "signature v3" says:
 *   CanonicalRequest = method \n URI \n query \n name:value\n for each signed header \n
 *                      SignedHeaders \n hex(SHA-256(body))
 *   StringToSign     = TC3-HMAC-SHA256 \n X-TC-Timestamp \n DATE/SERVICE/tc3_request \n
 *                      hex(SHA-256(CanonicalRequest))
 *   Signature        = hex(HMAC(HMAC(HMAC(HMAC("TC3" SecretKey, DATE), SERVICE), "tc3_request"),
 *                                StringToSign))
 * Header values are trimmed and lowercased, as the published example does (the value of
 * x-tc-action is signed as "describeinstances"); the SDKs sign content-type and host only, whose
 * values they send in lowercase anyway. The service is whatever the scope names: clients take it
 * from the endpoint's host name. All of it comes from the network before anyone is known, so
 * every length is bounded and a reason quotes at most 64 bytes of what was sent.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "libavutil/avstring.h"
#include "libavutil/bprint.h"
#include "libavutil/error.h"
#include "libavutil/hmac.h"
#include "libavutil/log.h"
#include "libavutil/macros.h"
#include "libavutil/mem.h"
#include "libavutil/sha.h"

#include "ffliverec_serve.h"

#define MAX_ID      128
#define MAX_KEY     256
#define MAX_FILE    (1 << 20)
#define MAX_LINE    4096
#define MAX_AUTH    4096
#define MAX_VALUE   8192                ///< a signed header's value, the path, the query
#define MAX_SIGNED  32
#define MAX_NAME    64
#define MAX_SKEW    300                 ///< seconds between X-TC-Timestamp and now, either way

#define E_AUTH      "AuthFailure.InvalidAuthorization"
#define E_EXPIRED   "AuthFailure.SignatureExpire"
#define E_SIGNATURE "AuthFailure.SignatureFailure"
#define E_NO_ID     "AuthFailure.SecretIdNotFound"

typedef struct LiveRecSecret {
    char *id, *key;
} LiveRecSecret;

struct LiveRecCredentials {
    LiveRecSecret *s;
    int nb;
};

/* secrets are not left behind in freed memory (volatile: the stores are not optimized away) */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void ff_liverec_credentials_free(LiveRecCredentials **c)
{
    if (!*c)
        return;
    for (int i = 0; i < (*c)->nb; i++) {
        wipe((*c)->s[i].key, strlen((*c)->s[i].key));
        av_freep(&(*c)->s[i].id);
        av_freep(&(*c)->s[i].key);
    }
    av_freep(&(*c)->s);
    av_freep(c);
}

static av_printf_format(3, 4) int load_error(const char *where, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line)
        av_log(NULL, AV_LOG_ERROR, "%s:%d: %s\n", where, line, msg);
    else
        av_log(NULL, AV_LOG_ERROR, "%s: %s\n", where, msg);
    return AVERROR(EINVAL);
}

/* At most 64 bytes of s (n long) as printable ASCII, into buf[68]: safe to log or answer. */
static const char *quote(const char *s, size_t n, char *buf)
{
    size_t i;
    for (i = 0; i < FFMIN(n, 64); i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    strcpy(buf + i, n > 64 ? "..." : "");
    return buf;
}
#define QUOTE(s) quote(s, av_strnlen(s, 65), (char[68]){ 0 })

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

static int check_value(int is_key, const char *v, const char *where, int line)
{
    size_t n = strlen(v), ok = is_key ? 0 : strspn(v, ID_CHARS);

    while (is_key && ok < n && av_isgraph(v[ok]))
        ok++;
    if (n && ok == n && n <= (is_key ? MAX_KEY : MAX_ID))
        return 0;
    if (is_key)
        return load_error(where, line, "secret_key must be 1 to %d printable ASCII characters "
                          "without spaces", MAX_KEY);
    return load_error(where, line, "secret_id must be 1 to %d letters, digits, '-', '_' or '.'",
                      MAX_ID);
}

static int add_secret(LiveRecCredentials *c, const char *id, const char *key,
                      const char *where, int line)
{
    LiveRecSecret *s;

    for (int i = 0; i < c->nb; i++)
        if (!strcmp(c->s[i].id, id))
            return load_error(where, line, "SecretId %s is given twice", id);
    if (!(s = av_realloc_array(c->s, c->nb + 1, sizeof(*s))))
        return AVERROR(ENOMEM);
    c->s = s;
    s[c->nb].id  = av_strdup(id);
    s[c->nb].key = av_strdup(key);
    if (!s[c->nb].id || !s[c->nb].key) {
        av_freep(&s[c->nb].id);
        av_freep(&s[c->nb].key);
        return AVERROR(ENOMEM);
    }
    c->nb++;
    return 0;
}

static char *trim(char *s)
{
    size_t n;
    while (*s == ' ' || *s == '\t')
        s++;
    for (n = strlen(s); n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'); n--)
        s[n - 1] = 0;
    return s;
}

static int end_section(LiveRecCredentials *c, const char *file, const char *sec, int sec_line,
                       const char *id, int id_line, const char *key)
{
    if (sec && (!id || !key))
        return load_error(file, sec_line, "[%s] has no %s", QUOTE(sec),
                          id ? "secret_key" : "secret_id");
    return sec ? add_secret(c, id, key, file, id_line) : 0;
}

static int parse_file(LiveRecCredentials *c, const char *file, char *buf, size_t size)
{
    char *p = buf, *end = buf + size, *next, *sec = NULL, *id = NULL, *key = NULL;
    int ret, sec_line = 0, id_line = 0;

    for (int line = 1; p < end; p = next, line++) {
        char *nl = memchr(p, '\n', end - p), *eol = nl ? nl : end, *eq, *name, **dst;
        size_t n = eol - p;

        next = nl ? nl + 1 : end;
        if (n > MAX_LINE)
            return load_error(file, line, "line longer than %d bytes", MAX_LINE);
        *eol = 0;
        if (strlen(p) != n)
            return load_error(file, line, "NUL byte");
        p = trim(p);
        if (!*p || *p == '#' || *p == ';')
            continue;
        if (*p == '[') {
            n = strlen(p);
            if (p[n - 1] != ']' || (p[n - 1] = 0, !*(p = trim(p + 1))))
                return load_error(file, line, "a section is \"[name]\"");
            if ((ret = end_section(c, file, sec, sec_line, id, id_line, key)) < 0)
                return ret;
            sec      = p;
            sec_line = line;
            id = key = NULL;
            continue;
        }
        /* the line is never quoted: it may be a secret key that lost its "secret_key =" */
        if (!(eq = strchr(p, '=')))
            return load_error(file, line, "expected \"[name]\", \"secret_id = ...\", "
                              "\"secret_key = ...\" or a comment");
        *eq  = 0;
        name = trim(p);
        if (!strcmp(name, "secret_id"))
            dst = &id;
        else if (!strcmp(name, "secret_key"))
            dst = &key;
        else
            return load_error(file, line, "unknown key \"%s\"", QUOTE(name));
        if (!sec)
            return load_error(file, line, "%s before the first [section]", name);
        if (*dst)
            return load_error(file, line, "%s given twice in [%s]", name, QUOTE(sec));
        *dst = trim(eq + 1);
        if ((ret = check_value(dst == &key, *dst, file, line)) < 0)
            return ret;
        id_line = dst == &id ? line : id_line;
    }
    return end_section(c, file, sec, sec_line, id, id_line, key);
}

static int load_file(LiveRecCredentials *c, const char *file)
{
    struct stat st;
    char *buf = NULL;
    size_t size = 0;
    ssize_t n = 0;
    int fd, ret;

    if ((fd = open(file, O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
        ret = AVERROR(errno);
        av_log(NULL, AV_LOG_ERROR, "%s: %s\n", file, av_err2str(ret));
        goto end;
    }
    /* checked on the open file, so it cannot be swapped in between */
    if (!S_ISREG(st.st_mode)) {
        ret = load_error(file, 0, "not a regular file");
    } else if (st.st_mode & 077) {
        ret = load_error(file, 0, "readable or writable by group or others (mode %03o): it holds "
                         "secret keys, chmod 600 it", (unsigned)(st.st_mode & 0777));
    } else if (st.st_size > MAX_FILE) {
        ret = load_error(file, 0, "larger than 1 MiB");
    } else if (!(buf = av_malloc(st.st_size + 1))) {
        ret = AVERROR(ENOMEM);
    } else {
        while (size < (size_t)st.st_size && (n = read(fd, buf + size, st.st_size - size)) > 0)
            size += n;
        if (n < 0) {
            ret = AVERROR(errno);
            av_log(NULL, AV_LOG_ERROR, "%s: %s\n", file, av_err2str(ret));
        } else {
            buf[size] = 0;
            ret = parse_file(c, file, buf, size);
        }
        wipe(buf, size);
    }
end:
    av_free(buf);
    if (fd >= 0)
        close(fd);
    return ret;
}

int ff_liverec_credentials_load(LiveRecCredentials **c, const char *file)
{
    const char *id = getenv("LIVEREC_SECRET_ID"), *key = getenv("LIVEREC_SECRET_KEY");
    int ret = 0;

    if (!(*c = av_mallocz(sizeof(**c))))
        return AVERROR(ENOMEM);
    id  = id  && *id  ? id  : NULL;
    key = key && *key ? key : NULL;
    if (!id != !key)
        ret = load_error("environment", 0, "LIVEREC_SECRET_%s is set without LIVEREC_SECRET_%s",
                         id ? "ID" : "KEY", id ? "KEY" : "ID");
    else if (id && (ret = check_value(0, id, "LIVEREC_SECRET_ID", 0)) >= 0 &&
             (ret = check_value(1, key, "LIVEREC_SECRET_KEY", 0)) >= 0)
        ret = add_secret(*c, id, key, "LIVEREC_SECRET_ID", 0);
    if (ret >= 0 && file)
        ret = load_file(*c, file);
    if (ret < 0) {
        ff_liverec_credentials_free(c);
        return ret;
    }
    return (*c)->nb;
}

static av_printf_format(4, 5) int deny(const char **code, const char *c, AVBPrint *why,
                                       const char *fmt, ...)
{
    va_list ap;

    *code = c;
    va_start(ap, fmt);
    av_vbprintf(why, fmt, ap);
    va_end(ap);
    return AVERROR(EACCES);
}

static int sha256_hex(const void *data, size_t len, char out[65])
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t sum[32];

    if (!sha)
        return AVERROR(ENOMEM);
    av_sha_init(sha, 256);
    av_sha_update(sha, data, len);
    av_sha_final(sha, sum);
    av_free(sha);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", sum[i]);
    return 0;
}

typedef struct Auth {
    char buf[MAX_AUTH + 1];
    char *id, *date, *service, *signed_headers, *signature;
} Auth;

static int is_date(const char *d)
{
    /* stops at the first byte that does not fit, so never reads past the end */
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? d[i] != '-' : !av_isdigit(d[i]))
            return 0;
    return !d[10];
}

/* "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=a;b, Signature=HEX" */
static int parse_auth(Auth *a, const char *auth, const char **code, AVBPrint *why)
{
    static const char *const names[] = { "Credential", "SignedHeaders", "Signature" };
    char **f[] = { &a->id, &a->signed_headers, &a->signature }, *save, *tok, *end;

    if (!auth || !*auth)
        return deny(code, E_AUTH, why, "no Authorization header");
    if (av_strnlen(auth, MAX_AUTH + 1) > MAX_AUTH)
        return deny(code, E_AUTH, why, "Authorization is longer than %d bytes", MAX_AUTH);
    if (strncmp(auth, "TC3-HMAC-SHA256 ", 16))
        return deny(code, E_AUTH, why, "the algorithm is not TC3-HMAC-SHA256");
    av_strlcpy(a->buf, auth + 16, sizeof(a->buf));
    for (tok = av_strtok(a->buf, ",", &save); tok; tok = av_strtok(NULL, ",", &save)) {
        char *eq = strchr(tok = trim(tok), '=');
        int i = 0;
        while (i < 3 && (!eq || strncmp(tok, names[i], eq - tok) || names[i][eq - tok]))
            i++;
        if (i == 3 || *f[i])
            return deny(code, E_AUTH, why, "unknown or repeated field \"%s\" in Authorization",
                        QUOTE(tok));
        *f[i] = eq + 1;
    }
    if (!a->id || !a->signed_headers || !a->signature)
        return deny(code, E_AUTH, why, "Authorization needs Credential, SignedHeaders, Signature");
    if (!(a->date = strchr(a->id, '/')) || a->date == a->id ||
        !(a->service = strchr(a->date + 1, '/')) || !(end = strchr(a->service + 1, '/')) ||
        strcmp(end, "/tc3_request"))
        return deny(code, E_AUTH, why, "Credential is not SecretId/date/service/tc3_request");
    *a->date++ = *a->service++ = *end = 0;
    if (!is_date(a->date))
        return deny(code, E_AUTH, why, "the Credential's date is not YYYY-MM-DD");
    if (!*a->service || strlen(a->service) > MAX_NAME ||
        a->service[strspn(a->service, "abcdefghijklmnopqrstuvwxyz0123456789_-")])
        return deny(code, E_AUTH, why, "the Credential's service is not a lowercase name");
    if (strlen(a->signature) != 64 || strspn(a->signature, "0123456789abcdef") != 64)
        return deny(code, E_AUTH, why, "the Signature is not 64 lowercase hexadecimal digits");
    return 0;
}

/* CanonicalRequest into bp, checking the signed headers on the way */
static int canonical_request(AVBPrint *bp, const Auth *a, const char *method, const char *path,
                             const char *query, LiveRecHeaderGetter header, void *opaque,
                             const char *body, size_t body_len, const char **code, AVBPrint *why)
{
    char names[MAX_SIGNED][MAX_NAME + 1], hash[65];
    int nb = 0, need = 0, ret;

    av_bprintf(bp, "%s\n%s\n%s\n", method, path, query);
    for (const char *p = a->signed_headers; ; p += strlen(names[nb - 1]) + 1) {
        size_t n = strcspn(p, ";");
        const char *v;

        if (nb == MAX_SIGNED || !n || n > MAX_NAME ||
            strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != n)
            return deny(code, E_AUTH, why, "SignedHeaders is not 1 to %d lowercase header names "
                        "separated by ';'", MAX_SIGNED);
        av_strlcpy(names[nb], p, n + 1);
        for (int i = 0; i < nb; i++)
            if (!strcmp(names[i], names[nb]))
                return deny(code, E_AUTH, why, "SignedHeaders names %s twice", names[nb]);
        need |= (strcmp(names[nb], "content-type") ? 0 : 1) | (strcmp(names[nb], "host") ? 0 : 2);
        if (!(v = header(opaque, names[nb])))
            return deny(code, E_AUTH, why, "the signed header %s is not in the request", names[nb]);
        if ((n = av_strnlen(v, MAX_VALUE + 1)) > MAX_VALUE)
            return deny(code, E_AUTH, why, "the header %s is longer than %d bytes",
                        names[nb], MAX_VALUE);
        for (; n && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
            ;
        for (; n && (*v == ' ' || *v == '\t'); n--)
            v++;
        av_bprintf(bp, "%s:", names[nb++]);
        for (size_t i = 0; i < n; i++) {
            /* a line break in a value would let two different requests sign alike */
            if (((uint8_t)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
                return deny(code, E_AUTH, why, "the header %s holds control characters",
                            names[nb - 1]);
            av_bprint_chars(bp, av_tolower(v[i]), 1);
        }
        av_bprint_chars(bp, '\n', 1);
        if (!p[strlen(names[nb - 1])])
            break;
    }
    if (need != 3)
        return deny(code, E_AUTH, why, "SignedHeaders does not include content-type and host");
    if ((ret = sha256_hex(body ? body : "", body_len, hash)) < 0)
        return ret;
    av_bprintf(bp, "\n%s\n%s", a->signed_headers, hash);
    return av_bprint_is_complete(bp) ? 0 : AVERROR(ENOMEM);
}

int ff_liverec_tc3_verify(const LiveRecCredentials *c, const char *method, const char *path,
                          const char *query, LiveRecHeaderGetter header, void *opaque,
                          const char *body, size_t body_len, int64_t now,
                          const char **code, AVBPrint *why)
{
    const char *ts = header(opaque, "X-TC-Timestamp"), *key = NULL, *payload;
    char digest[65], want[65], today[16], tc3_key[3 + MAX_KEY + 1];
    uint8_t k[32];
    unsigned diff = 0;
    AVHMAC *hmac;
    AVBPrint bp;
    struct tm tm;
    Auth a = { 0 };
    int64_t t;
    int ret;

    if ((ret = parse_auth(&a, header(opaque, "Authorization"), code, why)) < 0)
        return ret;
    if (!ts)
        return deny(code, "MissingParameter", why, "no X-TC-Timestamp header");
    if (!*ts || av_strnlen(ts, 13) > 12 || ts[strspn(ts, "0123456789")])
        return deny(code, "InvalidParameter", why, "X-TC-Timestamp is not a Unix time in seconds");
    t = strtoll(ts, NULL, 10);
    /* unsigned, the difference is exact whatever now is: t is at most 10^12 */
    if ((t >= now ? (uint64_t)t - (uint64_t)now : (uint64_t)now - (uint64_t)t) > MAX_SKEW)
        return deny(code, E_EXPIRED, why, "X-TC-Timestamp is more than %d s away from the "
                    "server's time (%"PRId64")", MAX_SKEW, now);
    for (int i = 0; c && i < c->nb && !key; i++)
        if (!strcmp(c->s[i].id, a.id))
            key = c->s[i].key;
    if (!key)
        return deny(code, E_NO_ID, why, "SecretId %s is not known", QUOTE(a.id));
    if (!gmtime_r(&(time_t){ t }, &tm) || !strftime(today, sizeof(today), "%Y-%m-%d", &tm) ||
        strcmp(today, a.date))
        return deny(code, E_SIGNATURE, why, "the Credential's date is not the UTC date of "
                    "X-TC-Timestamp (%s)", today);
    /* the SDKs can leave the body out of the signature: it would then be anyone's to change */
    payload = header(opaque, "X-TC-Content-SHA256");
    if (payload && !av_strcasecmp(payload, "UNSIGNED-PAYLOAD"))
        return deny(code, E_SIGNATURE, why, "the body must be signed (not UNSIGNED-PAYLOAD)");
    method = method ? method : "";
    path   = path   ? path   : "/";
    query  = query  ? query  : "";
    if (av_strnlen(method, MAX_NAME + 1) > MAX_NAME ||
        av_strnlen(path, MAX_VALUE + 1) > MAX_VALUE || av_strnlen(query, MAX_VALUE + 1) > MAX_VALUE)
        return deny(code, E_AUTH, why, "the request's method, path or query is too long");

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    if ((ret = canonical_request(&bp, &a, method, path, query, header, opaque, body, body_len,
                                 code, why)) < 0 ||
        (ret = sha256_hex(bp.str, bp.len, digest)) < 0)
        goto end;
    av_bprint_clear(&bp);
    av_bprintf(&bp, "TC3-HMAC-SHA256\n%s\n%s/%s/tc3_request\n%s", ts, a.date, a.service, digest);
    if (!av_bprint_is_complete(&bp) || !(hmac = av_hmac_alloc(AV_HMAC_SHA256))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    /* each step's key is the MAC of the step before (av_hmac_calc() takes it before writing) */
    snprintf(tc3_key, sizeof(tc3_key), "TC3%s", key);
    av_hmac_calc(hmac, (uint8_t *)a.date, 10, (uint8_t *)tc3_key, strlen(tc3_key), k, 32);
    av_hmac_calc(hmac, (uint8_t *)a.service, strlen(a.service), k, 32, k, 32);
    av_hmac_calc(hmac, (const uint8_t *)"tc3_request", 11, k, 32, k, 32);
    av_hmac_calc(hmac, (uint8_t *)bp.str, bp.len, k, 32, k, 32);
    av_hmac_free(hmac);
    wipe(tc3_key, sizeof(tc3_key));
    for (int i = 0; i < 32; i++)
        snprintf(want + 2 * i, 3, "%02x", k[i]);
    /* every byte is compared whatever matched before: the time taken tells nothing */
    for (int i = 0; i < 64; i++)
        diff |= want[i] ^ a.signature[i];
    ret = diff ? deny(code, E_SIGNATURE, why, "the signature does not match") : 0;
end:
    av_bprint_finalize(&bp, NULL);
    return ret;
}
