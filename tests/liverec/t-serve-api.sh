#!/bin/sh
# ffliverec -serve's control API is the cloud's live API 3.0, so that a program written for the
# cloud (its SDKs, its CLI) drives liverec by changing the endpoint. Every call goes through
# tests/liverec/tc3.py, a TC3-HMAC-SHA256 signer written from the published algorithm, against one
# service whose configuration file has an Origin and a Callback only (no template, rule or task:
# valid, and everything else comes through the API), keys from LIVEREC_SECRET_ID/_KEY:
#  (a) a template made by CreateLiveRecordTemplate and bound by CreateLiveRecordRule records the
#      next push (its file in the spool and in SearchMedia's catalog, announced by the callback);
#      the template cannot be deleted while a rule uses it (FailedOperation.ConfInUsed); once the
#      rule is deleted (exact match only) the next push of the stream is not recorded;
#  (b) CreateRecordTask without StartTime during a live push that no rule records starts a
#      recording at once (the reply comes when the session has taken it), StopRecordTask ~5 s
#      later closes it before replying: one MP4 of 5 s +- 1 s (ffprobe), announced by a callback
#      carrying its task_id, SearchMedia's SourceContext is the task, DescribeRecordTask shows it
#      stopped, and the rest of the push is not recorded (a stopped task does not start again);
#  (c) every documented error from a real request: HTTP 200, {"Response": {"Error": {"Code",
#      "Message"}, "RequestId"}} (the SDKs read anything but 200 as a transport failure) and
#      nothing changed by a refused request;
#  (d) a restart keeps the API's templates, rules and tasks exactly (Describe* before and after,
#      ModifyLiveRecordTemplate's changes, CreateRecordTask's default HLS template), a kept rule
#      still records, and SearchMedia sorts, pages and filters (CreateTime) the three files;
#  (e) objects of the XML file are read-only through the API (UnsupportedOperation naming the
#      file and the line);
#  (f) -export prints a configuration that -check accepts, with the API's objects in it (XML's
#      special characters and non-ASCII text kept), and exporting that file gives it back;
#  (g) the official SDKs' way of signing (content-type;host only, Content-Type application/json)
#      is accepted as well as the documentation's (content-type;host;x-tc-action);
# and DeleteRecordTask removes a task.
. "$(dirname "$0")/lib.sh"
lr_init serve-api
LR_GOP=25   # 1 s GOP: a recording starts at a keyframe
ffl=$LR_BUILD/ffliverec
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK=http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp
lr_nginx_start
lr_callback_start
LIVEREC_SECRET_ID=AKIDliverecTestKey01
LIVEREC_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export LIVEREC_SECRET_ID LIVEREC_SECRET_KEY
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/live/{StreamName}" Domain="example.com"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" RetryInterval="2"/>
</LiveRecordConfig>
X
"$ffl" -hide_banner -config "$LR_DIR/serve.xml" -check > "$LR_DIR/check.log" 2>&1 ||
    lr_fail "a configuration with only an Origin and a Callback is refused: $(cat "$LR_DIR/check.log")"
# the same file plus one template and one rule of its own, for the restart (d) and (e)
sed 's|^</LiveRecordConfig>$||' "$LR_DIR/serve.xml" > "$LR_DIR/serve2.xml"
cat >> "$LR_DIR/serve2.xml" <<X
  <Template TemplateId="7" TemplateName="file-flv"><FlvParam/></Template>
  <Rule DomainName="example.com" AppName="live" StreamName="filed" TemplateId="7"/>
</LiveRecordConfig>
X

# The steps' API calls and checks, in Python with tc3.py as a module. State between steps
# (ids, times) in $LR_DIR/steps.json.
cat > "$LR_DIR/steps.py" <<'PY'
import glob, hashlib, json, os, re, subprocess, sys, time
import xml.etree.ElementTree as ET
sys.path.insert(0, os.environ["LR_TESTS"])
import tc3

D = os.environ["LR_DIR"]
EP = os.environ["LR_SERVE_URL"]
SID, SKEY = os.environ["LIVEREC_SECRET_ID"], os.environ["LIVEREC_SECRET_KEY"]
SPOOL = os.path.join(D, "spool", "example.com", "live")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
STATE = os.path.join(D, "steps.json")
request_ids = set()

def log(msg):
    sys.stderr.write("[serve-api] %s\n" % msg)

def load():
    return json.load(open(STATE)) if os.path.exists(STATE) else {}

def save(**kw):
    s = load()
    s.update(kw)
    json.dump(s, open(STATE, "w"), indent=1)

