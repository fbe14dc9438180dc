#!/bin/sh
# kill -9 anywhere: ffliverec -serve records a push with interruptions (pushes of 15 s, 2 s apart)
# through nginx-rtmp into HLS and MP4, uploads every file to Swift and announces it to a callback
# receiver; it is killed with SIGKILL at LIVEREC_SWEEP moments (default 3; the campaign runs 200),
# each 2 to 9 s after the last restart, drawn from LIVEREC_SWEEP_SEED (printed; the same seed
# replays the same moments), and started again at once on the same state and spool. When the
# pushes are over and the queues have drained:
#   - every recording the catalog lists is in the bucket and plays to its end (every packet
#     decodes), every HLS playlist there conforms to RFC 8216 (tests/liverec/hls_check.py) with
#     every segment it lists, and every catalogued file has exactly one file callback (none twice,
#     none lost, none for a file that is not catalogued), the callback receiver failing (HTTP 500)
#     across every other pair of kills;
#   - nothing is left in the spool (no working file, no file waiting) nor as an open multipart
#     upload;
#   - what was lost is at most what each kill costs: the time until the restarted service records
#     the push again (it finds it on the origin's status page) plus a second of what was not on
#     disk yet; printed per kill.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init kill-sweep
KILLS=${LIVEREC_SWEEP:-3}
SEED=${LIVEREC_SWEEP_SEED:-$(date +%s)}
lr_log "$KILLS kills, seed $SEED (LIVEREC_SWEEP_SEED=$SEED LIVEREC_SWEEP=$KILLS replays them)"
token=t0ken-for-hooks
lr_service_stack "$token"
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}"
          StatusUrl="$LR_NGINX_STAT_URL" Domain="example.com"/>
  <Storage Endpoint="$LR_S3_ENDPOINT" Bucket="rec" KeyTemplate="{AppName}/{StreamName}/"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" RetryInterval="1" MaxAttempts="1000" Events="100"/>
  <Service HookToken="$token"/>
  <Template TemplateId="1" TemplateName="hls-mp4">
    <HlsParam/><Mp4Param RecordInterval="60"/>
    <HlsSpecialParam FlowContinueDuration="10"/>
  </Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
db=$LR_DIR/state/ffliverec.db
now() { date +%s.%N; }

# the kill moments, from the seed
delays=$(python3 -c 'import random, sys; r = random.Random(int(sys.argv[1])); print(" ".join("%.2f" % r.uniform(2, 9) for _ in range(int(sys.argv[2]))))' "$SEED" "$KILLS")

lr_serve_start "$LR_DIR/serve.xml" serve.log
lr_wait_log serve.log "serving .*1 origin" 5

# the pushes: 15 s each, 2 s apart, until $LR_DIR/stop exists; each push's start and end in
# pushes.txt. A TERM (the test failing) stops the push under way too.
(
    trap 'kill $child 2>/dev/null; exit 1' TERM
    n=0
    while [ ! -e "$LR_DIR/stop" ]; do
        n=$((n + 1))
        s=$(now)
        lr_push_cmd cam 15 "$LR_DIR/push-$n.log" &
        child=$!
        wait $child
        echo "$s $(now)" >> "$LR_DIR/pushes.txt"
        [ -e "$LR_DIR/stop" ] || sleep 2
    done
) &
pusher=$!
lr_track $pusher
lr_wait_log serve.log "recording mp4 into" 15

# the callback receiver fails (HTTP 500) from the first kill to the third, from the fifth to the
# seventh and so on: callbacks queued across restarts are still delivered once each
i=0
for d in $delays; do
    i=$((i + 1))
    sleep "$d"
    kill -KILL $LR_SERVE_PID
    t_kill=$(now)
    wait $LR_SERVE_PID 2>/dev/null
    echo "--- kill $i ($d s after the last start)" >> "$LR_DIR/serve.log"
    case $((i % 4)) in 1) : > "$LR_DIR/callback.fail" ;; 3) rm -f "$LR_DIR/callback.fail" ;; esac
    lr_serve_start "$LR_DIR/serve.xml" serve.log
    echo "$i $t_kill" >> "$LR_DIR/kills.txt"
