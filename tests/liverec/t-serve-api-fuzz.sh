#!/bin/sh
# ffliverec -serve's API (POST /, the cloud's API 3.0) takes requests from the network before it
# knows who sends them, and then parses their JSON into objects it stores: a malformed request
# must be answered, never crash, hang or poison the service. 300 seeded requests (the seed is
# printed; LIVEREC_SEED=N replays it) made by a generator in this file: bodies of every action
# with every parameter of the wrong type, huge numbers, deep nesting, truncated JSON, duplicate
# keys, unicode, NUL and control escapes, 60 KB strings, bodies over 64 KB; garbled headers
# (Authorization variants, X-TC-Timestamp non-numeric, missing or duplicated, X-TC-Action
# missing, duplicated or hostile); other methods and paths; a few malformed HTTP requests; valid
# creations whose strings are awkward (control characters, U+FFFF, XML's specials, emoji). Most
# are signed correctly over the bytes sent, so that they reach the actions. The last 60 go four
# at a time, as an API client's threads would; three that are not HTTP at all go beside them
# (closed without an answer, or 400, without holding up the others).
# Expected: every POST / of at most 64 KB answered HTTP 200 with the cloud's JSON envelope
# ({"Response": {"Error": {"Code", "Message"}, "RequestId"}} or a success), a correctly signed
# one never with AuthFailure.* or InternalError, one whose body is not a JSON object with
# InvalidParameter; a larger body 400; other methods and paths 404/405 (200 for the status
# pages); malformed HTTP a 4xx/505 from the HTTP layer. Afterwards the service is still running
# (same PID), a normal DescribeLiveRecordRules works, its log has no sanitizer report, SIGTERM
# stops it with status 0, it starts again on the state the fuzzing left, and -export of that
# state is a configuration -check accepts.
. "$(dirname "$0")/lib.sh"
lr_init serve-api-fuzz
ffl=$LR_BUILD/ffliverec
seed=${LIVEREC_SEED:-$(date +%s)}
lr_log "seed $seed (LIVEREC_SEED=$seed replays it)"
LIVEREC_SECRET_ID=AKIDliverecFuzzKey01
LIVEREC_SECRET_KEY=fuzz-$seed-secret
export LIVEREC_SECRET_ID LIVEREC_SECRET_KEY
# an origin nothing listens on: nothing is pushed, the API is what is tested; a template, a rule
# and a task of the file's, so that changes to read-only objects are tried too
dead=$(lr_free_port)
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$dead/live/{StreamName}" Domain="example.com"/>
  <Template TemplateId="7" TemplateName="file-mp4"><Mp4Param/></Template>
  <Rule DomainName="example.com" AppName="live" StreamName="filed" TemplateId="7"/>
  <Task TaskId="filetask" DomainName="example.com" AppName="live" StreamName="filed" EndTime="$(( $(date +%s) + 86400 ))" TemplateId="7"/>
</LiveRecordConfig>
X
lr_serve_start "$LR_DIR/serve.xml" serve.log
serve=$LR_SERVE_PID
lr_wait_log serve.log "serving .*1 origin" 10

cat > "$LR_DIR/fuzz.py" <<'PY'
import json, os, random, re, socket, sys, threading, time
from collections import Counter
sys.path.insert(0, os.environ["LR_TESTS"])
import tc3

seed, port = int(sys.argv[1]), int(sys.argv[2])
SID, SKEY = os.environ["LIVEREC_SECRET_ID"], os.environ["LIVEREC_SECRET_KEY"]
HOST = "127.0.0.1:%d" % port
R = random.Random(seed)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BODY_MAX = 64 << 10
NOW = int(time.time())

class Raw:
    """JSON text put into a body as it is (NaN, 1e999, lone surrogates, ...)"""
    def __init__(self, text):
        self.text = text

S, I, B, P, H, L, T, F = "str", "int", "bool", "RecordParam", "HlsSpecial", "strlist", "TimeRange", "FlvSpecial"
TEMPLATE = {"TemplateName": S, "Description": S, "FlvParam": P, "HlsParam": P, "Mp4Param": P,
            "AacParam": P, "Mp3Param": P, "HlsSpecialParam": H, "RemoveWatermark": B,
            "FlvSpecialParam": F}
