#!/bin/sh
# The storage goes away while many streams record: ffliverec -serve records LIVEREC_OUTAGE_STREAMS
# pushes (default 4; the campaign: 20) through nginx-rtmp into HLS and MP4 (MP4 RecordInterval
# 5 s, HLS MaxDuration 20 s, so files of both keep finishing while the pushes go on), uploads
# them to Swift and announces them; once the first HLS recording of each stream is uploaded
# (about 25 s in: the service has warmed up), Swift's proxy is stopped for
# LIVEREC_OUTAGE_SECONDS (default 30; the campaign: 600), then started again on the same port.
# The pushes go on for 20 s after it is back. Then:
#   - nothing is lost: every catalogued file is in the bucket and plays, and each stream's MP4s
#     and its HLS recording hold the push but its first keyframe;
#   - no file is announced before its upload, and none during the outage;
#   - what waited through the outage is uploaded oldest first once the storage is back (the
#     first upload that works makes every waiting retry due), and how long that took is printed;
#   - the service's memory stays flat during the outage (the spool grows by the files, the
#     service does not hold them): the heap it has in use (/metrics liverec_heap_bytes), median
#     of the last quarter of the samples against the first, grows by at most 8 MiB and the files
#     its 4 upload threads are trying; its resident size is printed beside it with the spool's
#     growth (it also holds what the allocator keeps from the cuts and the upload threads'
#     buffers until the next trim, so it is not the measure of what the service holds).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init storage-outage
N=${LIVEREC_OUTAGE_STREAMS:-4}
OUT=${LIVEREC_OUTAGE_SECONDS:-30}
PUSH=$((OUT + 50))
lr_log "$N streams, the storage away for $OUT s of a $PUSH s push"
lr_service_stack
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/live/{StreamName}"
          StatusUrl="$LR_NGINX_STAT_URL" Domain="example.com"/>
  <Storage Endpoint="$LR_S3_ENDPOINT" Bucket="rec" KeyTemplate="{StreamName}/"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" Events="100"/>
  <Service MaxSessions="$((N + 10))"/>
  <Template TemplateId="1" TemplateName="hls-mp4">
    <HlsParam/><Mp4Param RecordInterval="5"/>
    <HlsSpecialParam FlowContinueDuration="5" MaxDuration="20"/>
  </Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
db=$LR_DIR/state/ffliverec.db
lr_serve_start "$LR_DIR/serve.xml" serve.log

names=$(seq -f "s%02g" 1 "$N" | tr '\n' ' ')
# shellcheck disable=SC2086
lr_push_many $PUSH $names
pusher=$LR_LAST_PID
t_push=$(date +%s.%N)
lr_wait_count serve.log "recording mp4 into" "$N" 20
# the service's resident size, the spool's size and the heap in use, every 2 s
(
    while kill -0 "$LR_SERVE_PID" 2>/dev/null; do
        heap=$(curl -s --max-time 2 "$LR_SERVE_URL/metrics" |
               awk '$1 == "liverec_heap_bytes{state=\"in_use\"}" { print int($2 / 1024) }')
        echo "$(date +%s.%N) $(awk '/^VmRSS/ { print $2 }' "/proc/$LR_SERVE_PID/status") $(du -sk "$LR_DIR/spool" | cut -f1) ${heap:-x}"
        sleep 2
    done
) > "$LR_DIR/samples.txt" 2> /dev/null &
lr_track $!
# the first HLS recordings cut and uploaded too: the service has warmed up
lr_wait_count serve.log "uploaded .*/hls/" "$N" 40
t_stop=$(date +%s.%N)
lr_s3_stop
sleep "$OUT"
lr_s3_restart_proxy
t_back=$(date +%s.%N)
grep -q "upload of .* failed" "$LR_DIR/serve.log" || lr_fail "no upload failed while the storage was away"
lr_wait_pid $pusher $((PUSH + 30)) || lr_fail "the pushes did not end"
t_end=$(date +%s.%N)
lr_wait_count serve.log "session of example.com/live/s[0-9]* ended" "$N" 30
lr_wait_drained "$db" 120
kill -TERM $LR_SERVE_PID
lr_wait_pid $LR_SERVE_PID 20 || lr_fail "the service did not stop within 20 s of SIGTERM"

lr_s3_fetch_all rec "$LR_DIR/back"
python3 - "$db" "$LR_DIR" "$LR_FFMPEG" "$LR_TOP/tests/liverec" "$t_push" "$t_stop" "$t_back" "$t_end" "$N" <<'PY' || lr_fail "after an outage of $OUT s under $N streams"
import json, os, sqlite3, sys
db, d, ffmpeg = sys.argv[1:4]
sys.path.insert(0, sys.argv[4])
import recording_check
t_push, t_stop, t_back, t_end = (float(x) for x in sys.argv[5:9])
n = int(sys.argv[9])
report = recording_check.Report()
fail = report.fail
rows = sqlite3.connect(db).execute(
    "SELECT id, stream, format, object_key, url, created, uploaded, duration_ms FROM recordings"
    " ORDER BY id").fetchall()
