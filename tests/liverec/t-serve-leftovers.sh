#!/bin/sh
# What a crash leaves when the push does not outlive it: ffliverec -serve records two pushes
# (gone, back) through nginx-rtmp into HLS and MP4 and is killed with SIGKILL 4 s in; both pushes
# end while it is down, and it is started again 3 s later. At its start it finds in the spool
# what the killed process left unfinished (an open HLS recording and an MP4 working file per
# stream) and:
#   - finalizes the MP4 working files at once (catalogued, playable);
#   - leaves each HLS recording open for its FlowContinueDuration (15 s) after it was last
#     written, since a push that comes back in that time continues it: "back" is pushed again
#     and its recording goes on behind one discontinuity, in one playlist;
#   - "gone" does not come back: its HLS recording is finalized when the 15 s have passed, not
#     before, catalogued, and conforms to RFC 8216 (hls_check.py), every segment decoding;
#   - "brief" is hooked again but its push ends before its session could read it (the hooks
#     are posted by hand, with nothing pushed): the session ends having taken up nothing, and
#     its HLS recording is finalized all the same (once found by CI's kill sweep: it stayed
#     open, because the session that would have continued it cancelled the finishing);
#   - nothing is left in the spool: no sidecar, no working playlist, no working file.
# Before this, such a recording stayed open (never uploaded, never announced) until its stream
# was pushed again, which may be never.
. "$(dirname "$0")/lib.sh"
lr_init serve-leftovers
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK=http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp
LR_NGINX_STAT=1
lr_nginx_start
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/live/{StreamName}"
          StatusUrl="$LR_NGINX_STAT_URL" Domain="example.com"/>
  <Template TemplateId="1" TemplateName="hls-mp4">
    <HlsParam/><Mp4Param RecordInterval="60"/>
    <HlsSpecialParam FlowContinueDuration="15"/>
  </Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
db=$LR_DIR/state/ffliverec.db
spool=$LR_DIR/spool/example.com/live

lr_serve_start "$LR_DIR/serve.xml" serve.log
lr_push_bg gone 7
p1=$LR_LAST_PID
lr_push_bg back 7
p2=$LR_LAST_PID
lr_push_bg brief 7
p4=$LR_LAST_PID
lr_wait_count serve.log "recording hls into" 3 10
sleep 4
kill -KILL $LR_SERVE_PID
wait $LR_SERVE_PID 2>/dev/null
lr_log "killed; the pushes end while the service is down"
lr_wait_pid $p1 15 || lr_fail "the push of gone did not end"
lr_wait_pid $p2 15 || lr_fail "the push of back did not end"
lr_wait_pid $p4 15 || lr_fail "the push of brief did not end"
for s in gone back brief; do
    [ -f "$spool/$s/hls/$s.m3u8.liverec" ] || lr_fail "the kill left no open HLS recording of $s"
    ls "$spool/$s/mp4/"*.mp4.recording > /dev/null 2>&1 ||
        lr_fail "the kill left no MP4 working file of $s"
done
killed_at=$(stat -c %Y "$spool/gone/hls/"* | sort -n | tail -n 1)
sleep 3

echo "--- restart" >> "$LR_DIR/serve.log"
lr_serve_start "$LR_DIR/serve.xml" serve.log
started=$(date +%s)
lr_wait_log serve.log "3 streams left unfinished recordings" 5
# the MP4 working files are finished at once
lr_wait_count serve.log "finished: .*/mp4/.*\.mp4 " 3 10
# brief is announced and ended by its origin with nothing pushed
hook() {
    curl -sS -o /dev/null -w '%{http_code}' --data "call=$1&app=live&name=brief&addr=127.0.0.1&tcurl=rtmp://127.0.0.1:$LR_RTMP_PORT/live&clientid=1&type=live" "$LR_NGINX_HOOK"
}
[ "$(hook publish)" = 200 ] || lr_fail "the publish hook of brief was refused"
lr_wait_log serve.log "example.com/live/brief: recording starts" 5
[ "$(hook publish_done)" = 200 ] || lr_fail "the publish_done hook of brief was refused"
# back is pushed again within its window: its session takes the HLS recording up
lr_push_bg back 5
p3=$LR_LAST_PID
lr_wait_log serve.log "Continuing recording '.*/back/hls/back.m3u8'" 10
[ -f "$spool/gone/hls/gone.m3u8.liverec" ] ||
    lr_fail "gone's HLS recording was finalized before its FlowContinueDuration had passed"
lr_wait_pid $p3 15 || lr_fail "the second push of back did not end"

# gone's recording is finalized 15 s after it was last written; back's 15 s after its push
lr_wait_log serve.log "finished: .*/gone/hls/.*\.m3u8" 30
finalized_at=$(date +%s)
[ $((finalized_at - killed_at)) -ge 15 ] ||
    lr_fail "gone's HLS recording was finalized $((finalized_at - killed_at)) s after it was last written (FlowContinueDuration 15)"
lr_wait_log serve.log "finished: .*/back/hls/.*\.m3u8" 30
lr_wait_log serve.log "finished: .*/brief/hls/.*\.m3u8" 30
lr_wait_log serve.log "session of example.com/live/back ended" 10
kill -TERM $LR_SERVE_PID
lr_wait_pid $LR_SERVE_PID 20 || lr_fail "the service did not stop within 20 s of SIGTERM"

left=$(find "$LR_DIR/spool" -type f \( -name '*.recording' -o -name '*.liverec' -o -name '*.lock' \
       -o -name 'gone.m3u8' -o -name 'back.m3u8' -o -name 'brief.m3u8' \))
[ -z "$left" ] || lr_fail "left in the spool: $left"

python3 - "$db" "$LR_FFMPEG" "$LR_TOP/tests/liverec" <<'PY' || lr_fail "the recordings"
import os, sqlite3, sys
db, ffmpeg = sys.argv[1:3]
sys.path.insert(0, sys.argv[3])
import recording_check
rows = sqlite3.connect(db).execute(
    "SELECT stream, format, local_path, duration_ms FROM recordings ORDER BY stream, format").fetchall()
report = recording_check.Report()
fail = report.fail
got = {}
for stream, fmt, path, dur in rows:
    got.setdefault((stream, fmt), []).append((path, dur))
    print("%s %s %s %.1f s" % (stream, fmt, os.path.basename(path), dur / 1000), file=sys.stderr)
want = {("gone", "hls"): 1, ("gone", "mp4"): 1, ("back", "hls"): 1, ("back", "mp4"): 2,
        ("brief", "hls"): 1, ("brief", "mp4"): 1}
for k, n in want.items():
    if len(got.get(k, [])) != n:
        fail("%s %s: %d recordings catalogued, %d expected" % (k[0], k[1], len(got.get(k, [])), n))
for (stream, fmt), files in got.items():
    for path, dur in files:
        if dur < 2000:
            fail("%s is %d ms long" % (path, dur))
        for p in recording_check.problems(ffmpeg, fmt, path):
            fail(p)
        if fmt == "hls":
            discont = open(path).read().count("#EXT-X-DISCONTINUITY\n")
            if discont != (1 if stream == "back" else 0):
                fail("%s has %d discontinuities" % (path, discont))
sys.exit(0 if report.ok else 1)
PY
lr_pass