ACTIONS = {  # version, parameters (the cloud's request models)
    "CreateLiveRecordTemplate": ("2018-08-01", dict(TEMPLATE, IsDelayLive=I, CosStore=I)),
    "ModifyLiveRecordTemplate": ("2018-08-01", dict(TEMPLATE, TemplateId=I)),
    "DeleteLiveRecordTemplate": ("2018-08-01", {"TemplateId": I}),
    "DescribeLiveRecordTemplate": ("2018-08-01", {"TemplateId": I}),
    "DescribeLiveRecordTemplates": ("2018-08-01", {"IsDelayLive": I}),
    "CreateLiveRecordRule": ("2018-08-01", {"DomainName": S, "TemplateId": I, "AppName": S, "StreamName": S}),
    "DeleteLiveRecordRule": ("2018-08-01", {"DomainName": S, "AppName": S, "StreamName": S}),
    "DescribeLiveRecordRules": ("2018-08-01", {}),
    "CreateRecordTask": ("2018-08-01", {"StreamName": S, "DomainName": S, "AppName": S, "EndTime": I,
                                        "StartTime": I, "StreamType": I, "TemplateId": I, "Extension": S}),
    "StopRecordTask": ("2018-08-01", {"TaskId": S}),
    "DeleteRecordTask": ("2018-08-01", {"TaskId": S}),
    "DescribeRecordTask": ("2018-08-01", {"StartTime": I, "EndTime": I, "StreamName": S, "DomainName": S,
                                          "AppName": S, "ScrollToken": S}),
    "DescribeLiveStreamOnlineList": ("2018-08-01", {"DomainName": S, "AppName": S, "PageNum": I,
                                                    "PageSize": I, "StreamName": S}),
    "SearchMedia": ("2018-07-17", {"StreamIds": L, "StreamId": S, "StreamDomains": L, "StreamPaths": L,
                                   "MediaTypes": L, "FileIds": L, "CreateTime": T, "Sort": "Sort",
                                   "Offset": I, "Limit": I, "Filters": L, "SubAppId": I,
                                   "SourceTypes": L, "Categories": L}),
}
# what the service returned: ids to use in later requests (so that they reach real objects)
known = {"TemplateId": [7, 1000001, 1000002], "TaskId": ["filetask"]}

def good_str(name):
    pools = {
        "DomainName": ["example.com", "example.com", "other.example", "a.b.c"],
        "AppName": ["live", "live", "", "app2"],
        "StreamName": ["cam", "filed", "s%d" % R.randrange(50), "中文流", "a-b_c.d"],
        "TemplateName": ["tpl%d" % R.randrange(100), "模板", "a-b_c"],
        "TaskId": known["TaskId"],
        "MediaTypes": ["mp4", "flv", "m3u8", "aac", "hls"],
        "Filters": ["basicInfo", "metaData", "transcodeInfo"],
    }
    p = pools.get(name)
    return R.choice(p) if p else "v%d" % R.randrange(1000)

def good_int(name):
    if name == "TemplateId":
        return R.choice(known["TemplateId"] + [0, 1, 4242])
    if name in ("EndTime", "StartTime"):
        return NOW + R.choice([-100000, -60, 0, 30, 600, 3600, 86400, 86401, 8 * 86400])
    return R.choice([0, 1, 2, 10, 60, 1800, 43200, 43201, 5000, 300000])

