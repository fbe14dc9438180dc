#!/bin/sh
# What an operator watches of ffliverec -serve, checked while it records a real push: a stream
# pushed to nginx-rtmp (on_publish / on_publish_done hooks to the service, a rule recording HLS +
# MP4 with FlowContinueDuration 8 s) twice, 3 s apart.
#  - GET /metrics, scraped while the push is recording and after the session ended, is valid
#    Prometheus text (Prometheus' own promtool check metrics, from liverec/install-deps), and its
#    counters moved as they should: recordings started once per output and push, hook requests
#    ok once per hook, the sessions gauge in phase recording during the push, and after the
#    session one finished HLS file (the splice) and two MP4 files, with their bytes.
#  - The status page (GET /) in headless Chromium (playwright-core, Debian's chromium) lists the
#    live push in #streams, phase "recording"; a screenshot of it is kept (status-live.png).
#  - At the second push, the stream row's play button plays the open HLS recording live
#    (GET /live/...: push 1's segment is in its playlist by then).
#  - The interrupted push is one spliced HLS recording, in the catalog (so on the page) only once
#    it is finalized, FlowContinueDuration after the second push ended; its row's play button
#    plays it in the page's own player (hls.js, window.liverecPlayer) from start to `ended`
#    across the discontinuity without an hls.js error; screenshot status-played.png.
#  - ffliverec -status -listen prints the live stream while it records, and the recordings after.
# The screenshots and the logs stay in the test's folder (build/tests/liverec/serve-status).
. "$(dirname "$0")/lib.sh"
lr_init serve-status
ffl=$LR_BUILD/ffliverec
promtool=$LR_BUILD/promtool/promtool
[ -x "$promtool" ] || lr_fail "$promtool is missing (liverec/install-deps extracts it)"
[ -f "$LR_PLAYER/node_modules/playwright-core/package.json" ] ||
    lr_fail "playwright-core is not installed in $LR_PLAYER (liverec/install-deps installs it)"
[ -x /usr/bin/chromium ] || lr_fail "chromium is not installed (liverec/install-deps installs it)"
stream=cam
key=example.com/live/$stream

# GET URL into $LR_DIR/FILE (HTTP status 200 or fail)
get() {
    code=$(curl -s -o "$LR_DIR/$2" -w '%{http_code}' --max-time 10 "$1") || code=000
    [ "$code" = 200 ] || lr_fail "GET $1: HTTP $code"
}
# the same, trying again while the answer is 404, up to SECONDS: get_when_there URL FILE SECONDS
get_when_there() {
    _gi=0
    until code=$(curl -s -o "$LR_DIR/$2" -w '%{http_code}' --max-time 10 "$1") && [ "$code" = 200 ]; do
        [ "$code" = 404 ] && [ $_gi -lt $(($3 * 10)) ] || lr_fail "GET $1: HTTP $code"
        sleep 0.1
        _gi=$((_gi + 1))
    done
    lr_log "GET $1: 200 after $((_gi / 10)).$((_gi % 10)) s"
}
# scrape /metrics into $LR_DIR/FILE and have promtool check it
scrape() {
    get "$LR_SERVE_URL/metrics" "$1"
    "$promtool" check metrics < "$LR_DIR/$1" > "$LR_DIR/$1.promtool" 2>&1 ||
        lr_fail "promtool check metrics refuses $1: $(cat "$LR_DIR/$1.promtool")"
}
# the value of one sample (NAME or NAME{labels} exactly as written) in a scraped FILE
metric() {
    awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print "missing" }' "$LR_DIR/$1"
}
# expect FILE SAMPLE VALUE
expect() {
    v=$(metric "$1" "$2")
    [ "$v" = "$3" ] || lr_fail "$1: $2 is $v, expected $3"
}

token=st4tus-t0ken
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK="http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp?token=$token"
lr_nginx_start
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}"
          Domain="example.com"/>
  <Service MaxSessions="4" HookToken="$token"/>
  <Template TemplateId="1" TemplateName="hls-mp4">
    <HlsParam/><Mp4Param/>
    <HlsSpecialParam FlowContinueDuration="8"/>
  </Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
lr_serve_start "$LR_DIR/serve.xml" serve.log
lr_wait_log serve.log "serving .*1 origin" 5

# before any push: valid metrics, nothing counted yet
scrape metrics-0.txt
expect metrics-0.txt liverec_recordings_started_total 0
expect metrics-0.txt 'liverec_hook_requests_total{result="ok"}' 0
expect metrics-0.txt 'liverec_files_total{format="hls"}' 0

