#!/bin/sh
# Hostile hooks (issue 11, "Limits and bad input", "HookToken", "Hostile hooks"): the hook paths of
# ffliverec -serve face whatever reaches its port. With a real nginx-rtmp origin and the service
# (four Origins, one of each type, Domain example.com; a rule recording MP4 for everything;
# Service MaxSessions="2"; a callback receiver):
# 1. a seeded driver (seed 11) sends ~400 requests over every hook path: valid bodies mutated
#    (cut, bytes flipped, huge values, deep JSON, wrong types, invalid UTF-8, NUL bytes, duplicate
#    keys, wrong content types, missing fields), hostile names ("../../etc", "a/b", "..", "%2e%2e",
#    long, spaces, newlines, unicode, NUL, invalid UTF-8, paths to /tmp and /etc with a marker),
#    bodies over 64 KiB (plain and chunked: 400; exactly 64 KiB: read), wrong methods (405),
#    unknown paths (404), a parallel burst, with stalled connections held open. Every request is
#    answered (200/400/403/404/405 as expected for its kind), the service stays alive and answers
#    between batches; a push with a bad name gets its record_start_failed event (saying why) and
#    never becomes a path: nothing is written outside the spool and the state folder, the spool
#    has folders for valid names only, no marker path exists anywhere; events carry valid
#    signatures. SIGTERM: exit 0 within 10 s.
# 2. restarted with <Service HookToken="s3cret-token"/>: no token, wrong tokens, the token in the
#    body -> 403 at every path and nothing done; ?token=s3cret-token -> 200 and the hook handled.
# 3. MaxSessions=2: three real pushes at once through nginx-rtmp (hooks carry the token) ->
#    exactly two recorded (MP4 files of the push's length), the third published anyway, the log
#    says why it is not recorded, and its record_start_failed reaches the callback receiver.
#    SIGTERM: exit 0 within 10 s.
. "$(dirname "$0")/lib.sh"
lr_init serve-hostile
t_start=$(date +%s)
TOKEN=s3cret-token
KEY=hostile-key
MARK=lrhostile$$
T=$LR_DIR/t                      # everything this test writes besides logs
mkdir -p "$T"
failures=0
# a failed check is reported at once; the test goes on, so that one run shows every problem
check_fail() {
    lr_log "FAIL: $*"
    failures=$((failures + 1))
}

LR_SERVE_PORT=$(lr_free_port)
lr_callback_start
LR_NGINX_HOOK="http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp?token=$TOKEN" lr_nginx_start

write_cfg() { # FILE SERVICE_ATTRIBUTES
    pull="rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}"
    cat > "$1" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="$pull" Domain="example.com"/>
  <Origin Type="srs" PullUrl="$pull" Domain="example.com"/>
  <Origin Type="mediamtx" PullUrl="$pull" Domain="example.com"/>
  <Origin Type="node-media-server" PullUrl="$pull" Domain="example.com"/>
  <Callback Url="$LR_CALLBACK_URL" Key="$KEY" MaxAttempts="3" RetryInterval="1"/>
  <Service $2/>
  <Template TemplateId="1" TemplateName="mp4"><Mp4Param Enable="1" RecordInterval="1800" StorageTime="0"/></Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
EOF
    "$LR_BUILD/ffliverec" -hide_banner -config "$1" -check > "$1.check" 2>&1 ||
        lr_fail "$(basename "$1") is refused: $(cat "$1.check")"
}

# SIGTERM: the service must exit by itself within 10 s with status 0
serve_stop() { # WHICH
    t0=$(date +%s.%N)
    kill -TERM "$LR_SERVE_PID"
    i=0
    while kill -0 "$LR_SERVE_PID" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$LR_SERVE_PID" 2>/dev/null; then
        check_fail "$1: still running 10 s after SIGTERM"
        lr_stop "$LR_SERVE_PID"
        return
    fi
    wait "$LR_SERVE_PID"
    st=$?
    LR_PIDS=$(echo " $LR_PIDS " | sed "s/ $LR_SERVE_PID / /")   # gone: never signalled again
    lr_log "$1: exited (status $st) $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after SIGTERM"
    [ $st = 0 ] || check_fail "$1: exit status $st after SIGTERM"
}

cat > "$T/driver.py" <<'PY'
# The hostile-hook driver. Modes:
#   fuzz PORT PID MARK TDIR RTMP_PORT  send the seeded requests, check each answer and liveness
#   events TDIR CALLBACKS KEY          check the callback events against TDIR/expect.json
#   files LR_DIR MARK                  check what exists on disk
#   token PORT TOKEN TDIR              the HookToken checks
import hashlib, http.client, json, os, random, re, socket, sys, time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote_from_bytes

VALID = re.compile(r"[A-Za-z0-9_.~-]{1,128}")
PATHS = ["/hook/nginx-rtmp", "/hook/srs", "/hook/mediamtx", "/hook/node-media-server"]
FORM = "application/x-www-form-urlencoded"

def valid_name(s):
    return isinstance(s, str) and VALID.fullmatch(s) is not None and s not in (".", "..")