def hostile():
    k = R.randrange(24)
    if k == 0: return 2 ** 63
    if k == 1: return -2 ** 63 - 1
    if k == 2: return 10 ** R.randrange(19, 400)
    if k == 3: return Raw(R.choice(["1e999", "-1e999", "NaN", "Infinity", "-0", "0x10", "01", "1.", ".5", "+1"]))
    if k == 4: return R.choice([1.5, -0.0, 1e308, 5e-324, 1e18])
    if k == 5: return R.choice([True, False, None])
    if k == 6: return []
    if k == 7: return {}
    if k == 8: return "x" * R.choice([60 * 1024, 61000, 20000, 129, 513])
    if k == 9: return R.choice(["", " ", "\t", "\n"])
    if k == 10: return "a\u0000b"
    if k == 11: return "".join(chr(R.randrange(1, 32)) for _ in range(R.randrange(1, 8)))
    if k == 12: return R.choice(["\U0001F600", "\u202e\u0301", "\ufeff", "\uffff", "中文" * 20, "é" * 70])
    if k == 13: return Raw('"\\ud800"')
    if k == 14: return Raw('"\\udc00\\ud800x"')
    if k == 15: return R.choice(["../../etc/passwd", "/abs", "a/b", "%s%n%x", "{StreamName}", "<x>&amp;\"'"])
    if k == 16: return nest(R.randrange(2, 3000))
    if k == 17: return [hostile() for _ in range(R.randrange(1, 4))]
    if k == 18: return {"Enable": hostile(), "RecordInterval": hostile(), "X": 1}
    if k == 19: return str(R.randrange(-10, 10 ** 12))
    if k == 20: return "1e3"
    if k == 21: return Raw('"' + "\\u00" * 3 + '"')  # a broken escape
    if k == 22: return Raw("\"\xff\xfe\"")            # not UTF-8 once encoded below
    return R.randrange(-(2 ** 40), 2 ** 40)

def nest(depth):
    return Raw("[" * depth + "]" * depth if R.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth)

def value(name, kind):
    r = R.random()
    if r < 0.3:
        return hostile()
    if kind == S:
        return good_str(name)
    if kind == I:
        return good_int(name)
    if kind == B:
        return R.choice([True, False])
    if kind == L:
        return [good_str(name) for _ in range(R.choice([0, 1, 1, 1, 2, 11]))]
    if kind == T:
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        return {k: R.choice([iso(NOW + R.randrange(-9999, 9999)), "2020-13-45T99:99:99Z", "yesterday", ""])
                for k in R.sample(["After", "Before"], R.randrange(3))}
    if kind == "Sort":
        return {"Field": R.choice(["CreateTime", "Name", ""]), "Order": R.choice(["Asc", "Desc", "Up"])}
    if kind == H:
        return {"FlowContinueDuration": R.choice([0, 8, 1800, 1801, -1])}
    if kind == F:
        return {"UploadInRecording": R.choice([True, False, 1])}
    # a RecordParam: its members, good or not
    sub = {"Enable": I, "RecordInterval": I, "StorageTime": I, "VodFileName": S, "VodSubAppId": I}
    return {k: (hostile() if R.random() < 0.3 else
                {"Enable": R.choice([0, 1]), "RecordInterval": R.choice([60, 59, 7200, 7201, 43200]),
                 "StorageTime": R.choice([0, 86400, 1500 * 86400, 1500 * 86400 + 1]), "VodSubAppId": 0,
                 "VodFileName": R.choice(["", "{StreamID}_{StartYear}", "{Nope}", "a/b"])}[k])
            for k in R.sample(list(sub), R.randrange(len(sub) + 1))}

def dump(v, ascii_only):
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, dict):
        return "{" + ",".join(dump(k, ascii_only) + ":" + dump(x, ascii_only) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dump(x, ascii_only) for x in v) + "]"
    return json.dumps(v, ensure_ascii=ascii_only)

def make_body(action):
    """(bytes, is_object): is_object False when the body is surely not one JSON object"""
    params = ACTIONS.get(action, ("", {"Foo": S}))[1]
    d = {}
    for name, kind in params.items():
        if R.random() < 0.55:
            d[name] = value(name, kind)
    if R.random() < 0.1:
        d[R.choice(["Foo", "templateName", "TemplateName ", "", "\u0000", "x" * 300])] = 1
    text = dump(d, R.random() < 0.5)
    is_object = None        # None: not known (hostile values may make it invalid JSON)
    m = R.random()
    if m < 0.06 and len(text) > 1:
        text, is_object = text[:R.randrange(1, len(text))], False     # truncated
    elif m < 0.09 and d:
        k = next(iter(d))
        text = "{" + json.dumps(k) + ":1," + text[1:]               # a duplicate key
    elif m < 0.12:
        text = R.choice(["null", "[]", "1", '"s"', "true", "[{}]", "{}}", "{\"a\":1}x", "{,}", "{'a': 1}",
                         "{\"a\" 1}", "{\"a\":}", "\x00", "\ufeff{}"])
        is_object = None if text == "\ufeff{}" else False
    elif m < 0.14:
        text, is_object = "{" * R.randrange(10, 30000), False
    elif m < 0.16:
        return bytes(R.randrange(256) for _ in range(R.randrange(1, 300))), None
    elif m < 0.18:
        text = ""                                                    # no body: no parameters
    b = text.encode("utf-8", "surrogatepass")
    return b.replace("\xff\xfe".encode("utf-8"), b"\xff\xfe"), is_object