# the page, in the background for the whole test: it says PAGE when loaded, then waits for the
# push (LIVE), for the finished recording (LISTED) and plays it (PLAYED)
cp "$LR_TOP/tests/liverec/player/status-page.mjs" "$LR_PLAYER/" # resolves its imports there
node "$LR_PLAYER/status-page.mjs" "$LR_SERVE_URL" "$key" "$LR_DIR" 90 "$LR_DIR/chromium-profile" \
    > "$LR_DIR/page.out" 2> "$LR_DIR/page.log" &
page=$!
lr_track $page
page_step() { # WORD SECONDS: wait for the page's step, fail on its ERROR; prints the step's JSON
    _pi=0
    until grep -q "^$1 " "$LR_DIR/page.out"; do
        grep -q '^ERROR ' "$LR_DIR/page.out" && lr_fail "the page, waiting for $1: $(grep '^ERROR ' "$LR_DIR/page.out")"
        kill -0 $page 2>/dev/null || lr_fail "the page script exited before $1 (see page.log)"
        [ $_pi -lt $(($2 * 10)) ] || lr_fail "the page did not reach $1 within $2 s"
        sleep 0.1
        _pi=$((_pi + 1))
    done
    sed -n "s/^$1 //p" "$LR_DIR/page.out" | head -n 1
}
page_step PAGE 60 > /dev/null
lr_log "page loaded: $(page_step PAGE 1)"

# push 1 (10 s) in the background; while it records: metrics, the page, -status
t0=$(date +%s)
lr_push_bg $stream 10
push=$LR_LAST_PID
lr_wait_count serve.log "recording mp4 into" 1 20
lr_wait_count serve.log "recording hls into" 1 5
scrape metrics-live.txt
expect metrics-live.txt liverec_recordings_started_total 2
expect metrics-live.txt 'liverec_hook_requests_total{result="ok"}' 1
expect metrics-live.txt 'liverec_sessions{phase="recording"}' 1
expect metrics-live.txt 'liverec_streams{state="live"}' 1
expect metrics-live.txt 'liverec_files_total{format="mp4"}' 0
# the heap gauges (glibc): something in use while a session records
awk '$1 == "liverec_heap_bytes{state=\"in_use\"}" && $2 > 100000 { ok = 1 } END { exit !ok }' \
    "$LR_DIR/metrics-live.txt" || lr_fail "metrics-live.txt: no liverec_heap_bytes in use"
lr_log "metrics while recording: promtool accepts them, 2 recordings started, 1 hook ok"

"$ffl" -hide_banner -status -listen "127.0.0.1:$LR_SERVE_PORT" > "$LR_DIR/status-live.txt" 2>&1 ||
    lr_fail "ffliverec -status failed: $(cat "$LR_DIR/status-live.txt")"
grep "^  $key  recording  push 1  " "$LR_DIR/status-live.txt" | grep -q ' open:.* hls' &&
    grep "^  $key  recording  push 1  " "$LR_DIR/status-live.txt" | grep -q ' open:.* mp4' ||
    lr_fail "ffliverec -status does not show the live push: $(cat "$LR_DIR/status-live.txt")"
grep -q '^streams: 1 live, 1 known$' "$LR_DIR/status-live.txt" ||
    lr_fail "ffliverec -status: $(cat "$LR_DIR/status-live.txt")"

live=$(page_step LIVE 30)
lr_log "page, live: $live"
[ -s "$LR_DIR/status-live.png" ] || lr_fail "no screenshot status-live.png"
python3 - "$live" "$key" <<'PY' || lr_fail "the stream's row: $live"
import json, sys
r, key = json.loads(sys.argv[1]), sys.argv[2]
c = r["cells"]
assert c[0] == key and c[1] == "recording" and r["phaseClass"] == "recording", c
assert c[2] == "1", c                           # push 1
assert c[4].endswith(" kbit/s") and c[5].count("\n") == 1, c   # two open files, one a line
assert any(l.startswith("hls: ") for l in c[5].split("\n")) and any(l.startswith("mp4: ") for l in c[5].split("\n")), c
# (the live HLS recording is offered to play once its playlist exists: checked in push 2)
assert r["error"] is None, r["error"]
PY
wait $push || lr_fail "push 1 failed (see push-$stream.log)"

# the interruption (3 s, inside FlowContinueDuration), then push 2 (6 s)
lr_wait_count serve.log "the push is interrupted" 1 10
sleep 3
lr_push_bg $stream 6
push=$LR_LAST_PID
lr_wait_log serve.log "the push is back" 15
# the open HLS recording is offered to play live, and its playlist (push 1's segment by now) is
# served
get "$LR_SERVE_URL/status.json" status-live.json
play=$(python3 - "$LR_DIR/status-live.json" <<'PY'
import json, sys
o = [o for s in json.load(open(sys.argv[1]))["Streams"] for o in (s.get("Session") or {}).get("Outputs", [])
     if o.get("Format") == "hls" and o.get("Open")]
print(o[0].get("PlayUrl", "") if len(o) == 1 else "")
PY
)
[ "$play" = "/live/$key/hls/$stream.m3u8" ] || lr_fail "the live HLS recording's PlayUrl is '$play'"
get_when_there "$LR_SERVE_URL$play" live.m3u8 5
grep -q '^#EXTM3U' "$LR_DIR/live.m3u8" && grep -q '^#EXT-X-PLAYLIST-TYPE:EVENT' "$LR_DIR/live.m3u8" &&
    ! grep -q '^#EXT-X-ENDLIST' "$LR_DIR/live.m3u8" || lr_fail "GET $play: not a live playlist: $(cat "$LR_DIR/live.m3u8")"