def fenc(pairs):
    out = []
    for k, v in pairs:
        if isinstance(v, str):
            v = v.encode()
        out.append(k + "=" + quote_from_bytes(v, safe=""))
    return "&".join(out).encode()

def send(port, method, path, body=b"", ct=None, headers=None, chunked=False, timeout=8):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if ct is not None:
        h["Content-Type"] = ct
    try:
        if chunked:
            c.request(method, path, body=iter([body[i:i + 8192] for i in range(0, len(body), 8192)]),
                      headers=h, encode_chunked=True)
        else:
            c.request(method, path, body=body if method not in ("GET", "HEAD") or body else None,
                      headers=h)
        r = c.getresponse()
        b = r.read()
        return r.status, b
    except Exception as e:
        return None, repr(e).encode()
    finally:
        c.close()

def fuzz(port, pid, mark, tdir, rtmp_port):
    rnd = random.Random(11)
    tc = "rtmp://127.0.0.1:%d/live" % rtmp_port
    reqs = []      # dicts: cat, method, path, body, ct, chunked, expect (set)
    expect = {"bad": [], "tagged": [], "push": [], "nulcut": []}
    counter = [0]

    def nid(prefix="fz"):
        counter[0] += 1
        return "%s%03d" % (prefix, counter[0])

    def base(path, name, publish=True, app="live"):
        """a valid body as the origin sends it: (kind, object, content type)"""
        if path == PATHS[0]:
            return ("form", [("call", "publish" if publish else "publish_done"), ("app", app),
                             ("name", name), ("tcurl", tc), ("addr", "127.0.0.1"),
                             ("clientid", str(rnd.randrange(1, 999))), ("flashver", "FMLE/3.0"),
                             ("swfurl", ""), ("pageurl", ""), ("type", "live"), ("k", "v")], FORM)
        if path == PATHS[1]:
            return ("json", {"server_id": "vid-0x1", "service_id": "s1",
                             "action": "on_publish" if publish else "on_unpublish",
                             "client_id": "c%d" % rnd.randrange(999), "ip": "127.0.0.1",
                             "vhost": "__defaultVhost__", "app": app, "tcUrl": tc, "stream": name,
                             "param": "?k=v", "stream_url": "/%s/%s" % (app, name),
                             "stream_id": "vid-1"}, "application/json")
        if path == PATHS[2]:
            return ("json", {"action": "ready" if publish else "notready", "path": "%s/%s" % (app, name),
                             "query": "k=v", "source_type": "rtmpConn", "source_id": "x1"},
                    "application/json")
        return ("json", {"action": "postPublish" if publish else "donePublish", "id": "ID%d" % rnd.randrange(99),
                         "ip": "127.0.0.1:%d" % rnd.randrange(1024, 65535), "app": app, "name": name,
                         "query": {"k": "v"}, "protocol": "rtmp", "createtime": 1, "endtime": 0,
                         "inbytes": 0, "outbytes": 0, "filePath": "", "key": "%s/%s" % (app, name)},
                "text/plain")

    def encode(kind, obj, ascii_only=True):
        return fenc(obj) if kind == "form" else json.dumps(obj, ensure_ascii=ascii_only).encode()

    def add(cat, path, body=b"", ct=None, exp=(200,), method="POST", chunked=False):
        reqs.append({"cat": cat, "method": method, "path": path, "body": body, "ct": ct,
                     "chunked": chunked, "expect": set(exp)})

    # -- valid hooks of every kind (the pushes do not exist: sessions give up on their own)
    for path in PATHS:
        for publish in (True, True, False):
            kind, obj, ct = base(path, nid(), publish)
            add("valid", path, encode(kind, obj), ct)
    # hooks that are not about publishing: answered 200
    add("other-call", PATHS[0], fenc([("call", "play"), ("app", "live"), ("name", "p1")]), FORM)
    add("other-call", PATHS[0], fenc([("call", "connect"), ("app", "live"), ("name", "p1")]), FORM)
    add("other-call", PATHS[1], json.dumps({"action": "on_play", "app": "live", "stream": "p1"}).encode(), "application/json")
    add("other-call", PATHS[1], json.dumps({"action": "on_dvr", "app": "live", "stream": "p1"}).encode(), "application/json")
    add("other-call", PATHS[3], json.dumps({"action": "prePublish", "app": "live", "name": "p1"}).encode(), "text/plain")
    add("other-call", PATHS[3], json.dumps({"action": "postPlay", "app": "live", "name": "p1"}).encode(), "text/plain")

    # -- hostile names, in well-formed bodies: 200, not recorded, a record_start_failed each
    hostile = ["../../etc", "a/b", "..", ".", "%2e%2e", "%2e%2e%2f%2e%2e", "..%2f..%2fetc",
               "/etc/%s-abs" % mark, "../../../../../../../../../../tmp/%s-up" % mark,
               "../../../%s-rel" % mark, "..\\..\\%s-bs" % mark, "x" * 200, "a" * 129,
               "has space", "new\nline", "cr\r\nX-Injected: 1", "tab\there", "\u00fcn\u00efc\u00f8d\u00e9",
               "\u65e5\u672c\u8a9e", "emoji\U0001F600", "semi;colon", "quote'\"", "$(touch /tmp/%s-sh)" % mark,
               "`id`", "", "C:\\x", "\u00e9" * 600, "nul-esc\\u0000", "dot/./x", "%00", "*", "?q=1", "#frag"]
    # valid however odd: recorded like any other (a folder of that name is fine)
    odd_valid = ["a" * 128, "...", "~", "-", "_.-~", "A.B-c_d~e"]

    def hostile_req(path, value, publish, field):
        kind, obj, ct = base(path, nid("hv"), publish)
        domain, app, stream = "example.com", "live", None
        if path == PATHS[0]:
            key = "app" if field == "app" else "name"
            obj = [(k, value if k == key else v) for k, v in obj]
            d = dict(obj)
            app, stream = d["app"], d["name"]
        elif path == PATHS[1]:
            key = {"app": "app", "stream": "stream", "vhost": "vhost"}[field]
            obj[key] = value
            if field == "vhost" and value and value != "__defaultVhost__":
                domain = value
            app, stream = obj["app"], obj["stream"]
        elif path == PATHS[2]:
            obj["path"] = ("%s/%s" % (value, obj["path"].split("/")[1]) if field == "app"
                           else "live/%s" % value)
            app, _, stream = obj["path"].rpartition("/")
        else:
            key = "app" if field == "app" else "name"
            obj[key] = value
            app, stream = obj["app"], obj["name"]
        body = encode(kind, obj, ascii_only=rnd.random() < 0.5)
        bad = not (valid_name(domain) and valid_name(app) and valid_name(stream))
        add("hostile-name" if bad else "odd-valid-name", path, body, ct)
        if bad and publish:
            expect["bad"].append([domain, app, stream])

    for value in hostile + odd_valid:
        for path in PATHS:
            field = rnd.choice(["app", "stream", "stream"] + (["vhost"] if path == PATHS[1] and len(value.encode()) < 250 else []))
            hostile_req(path, value, rnd.random() < 0.85, field)

    # names that only a form can carry: bytes that are not UTF-8, a NUL byte
    for k in range(4):
        tag = "ufz%02d" % k
        obj = base(PATHS[0], "x")[1]
        raw = tag.encode() + rnd.choice([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])
        add("hostile-name", PATHS[0], fenc([(k2, raw if k2 == "name" else v) for k2, v in obj]), FORM)
        expect["tagged"].append(tag)
    for k in range(3):
        tag = "nulcut%02d" % k
        obj = base(PATHS[0], "x")[1]
        raw = tag.encode() + b"\x00" + rnd.choice([b"../../etc", b"/x", b" y"])
        add("hostile-name", PATHS[0], fenc([(k2, raw if k2 == "name" else v) for k2, v in obj]), FORM)
        expect["tagged"].append(tag)
        expect["nulcut"].append(tag)
    # a valid push whose publisher arguments (or address) are not UTF-8: its push event (1) is due
    for k, (arg, val) in enumerate([("x", b"\xff\xfe"), ("addr", b"10.0.0.\xff")]):
        name = "utf8param%d" % k
        obj = [(a, v) for a, v in base(PATHS[0], name)[1] if a != arg] + [(arg, val)]
        add("odd-valid-name", PATHS[0], fenc(obj), FORM)
        expect["push"].append(name)

    # -- required fields missing: 400
    add("missing-field", PATHS[0], fenc([("call", "publish"), ("app", "live")]), FORM, (400,))
    add("missing-field", PATHS[0], fenc([("app", "live"), ("name", "m1")]), FORM, (400,))
    add("missing-field", PATHS[0], b"call=publish&app=live&name", FORM, (400,))
    add("missing-field", PATHS[1], json.dumps({"action": "on_publish", "app": "live"}).encode(), "application/json", (400,))
    add("missing-field", PATHS[1], json.dumps({"app": "live", "stream": "m1"}).encode(), "application/json", (400,))
    add("missing-field", PATHS[2], json.dumps({"action": "ready"}).encode(), "application/json", (400,))
    add("missing-field", PATHS[2], json.dumps({"path": "live/m1"}).encode(), "application/json", (400,))
    add("missing-field", PATHS[2], json.dumps({"action": "ready", "path": "noslash"}).encode(), "application/json", (400,))
    add("missing-field", PATHS[3], json.dumps({"action": "postPublish", "app": "live"}).encode(), "text/plain", (400,))
    add("missing-field", PATHS[3], json.dumps({"app": "live", "name": "m1"}).encode(), "text/plain", (400,))
    # not a body these paths read at all: 400
    for path in PATHS[1:]:
        for b in (b"", b"null", b"[]", b"\"s\"", b"42", b"{", b"{}{}", b"\x00", b"{\"a\":1,\"a\":2}",
                  b'{"action":"on_publish","app":"live","stream":"a\\u0000b","path":"l/a\\u0000b","name":"a\\u0000b"}'):
            add("not-json", path, b, "application/json", (400,))
    add("wrong-ct", PATHS[0], fenc(base(PATHS[0], nid())[1]), "application/json", (400,))
    add("wrong-ct", PATHS[0], fenc(base(PATHS[0], nid())[1]), "multipart/form-data; boundary=x", (400,))
    add("wrong-ct", PATHS[0], fenc(base(PATHS[0], nid())[1]), None, (400,))

    # -- mutations of valid bodies: 200 or 400, never anything else
    ops = ["cut", "flip", "huge", "deep", "type", "utf8", "nul", "dup", "ct", "drop", "garbage",
           "twice", "empty-values"]
    for i in range(120):
        path = PATHS[i % 4]
        op = ops[rnd.randrange(len(ops))]
        kind, obj, ct = base(path, nid("mu"), rnd.random() < 0.8)
        if op == "huge":
            n = rnd.choice([1000, 5000, 30000, 60000])
            if kind == "form":
                j = rnd.randrange(len(obj))
                obj[j] = (obj[j][0], "x" * n)
            else:
                obj[rnd.choice(list(obj))] = rnd.choice(["x" * n, 10 ** 30, -(10 ** 19), 1e308])
            body = encode(kind, obj)
        elif op == "deep":
            d = rnd.choice([50, 500, 2047, 2049, 5000, 20000])
            if kind == "form":
                body = encode(kind, obj) + b"&" + b"a" + b"[b]" * min(d, 2000) + b"=1"
            else:
                body = encode(kind, obj)[:-1] + b', "deep": ' + b"[" * d + b"]" * d + b"}"
        elif op == "type" and kind == "form":
            j = rnd.randrange(len(obj))
            obj[j] = (obj[j][0] + "[]", obj[j][1])
            body = encode(kind, obj)
        elif op == "type" and kind == "json":
            obj[rnd.choice(list(obj))] = rnd.choice([None, True, 7, 1.5, [], {}, ["live"], {"a": "b"}])
            body = encode(kind, obj)
        elif op == "dup":
            if kind == "form":
                j = rnd.randrange(len(obj))
                obj.append(obj[j])
                body = encode(kind, obj)
            else:
                k = rnd.choice(list(obj))
                body = encode(kind, obj)[:-1] + b", " + json.dumps(k).encode() + b": \"dup\"}"
        elif op == "drop":
            if kind == "form":
                obj.pop(rnd.randrange(len(obj)))
            else:
                obj.pop(rnd.choice(list(obj)))
            body = encode(kind, obj)
        elif op == "empty-values":
            if kind == "form":
                obj = [(k, "") for k, v in obj]
            else:
                obj = {k: "" for k in obj}
            body = encode(kind, obj)
        else:
            body = bytearray(encode(kind, obj))
            if op == "cut":
                body = body[:rnd.randrange(len(body))]
            elif op == "flip":
                for _ in range(rnd.randint(1, 8)):
                    body[rnd.randrange(len(body))] = rnd.randrange(256)
            elif op in ("utf8", "nul"):
                seq = rnd.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xf0\x28\x8c\x28", b"\xed\xa0\x80"]) if op == "utf8" else b"\x00"
                if kind == "form" and rnd.random() < 0.5:
                    seq = quote_from_bytes(seq, safe="").encode()
                j = rnd.randrange(len(body))
                body[j:j] = seq
            elif op == "garbage":
                body = bytearray(rnd.randbytes(rnd.randrange(1, 3000)))
            elif op == "twice":
                body = body + body
            elif op == "ct":
                ct = rnd.choice(["text/html", "application/octet-stream", "application/json; charset=utf-16",
                                 FORM, "text/plain", "", "multipart/form-data"])
            body = bytes(body)
        add("mutated-" + op, path, body, ct, (200, 400))

    # -- sizes: exactly 64 KiB is read, more is 400 (also sent chunked)
    for path in PATHS:
        kind, obj, ct = base(path, nid("sz"))
        if kind == "form":
            b0 = encode(kind, obj) + b"&pageurl="
            exact = b0 + b"p" * (65536 - len(b0))
        else:
            b0 = encode(kind, obj)
            exact = b0 + b" " * (65536 - len(b0))
        assert len(exact) == 65536
        add("size-64KiB", path, exact, ct, (200,))
        add("oversized", path, exact + b" ", ct, (400,))
        add("oversized", path, exact * 2, ct, (400,))
        add("oversized", path, b"{" * (1 << 20), ct, (400,))
        add("oversized-chunked", path, exact + b"      ", ct, (400,), chunked=True)
    # -- wrong methods: 405
    for path in PATHS:
        for m in ("GET", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"):
            add("method", path, b"", None, (405,), method=m)
    # -- unknown paths: 404
    # ("/" is the API (POST) and the status page (GET) since issue 12: t-serve-api* try it)
    for p in ("/hook", "/hook/", "/hook/nginx", "/hook/nginx-rtmp/", "/hook/SRS", "/hooks/srs",
              "/hook/srs/extra", "/api/v1/streams", "/" + "x" * 3000, "/hook/%2e%2e/hook/srs"):
        add("unknown-path", p, b"{}", "application/json", (404,), method=rnd.choice(["POST", "GET"]))
    # libmicrohttpd decodes the path before it is routed: %00 ends it, so this is the hook itself
    add("unknown-path", "/hook/nginx-rtmp%00x", b"{}", "application/json", (404, 405), method="GET")

    # shuffle all but the last: the parallel burst is the last 40
    rnd.shuffle(reqs)
    # the sentinel: once its event arrives, every event queued before it was sent
    add("sentinel", PATHS[1], json.dumps({"action": "on_publish", "app": "live", "stream": "zz sentinel",
                                          "vhost": "__defaultVhost__"}).encode(), "application/json")
    expect["sentinel"] = ["example.com", "live", "zz sentinel"]

    # stalled connections, held open the whole run: they must not hold up anyone else
    stalls = []
    for raw in (b"POST /hook/srs HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"act",
                b"POST /hook/nginx-rtmp HTTP/1.1\r\nHo", b""):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(raw)
        stalls.append(s)

    results = []
    bad = []

    def run(i):
        r = reqs[i]
        t0 = time.time()
        st, b = send(port, r["method"], r["path"], r["body"], r["ct"], chunked=r["chunked"])
        return i, st, b, time.time() - t0

    def alive(where):
        try:
            os.kill(pid, 0)
        except OSError:
            bad.append("the service is gone (%s)" % where)
            return False
        st, _ = send(port, "GET", "/liveness-check", timeout=5)
        if st != 404:
            bad.append("the service does not answer (%s): %s" % (where, st))
            return False
        return True

    serial = len(reqs) - 41
    for i in range(serial):
        results.append(run(i))
        if i % 25 == 24 and not alive("after request %d" % (i + 1)):
            break
    else:
        with ThreadPoolExecutor(8) as ex:
            results += list(ex.map(run, range(serial, len(reqs) - 1)))
        alive("after the parallel burst")
        results.append(run(len(reqs) - 1))
        alive("at the end")
    for s in stalls:
        s.close()

    by_status, by_path, by_cat, slow = {}, {}, {}, 0
    with open(os.path.join(tdir, "requests.jsonl"), "w") as f:
        for i, st, b, dt in results:
            r = reqs[i]
            by_status[st] = by_status.get(st, 0) + 1
            pk = r["path"] if r["path"] in PATHS else "(other)"
            by_path.setdefault(pk, {})
            by_path[pk][st] = by_path[pk].get(st, 0) + 1
            by_cat.setdefault(r["cat"], {})
            by_cat[r["cat"]][st] = by_cat[r["cat"]].get(st, 0) + 1
            slow += dt > 1
            f.write(json.dumps({"i": i, "cat": r["cat"], "method": r["method"], "path": r["path"][:80],
                                "len": len(r["body"]), "status": st, "ms": round(dt * 1000, 1),
                                "answer": b[:120].decode("utf-8", "replace"),
                                "body": r["body"][:200].decode("latin-1")}) + "\n")
            if st is not None and r["method"] != "HEAD":
                try:
                    code = json.loads(b)["code"]
                except Exception:
                    code = "not JSON"
                if code != (0 if st == 200 else st):
                    bad.append("#%d %s %s %s: answer %s with the body %r" % (
                        i, r["cat"], r["method"], r["path"][:60], st, b[:100]))
            if st not in r["expect"]:
                bad.append("#%d %s %s %s (%d bytes%s): answered %s, expected %s; %s" % (
                    i, r["cat"], r["method"], r["path"][:60], len(r["body"]),
                    ", chunked" if r["chunked"] else "", st, sorted(r["expect"]),
                    b[:100].decode("utf-8", "replace")))
    with open(os.path.join(tdir, "expect.json"), "w") as f:
        json.dump(expect, f)
    key = lambda v: -1 if v is None else v
    print("%d requests; per status: %s" % (len(results), ", ".join(
        "%s: %d" % (k, by_status[k]) for k in sorted(by_status, key=key))))
    for p in sorted(by_path):
        print("  %-26s %s" % (p, ", ".join("%s: %d" % (k, v) for k, v in sorted(by_path[p].items(), key=lambda kv: key(kv[0])))))
    print("  per kind: " + "; ".join("%s %s" % (c, "/".join("%s:%d" % (k, v) for k, v in sorted(s.items(), key=lambda kv: key(kv[0]))))
                                    for c, s in sorted(by_cat.items())))
    print("  answers slower than 1 s: %d" % slow)
    for b in bad[:15]:
        print("BAD " + b)
    return 1 if bad else 0

def load_events(path):
    ev = []
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            ev.append(json.loads(line)["body"])
    return ev

def clean(x):
    # what the service puts in an event for a name from outside: its bytes as printable ASCII,
    # anything else as '?', at most 512 bytes (jansson refuses what is not UTF-8, and the
    # receiver gets no control characters)
    b = x.encode("utf-8", "surrogateescape")[:512]
    return "".join(chr(c) if 0x20 <= c < 0x7f else "?" for c in b)

def events(tdir, cbpath, key):
    exp = json.load(open(os.path.join(tdir, "expect.json")))
    s = exp["sentinel"]
    end = time.time() + 20
    while time.time() < end:
        ev = load_events(cbpath)
        if any(e.get("record_event") == "record_start_failed" and [e.get("app"), e.get("appname"), e.get("stream_id")] == s for e in ev):
            break
        time.sleep(0.2)
    else:
        print("BAD the sentinel's record_start_failed never arrived")
        return 1
    bad = []
    failed = [e for e in ev if e.get("record_event") == "record_start_failed"]
    have = {}
    for e in failed:
        t = (e.get("app"), e.get("appname"), e.get("stream_id"))
        have[t] = have.get(t, 0) + 1
    want = {}
    for t in exp["bad"]:
        t = tuple(clean(x) for x in t)
        want[t] = want.get(t, 0) + 1
    for t, n in want.items():
        if have.get(t, 0) < n:
            bad.append("a publish with a bad name got %d record_start_failed event(s) of %d: %r" % (
                have.get(t, 0), n, tuple(x if len(x) < 60 else x[:20] + "...(%d chars)" % len(x) for x in t)))
    nowhy = []
    for e in failed:
        if (e.get("app"), e.get("appname"), e.get("stream_id")) in want:
            det = json.loads(e.get("record_detail", "{}")).get("message", "")
            if "not a valid name" not in det:
                nowhy.append(det)
    if nowhy:
        bad.append("%d record_start_failed event(s) for a bad name do not say why (%d bytes of "
                   "message, the reason cut off after the name): %r" % (len(nowhy), len(nowhy[0].encode()), nowhy[0][:60]))
    for tag in exp["tagged"]:
        if not any(tag in "%s %s %s" % (e.get("app"), e.get("appname"), e.get("stream_id")) and
                   "valid name" in e.get("record_detail", "") for e in failed):
            bad.append("a publish whose name is %s+%s got no record_start_failed event saying the name is bad" % (
                tag, "NUL+..." if tag in exp["nulcut"] else "(bytes that are not UTF-8)"))
    for tag in exp["nulcut"]:
        for e in ev:
            if e.get("stream_id") == tag:
                bad.append("the name %s\\0... was taken as the stream '%s' (event_type %s %s)" % (
                    tag, tag, e.get("event_type"), e.get("record_event", "")))
                break
    for name in exp["push"]:
        if not any(e.get("event_type") == 1 and e.get("stream_id") == name for e in ev):
            bad.append("the valid push %s (publisher arguments or address not UTF-8) got no push event (1)" % name)
    nsig = 0
    for e in ev:
        if hashlib.md5((key + str(e.get("t"))).encode()).hexdigest() != e.get("sign"):
            nsig += 1
    if nsig:
        bad.append("%d events with a wrong signature" % nsig)
    print("%d events received: %d record_start_failed (%d for %d bad-name publishes expected), %d push (1), %d interruption (0)" % (
        len(ev), len(failed), sum(have.get(t, 0) for t in want), len(exp["bad"]),
        sum(e.get("event_type") == 1 for e in ev), sum(e.get("event_type") == 0 for e in ev)))
    for b in bad:
        print("BAD " + b)
    return 1 if bad else 0

def files(lrdir, mark):
    bad = []
    root = os.fsencode(lrdir)
    # nothing the service wrote outside spool/ and state/ (logs, nginx/ and t/ are the test's)
    for name in os.listdir(root):
        p = os.path.join(root, name)
        if name in (b"spool", b"state", b"nginx", b"t") and os.path.isdir(p):
            continue
        if name.endswith(b".log") or name == b"callbacks.jsonl":
            continue
        bad.append("unexpected %r in %s" % (name, lrdir))
    for name in os.listdir(os.path.join(root, b"state")):
        if not re.fullmatch(rb"ffliverec\.db(-wal|-shm|-journal)?", name):
            bad.append("unexpected %r in state/" % name)
    # the spool: DOMAIN/APP/STREAM folders of valid names, then format folders
    spool = os.path.join(root, b"spool")
    nstreams = 0
    for dirpath, dirs, fnames in os.walk(spool):
        rel = os.path.relpath(dirpath, spool)
        depth = 0 if rel == b"." else rel.count(b"/") + 1
        if depth < 4 and fnames:
            bad.append("files in the spool at %r: %r" % (rel, fnames[:3]))
        for d in dirs:
            if depth < 3:
                try:
                    ok = valid_name(d.decode("ascii"))
                except UnicodeDecodeError:
                    ok = False
                if not ok:
                    bad.append("a spool folder with a bad name: %r" % os.path.join(rel, d))
                nstreams += depth == 2
            elif depth == 3 and d not in (b"mp4", b"flv", b"hls", b"aac") and not d.startswith(b"task-"):
                bad.append("unexpected folder %r" % os.path.join(rel, d))
        if mark.encode() in dirpath or any(mark.encode() in n for n in dirs + fnames):
            bad.append("a marker name in the spool: %r" % rel)
    # marker paths anywhere they could have gone
    places = ["/tmp", "/etc", "/", os.path.dirname(lrdir), os.path.dirname(os.path.dirname(lrdir))]
    for top in places:
        for dirpath, dirs, fnames in os.walk(top):
            if dirpath.count("/") - top.rstrip("/").count("/") >= 3 or dirpath.startswith(lrdir):
                dirs[:] = []
            for n in dirs + fnames:
                if mark in n:
                    bad.append("a marker path exists: %s" % os.path.join(dirpath, n))
            if top == "/":
                dirs[:] = []
    print("spool: %d stream folders, all of valid names" % nstreams if not bad else "spool: %d stream folders" % nstreams)
    for b in bad:
        print("BAD " + b)
    return 1 if bad else 0

def token(port, tok, tdir):
    bad = []
    n = 0
    bodies = {
        PATHS[0]: lambda name: (fenc([("call", "publish"), ("app", "live"), ("name", name),
                                      ("tcurl", "rtmp://other.example.org/live"), ("addr", "127.0.0.1"),
                                      ("clientid", "9")]), FORM),
        PATHS[1]: lambda name: (json.dumps({"action": "on_publish", "vhost": "other.example.org", "app": "live",
                                            "stream": name, "tcUrl": "rtmp://127.0.0.1/live"}).encode(), "application/json"),
        PATHS[2]: lambda name: (json.dumps({"action": "ready", "path": "live/" + name, "query": ""}).encode(), "application/json"),
        PATHS[3]: lambda name: (json.dumps({"action": "postPublish", "app": "live", "name": name, "id": "T1",
                                            "ip": "127.0.0.1:1"}).encode(), "text/plain"),
    }
    wrong = ["", "?token=", "?token=s3cret-toke", "?token=s3cret-tokenX", "?token=S3CRET-TOKEN",
             "?token=s3cret-tokeN", "?tok=" + tok, "?token=%s%%20" % tok,
             "?token=x" + tok[1:], "?token=" + "a" * 5000]
    for path, mk in bodies.items():
        for k, q in enumerate(wrong):
            body, ct = mk("tokbad%d" % k)
            st, b = send(port, "POST", path + q, body, ct)
            n += 1
            if st != 403:
                bad.append("%s%s: %s instead of 403" % (path, q[:40], st))
        if path == PATHS[0]:
            body, ct = mk("tokbad-body")
            st, b = send(port, "POST", path, body + b"&token=" + tok.encode(), ct)
            n += 1
            if st != 403:
                bad.append("%s with the token in the body: %s instead of 403" % (path, st))
        body, ct = mk("tokok%d" % PATHS.index(path))
        st, b = send(port, "POST", path + "?token=" + tok, body, ct)
        n += 1
        if st != 200:
            bad.append("%s?token=(right): %s instead of 200: %r" % (path, st, b[:100]))
        # a request that is bad in itself still needs the token first
        st, b = send(port, "POST", path, b"{not json", "application/json")
        n += 1
        if st != 403:
            bad.append("%s: a bad body without the token answered %s, not 403" % (path, st))
    print("%d token requests" % n)
    for b in bad:
        print("BAD " + b)
    return 1 if bad else 0

if __name__ == "__main__":
    m = sys.argv[1]
    if m == "fuzz":
        sys.exit(fuzz(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])))
    if m == "events":
        sys.exit(events(sys.argv[2], sys.argv[3], sys.argv[4]))
    if m == "files":
        sys.exit(files(sys.argv[2], sys.argv[3]))
    if m == "token":
        sys.exit(token(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
PY

# ---- 1. hostile requests at every hook path
write_cfg "$T/open.xml" 'MaxSessions="2"'
lr_serve_start "$T/open.xml" serve-1.log
lr_log "ffliverec -serve (pid $LR_SERVE_PID) on $LR_SERVE_URL"
t1=$(date +%s.%N)
python3 "$T/driver.py" fuzz "$LR_SERVE_PORT" "$LR_SERVE_PID" "$MARK" "$T" "$LR_RTMP_PORT" > "$T/fuzz.out" 2>&1 ||
    check_fail "hostile requests: $(grep BAD "$T/fuzz.out" | head -15)"
sed 's/^/    /' "$T/fuzz.out" >&2
lr_log "requests sent in $(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
kill -0 "$LR_SERVE_PID" 2>/dev/null || lr_fail "the service died during the hostile requests"
python3 "$T/driver.py" events "$T" "$LR_DIR/callbacks.jsonl" "$KEY" > "$T/events.out" 2>&1 ||
    check_fail "events: $(grep BAD "$T/events.out")"
sed 's/^/    /' "$T/events.out" >&2
# a name cut at a NUL byte must not become another stream
for n in nulcut00 nulcut01 nulcut02; do
    ! grep -aq "/live/$n: a push started" "$LR_DIR/serve-1.log" ||
        check_fail "a name with a NUL byte was cut and taken as the stream '$n' (serve-1.log: $(grep -a "/live/$n: " "$LR_DIR/serve-1.log" | head -2 | tr '\n' ' '))"
done
# every line of the log is the service's: a name never starts a line of its own
inj=$(grep -a -n '^X-Injected\|^line'"'"' is not' "$LR_DIR/serve-1.log" | head -3)
[ -z "$inj" ] || check_fail "a name's newline starts a log line of its own: $inj"
serve_stop "the service after the hostile requests"
python3 "$T/driver.py" files "$LR_DIR" "$MARK" > "$T/files.out" 2>&1 ||
    check_fail "files: $(grep BAD "$T/files.out" | head -10)"
sed 's/^/    /' "$T/files.out" >&2

# ---- 2. HookToken
write_cfg "$T/token.xml" "MaxSessions=\"2\" HookToken=\"$TOKEN\""
lr_serve_start "$T/token.xml" serve-2.log
python3 "$T/driver.py" token "$LR_SERVE_PORT" "$TOKEN" "$T" > "$T/token.out" 2>&1 ||
    check_fail "HookToken: $(grep BAD "$T/token.out")"
sed 's/^/    /' "$T/token.out" >&2
for n in tokok0 tokok1 tokok2 tokok3; do
    grep -aq "/live/$n\( is live\|: a push started\)" "$LR_DIR/serve-2.log" ||
        check_fail "the hook with the right token for $n was not handled"
done
! grep -aq "tokbad" "$LR_DIR/serve-2.log" || check_fail "a hook with a wrong token was handled: $(grep -a tokbad "$LR_DIR/serve-2.log" | head -2)"
grep -aq "refused: wrong or missing token" "$LR_DIR/serve-2.log" || check_fail "the token refusals are not logged"
lr_log "HookToken: wrong or missing tokens refused, the right token handled at all four paths"
# the right-token hooks of mediamtx and node-media-server started sessions (for pushes that do
# not exist): start afresh, so that the two sessions MaxSessions allows are free
serve_stop "the service after the token checks"
lr_serve_start "$T/token.xml" serve-3.log

# ---- 3. MaxSessions="2": three real pushes at once
lr_log "three pushes at once (MaxSessions 2)"
for n in ms1 ms2 ms3; do
    lr_push_bg "$n" 8
    eval "push_$n=\$LR_LAST_PID"
done
for n in ms1 ms2 ms3; do
    eval "pid=\$push_$n"
    lr_wait_pid "$pid" 30
    st=$?
    [ $st = 0 ] || check_fail "the push of $n failed with status $st (the recorder must never refuse a publish): $(tail -2 "$LR_DIR/push-$n.log")"
done
# the two recordings end once their pull sees the push gone
i=0
while [ "$(grep -ac 'finished: .*/live/ms[123]/mp4/' "$LR_DIR/serve-3.log")" -lt 2 ] && [ $i -lt 150 ]; do
    sleep 0.1
    i=$((i + 1))
done
recorded="" notrec=""
for n in ms1 ms2 ms3; do
    f=$(find "$LR_DIR/spool/example.com/live/$n" -name '*.mp4' 2>/dev/null | head -1)
    if [ -n "$f" ]; then
        d=$(lr_duration "$f")
        awk -v d="$d" 'BEGIN { exit !(d >= 5) }' || check_fail "$n: the recording is $d s of an 8 s push"
        recorded="$recorded $n"
    else
        notrec="$notrec $n"
    fi
done
lr_log "recorded:$recorded; not recorded:$notrec"
[ "$(echo $recorded | wc -w)" = 2 ] || check_fail "MaxSessions 2: recorded:$recorded instead of exactly two"
if [ "$(echo $notrec | wc -w)" = 1 ]; then
    n=$(echo $notrec)
    grep -aq "example.com/live/$n is not recorded: 2 sessions are running" "$LR_DIR/serve-3.log" ||
        check_fail "the log does not say why $n is not recorded"
    i=0
    until python3 - "$LR_DIR/callbacks.jsonl" "$n" <<'PY'
import json, sys
ev = [json.loads(l)["body"] for l in open(sys.argv[1])]
sys.exit(not any(e.get("stream_id") == sys.argv[2] and e.get("record_event") == "record_start_failed"
                 and "too many" in e.get("record_detail", "") for e in ev))
PY
    do
        [ $i -lt 50 ] || { check_fail "no record_start_failed event for $n reached the callback receiver"; break; }
        sleep 0.2
        i=$((i + 1))
    done
    [ $i -ge 50 ] || lr_log "$n: record_start_failed (too many live sessions) received"
fi
serve_stop "the service after the pushes"
python3 "$T/driver.py" files "$LR_DIR" "$MARK" > "$T/files-end.out" 2>&1 ||
    check_fail "files at the end: $(grep BAD "$T/files-end.out" | head -10)"
kill -0 "$LR_NGINX_PID" 2>/dev/null || check_fail "nginx died"

lr_log "run time $(( $(date +%s) - t_start )) s"
[ $failures = 0 ] || lr_fail "$failures check(s) failed (see above)"
lr_pass
