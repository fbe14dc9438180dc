#!/bin/sh
# ffliverec -serve takes SRS's and MediaMTX's word for a push, at /hook/srs and /hook/mediamtx.
# Neither origin is packaged for Debian (nor npm), so no real one runs here: the requests are
# built exactly as their source and documentation define them (/work/notes/hooks.md: SRS 5..7
# srs_app_http_hooks.cpp; MediaMTX's runOnReady / runOnNotReady environment), and the media come
# from the real nginx-rtmp test origin, which each Origin's PullUrl points at.
# - SRS http_hooks: POST with Content-Type application/json, Connection Keep-Alive, an SRS
#   User-Agent, the JSON keys in SRS's order with every value a string (server_id, service_id,
#   action, client_id, ip, vhost, app, tcUrl, stream, param with its leading '?', stream_url,
#   stream_id). on_publish comes before the publisher is accepted (the service must keep trying
#   the pull) and on_unpublish when it leaves. Each must be answered at once with HTTP 200 and a
#   JSON body with the integer code 0, or SRS refuses the publish. A named vhost
#   (rec.example.com, given as ?vhost= while the tcUrl host is an address) is the push domain;
#   __defaultVhost__ with an address in the tcUrl falls back to the Origin's Domain.
# - MediaMTX runs commands: the shipped liverec/hooks/mediamtx is run the way MediaMTX runs it
#   (argv "ready URL" / "notready URL", an environment of PATH and MediaMTX's own variables only,
#   MTX_QUERY escaped as url.QueryEscape does), so the script itself is tested: the push is
#   recorded under the Origin's Domain, the query reaches the events unescaped, and the script
#   exits non-zero when the service refuses (a wrong HookToken: 403).
# Each of the three 6 s pushes gives one MP4 in its own domain's folder, a push event (1) and,
# from the end hook, an interruption event (0) with the same sequence, all signed.
. "$(dirname "$0")/lib.sh"
lr_init serve-srs-mediamtx
hook=$LR_TOP/liverec/hooks/mediamtx
[ -x "$hook" ] || lr_fail "$hook is missing or not executable"
token=srs-mtx-t0ken
lr_nginx_start
lr_callback_start
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="srs" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}"
          Domain="example.com"/>
  <Origin Type="mediamtx" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}"
          Domain="mtx.example.com"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" RetryInterval="2"/>
  <Service HookToken="$token"/>
  <Template TemplateId="1" TemplateName="mp4"><Mp4Param/></Template>
  <Rule DomainName="rec.example.com" TemplateId="1"/>
  <Rule DomainName="example.com" TemplateId="1"/>
  <Rule DomainName="mtx.example.com" TemplateId="1"/>
</LiveRecordConfig>
X
lr_serve_start "$LR_DIR/serve.xml" serve.log
lr_wait_log serve.log "serving .*2 origin" 5