seg=$(grep -m 1 '^[^#]' "$LR_DIR/live.m3u8")
get "$LR_SERVE_URL/live/$key/hls/$seg" live-segment.ts
# (ffprobe lists a TS file's streams twice: in its program and alone)
segstreams=$(lr_streams "$LR_DIR/live-segment.ts")
case " $segstreams " in *" video:h264 "*" audio:aac "* | *" audio:aac "*" video:h264 "*) ;; *) false ;; esac ||
    lr_fail "GET /live/$key/hls/$seg: $(lr_streams "$LR_DIR/live-segment.ts")"
wait $push || lr_fail "push 2 failed (see push-$stream.log)"
lr_wait_count serve.log "the push is interrupted" 2 10

# meanwhile the page played the open recording live from the stream's row
liveplay=$(page_step LIVEPLAY 30)
lr_log "page, live play: $liveplay"
python3 - "$liveplay" "$key" <<'PY' || lr_fail "live play: $liveplay"
import json, sys
p, key = json.loads(sys.argv[1]), sys.argv[2]
assert p["fatal"] is None, "hls.js fatal error: %s" % p["fatal"]
assert p["currentTime"] >= 2, "played %.2f s" % p["currentTime"]
assert p["src"].endswith("/live/%s/hls/cam.m3u8" % key), p["src"]
PY

# waiting for a third push: not finalized, so neither in the catalog nor on the page
get "$LR_SERVE_URL/status.json" status-waiting.json
python3 - "$LR_DIR/status-waiting.json" "$key" <<'PY' || lr_fail "status.json while waiting: $(cat "$LR_DIR/status-waiting.json")"
import json, sys
st, key = json.load(open(sys.argv[1])), sys.argv[2]
s = [s for s in st["Streams"] if "/".join((s["DomainName"], s["AppName"], s["StreamName"])) == key]
assert len(s) == 1 and s[0]["Session"]["Phase"] == "waiting", s
assert s[0]["Session"]["Pushes"] == 2, s
recs = [r for r in st["Recordings"] if "/".join((r["domain"], r["app"], r["stream"])) == key]
assert sorted(r["format"] for r in recs) == ["mp4", "mp4"], [(r["format"], r["local_path"]) for r in recs]
PY
grep -q '^LISTED ' "$LR_DIR/page.out" && lr_fail "the page lists the HLS recording before it is finalized"