def signed(action, body, version, ct="application/json; charset=utf-8", sh=("content-type", "host", "x-tc-action"),
           ts=None, service=None, sid=SID, skey=SKEY):
    ts = NOW_TS() if ts is None else ts
    service = service or ("vod" if version == "2018-07-17" else "live")
    s = tc3.sign(sid, skey, service, HOST, action, ts, body, content_type=ct, signed_headers=sh)
    return [("Host", HOST), ("Content-Type", ct), ("X-TC-Action", action), ("X-TC-Version", version),
            ("X-TC-Timestamp", str(ts)), ("X-TC-Region", "ap-guangzhou"), ("Authorization", s["authorization"])]

def NOW_TS():
    return int(time.time())

def set_header(h, name, value):
    return [(k, v) for k, v in h if k.lower() != name.lower()] + ([(name, value)] if value is not None else [])

def garble(h, action, body, version):
    """A header variant; returns (headers, still_signed_ok)"""
    k = R.randrange(26)
    auth = dict((a.lower(), b) for a, b in h)["authorization"]
    if k == 0: return set_header(h, "Authorization", ""), False
    if k == 1: return set_header(h, "Authorization", None), False
    if k == 2: return set_header(h, "Authorization", auth.replace("TC3-HMAC-SHA256", "TC3-HMAC-SHA1")), False
    if k == 3: return set_header(h, "Authorization", auth.replace("Credential=", "Credential=" + "A" * 5000)), False
    if k == 4: return set_header(h, "Authorization", auth.replace("SignedHeaders=", "SignedHeaders=;;")), False
    if k == 5: return set_header(h, "Authorization", auth + ", Signature=" + "0" * 64), False
    if k == 6: return set_header(h, "Authorization", auth[:R.randrange(len(auth))]), False
    if k == 7: return set_header(h, "Authorization", auth.upper()), False
    if k == 8: return set_header(h, "Authorization", auth.replace("/tc3_request", "")), False
    if k == 9: return set_header(h, "Authorization", re.sub(r"/\d{4}-\d\d-\d\d/", "/2020-13-45/", auth)), False
    if k == 10: return set_header(h, "Authorization", auth.replace("content-type;host", "content-type;host;" + ";".join("x-h%d" % i for i in range(40)))), False
    if k == 11: return set_header(h, "Authorization", auth.replace("SignedHeaders=", "SignedHeaders=Content-Type;")), False
    if k == 12: return set_header(h, "Authorization", auth.replace("/live/", "/LIVE/").replace("/vod/", "/V OD/")), False
    if k == 13: return set_header(h, "X-TC-Timestamp", R.choice(["abc", "", "-5", "1e9", " 12", "99999999999999999999", "0x1f", "１２３"])), False
    if k == 14: return set_header(h, "X-TC-Timestamp", None), False
    if k == 15: return h + [("X-TC-Timestamp", str(NOW_TS() - 100000))], True  # a second one: the first counts
    if k == 16: return h + [("Authorization", "garbage")], True
    if k == 17: return set_header(h, "X-TC-Content-SHA256", "UNSIGNED-PAYLOAD"), False
    if k == 18: return set_header(h, "Content-Type", "text/plain"), False
    if k == 19: return set_header(h, "X-TC-Version", None), None
    if k == 20: return set_header(h, "X-TC-Version", R.choice(["", "2018-08-01x", "x" * 3000])), None
    # the action header unsigned (as the SDKs sign): hostile values still reach the service
    hh = signed(action, body, version, ct="application/json", sh=("content-type", "host"))
    if k == 21: return set_header(hh, "X-TC-Action", None), True
    if k == 22: return set_header(hh, "X-TC-Action", R.choice(["", " ", "x" * 6000, "Describe\u00e9".encode().decode("latin-1"), "../../"])), True
    if k == 23: return hh + [("X-TC-Action", "DeleteLiveRecordTemplate")], True
    if k == 24: return set_header(hh, "X-TC-Action", action.lower()), True
    return hh + [("X-Long", "v" * 9000)], True