def call(action, body=None, **kw):
    if action == "SearchMedia":
        kw.setdefault("version", "2018-07-17")
        kw.setdefault("service", "vod")
    sid = kw.pop("secret_id", SID)
    skey = kw.pop("secret_key", SKEY)
    status, headers, raw, obj = tc3.call(EP, sid, skey, action, body, **kw)
    what = "%s %s" % (action, raw_body(body))
    assert status == 200, "%s: HTTP %d %r" % (what, status, raw[:300])
    ct = {k.lower(): v for k, v in headers}.get("content-type", "")
    assert ct.split(";")[0].strip() == "application/json", "%s: Content-Type %r" % (what, ct)
    assert isinstance(obj, dict) and list(obj) == ["Response"] and isinstance(obj["Response"], dict), \
        "%s: not {\"Response\": {...}}: %r" % (what, raw[:300])
    r = obj["Response"]
    rid = r.get("RequestId")
    assert isinstance(rid, str) and UUID.match(rid), "%s: RequestId %r" % (what, rid)
    assert rid not in request_ids, "%s: RequestId %s given twice" % (what, rid)
    request_ids.add(rid)
    return what, r

def raw_body(body):
    s = body if isinstance(body, (str, bytes)) else json.dumps(body)
    s = s.decode("utf-8", "replace") if isinstance(s, bytes) else s
    return s if len(s) < 200 else s[:200] + "..."

def ok(action, body=None, **kw):
    what, r = call(action, body, **kw)
    assert "Error" not in r, "%s: %s" % (what, r["Error"])
    return r

def err(code, action, body=None, **kw):
    what, r = call(action, body, **kw)
    assert "Error" in r, "%s: no error (expected %s): %s" % (what, code, r)
    assert set(r) == {"Error", "RequestId"}, "%s: the error envelope has %s" % (what, sorted(r))
    e = r["Error"]
    assert isinstance(e, dict) and set(e) == {"Code", "Message"}, "%s: Error is %r" % (what, e)
    assert isinstance(e["Message"], str) and e["Message"], "%s: no Message: %r" % (what, e)
    good = e["Code"] == code if isinstance(code, str) else code(e["Code"])
    assert good, "%s: %s (%s), expected %s" % (what, e["Code"], e["Message"], code)
    return e["Message"]

def ffprobe_duration(path):
    return float(subprocess.check_output([os.environ["LR_FFPROBE"], "-v", "error", "-show_entries",
                                          "format=duration", "-of", "default=nw=1:nk=1", path]))

def files(stream, ext):
    return sorted(glob.glob(os.path.join(SPOOL, stream, "**", "*." + ext), recursive=True))

def working(stream):
    return [f for f in glob.glob(os.path.join(SPOOL, stream, "**", "*"), recursive=True)
            if ".recording" in os.path.basename(f)]

def callbacks(pred, n=1, wait=15):
    end = time.time() + wait
    while True:
        try:
            cbs = [json.loads(l)["body"] for l in open(os.path.join(D, "callbacks.jsonl"))]
        except FileNotFoundError:
            cbs = []
        got = [b for b in cbs if pred(b)]
        if len(got) >= n or time.time() > end:
            return got
        time.sleep(0.2)

def check_file_callback(b, path, task_id):
    assert b["sign"] == hashlib.md5(("k3y" + str(b["t"])).encode()).hexdigest(), "bad sign: %s" % b
    assert b["app"] == "example.com" and b["appname"] == "live", b
    assert b["task_id"] == task_id, "task_id %r, expected %r: %s" % (b["task_id"], task_id, b)
    assert b["file_format"] == "mp4" and b["file_size"] == os.path.getsize(path), (b, path)

def search(stream, **extra):
    body = {"StreamIds": [stream]}
    body.update(extra)
    return ok("SearchMedia", body)

def check_media(m, path, stream, task_id):
    """One MediaInfo of SearchMedia against the file it should describe."""
    bi, md = m["BasicInfo"], m["MetaData"]
    assert isinstance(m["FileId"], str) and m["FileId"], m
    assert bi["Type"] == "mp4" and bi["Name"] == os.path.basename(path), bi
    assert os.path.exists(bi["MediaUrl"]) and os.path.samefile(bi["MediaUrl"], path), (bi["MediaUrl"], path)
    si = bi["SourceInfo"]
    assert si["SourceType"] == "Record" and si["SourceContext"] == task_id, si
    lri = si["LiveRecordInfo"]
    assert (lri["Domain"], lri["Path"], lri["StreamId"]) == ("example.com", "live", stream), lri
    assert md["Size"] == os.path.getsize(path), (md["Size"], os.path.getsize(path))
    d = ffprobe_duration(path)
    assert abs(md["Duration"] - d) <= 0.6, "MetaData.Duration %.2f, ffprobe %.2f" % (md["Duration"], d)
    return d

def beijing_now_ok(s):
    t = time.mktime(time.strptime(s, "%Y-%m-%d %H:%M:%S")) - time.timezone - 8 * 3600
    return abs(t - time.time()) < 120

# ---- (a) template + rule -> recorded; rule deleted -> not recorded