# One SRS hook, as SRS 5..7 sends it (SrsHttpHooks::on_publish / on_unpublish + do_post):
# srs ACTION CLIENT_ID VHOST TCURL STREAM PARAM. Fails unless answered 200 with code 0 at once.
srs() {
    python3 - "$LR_SERVE_PORT" "$token" "$@" >> "$LR_DIR/srs-hooks.log" 2>&1 <<'PY' ||
import http.client, json, sys, time
port, token, action, cid, vhost, tcurl, stream, param = sys.argv[1:]
app = "live"
body = json.dumps({                       # SRS's key order, every value a string
    "server_id": "vid-0xk989d", "service_id": "2e1h3vl8", "action": action, "client_id": cid,
    "ip": "127.0.0.1", "vhost": vhost, "app": app, "tcUrl": tcurl, "stream": stream,
    "param": param,
    "stream_url": ("" if vhost == "__defaultVhost__" else vhost) + "/%s/%s" % (app, stream),
    "stream_id": "vid-2h7b0ef"}, separators=(",", ":"))
t0 = time.time()
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
c.putrequest("POST", "/hook/srs?token=" + token, skip_host=True, skip_accept_encoding=True)
for k, v in (("Host", "127.0.0.1:%s" % port), ("Content-Type", "application/json"),
             ("Connection", "Keep-Alive"), ("Content-Length", str(len(body))),
             ("User-Agent", "SRS/6.0.184(Hang)")):
    c.putheader(k, v)
c.endheaders(body.encode())
r = c.getresponse()
answer = r.read().decode("utf-8", "replace")
took = time.time() - t0
print("%s %s %s -> HTTP %d %r in %.3f s" % (action, vhost, stream, r.status, answer, took))
# SRS's do_post: 200/201, a non-empty JSON body, the number 0 or an object with integer code 0
assert r.status in (200, 201), "HTTP %d" % r.status
v = json.loads(answer)
assert v == 0 or (isinstance(v, dict) and type(v.get("code")) is int and v["code"] == 0), answer
assert took < 2, "answered after %.1f s: the origin holds its publisher meanwhile" % took
PY
        lr_fail "SRS $1 of $5: $(tail -n 3 "$LR_DIR/srs-hooks.log")"
}
# liverec/hooks/mediamtx as MediaMTX runs it: mtx ready|notready PATH QUERY [URL]
mtx() {
    env -i PATH="$PATH" MTX_PATH="$2" MTX_QUERY="$3" MTX_SOURCE_TYPE=rtmpConn \
        MTX_SOURCE_ID=5f0e5bd6-3e64-4b8e-8d3a-2c7c4e2a6f11 RTSP_PORT=8554 \
        "$hook" "$1" "${4:-http://127.0.0.1:$LR_SERVE_PORT/hook/mediamtx?token=$token}" \
        >> "$LR_DIR/mtx-hooks.log" 2>&1
}

# the script says no when the service says no (a wrong token: 403), and says why
mtx ready live/cam3 "" "http://127.0.0.1:$LR_SERVE_PORT/hook/mediamtx?token=wrong" &&
    lr_fail "liverec/hooks/mediamtx exited 0 on a refused hook"
grep -q "HTTP 403" "$LR_DIR/mtx-hooks.log" || lr_fail "no reason from the refused hook: $(cat "$LR_DIR/mtx-hooks.log")"

# SRS announces its publishes before it accepts them: the pushes come a moment after the hooks
t0=$(date +%s)
srs on_publish 341w361a rec.example.com rtmp://127.0.0.1:1935/live cam1 "?vhost=rec.example.com&key=abc"
srs on_publish 52k9x0qz __defaultVhost__ rtmp://127.0.0.1:1935/live cam2 ""
lr_push_bg cam1 6
p1=$LR_LAST_PID
lr_push_bg cam2 6
p2=$LR_LAST_PID
lr_push_bg cam3 6
p3=$LR_LAST_PID
# MediaMTX runs runOnReady once the path has its publisher and tracks
sleep 1
mtx ready live/cam3 "key%3Dabc%26x%3D1" || lr_fail "mediamtx ready failed: $(cat "$LR_DIR/mtx-hooks.log")"
for p in $p1 $p2 $p3; do
    wait $p || lr_fail "a push failed (see push-cam*.log)"
done
lr_log "pushes done after $(( $(date +%s) - t0 )) s"
srs on_unpublish 341w361a rec.example.com rtmp://127.0.0.1:1935/live cam1 "?vhost=rec.example.com&key=abc"
srs on_unpublish 52k9x0qz __defaultVhost__ rtmp://127.0.0.1:1935/live cam2 ""
mtx notready live/cam3 "key%3Dabc%26x%3D1" || lr_fail "mediamtx notready failed: $(cat "$LR_DIR/mtx-hooks.log")"
sed 's/^/    /' "$LR_DIR/srs-hooks.log" >&2

for s in rec.example.com/live/cam1 example.com/live/cam2 mtx.example.com/live/cam3; do
    lr_wait_log serve.log "session of $s ended" 15
