#!/bin/sh
# ffliverec -serve with a second real origin: Node-Media-Server 4 from npm (tests/liverec/nms,
# installed into build/nms by liverec/install-deps; 4.3.2, the newest release that runs on the
# Node.js 18 install-deps provides), on 127.0.0.1, its notify URL pointing at
# /hook/node-media-server and its JWT streams API as the Origin's StatusUrl. NMS is not nginx:
# it posts its JSON as text/plain; it says prePublish and postPublish for every publish; when a
# publisher goes it keeps the publish for a 30 s grace (players stay attached and are sent
# nothing, a player that connects meanwhile gets the old publisher's cached headers and GOP, the
# API says "reconnecting") and says donePublish only when the grace runs out; and a republish
# from the same address within the grace resumes it: a second postPublish with a new id, no
# donePublish for the first, timestamps shifted to go on from the first publish's. A stream
# pushed twice with a 2 s gap (HLS + MP4, FlowContinueDuration 8 s), as an encoder reconnects,
# must still give what nginx-rtmp gives: one HLS recording spliced behind one discontinuity, one
# MP4 per push, nothing recorded from NMS's stale cache, exactly one push event (1) per push (not
# one per postPublish), each paired with its interruption (0) by sequence, user_ip without NMS's
# port, stream_param from NMS's query object, and every event signed.
. "$(dirname "$0")/lib.sh"
lr_init serve-nms
NMS=${LR_NMS:-$LR_BUILD/nms}
[ -f "$NMS/node_modules/node-media-server/package.json" ] ||
    lr_fail "node-media-server is not installed in $NMS (liverec/install-deps installs it)"
command -v node > /dev/null || lr_fail "node is not installed (liverec/install-deps installs it)"
nms_version=$(node -p 'require(process.argv[1]).version' "$NMS/node_modules/node-media-server/package.json")

LR_SERVE_PORT=$(lr_free_port)
nms_rtmp=$(lr_free_port)
nms_http=$(lr_free_port)
while [ "$nms_http" = "$nms_rtmp" ] || [ "$nms_http" = "$LR_SERVE_PORT" ]; do nms_http=$(lr_free_port); done
pass=nms-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
NMS_ADMIN_PASSWORD=$pass node "$LR_TOP/tests/liverec/nms/start.js" --modules "$NMS" \
    --rtmp-port "$nms_rtmp" --http-port "$nms_http" \
    --notify-url "http://127.0.0.1:$LR_SERVE_PORT/hook/node-media-server" \
    --store "$LR_DIR/nms-store" > "$LR_DIR/nms.log" 2>&1 &
nms_pid=$!
lr_track $nms_pid
lr_wait_port "$nms_rtmp" 15 && lr_wait_port "$nms_http" 5 ||
    lr_fail "Node-Media-Server did not listen on 127.0.0.1:$nms_rtmp and :$nms_http"
lr_log "Node-Media-Server $nms_version (pid $nms_pid) on rtmp://127.0.0.1:$nms_rtmp/live"

lr_callback_start
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="node-media-server" PullUrl="rtmp://127.0.0.1:$nms_rtmp/live/{StreamName}"
          StatusUrl="http://admin:$pass@127.0.0.1:$nms_http/api/v1/streams" Domain="example.com"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" RetryInterval="2"/>
  <Template TemplateId="1" TemplateName="hls-mp4">
    <HlsParam/><Mp4Param/>
    <HlsSpecialParam FlowContinueDuration="8"/>
  </Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
lr_serve_start "$LR_DIR/serve.xml" serve.log -stats_period 5
lr_wait_log serve.log "serving .*1 origin" 5
# the status page: the service logs in with the StatusUrl's user:pass and lists the streams
lr_wait_log nms.log "Password storage for user admin upgraded" 5
sleep 0.5
grep -q "node-media-server status page" "$LR_DIR/serve.log" &&
    lr_fail "the NMS status page cannot be read: $(grep 'status page' "$LR_DIR/serve.log" | head -n 3)"

# one stream, pushed to NMS twice with a 2 s gap, as an encoder reconnects: shorter than the
# puller's rw_timeout (NMS keeps its players attached through the gap and sends them nothing, so
# the same play connection carries the second publish, its timestamps shifted by NMS to go on
# from the first one's) and than NMS's 30 s grace (the second publish resumes the first: a
# second postPublish with a new id, no donePublish in between)
LR_RTMP_URL=rtmp://127.0.0.1:$nms_rtmp/live
t0=$(date +%s)
lr_push_interrupted "cam?key=abc" 6 2 6
t_end=$(date +%s)
lr_log "pushes done after $((t_end - t0)) s"

# the session ends once no push came back within 8 s
lr_wait_log serve.log "session of example.com/live/cam ended" 20
lr_wait_log callbacks.jsonl '"record_ended"' 10
if grep -q '"record_error"' "$LR_DIR/callbacks.jsonl"; then
    lr_fail "a recording failed: $(grep 'writing failed' "$LR_DIR/serve.log" | head -n 2)"
fi
lr_wait_log callbacks.jsonl '"file_format": "hls"' 10
lr_log "the session ended $(( $(date +%s) - t_end )) s after the last push"
# the last push's end: donePublish when NMS's 30 s grace runs out (or the status page, which
# says "reconnecting" meanwhile, whichever comes first)
until [ "$(grep -c '"event_type": 0,' "$LR_DIR/callbacks.jsonl")" -ge 2 ]; do
    [ "$(date +%s)" -lt $((t_end + 40)) ] ||
        lr_fail "no interruption event for the second push 40 s after it ended"
    sleep 0.2