def a_setup():
    assert ok("DescribeLiveRecordTemplates")["Templates"] == []
    assert ok("DescribeLiveRecordRules")["Rules"] == []
    tid = ok("CreateLiveRecordTemplate", {
        "TemplateName": "api-mp4", "Description": "made by t-serve-api",
        "Mp4Param": {"Enable": 1, "RecordInterval": 60, "StorageTime": 0},
        "HlsSpecialParam": {"FlowContinueDuration": 0}})["TemplateId"]
    assert tid == 1000001, "the first API template has id %r, not 1000001" % tid
    t = ok("DescribeLiveRecordTemplate", {"TemplateId": tid})["Template"]
    assert t["TemplateId"] == tid and t["TemplateName"] == "api-mp4", t
    assert t["Description"] == "made by t-serve-api", t
    assert t["Mp4Param"]["Enable"] == 1 and t["Mp4Param"]["RecordInterval"] == 60, t
    for f in ("FlvParam", "HlsParam", "AacParam"):
        assert t.get(f, {}).get("Enable", 0) == 0, (f, t)
    rule = {"DomainName": "example.com", "AppName": "live", "StreamName": "ruled", "TemplateId": tid}
    ok("CreateLiveRecordRule", rule)
    rules = ok("DescribeLiveRecordRules")["Rules"]
    assert len(rules) == 1 and {k: rules[0][k] for k in rule} == rule, rules
    assert beijing_now_ok(rules[0]["CreateTime"]), "CreateTime %s is not now in Beijing time" % rules[0]["CreateTime"]
    err("FailedOperation.RuleAlreadyExist", "CreateLiveRecordRule", rule)
    save(tid=tid)
    log("(a) template %d made, bound to example.com/live/ruled" % tid)

def a_recorded():
    tid = load()["tid"]
    mp4 = files("ruled", "mp4")
    assert len(mp4) == 1 and not working("ruled"), (mp4, working("ruled"))
    r = search("ruled")
    assert r["TotalCount"] == 1 and len(r["MediaInfoSet"]) == 1, r
    d = check_media(r["MediaInfoSet"][0], mp4[0], "ruled", "")
    assert 2.5 <= d <= 5.6, "the rule's recording lasts %.2f s for a 5 s push" % d
    assert search("ruled", MediaTypes=["flv"])["TotalCount"] == 0
    cb = callbacks(lambda b: b.get("event_type") == 100 and b["stream_id"] == "ruled")
    assert len(cb) == 1, cb
    check_file_callback(cb[0], mp4[0], "")
    err("FailedOperation.ConfInUsed", "DeleteLiveRecordTemplate", {"TemplateId": tid})
    # deletion needs the exact DomainName + AppName + StreamName
    err("FailedOperation.NotFound", "DeleteLiveRecordRule", {"DomainName": "example.com", "AppName": "live"})
    ok("DeleteLiveRecordRule", {"DomainName": "example.com", "AppName": "live", "StreamName": "ruled"})
    assert ok("DescribeLiveRecordRules")["Rules"] == []
    err("FailedOperation.NotFound", "DeleteLiveRecordRule",
        {"DomainName": "example.com", "AppName": "live", "StreamName": "ruled"})
    log("(a) recorded by the rule: %s, %.2f s, in SearchMedia and the callback; rule deleted" %
        (os.path.basename(mp4[0]), d))

def a_not_recorded():
    assert len(files("ruled", "mp4")) == 1, files("ruled", "mp4")
    assert search("ruled")["TotalCount"] == 1
    log("(a) the push after DeleteLiveRecordRule was not recorded")

# ---- (b) a real-time task, stopped after 5 s