# FlowContinueDuration passes: the session ends, the HLS recording is finalized
lr_wait_log serve.log "session of $key ended" 30
lr_log "session ended $(( $(date +%s) - t0 )) s after push 1 started"
scrape metrics-end.txt
expect metrics-end.txt liverec_recordings_started_total 4
expect metrics-end.txt 'liverec_hook_requests_total{result="ok"}' 4
expect metrics-end.txt 'liverec_hook_requests_total{result="denied"}' 0
expect metrics-end.txt 'liverec_recordings_failed_total' 0
expect metrics-end.txt 'liverec_files_total{format="hls"}' 1
expect metrics-end.txt 'liverec_files_total{format="mp4"}' 2
expect metrics-end.txt 'liverec_sessions{phase="recording"}' 0
expect metrics-end.txt 'liverec_sessions{phase="waiting"}' 0
spool=$LR_DIR/spool/example.com/live/$stream
pl=$(ls "$spool/hls" | grep "^${stream}_.*\.m3u8$")
[ "$(echo "$pl" | grep -c .)" = 1 ] || lr_fail "finalized playlists: $(ls "$spool/hls")"
[ "$(grep -c '^#EXT-X-DISCONTINUITY$' "$spool/hls/$pl")" = 1 ] || lr_fail "$pl: not one discontinuity"
grep -q '^#EXT-X-ENDLIST' "$spool/hls/$pl" || lr_fail "$pl: no ENDLIST"
hls_bytes=$(cat "$spool/hls/$pl" $(grep '^[^#]' "$spool/hls/$pl" | sed "s|^|$spool/hls/|") | wc -c)
mp4_bytes=$(cat "$spool"/mp4/*.mp4 | wc -c)
expect metrics-end.txt 'liverec_written_bytes_total{format="hls"}' "$hls_bytes"
expect metrics-end.txt 'liverec_written_bytes_total{format="mp4"}' "$mp4_bytes"
duration=$(awk -F'[:,]' '/^#EXTINF:/ { d += $2 } END { print d }' "$spool/hls/$pl")
lr_within "$duration" 16 15 || lr_fail "$pl lasts $duration s for 16 s pushed"
lr_log "metrics after the session: promtool accepts them; files hls 1 ($hls_bytes B), mp4 2 ($mp4_bytes B), 4 hooks ok; $pl $duration s"

"$ffl" -hide_banner -status -listen "127.0.0.1:$LR_SERVE_PORT" > "$LR_DIR/status-end.txt" 2>&1 ||
    lr_fail "ffliverec -status failed: $(cat "$LR_DIR/status-end.txt")"
grep -q "^  .*  $key  hls  .*  local $spool/hls/$pl\$" "$LR_DIR/status-end.txt" ||
    lr_fail "ffliverec -status does not list $pl: $(cat "$LR_DIR/status-end.txt")"
[ "$(grep -c "^  .*  $key  mp4  .*  local $spool/mp4/" "$LR_DIR/status-end.txt")" = 2 ] ||
    lr_fail "ffliverec -status does not list the 2 MP4 files: $(cat "$LR_DIR/status-end.txt")"
grep -Eq "^  $key  (connecting|recording|waiting)" "$LR_DIR/status-end.txt" &&
    lr_fail "ffliverec -status still shows a session: $(cat "$LR_DIR/status-end.txt")"

# the page lists it (the row's id is the catalog's), plays it to the end across the splice
listed=$(page_step LISTED 20)
lr_log "page, listed: $listed"
get "$LR_SERVE_URL/status.json" status-end.json
python3 - "$listed" "$LR_DIR/status-end.json" "$key" "$spool/hls/$pl" <<'PY' || lr_fail "the recording's row: $listed"
import json, sys
l, st, key, path = json.loads(sys.argv[1]), json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
r = [r for r in st["Recordings"] if r["format"] == "hls"]
assert len(r) == 1 and r[0]["local_path"] == path, r
assert l["id"] == str(r[0]["id"]), (l["id"], r[0]["id"])
assert l["url"] == "/recordings/%d/%s" % (r[0]["id"], path.rsplit("/", 1)[1]) == r[0]["PlayUrl"], l
assert l["cells"][1] == key and l["cells"][5] == "local" and l["cells"][6] == path, l
assert l["rows"] == 3, "rows: %d (1 hls + 2 mp4)" % l["rows"]
PY
page_step PLAYED 60 > /dev/null
played=$(page_step PLAYED 1)
lr_wait_pid $page 20 || lr_fail "the page script did not end (see page.log)"
lr_log "page, played: $played"
[ -s "$LR_DIR/status-played.png" ] || lr_fail "no screenshot status-played.png"
frames=$("$LR_FFPROBE" -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets \
    -of csv=p=0 "$spool/hls/$pl" | head -n 1)
python3 - "$played" "$duration" "$frames" <<'PY' || lr_fail "playback: $played ($frames video frames)"
import json, sys
p, d, n = json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
# hls.js may nudge the playhead over a small hole in the buffer at the discontinuity (where
# audio and video do not start together): that is handled, not an error of the recording
handled = ("mediaError/bufferSeekOverHole", "mediaError/bufferNudgeOnStall", "mediaError/bufferStalledError")
assert p["fatal"] is None, "hls.js fatal error: %s" % p["fatal"]
assert all(e in handled for e in p["errors"]), "hls.js errors: %s" % p["errors"]
assert p["ended"] and p["videoEnded"], "not ended"
assert abs(p["currentTime"] - d) <= 0.05 * d, "reached %.2f s of %.2f s" % (p["currentTime"], d)
assert p["cc"] == [0, 1], "discontinuities crossed: %s" % p["cc"]
assert abs(p["frames"] - n) <= 0.05 * n, "decoded %d frames of %d" % (p["frames"], n)
assert p["playerStatus"].startswith("Playing "), p["playerStatus"]
PY
lr_log "played $(lr_json "$played" currentTime) s of $duration s to ended across the discontinuity in $(lr_json "$played" seconds) s, $(lr_json "$played" frames) frames of $frames"

# keep the screenshots and the logs, not the media or the browser's profile
lr_stop $LR_SERVE_PID
lr_stop $LR_NGINX_PID
rm -rf "$LR_DIR/spool" "$LR_DIR/state" "$LR_DIR/chromium-profile" "$LR_DIR/nginx"
LR_KEEP=1
lr_log "screenshots: $LR_DIR/status-live.png $LR_DIR/status-played.png"
lr_pass
