#!/bin/sh
# The wall clock jumps under ffliverec -serve (libfaketime moves it; the monotonic clock stays
# real, as an NTP step or a clock set right by hand leaves it). The service starts an hour ahead,
# with the storage down and the callback receiver failing, and records a push of cam through
# nginx-rtmp into HLS and MP4:
#   - 3 s into the push the clock goes back an hour (to the right time);
#   - the push ends, and 1 s into the 3 s gap the clock goes two hours ahead; the push comes back;
#   - when the session has ended the clock goes back two hours, the storage and the receiver
#     come back.
# Then:
#   - the second push continues the HLS recording behind one discontinuity: the session timed the
#     interruption on the monotonic clock (3 s, within FlowContinueDuration), where the wall
#     clock said two hours;
#   - EXT-X-PROGRAM-DATE-TIME never goes back, no duration is negative or longer than what was
#     pushed, the MP4 names sort as the pushes came;
#   - the uploads and callbacks that failed while the clock was ahead are retried within seconds
#     once it is back, not two hours later when it reaches the retry times set before;
#   - every file is uploaded, plays and has its callback once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init clock-jump
ft=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -n 1)
[ -n "$ft" ] || lr_fail "libfaketime is not installed (liverec/install-deps installs it)"
clock=$LR_DIR/clock-offset
set_clock() { # the service's wall clock: SECONDS off the real one
    echo "$1" > "$clock.tmp" && mv "$clock.tmp" "$clock"
    lr_log "the service's wall clock is now $1 s off"
}
set_clock +3600
LR_SERVE_WRAP="env LD_PRELOAD=$ft FAKETIME_TIMESTAMP_FILE=$clock FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1"

lr_service_stack
: > "$LR_DIR/callback.fail"
lr_s3_stop
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/live/{StreamName}"
          StatusUrl="$LR_NGINX_STAT_URL" Domain="example.com"/>
  <Storage Endpoint="$LR_S3_ENDPOINT" Bucket="rec" KeyTemplate="{StreamName}/"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" RetryInterval="5" Events="100 332"/>
  <Template TemplateId="1" TemplateName="hls-mp4">
    <HlsParam/><Mp4Param RecordInterval="60"/>
    <HlsSpecialParam FlowContinueDuration="8"/>
  </Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
db=$LR_DIR/state/ffliverec.db
lr_serve_start "$LR_DIR/serve.xml" serve.log

lr_push_bg cam 6
p1=$LR_LAST_PID
lr_wait_log serve.log "recording hls into" 10
sleep 2
set_clock +0
lr_wait_pid $p1 15 || lr_fail "the first push did not end"
sleep 1
set_clock +7200
sleep 2
lr_push cam 5
lr_wait_log serve.log "session of example.com/live/cam ended" 20
grep -q "Continuing recording" "$LR_DIR/serve.log" ||
    lr_fail "the second push did not continue the HLS recording"
grep -q "upload of .* failed" "$LR_DIR/serve.log" || lr_fail "no upload failed while the storage was down"

# back to the right time; the storage and the receiver come back
set_clock +0
t_back=$(date +%s)
lr_s3_restart_proxy
rm -f "$LR_DIR/callback.fail"
lr_wait_drained "$db" 40
lr_log "uploads and callbacks done $(( $(date +%s) - t_back )) s after the clock went back"
kill -TERM $LR_SERVE_PID
lr_wait_pid $LR_SERVE_PID 20 || lr_fail "the service did not stop within 20 s of SIGTERM"

lr_s3_fetch_all rec "$LR_DIR/back"
python3 - "$db" "$LR_DIR" "$LR_FFMPEG" "$LR_TOP/tests/liverec" <<'PY' || lr_fail "the recordings"
import datetime, os, sqlite3, sys
db, d, ffmpeg = sys.argv[1:4]
sys.path.insert(0, sys.argv[4])
import recording_check
rows = sqlite3.connect(db).execute(
    "SELECT format, object_key, url, start_usec, end_usec, duration_ms FROM recordings"
    " ORDER BY format, start_usec").fetchall()
report = recording_check.Report()
fail = report.fail
fmts = [r[0] for r in rows]
if fmts.count("hls") != 1 or fmts.count("mp4") != 2:
    fail("catalogued: %s (one HLS recording and two MP4s expected)" % fmts)
for fmt, key, url, s, e, dur in rows:
    print("%s %s %.1f s (%s to %s)" % (fmt, key, dur / 1000, datetime.datetime.utcfromtimestamp(s / 1e6),
          datetime.datetime.utcfromtimestamp(e / 1e6)), file=sys.stderr)
    if e < s or dur < 0:
        fail("%s: a negative duration (start %d, end %d, duration %d ms)" % (key, s, e, dur))
    if dur > 14000 or (fmt == "mp4" and dur > 7000):
        fail("%s: %d ms, longer than what was pushed" % (key, dur))
    path = os.path.join(d, "back", key)
    for p in recording_check.problems(ffmpeg, fmt, path):
        fail(p)
    if fmt == "hls":
        text = open(path).read()
        if text.count("#EXT-X-DISCONTINUITY\n") != 1:
            fail("%s: %d discontinuities, 1 expected" % (key, text.count("#EXT-X-DISCONTINUITY\n")))
        dates = [l.split(":", 1)[1] for l in text.split("\n") if l.startswith("#EXT-X-PROGRAM-DATE-TIME:")]
        parsed = [datetime.datetime.fromisoformat(x.replace("Z", "+00:00")) for x in dates]
        if parsed != sorted(parsed):
            fail("%s: EXT-X-PROGRAM-DATE-TIME goes back: %s" % (key, dates))
mp4 = [r[1] for r in rows if r[0] == "mp4"]
if mp4 != sorted(mp4):
    fail("the MP4 names do not sort as the pushes came: %s" % mp4)
for p in recording_check.callback_problems(os.path.join(d, "callbacks.jsonl"), {r[2] for r in rows}):
    fail(p)
sys.exit(0 if report.ok else 1)
PY
lr_pass