done
lr_log "second push's end announced $(( $(date +%s) - t_end )) s after it ended"
sleep 1

# what NMS said: two publishes, the second resuming the first within the grace
[ "$(grep -c 'start push /live/cam' "$LR_DIR/nms.log")" = 2 ] ||
    lr_fail "NMS did not see two publishes: $(grep 'push' "$LR_DIR/nms.log")"

# the spool: one spliced HLS recording, two MP4
d=$LR_DIR/spool/example.com/live/cam
[ -d "$d" ] || lr_fail "nothing recorded under example.com/live/cam: $(find "$LR_DIR/spool" -maxdepth 3)"
left=$(find "$LR_DIR/spool" -name '*.recording')
[ -z "$left" ] || lr_fail "working files left: $left"
mp4s=$(ls "$d/mp4" | grep '\.mp4$' || true)
[ "$(echo "$mp4s" | grep -c .)" = 2 ] || lr_fail "MP4 files for 2 pushes: $(echo $mp4s)"
durs=""
for f in $mp4s; do
    dur=$(lr_duration "$d/mp4/$f")
    awk -v d="$dur" 'BEGIN { exit !(d >= 4 && d <= 7) }' || lr_fail "$f lasts $dur s (pushed 6 s)"
    # the stream order is the order the pull met them in
    [ "$(lr_streams "$d/mp4/$f" | tr ' ' '\n' | sort | tr '\n' ' ')" = "audio:aac video:h264 " ] ||
        lr_fail "$f: $(lr_streams "$d/mp4/$f")"
    durs="$durs $(printf '%.1f' "$dur")"
done
pl=$(ls "$d/hls" | grep '\.m3u8$' || true)
[ "$(echo "$pl" | grep -c .)" = 1 ] || lr_fail "HLS playlists: $(echo $pl)"
case $pl in cam_*.m3u8) ;; *) lr_fail "the HLS recording was not finalized: $pl" ;; esac
grep -q '^#EXT-X-ENDLIST' "$d/hls/$pl" || lr_fail "no ENDLIST in $pl"
disc=$(grep -c '^#EXT-X-DISCONTINUITY$' "$d/hls/$pl")
[ "$disc" = 1 ] || lr_fail "$pl has $disc discontinuities for 1 interruption"
for seg in $(grep '^[^#]' "$d/hls/$pl"); do
    [ -s "$d/hls/$seg" ] || lr_fail "$pl lists $seg, which is missing"
done
hd=$(lr_duration "$d/hls/$pl")
awk -v d="$hd" 'BEGIN { exit !(d >= 9 && d <= 13.5) }' || lr_fail "the HLS recording lasts $hd s for 12 s pushed"
lr_log "mp4$durs s; hls $pl, $hd s, $disc discontinuity"

# the events
python3 - "$LR_DIR/callbacks.jsonl" <<'PY' || lr_fail "the events are not as specified"
import hashlib, json, sys
cbs = [json.loads(l) for l in open(sys.argv[1])]
ev = [c["body"] for c in cbs]
for c in cbs:
    b = c["body"]
    assert c["content_type"] == "application/json", c["content_type"]
    assert b["sign"] == hashlib.md5(("k3y" + str(b["t"])).encode()).hexdigest(), "bad sign: %s" % b
    assert abs(b["t"] - (c["received"] + 600)) < 30, "t is not now + 600: %s" % b
    assert (b["app"], b["appname"], b["stream_id"]) == ("example.com", "live", "cam"), b
seq = [(b["event_type"], b.get("record_event") or b.get("file_format") or b.get("sequence")) for b in ev]
pe = [b for b in ev if b["event_type"] in (0, 1)]
# once per push, not once per postPublish; each push's end paired with it by sequence
assert [b["event_type"] for b in pe] == [1, 0, 1, 0], seq
assert pe[0]["sequence"] == pe[1]["sequence"] and pe[2]["sequence"] == pe[3]["sequence"], seq
assert pe[0]["sequence"] != pe[2]["sequence"], seq
for b in pe:
    assert b["user_ip"] == "127.0.0.1", ("user_ip", b)
    assert b["stream_param"] == "key=abc", ("stream_param", b)
assert 4000 <= pe[1]["push_duration"] <= 12000, pe[1]
st = [b["record_event"] for b in ev if b["event_type"] == 332]
assert st == ["record_start_succeeded", "record_paused", "record_resumed", "record_paused",
              "record_ended"], seq
fe = sorted(b["file_format"] for b in ev if b["event_type"] == 100)
assert fe == ["hls", "mp4", "mp4"], seq
assert len(ev) == len(pe) + len(st) + len(fe), ("unexpected events", seq)
print(" ".join("%d%s" % (t, ":" + str(e) if t in (332, 100) else "") for t, e in seq))
PY
lr_log "events: $(wc -l < "$LR_DIR/callbacks.jsonl") delivered, signed; one push event per push"

kill -TERM $LR_SERVE_PID
lr_wait_pid $LR_SERVE_PID 10 || lr_fail "ffliverec -serve did not exit 0 within 10 s of SIGTERM"
lr_stop $nms_pid
lr_pass