done
rm -f "$LR_DIR/callback.fail"
lr_log "$KILLS kills done; the last push ends"
: > "$LR_DIR/stop"
lr_wait_pid $pusher 30 || lr_fail "the pushes did not end"
# the last session ends FlowContinueDuration (10 s) after the last push; a kill in the last
# seconds of the last push leaves its HLS recording to the restarted service, which finalizes it
# as leftovers 10 s after it was last written. Then every file is uploaded and announced.
for i in $(seq 60); do
    [ -z "$(find "$LR_DIR/spool" -name '*.liverec' -o -name '*.recording')" ] && break
    sleep 1
done
left=$(find "$LR_DIR/spool" -name '*.liverec' -o -name '*.recording')
[ -z "$left" ] || lr_fail "still open 60 s after the last push: $left"
lr_wait_drained "$db" 90
kill -TERM $LR_SERVE_PID
lr_wait_pid $LR_SERVE_PID 20 || lr_fail "the service did not stop within 20 s of SIGTERM"

# nothing left behind
left=$(find "$LR_DIR/spool" -type f \( -name '*.recording' -o -name '*.final' -o -name '*.tmp' -o -name '*.mp4' -o -name '*.ts' \))
[ -z "$left" ] || lr_fail "left in the spool: $left"
ups=$(lr_s3_uploads rec) || lr_fail "cannot list the multipart uploads"
[ -z "$ups" ] || lr_fail "open multipart uploads: $ups"

# every catalogued file in the bucket, playing; one callback each
lr_s3_fetch_all rec "$LR_DIR/back"
python3 - "$db" "$LR_DIR" "$LR_FFMPEG" "$LR_TOP/tests/liverec" <<'PY' || lr_fail "the recordings after $KILLS kills (seed $SEED)"
import os, sqlite3, sys
db, d, ffmpeg = sys.argv[1:4]
sys.path.insert(0, sys.argv[4])
import recording_check
rows = sqlite3.connect(db).execute(
    "SELECT id, format, object_key, url, start_usec, end_usec, duration_ms FROM recordings"
    " ORDER BY start_usec").fetchall()
objects = set(open(os.path.join(d, "back", "objects.txt")).read().split())
report = recording_check.Report()
fail = report.fail
total = {"hls": 0.0, "mp4": 0.0}
for rid, fmt, key, url, s, e, dur in rows:
    if key not in objects:
        fail("recording %d (%s) is not in the bucket: %s" % (rid, fmt, key))
        continue
    for p in recording_check.problems(ffmpeg, fmt, os.path.join(d, "back", key)):
        fail(p)
    total[fmt] += (dur if dur >= 0 else (e - s) / 1000) / 1000
# one file callback per catalogued file
for p in recording_check.callback_problems(os.path.join(d, "callbacks.jsonl"), {r[3] for r in rows}):
    fail(p)
# what was lost: pushed time against recorded time, per kill
pushed = sum(float(b) - float(a) for a, b in (l.split() for l in open(os.path.join(d, "pushes.txt"))))
kills = [float(l.split()[1]) for l in open(os.path.join(d, "kills.txt"))]
for fmt in ("hls", "mp4"):
    lost = pushed - total[fmt]
    print("%s: %d recordings, %.1f s recorded of %.1f s pushed in %d pushes: %.1f s lost, %.2f s per kill"
          % (fmt, sum(1 for r in rows if r[1] == fmt), total[fmt], pushed,
             len(open(os.path.join(d, "pushes.txt")).readlines()), lost, lost / max(len(kills), 1)),
          file=sys.stderr)
    # a restart finds the push within 5 s; a second more of what was not on disk; and each push's
    # first keyframe (the pull joins within a GOP, 2 s)
    allowed = len(kills) * 6.5 + len(open(os.path.join(d, "pushes.txt")).readlines()) * 2.5
    if lost > allowed:
        fail("%s: %.1f s lost, more than %.1f s" % (fmt, lost, allowed))
if report.ok:
    print("%d recordings in the bucket, all play, %d callbacks, one each" % (len(rows), len(rows)),
          file=sys.stderr)
sys.exit(0 if report.ok else 1)
PY
lr_pass