objects = set(open(os.path.join(d, "back", "objects.txt")).read().split())
pushed = t_end - t_push
per_stream = {}
for rid, stream, fmt, key, url, created, uploaded, dur in rows:
    if key not in objects:
        fail("%s is not in the bucket" % key)
        continue
    for p in recording_check.problems(ffmpeg, fmt, os.path.join(d, "back", key)):
        fail(p)
    per_stream.setdefault(stream, {}).setdefault(fmt, 0.0)
    per_stream[stream][fmt] += dur / 1000.0
if not any(r[2] == "hls" and r[5] < t_end - 5 for r in rows):
    fail("no HLS recording was catalogued while the pushes went on (MaxDuration 20 s)")
if len(per_stream) != n:
    fail("%d streams recorded, %d pushed" % (len(per_stream), n))
# nothing lost: the push but its first keyframe (2 s) and the pull's start
for stream, got in sorted(per_stream.items()):
    for fmt in ("hls", "mp4"):
        if got.get(fmt, 0) < pushed - 4:
            fail("%s: %.1f s of %s recorded of %.1f s pushed" % (stream, got.get(fmt, 0), fmt, pushed))
# no callback before its upload, none while the storage was away
uploaded = {url: up for _, _, _, _, url, _, up, _ in rows}
for line in open(os.path.join(d, "callbacks.jsonl")):
    c = json.loads(line)
    b = c["body"]
    if b.get("event_type") != 100:
        continue
    up = uploaded.get(b["video_url"])
    if up is not None and c["received"] < up - 1:
        fail("%s announced %.1f s before its upload" % (b["video_url"], up - c["received"]))
    if t_stop + 2 < c["received"] < t_back:
        fail("%s announced while the storage was away" % b["video_url"])
for p in recording_check.callback_problems(os.path.join(d, "callbacks.jsonl"), set(uploaded)):
    fail(p)
# what waited through the outage: uploaded after it, oldest first, but the first upload after
# it (whichever file's retry came first: its success makes every other retry due)
waited = [r for r in rows if r[5] <= t_back and r[6] >= t_back - 1]
if waited:
    waited.remove(min(waited, key=lambda r: (r[6], r[0])))
# (4 upload threads take the oldest files no other thread has, so a file may be stored a moment
# before an older one in flight beside it: "uploaded" is in whole seconds, 2 s are allowed)
ups = [r[6] for r in waited]
late = [(r[0], r[6], max(ups[:i])) for i, r in enumerate(waited) if i and r[6] < max(ups[:i]) - 2]
if late:
    fail("the files that waited were not uploaded oldest first: (id, uploaded, a newer file's"
         " upload before it) %s" % late[:10])
if waited:
    print("%d files waited through the outage; all uploaded %.0f s after the storage was back"
          % (len(waited) + 1, max(ups) - t_back), file=sys.stderr)
# memory flat during the outage; the spool grows by the files
samples = [tuple(float(x) for x in l.split()) for l in open(os.path.join(d, "samples.txt"))
           if len(l.split()) == 4 and l.split()[3] != "x"]
during = [s for s in samples if t_stop <= s[0] <= t_back]
if len(during) >= 2:
    rss = [s[1] / 1024 for s in during]
    spool = [s[2] / 1024 for s in during]
    heap = [s[3] / 1024 for s in during]
    print("during the outage (%d samples): heap in use %.1f -> %.1f MiB (max %.1f), service RSS"
          " %.1f -> %.1f MiB (max %.1f), spool %.1f -> %.1f MiB"
          % (len(during), heap[0], heap[-1], max(heap), rss[0], rss[-1], max(rss), spool[0], spool[-1]),
          file=sys.stderr)
    # the upload threads (MaxConcurrentUploads, 4 by default) each hold the file they try, up to
    # its size (smaller than a part here), while their requests fail
    # judged on the medians of the first and the last quarter of the samples: the sessions that
    # cut their files together (every 20 s) take some MiB for a moment, which is not growth
    largest = sqlite3.connect(db).execute("SELECT MAX(size) FROM recordings").fetchone()[0] / 1048576.0
    bound = 8 + 4 * largest
    q = max(len(heap) // 4, 1)
    med = lambda v: sorted(v)[len(v) // 2]
    grew = med(heap[-q:]) - med(heap[:q])
    print("heap in use, median of the first and the last quarter: %.1f -> %.1f MiB"
          % (med(heap[:q]), med(heap[-q:])), file=sys.stderr)
    if grew > bound:
        fail("the service's heap grew by %.1f MiB during the outage (bound: 8 MiB + 4 uploads of"
             " %.1f MiB)" % (grew, largest))
else:
    fail("no samples during the outage")
print("%d recordings, %d streams, %.1f s pushed, all uploaded, announced after their upload"
      % (len(rows), len(per_stream), pushed), file=sys.stderr)
sys.exit(0 if report.ok else 1)
PY
lr_pass