ROUTES = [("GET", "/", {200}), ("HEAD", "/", {200}), ("GET", "/metrics", {200}), ("GET", "/status.json", {200}),
          ("PUT", "/", {405}), ("DELETE", "/", {405}), ("PATCH", "/", {405}), ("OPTIONS", "/", {405}),
          ("FOO", "/", {405}), ("post", "/", {405}), ("POST", "/nope", {404}), ("GET", "/nope", {404}),
          ("POST", "/status.json", {405}), ("POST", "//", {404}), ("POST", "/%2e%2e/", {404}),
          ("GET", "/hook/nginx-rtmp", {405}), ("POST", "/hook/none", {404}), ("POST", "/" + "a" * 3000, {404}),
          ("GET", "/live/", {404}), ("GET", "/recordings/../../etc/passwd", {400, 403, 404})]
RAW = [(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", {400}),
       (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", {413}),
       (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", {400}),
       (b"POST / HTTP/1.1\r\nHost: x\r\nNoColon\r\nContent-Length: 0\r\n\r\n", {400}),
       (b"POST / HTTP/2.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n", {505}),
       (b"POST / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 40000 + b"\r\nContent-Length: 0\r\n\r\n", {431}),
]
# not HTTP at all: closed without an answer (at once, or when libmicrohttpd's 10 s connection
# timeout runs out: these go beside the others, which must not wait for them)
GARBAGE = [b"GARBAGE\r\n\r\n", b"\x00\x01\x02\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"]
# strings that the API may take (or refuse) and that must survive the catalog and -export
AWKWARD = ["tab\there", "nl\nhere", "cr\rhere", "ctl\u0001\u001b", "del\u007f", "nel\u0085", "\uffff", "\ufffe",
           "bom\ufeff", "xml <&>\"' ]]>", "中文描述", "\U0001F600 emoji", "\u2028\u2029", "\ud7ff\ue000", "x" * 100]

def awkward():
    a = R.choice(["CreateLiveRecordTemplate", "CreateRecordTask", "CreateLiveRecordRule", "ModifyLiveRecordTemplate"])
    if a == "CreateLiveRecordTemplate":
        body = {"TemplateName": R.choice(["awk", "\uffff", "名字", "a\u0085", "\U0001F600"]),
                "Description": R.choice(AWKWARD),
                "Mp4Param": {"Enable": 1, "VodFileName": R.choice(["", "{StreamID}_" + R.choice(AWKWARD)])}}
    elif a == "CreateRecordTask":
        body = {"DomainName": "example.com", "AppName": "live", "StreamName": R.choice(["cam", "中文"] + AWKWARD),
                "StartTime": NOW + 600, "EndTime": NOW + 3600, "Extension": R.choice(AWKWARD)}
    elif a == "CreateLiveRecordRule":
        body = {"DomainName": "example.com", "AppName": R.choice(["live"] + AWKWARD),
                "StreamName": R.choice(AWKWARD), "TemplateId": 7}
    else:
        body = {"TemplateId": R.choice(known["TemplateId"]), "Description": R.choice(AWKWARD)}
    b = json.dumps(body, ensure_ascii=R.random() < 0.5).encode("utf-8", "surrogatepass")
    return dict(kind="api", method="POST", path="/", headers=signed(a, b, "2018-08-01"), body=b,
                signed_ok=True, is_object=True, action=a, version="2018-08-01", status={200})

def gen(i):
    """one request: dict(kind, method, path, headers, body, raw, expect...)"""
    r = R.random()
    if r < 0.07:
        m, p, st = R.choice(ROUTES)
        return dict(kind="route", method=m, path=p, headers=[("Host", HOST)], body=b"", status=st)
    if r < 0.09:
        raw, st = R.choice(RAW)
        return dict(kind="raw", raw=raw, status=st)
    if r < 0.17:
        return awkward()
    action = R.choice(list(ACTIONS) + ["Nope", "describeLiveRecordRules", ""]) if R.random() < 0.95 else "x" * 100
    version = ACTIONS.get(action, ("2018-08-01",))[0]
    if R.random() < 0.05:
        version = R.choice(["2018-07-17", "2017-03-12", "2018-08-01"])
    if r < 0.13:   # big bodies: 60 KB strings (under the limit) and bodies over it
        size = R.choice([60 * 1024, 63 * 1024, BODY_MAX - 20, BODY_MAX + 1, 70 * 1024, 300 * 1024])
        field = R.choice(["Description", "StreamName", "TemplateName", "TaskId", "Extension", "Foo"])
        body = json.dumps({field: "y" * max(0, size - len(field) - 8)}).encode()
        body = body if len(body) <= size else body[:size]
        h = signed(action, body, version)
        return dict(kind="api", method="POST", path="/", headers=h, body=body, signed_ok=True, is_object=None,
                    status={200} if len(body) <= BODY_MAX else {400})
    body, is_object = make_body(action)
    h = signed(action, body, version, **(dict(ct="application/json", sh=("content-type", "host"))
                                          if R.random() < 0.3 else {}))
    ok, garbled = True, False
    if R.random() < 0.25:
        (h, ok), garbled = garble(h, action, body, version), True
    path = "/" if R.random() < 0.95 else "/?Action=" + action
    return dict(kind="api", method="POST", path=path, headers=h, body=body, signed_ok=ok,
                is_object=None if garbled else is_object, action=action, version=version,
                status={200} if len(body) <= BODY_MAX else {400})

def send(req):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    if req["kind"] == "raw":
        data = req["raw"]
    else:
        lines = ["%s %s HTTP/1.1" % (req["method"], req["path"])]
        hs = list(req["headers"])
        if req["method"] not in ("GET", "HEAD") or req["body"]:
            hs.append(("Content-Length", str(len(req["body"]))))
        hs.append(("Connection", "close"))
        data = ("\r\n".join(lines + ["%s: %s" % kv for kv in hs]) + "\r\n\r\n").encode("utf-8") + req["body"]
    out = b""
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)      # all sent: the server need not wait for more
        except OSError:
            pass        # answered (and closed) before all of it was read: read the answer
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
    finally:
        s.close()
    if not out:
        return None, {}, b""
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", lines[0] + b" ")
    if not m:
        return "garbage %r" % out[:80], {}, b""
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        hdrs[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    return int(m.group(1)), hdrs, body

problems, codes, statuses = [], Counter(), Counter()
lock = threading.Lock()

def check(i, req):
    t0 = time.time()
    try:
        status, hdrs, body = send(req)
    except socket.timeout:
        status, hdrs, body = "timeout", {}, b""
    dt = time.time() - t0
    what = "#%d %s %s %s" % (i, req["kind"], req.get("method", ""), req.get("action", req.get("path", "")))
    with lock:
        statuses[status] += 1
        bad = lambda msg: problems.append("%s: %s" % (what, msg))
        if dt > 12:
            bad("answered after %.1f s" % dt)
        if status not in req["status"]:
            bad("HTTP %s, expected %s; body %r" % (status, sorted(req["status"], key=str), body[:200]))
            return
        if req["kind"] != "api" or status != 200:
            return
        try:
            obj = json.loads(body.decode("utf-8"))
            r = obj["Response"]
            assert list(obj) == ["Response"] and isinstance(r, dict)
            assert isinstance(r["RequestId"], str) and UUID.match(r["RequestId"])
        except Exception as e:
            bad("not the API's envelope (%r): %r" % (e, body[:300]))
            return
        if not hdrs.get("content-type", "").startswith("application/json"):
            bad("Content-Type %r" % hdrs.get("content-type"))
        if "Error" in r:
            e = r["Error"]
            if not (isinstance(e, dict) and set(e) == {"Code", "Message"} and isinstance(e["Code"], str)
                    and e["Code"] and isinstance(e["Message"], str) and set(r) == {"Error", "RequestId"}):
                bad("malformed error envelope %r" % r)
                return
            codes[e["Code"]] += 1
            if req["signed_ok"] and (e["Code"].startswith("AuthFailure") or e["Code"] == "InternalError"):
                bad("%s (%s) for a correctly signed request; body %r" % (e["Code"], e["Message"], req["body"][:200]))
            if req["signed_ok"] and req.get("is_object") is False and req.get("action") in ACTIONS and \
                    req.get("version") == ACTIONS[req["action"]][0] and e["Code"] != "InvalidParameter":
                bad("%s for a body that is not a JSON object: %r" % (e["Code"], req["body"][:100]))
        else:
            codes["(success)"] += 1
            for k in ("TemplateId", "TaskId"):
                if k in r and r[k] not in known[k]:
                    known[k].append(r[k])

N, PARALLEL = 300, 60
t_start = time.time()
garbage = [threading.Thread(target=check, args=(-1 - k, dict(kind="raw", raw=g, status={None, 400})))
           for k, g in enumerate(GARBAGE)]
for t in garbage: t.start()
for i in range(N - PARALLEL - len(GARBAGE)):
    req = gen(i)
    check(i, req)
batch = [gen(i) for i in range(N - PARALLEL, N)]
for j in range(0, PARALLEL, 4):
    th = [threading.Thread(target=check, args=(N - PARALLEL + j + k, batch[j + k])) for k in range(4)]
    for t in th: t.start()
    for t in th: t.join()
for t in garbage: t.join()
print("%d requests in %.1f s; HTTP %s" % (N, time.time() - t_start,
      ", ".join("%s: %d" % (k, v) for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))))
print("codes: " + ", ".join("%s %d" % kv for kv in codes.most_common()))
for p in problems:
    print("PROBLEM " + p)
sys.exit(1 if problems else 0)
PY

LR_TESTS=$LR_TOP/tests/liverec python3 "$LR_DIR/fuzz.py" "$seed" "$LR_SERVE_PORT" > "$LR_DIR/fuzz.txt" 2>&1
fuzz=$?
while read -r l; do lr_log "$l"; done < "$LR_DIR/fuzz.txt"
[ $fuzz = 0 ] || lr_fail "seed $seed: the answers are not as expected (see above)"

kill -0 $serve 2>/dev/null || lr_fail "seed $seed: ffliverec -serve (pid $serve) is gone"
api() {
    python3 "$LR_TOP/tests/liverec/tc3.py" --endpoint "$LR_SERVE_URL" --secret-id "$LIVEREC_SECRET_ID" \
        --secret-key "$LIVEREC_SECRET_KEY" --raw "$@"
}
out=$(api DescribeLiveRecordRules '{}') || lr_fail "seed $seed: DescribeLiveRecordRules after the fuzzing: $out"
echo "$out" | grep -q '"DomainName":"example.com","AppName":"live","StreamName":"filed"' ||
    lr_fail "seed $seed: DescribeLiveRecordRules after the fuzzing: $out"
if grep -n "AddressSanitizer\|runtime error\|LeakSanitizer\|Assertion .* failed\|Segmentation\|Aborted" "$LR_DIR/serve.log"; then
    lr_fail "seed $seed: a crash or sanitizer report in serve.log"
fi
kill -TERM $serve
lr_wait_pid $serve 20
st=$?
[ $st = 0 ] || lr_fail "seed $seed: exit status $st after SIGTERM (124: still running after 20 s)"
# the state the fuzzing left: the service starts on it, and it exports as a valid configuration
lr_serve_start "$LR_DIR/serve.xml" serve.log
lr_wait_count serve.log "serving .*1 origin" 2 10
out=$(api DescribeLiveRecordTemplates '{}') || lr_fail "seed $seed: after the restart: $out"
"$ffl" -hide_banner -config "$LR_DIR/serve.xml" -state "$LR_DIR/state" -export > "$LR_DIR/export.xml" 2> "$LR_DIR/export.log" ||
    lr_fail "seed $seed: -export failed: $(cat "$LR_DIR/export.log")"
"$ffl" -hide_banner -config "$LR_DIR/export.xml" -check > "$LR_DIR/export-check.log" 2>&1 ||
    lr_fail "seed $seed: -check refuses what -export made of the fuzzed state: $(head -n 5 "$LR_DIR/export-check.log")"
lr_log "seed $seed: the service stayed up, restarted on its state, and -export of it passes -check"
lr_pass