done
_i=0
until [ "$(grep -c '"event_type": 0,' "$LR_DIR/callbacks.jsonl")" -ge 3 ] &&
        [ "$(grep -c '"record_ended"' "$LR_DIR/callbacks.jsonl")" -ge 3 ]; do
    [ $_i -lt 100 ] || lr_fail "not every push's end and recording's end was announced in 10 s"
    sleep 0.1
    _i=$((_i + 1))
done
lr_log "sessions ended and announced $(( $(date +%s) - t0 )) s after the first hook"

# the spool: one MP4 per push, each in its push domain's folder, nothing else
spool=$LR_DIR/spool
got=$(cd "$spool" && find . -name '*.mp4' | sed 's|^\./||; s|/mp4/.*||' | sort | tr '\n' ' ')
[ "$got" = "example.com/live/cam2 mtx.example.com/live/cam3 rec.example.com/live/cam1 " ] ||
    lr_fail "MP4 recordings in: $got"
[ "$(ls "$spool" | tr '\n' ' ')" = "example.com mtx.example.com rec.example.com " ] ||
    lr_fail "domain folders in the spool: $(ls "$spool")"
for f in $(find "$spool" -name '*.mp4'); do
    dur=$(lr_duration "$f")
    awk -v d="$dur" 'BEGIN { exit !(d >= 4 && d <= 7) }' || lr_fail "$f lasts $dur s (pushed 6 s)"
    # the stream order is the order the pull met them in
    [ "$(lr_streams "$f" | tr ' ' '\n' | sort | tr '\n' ' ')" = "audio:aac video:h264 " ] ||
        lr_fail "$f: $(lr_streams "$f")"
done
left=$(find "$spool" -name '*.recording')
[ -z "$left" ] || lr_fail "working files left: $left"

python3 - "$LR_DIR/callbacks.jsonl" <<'PY' || lr_fail "the events are not as specified"
import hashlib, json, sys
cbs = [json.loads(l) for l in open(sys.argv[1])]
for c in cbs:
    b = c["body"]
    assert b["sign"] == hashlib.md5(("k3y" + str(b["t"])).encode()).hexdigest(), "bad sign: %s" % b
want = {  # stream: domain, user_ip, stream_param
    "cam1": ("rec.example.com", "127.0.0.1", "vhost=rec.example.com&key=abc"),
    "cam2": ("example.com", "127.0.0.1", ""),
    "cam3": ("mtx.example.com", "", "key=abc&x=1"),
}
for s, (domain, ip, param) in want.items():
    ev = [c["body"] for c in cbs if c["body"]["stream_id"] == s]
    seq = [(b["event_type"], b.get("record_event") or b.get("file_format") or "") for b in ev]
    assert all((b["app"], b["appname"]) == (domain, "live") for b in ev), (s, ev)
    pe = [b for b in ev if b["event_type"] in (0, 1)]
    assert [b["event_type"] for b in pe] == [1, 0], (s, seq)
    assert pe[0]["sequence"] == pe[1]["sequence"], (s, "sequence", pe)
    for b in pe:
        assert (b["user_ip"], b["stream_param"]) == (ip, param), (s, b["user_ip"], b["stream_param"])
    assert 4000 <= pe[1]["push_duration"] <= 12000, (s, pe[1])
    st = [b["record_event"] for b in ev if b["event_type"] == 332]
    assert st == ["record_start_succeeded", "record_ended"], (s, seq)
    assert [b["file_format"] for b in ev if b["event_type"] == 100] == ["mp4"], (s, seq)
    print("%s: %s  %s" % (s, domain, " ".join("%d%s" % (t, ":" + e if e else "") for t, e in seq)))
assert not [c for c in cbs if c["body"]["stream_id"] not in want], "events for other streams"
PY
lr_log "events: $(wc -l < "$LR_DIR/callbacks.jsonl"), signed, 1 and 0 per push, each in its domain"

kill -TERM $LR_SERVE_PID
lr_wait_pid $LR_SERVE_PID 10 || lr_fail "ffliverec -serve did not exit 0 within 10 s of SIGTERM"
lr_pass