def b_task():
    tid = load()["tid"]
    on = ok("DescribeLiveStreamOnlineList", {"DomainName": "example.com"})
    live = [o for o in on["OnlineInfo"] if o["StreamName"] == "tasked"]
    assert len(live) == 1 and live[0]["AppName"] == "live" and live[0]["DomainName"] == "example.com", on
    pt = live[0]["PublishTimeList"][0]["PublishTime"]
    assert abs(time.mktime(time.strptime(pt, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone - time.time()) < 30, pt
    assert on["TotalNum"] >= 1, on
    t0 = time.time()
    end_time = int(t0) + 600
    task = ok("CreateRecordTask", {"DomainName": "example.com", "AppName": "live",
                                   "StreamName": "tasked", "EndTime": end_time,
                                   "TemplateId": tid})["TaskId"]
    t1 = time.time()
    assert isinstance(task, str) and task, task
    log("(b) task %s made in %.2f s (the reply waits for the session)" % (task, t1 - t0))
    assert t1 - t0 < 4.5, "CreateRecordTask took %.2f s" % (t1 - t0)
    rng = {"StartTime": int(t0) - 60, "EndTime": end_time + 60}
    while True:     # its file opens at the next keyframe (1 s)
        tl = [x for x in ok("DescribeRecordTask", rng)["TaskList"] if x["TaskId"] == task]
        assert len(tl) == 1 and tl[0]["Stopped"] == 0 and tl[0]["Status"] in ("waiting", "recording"), tl
        if tl[0]["Status"] == "recording" or time.time() > t1 + 3:
            break
        time.sleep(0.2)
    assert tl[0]["Status"] == "recording", "%.1f s after CreateRecordTask's reply: %s" % (time.time() - t1, tl)
    # the task runs from its request (StartTime absent: now): stopped 5 s after it
    time.sleep(max(0, t0 + 5 - time.time()))
    t2 = time.time()
    ok("StopRecordTask", {"TaskId": task})
    t3 = time.time()
    # the reply comes after the task's files are closed
    mp4 = files("tasked", "mp4")
    left = working("tasked")
    assert len(mp4) == 1 and not left, "right after StopRecordTask: %s, working files %s" % (mp4, left)
    assert "/task-%s/" % task in mp4[0], mp4
    d = ffprobe_duration(mp4[0])
    log("(b) StopRecordTask %.2f s after CreateRecordTask, answered in %.2f s: %s, %.2f s" %
        (t2 - t0, t3 - t2, os.path.basename(mp4[0]), d))
    assert 4 <= d <= 6, "the task's recording lasts %.2f s, stopped %.2f s after it was made" % (d, t2 - t0)
    tl = [x for x in ok("DescribeRecordTask", rng)["TaskList"] if x["TaskId"] == task]
    assert len(tl) == 1, tl
    x = tl[0]
    assert int(t2) - 1 <= x["Stopped"] <= int(t3) + 1, ("Stopped", x, t2, t3)
    assert x["Status"] == "stopped", x
    assert int(t0) - 1 <= x["StartTime"] <= int(t1) + 1, ("StartTime", x, t0, t1)
    assert (x["DomainName"], x["AppName"], x["StreamName"], x["TemplateId"]) == \
        ("example.com", "live", "tasked", tid), x
    # the cloud's RecordTask: EndTime is the task's, Stopped when StopRecordTask came
    assert x["EndTime"] == end_time, "EndTime %r after StopRecordTask, the task's is %d" % (x["EndTime"], end_time)
    save(task=task, task_mp4=mp4[0], task_dur=d)

def b_after():
    s = load()
    task, path = s["task"], s["task_mp4"]
    mp4 = files("tasked", "mp4")
    assert mp4 == [path], "after the push: %s (the stopped task recorded again?)" % mp4
    assert os.path.getsize(path) > 0
    cb = callbacks(lambda b: b.get("event_type") == 100 and b.get("task_id") == task)
    assert len(cb) == 1, "file callbacks with task_id %s: %s" % (task, cb)
    check_file_callback(cb[0], path, task)
    assert cb[0]["stream_id"] == "tasked" and 4 <= cb[0]["duration"] <= 6, cb[0]
    r = search("tasked")
    assert r["TotalCount"] == 1, r
    check_media(r["MediaInfoSet"][0], path, "tasked", task)
    log("(b) callback and SearchMedia carry task %s; the rest of the push was not recorded" % task)

# ---- (c) the errors

def c_errors():
    tid = load()["tid"]
    before = (ok("DescribeLiveRecordTemplates")["Templates"], ok("DescribeLiveRecordRules")["Rules"])
    now = int(time.time())
    rules = "DescribeLiveRecordRules"
    n0 = len(request_ids)
    on = ok("DescribeLiveStreamOnlineList")
    assert on["OnlineInfo"] == [] and on["TotalNum"] == 0, "nothing is pushed, yet: %s" % on
    # signature and keys
    err("AuthFailure.SignatureFailure", rules, {}, bad_signature=True)
    err("AuthFailure.SignatureFailure", rules, {}, secret_key=SKEY + "x")
    err("AuthFailure.SignatureFailure", "DescribeLiveRecordTemplates", {"IsDelayLive": 0}, sign_body="{}")
    err("AuthFailure.SignatureFailure", rules, {}, extra_headers={"X-TC-Action": "DescribeLiveRecordTemplates"})
    err("AuthFailure.SignatureFailure", rules, {}, content_type="application/json",
        signed_headers=("content-type", "host"),
        extra_headers={"Content-Type": "application/json; charset=utf-8"})
    err("AuthFailure.SignatureExpire", rules, {}, timestamp=now - 400)
    err("AuthFailure.SignatureExpire", rules, {}, timestamp=now + 400)
    err("AuthFailure.SecretIdNotFound", rules, {}, secret_id="AKIDnobodyKnowsThisId")
    err("AuthFailure.InvalidAuthorization", rules, {}, authorization="Bearer 0123456789")
    err("AuthFailure.InvalidAuthorization", rules, {},
        authorization="TC3-HMAC-SHA256 Credential=%s/2020-01-01/live/tc3_request" % SID)
    err(lambda c: c.startswith("AuthFailure.") or c == "MissingParameter", rules, {}, no_auth=True)
    # action and version
    err("InvalidAction", "DescribeLiveRecordRulez", {})
    err("InvalidAction", "CreateLiveRecord", {})
    err("NoSuchVersion", rules, {}, version="2017-03-12")
    err("NoSuchVersion", "SearchMedia", {}, version="2018-08-01")
    # parameters: missing, unknown, of the wrong type, out of range
    err("MissingParameter", "CreateLiveRecordTemplate", {"Mp4Param": {"Enable": 1}})
    err("MissingParameter", "CreateLiveRecordRule", {"DomainName": "example.com"})
    err("MissingParameter", "CreateRecordTask", {"DomainName": "example.com", "AppName": "live", "StreamName": "x"})
    err("MissingParameter", "DescribeRecordTask", {"EndTime": now})
    err("MissingParameter", "StopRecordTask", {})
    err("UnknownParameter", "CreateLiveRecordTemplate", {"TemplateName": "x", "Mp4Params": {"Enable": 1}})
    err("UnknownParameter", rules, {"DomainName": "example.com"})
    err("InvalidParameter", "CreateLiveRecordTemplate", {"TemplateName": 5})
    err("InvalidParameter", "CreateLiveRecordTemplate", {"TemplateName": "x", "Mp4Param": 1})
    err("InvalidParameter", "CreateLiveRecordTemplate", {"TemplateName": "x", "Mp4Param": {"Enable": "1"}})
    err("InvalidParameter", "DescribeLiveRecordTemplate", {"TemplateId": "1000001"})
    err("InvalidParameter", "CreateRecordTask", {"DomainName": "example.com", "AppName": "live",
                                                 "StreamName": "x", "EndTime": "tomorrow"})
    err("InvalidParameter", "CreateLiveRecordTemplate", '[{"TemplateName": "x"}]')
    err("InvalidParameter", "CreateLiveRecordTemplate", '{"TemplateName": "x"')
    for p, v in (("RecordInterval", 59), ("RecordInterval", 43201), ("StorageTime", -1),
                 ("StorageTime", 1500 * 86400 + 1), ("Enable", 2)):
        err("InvalidParameterValue", "CreateLiveRecordTemplate", {"TemplateName": "x", "FlvParam": {p: v}})
    err("InvalidParameterValue", "CreateLiveRecordTemplate", {"TemplateName": "x", "AacParam": {"RecordInterval": 7201}})
    err("InvalidParameterValue", "CreateLiveRecordTemplate",
        {"TemplateName": "x", "HlsSpecialParam": {"FlowContinueDuration": 1801}})
    task = {"DomainName": "example.com", "AppName": "live", "StreamName": "x"}
    err("InvalidParameterValue", "CreateRecordTask", dict(task, EndTime=now - 10))
    err("InvalidParameterValue", "CreateRecordTask", dict(task, StartTime=now + 600, EndTime=now + 300))
    err("InvalidParameterValue", "CreateRecordTask", dict(task, EndTime=now + 8 * 86400))
    err("InvalidParameterValue", "CreateRecordTask", dict(task, StartTime=now + 60, EndTime=now + 60 + 86401))
    # objects that are not there
    err("InvalidParameter.ConfNotFound", "CreateLiveRecordRule", {"DomainName": "example.com", "TemplateId": 4242})
    err("FailedOperation.NotFound", "DescribeLiveRecordTemplate", {"TemplateId": 4242})
    err("FailedOperation.NotFound", "ModifyLiveRecordTemplate", {"TemplateId": 4242, "Description": "x"})
    err("FailedOperation.NotFound", "DeleteLiveRecordTemplate", {"TemplateId": 4242})
    n = len(request_ids) - n0
    # the limits themselves are accepted
    big = ok("CreateLiveRecordTemplate", {
        "TemplateName": "limits", "FlvParam": {"Enable": 1, "RecordInterval": 43200, "StorageTime": 1500 * 86400},
        "Mp4Param": {"Enable": 1, "RecordInterval": 60}, "AacParam": {"Enable": 1, "RecordInterval": 7200},
        "HlsSpecialParam": {"FlowContinueDuration": 1800}})["TemplateId"]
    t = ok("DescribeLiveRecordTemplate", {"TemplateId": big})["Template"]
    assert (t["FlvParam"]["RecordInterval"], t["FlvParam"]["StorageTime"], t["AacParam"]["RecordInterval"],
            t["HlsSpecialParam"]["FlowContinueDuration"]) == (43200, 1500 * 86400, 7200, 1800), t
    ok("DeleteLiveRecordTemplate", {"TemplateId": big})
    err("FailedOperation.NotFound", "DescribeLiveRecordTemplate", {"TemplateId": big})
    after = (ok("DescribeLiveRecordTemplates")["Templates"], ok("DescribeLiveRecordRules")["Rules"])
    assert after == before, "the refused requests changed something:\n%s\n%s" % (before, after)
    log("(c) %d refused requests: each HTTP 200 with its error code, Message and a RequestId; nothing changed" % n)

# ---- (d) a restart keeps the API's objects

DESC = "modified: <&>\"' 中文 \U0001F600"     # XML's specials and more than ASCII, through -export too

def snapshot():
    now = int(time.time())
    return {"templates": {str(t["TemplateId"]): t for t in ok("DescribeLiveRecordTemplates")["Templates"]},
            "rules": ok("DescribeLiveRecordRules")["Rules"],
            "tasks": {t["TaskId"]: t for t in ok("DescribeRecordTask", {
                "StartTime": now - 3600, "EndTime": now + 5 * 86400})["TaskList"]}}

def d_before():
    s = load()
    tid = s["tid"]
    now = int(time.time())
    ok("CreateLiveRecordRule", {"DomainName": "example.com", "AppName": "live", "StreamName": "kept", "TemplateId": tid})
    hls = ok("CreateLiveRecordTemplate", {"TemplateName": "api-hls-flv", "HlsParam": {"Enable": 1},
                                          "FlvParam": {"Enable": 1, "RecordInterval": 300}})["TemplateId"]
    assert hls > tid, (hls, tid)
    ok("ModifyLiveRecordTemplate", {"TemplateId": hls, "Description": DESC,
                                    "FlvParam": {"Enable": 1, "RecordInterval": 120, "StorageTime": 86400}})
    t = ok("DescribeLiveRecordTemplate", {"TemplateId": hls})["Template"]
    assert t["Description"] == DESC and t["FlvParam"]["RecordInterval"] == 120 and \
        t["FlvParam"]["StorageTime"] == 86400 and t["HlsParam"]["Enable"] == 1 and \
        t["TemplateName"] == "api-hls-flv", t
    later = ok("CreateRecordTask", {"DomainName": "example.com", "AppName": "live", "StreamName": "later",
                                    "StartTime": now + 3600, "EndTime": now + 7200, "TemplateId": hls})["TaskId"]
    # no TemplateId: the cloud records HLS
    dflt = ok("CreateRecordTask", {"DomainName": "example.com", "AppName": "live", "StreamName": "later",
                                   "StartTime": now + 7200, "EndTime": now + 9000})["TaskId"]
    # stopped before its window opens: it records nothing, and -export leaves it out
    ok("StopRecordTask", {"TaskId": dflt})
    snap = snapshot()
    tdef = snap["tasks"][dflt]["TemplateId"]
    t = ok("DescribeLiveRecordTemplate", {"TemplateId": tdef})["Template"]
    assert t["HlsParam"]["Enable"] == 1 and all(t[f]["Enable"] == 0 for f in ("FlvParam", "Mp4Param", "AacParam")), \
        "CreateRecordTask without TemplateId: template %s" % t
    assert set(snap["templates"]) == {str(tid), str(hls), str(tdef)}, snap["templates"]
    assert [r["StreamName"] for r in snap["rules"]] == ["kept"], snap["rules"]
    assert set(snap["tasks"]) == {s["task"], later, dflt}, snap["tasks"]
    save(hls=hls, later=later, later_window=[now + 3600, now + 7200], stopped_early=dflt, snap=snap)
    log("(d) before the restart: templates %s, rules %s, tasks %s" % (
        sorted(snap["templates"]), [r["StreamName"] for r in snap["rules"]], sorted(snap["tasks"])))

def d_after():
    s = load()
    before, now = s["snap"], snapshot()
    for k, t in before["templates"].items():
        assert now["templates"].get(k) == t, "template %s: %s before the restart, %s after" % (
            k, t, now["templates"].get(k))
    for k, t in before["tasks"].items():
        assert now["tasks"].get(k) == t, "task %s: %s before the restart, %s after" % (k, t, now["tasks"].get(k))
    kept = [r for r in now["rules"] if r["StreamName"] == "kept"]
    assert kept == before["rules"], "the rules: %s before the restart, %s after" % (before["rules"], now["rules"])
    # the file's objects are there too
    assert now["templates"].get("7", {}).get("TemplateName") == "file-flv", now["templates"]
    assert [r["TemplateId"] for r in now["rules"] if r["StreamName"] == "filed"] == [7], now["rules"]
    # new ids go on above the old ones
    ids = [int(k) for k in now["templates"]]
    new = ok("CreateLiveRecordTemplate", {"TemplateName": "after-restart"})["TemplateId"]
    assert new > max(ids), (new, ids)
    ok("DeleteLiveRecordTemplate", {"TemplateId": new})
    log("(d) after the restart: the API's templates, rules and tasks are as they were")

def d_kept_recorded():
    mp4 = files("kept", "mp4")
    assert len(mp4) == 1 and not working("kept"), (mp4, working("kept"))
    assert search("kept")["TotalCount"] == 1
    log("(d) the API rule kept across the restart recorded %s" % os.path.basename(mp4[0]))
    # the catalog as SearchMedia pages, sorts and filters it: three files by now
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    secs = lambda m: time.mktime(time.strptime(m["BasicInfo"]["CreateTime"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    stream = lambda m: m["BasicInfo"]["SourceInfo"]["LiveRecordInfo"]["StreamId"]
    every = ok("SearchMedia", {"Sort": {"Field": "CreateTime", "Order": "Asc"}})
    assert every["TotalCount"] == 3 and [stream(m) for m in every["MediaInfoSet"]] == ["ruled", "tasked", "kept"], every
    desc = ok("SearchMedia", {"Sort": {"Field": "CreateTime", "Order": "Desc"}, "MediaTypes": ["mp4"]})
    assert [stream(m) for m in desc["MediaInfoSet"]] == ["kept", "tasked", "ruled"], desc
    page = ok("SearchMedia", {"Sort": {"Field": "CreateTime", "Order": "Asc"}, "Offset": 1, "Limit": 1})
    assert page["TotalCount"] == 3 and [stream(m) for m in page["MediaInfoSet"]] == ["tasked"], page
    t_ruled, t_tasked, t_kept = [secs(m) for m in every["MediaInfoSet"]]
    assert t_ruled < t_tasked < t_kept, (t_ruled, t_tasked, t_kept)
    # the files whose CreateTime is in [After, Before)
    mid = ok("SearchMedia", {"CreateTime": {"After": iso(t_ruled + 1), "Before": iso(t_kept - 1)}})
    got = [(stream(m), m["BasicInfo"]["CreateTime"]) for m in mid["MediaInfoSet"]]
    assert [g[0] for g in got] == ["tasked"], \
        "CreateTime After %s Before %s: %s" % (iso(t_ruled + 1), iso(t_kept - 1), got)
    basic = ok("SearchMedia", {"Filters": ["basicInfo"], "Limit": 1})["MediaInfoSet"][0]
    assert basic.get("BasicInfo") and basic.get("MetaData") is None, basic
    meta = ok("SearchMedia", {"Filters": ["metaData"], "Limit": 1})["MediaInfoSet"][0]
    assert meta.get("MetaData") and meta.get("BasicInfo") is None, meta
    log("(d) SearchMedia sorts, pages (Offset/Limit), filters by CreateTime and returns the parts asked for")

# ---- (e) the file's objects are read-only

def e_readonly():
    cfg, tline, rline = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    before = snapshot()
    def names_file_and_line(msg, line):
        assert cfg in msg and re.search(r"\bline %d\b" % line, msg), \
            "the message does not name %s, line %d: %s" % (cfg, line, msg)
    names_file_and_line(err("UnsupportedOperation", "ModifyLiveRecordTemplate",
                            {"TemplateId": 7, "Description": "changed"}), tline)
    names_file_and_line(err("UnsupportedOperation", "DeleteLiveRecordTemplate", {"TemplateId": 7}), tline)
    names_file_and_line(err("UnsupportedOperation", "DeleteLiveRecordRule",
                            {"DomainName": "example.com", "AppName": "live", "StreamName": "filed"}), rline)
    err("FailedOperation.RuleAlreadyExist", "CreateLiveRecordRule",
        {"DomainName": "example.com", "AppName": "live", "StreamName": "filed", "TemplateId": load()["tid"]})
    after = snapshot()
    assert after["templates"] == before["templates"] and after["rules"] == before["rules"], (before, after)
    log("(e) the file's template (line %d) and rule (line %d) are read-only, the errors say where" % (tline, rline))

# ---- (f) -export

def f_export():
    s = load()
    root = ET.parse(os.path.join(D, "export.xml")).getroot()
    tpl = {int(t.get("TemplateId")): t for t in root.findall("Template")}
    assert set(tpl) == {7} | {int(k) for k in s["snap"]["templates"]}, sorted(tpl)
    t = tpl[s["tid"]]
    assert t.get("TemplateName") == "api-mp4" and t.get("Description") == "made by t-serve-api", t.attrib
    mp4 = t.find("Mp4Param")
    assert mp4 is not None and mp4.get("Enable") == "1" and mp4.get("RecordInterval") == "60", ET.tostring(t)
    assert tpl[s["hls"]].get("Description") == DESC, tpl[s["hls"]].attrib
    flv = tpl[s["hls"]].find("FlvParam")
    assert flv is not None and flv.get("RecordInterval") == "120" and flv.get("StorageTime") == "86400", ET.tostring(tpl[s["hls"]])
    rules = {(r.get("DomainName"), r.get("AppName"), r.get("StreamName")): int(r.get("TemplateId"))
             for r in root.findall("Rule")}
    assert rules.get(("example.com", "live", "kept")) == s["tid"] and rules.get(("example.com", "live", "filed")) == 7, rules
    tasks = {t.get("TaskId"): t for t in root.findall("Task")}
    assert s["later"] in tasks, sorted(tasks)
    assert s["stopped_early"] not in tasks, "a task stopped before its start is exported"
    assert "was stopped before its StartTime" in open(os.path.join(D, "export.log")).read()
    lt = tasks[s["later"]]
    assert [int(lt.get("StartTime")), int(lt.get("EndTime"))] == s["later_window"] and \
        int(lt.get("TemplateId")) == s["hls"] and lt.get("StreamName") == "later", lt.attrib
    log("(f) -export: %d templates, %d rules, %d tasks, with the API's; -check accepts it" % (
        len(tpl), len(rules), len(tasks)))

# ---- (g) the SDKs' signature

def g_sdk():
    sdk = dict(content_type="application/json", signed_headers=("content-type", "host"))
    ok("DescribeLiveRecordRules", {}, **sdk)
    # as the Python SDK sends it: json.dumps, no region, X-TC-RequestClient and X-TC-Language
    new = ok("CreateLiveRecordTemplate", json.dumps({"TemplateName": "sdk", "Mp4Param": {"Enable": 1}}),
             region=None, language="en-US",
             extra_headers=[("X-TC-RequestClient", "SDK_PYTHON_3.0.1000")], **sdk)["TemplateId"]
    assert ok("DescribeLiveRecordTemplate", {"TemplateId": new}, **sdk)["Template"]["TemplateName"] == "sdk"
    ok("DeleteLiveRecordTemplate", {"TemplateId": new}, **sdk)
    ok("SearchMedia", {"Limit": 1}, **sdk)
    # and the documentation's, with x-tc-action signed in lowercase
    ok("DescribeLiveRecordTemplates", {}, signed_headers=("content-type", "host", "x-tc-action"))
    log("(g) signed as the SDKs sign (content-type;host, application/json) and as the documentation does")

# ---- and DeleteRecordTask

def z_delete_task():
    s = load()
    ok("DeleteRecordTask", {"TaskId": s["later"]})
    assert s["later"] not in snapshot()["tasks"], "DescribeRecordTask still lists a deleted task"
    # the cloud's code for an unknown TaskId is not documented: some error, in the envelope
    err(lambda c: c.split(".")[0] in ("InvalidParameter", "InvalidParameterValue", "FailedOperation",
                                      "ResourceNotFound"), "DeleteRecordTask", {"TaskId": s["later"]})
    log("DeleteRecordTask: the task is gone from DescribeRecordTask")

globals()[sys.argv[1]]()
PY
step() {
    LR_TESTS=$LR_TOP/tests/liverec LR_DIR=$LR_DIR LR_SERVE_URL=$LR_SERVE_URL LR_FFPROBE=$LR_FFPROBE \
        python3 "$LR_DIR/steps.py" "$@" || lr_fail "step $1"
}
serve_up() { # CONFIG N: start the service, wait for its Nth "serving" line in serve.log
    lr_serve_start "$1" serve.log
    serve=$LR_SERVE_PID
    lr_wait_count serve.log "serving .*1 origin" "$2" 10
}

t_start=$(date +%s)
serve_up "$LR_DIR/serve.xml" 1

# (a)
step a_setup
lr_push ruled 5
lr_wait_log serve.log "session of example.com/live/ruled ended" 20
step a_recorded
lr_push ruled 3
lr_wait_log serve.log "example.com/live/ruled is live (hook); no rule or task records it" 5
[ "$(grep -c "example.com/live/ruled: recording starts" "$LR_DIR/serve.log")" = 1 ] ||
    lr_fail "the push after DeleteLiveRecordRule was recorded"
step a_not_recorded

# (b)
lr_push_bg tasked 12
tasked=$LR_LAST_PID
lr_wait_log serve.log "example.com/live/tasked is live (hook); no rule or task records it" 10
step b_task
lr_wait_pid $tasked 20 || lr_fail "the push of tasked failed (see push-tasked.log)"
lr_wait_log serve.log "session of example.com/live/tasked ended" 20
step b_after

# (c)
step c_errors

# (d): SIGTERM, then the same service with the file plus a template and a rule of its own
step d_before
kill -TERM $serve
lr_wait_pid $serve 20
st=$?
[ $st = 0 ] || lr_fail "ffliverec -serve: exit status $st after SIGTERM"
serve_up "$LR_DIR/serve2.xml" 2
step d_after
lr_push kept 3
lr_wait_log serve.log "session of example.com/live/kept ended" 20
step d_kept_recorded

# (e)
tline=$(grep -n '<Template TemplateId="7"' "$LR_DIR/serve2.xml" | cut -d: -f1)
rline=$(grep -n '<Rule DomainName="example.com" AppName="live" StreamName="filed"' "$LR_DIR/serve2.xml" | cut -d: -f1)
step e_readonly "$LR_DIR/serve2.xml" "$tline" "$rline"

# (f)
"$ffl" -hide_banner -config "$LR_DIR/serve2.xml" -state "$LR_DIR/state" -export > "$LR_DIR/export.xml" 2> "$LR_DIR/export.log" ||
    lr_fail "-export failed: $(cat "$LR_DIR/export.log")"
"$ffl" -hide_banner -config "$LR_DIR/export.xml" -check > "$LR_DIR/export-check.log" 2>&1 ||
    lr_fail "-check refuses the output of -export: $(cat "$LR_DIR/export-check.log")"
mkdir -p "$LR_DIR/state-roundtrip"
"$ffl" -hide_banner -config "$LR_DIR/export.xml" -state "$LR_DIR/state-roundtrip" -export > "$LR_DIR/export2.xml" 2> "$LR_DIR/export2.log" &&
    cmp -s "$LR_DIR/export.xml" "$LR_DIR/export2.xml" ||
    lr_fail "-export of the exported file differs from it: $(diff "$LR_DIR/export.xml" "$LR_DIR/export2.xml")"
step f_export

# (g)
step g_sdk
step z_delete_task

kill -0 $serve 2>/dev/null || lr_fail "the service is gone"
grep -q "AddressSanitizer\|runtime error" "$LR_DIR/serve.log" && lr_fail "sanitizer report in serve.log"
kill -TERM $serve
lr_wait_pid $serve 20 || lr_fail "ffliverec -serve did not stop with status 0 after SIGTERM"
lr_log "done in $(( $(date +%s) - t_start )) s"
lr_pass
