#!/bin/sh
# ffliverec -serve runs tasks by the clock, with no rule recording the streams: task T1, whose
# window [t0+6, t0+12] opens and closes while cam is being pushed (t0 .. t0+20), gets files (FLV
# and MP4 in task-T1/) that start within 1 s of its StartTime and end within 1 s of its EndTime,
# and nothing of cam is recorded outside the window; task T2, whose window opens at t0+4 while
# cam2 is offline, records cam2's push that comes at t0+8 (the hook must find the task open).
# The cloud's CreateRecordTask promises exactly this: a task is a time window on a stream, kept
# by the service's clock, whoever pushes when.
. "$(dirname "$0")/lib.sh"
lr_init serve-tasks
LR_GOP=25   # 1 s GOP: a recording can only start at a keyframe
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK=http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp
lr_nginx_start


# t0: the start of a second, 2 s ahead (the service starts meanwhile)
t0=$(( $(date +%s) + 2 ))
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/live/{StreamName}" Domain="example.com"/>
  <Template TemplateId="2" TemplateName="flv-mp4"><FlvParam/><Mp4Param/></Template>
  <Task TaskId="T1" DomainName="example.com" AppName="live" StreamName="cam" StartTime="$((t0 + 6))" EndTime="$((t0 + 12))" TemplateId="2"/>
  <Task TaskId="T2" DomainName="example.com" AppName="live" StreamName="cam2" StartTime="$((t0 + 4))" EndTime="$((t0 + 64))" TemplateId="2"/>
</LiveRecordConfig>
X
: > "$LR_DIR/serve.log"
lr_stamp_log serve.log
lr_serve_start "$LR_DIR/serve.xml" serve.log
serve=$LR_SERVE_PID
lr_wait_log serve.log "0 rules, 2 tasks" 2
python3 -c "import time, sys; time.sleep(max(0, $t0 - time.time()))"
lr_push_bg cam 20
cam=$LR_LAST_PID
lr_wait_log serve.log "example.com/live/cam is live (hook); no rule or task records it" 3
python3 -c "import time, sys; time.sleep(max(0, $t0 + 8 - time.time()))"
lr_push_bg cam2 6
cam2=$LR_LAST_PID
lr_wait_pid $cam2 20 || lr_fail "the push of cam2 failed"
lr_wait_pid $cam 20 || lr_fail "the push of cam failed"
lr_wait_log serve.log "session of example.com/live/cam2 ended" 10
lr_wait_log serve.log "session of example.com/live/cam ended" 10
kill -TERM $serve
lr_wait_pid $serve 20 || lr_fail "the service did not stop within 20 s of SIGTERM"
sleep 0.1

spool=$LR_DIR/spool/example.com/live
[ "$(ls "$spool" | tr '\n' ' ')" = "cam cam2 " ] || lr_fail "streams in the spool: $(ls "$spool")"
[ "$(ls "$spool/cam")" = task-T1 ] || lr_fail "cam recorded outside task T1: $(ls "$spool/cam")"
[ "$(ls "$spool/cam2")" = task-T2 ] || lr_fail "cam2 recorded outside task T2: $(ls "$spool/cam2")"
left=$(find "$spool" -name '*.recording*')
[ -z "$left" ] || lr_fail "working files left: $left"
"$LR_BUILD/ffliverec" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list.txt" 2>&1 ||
    lr_fail "ffliverec -list failed: $(cat "$LR_DIR/list.txt")"
for t in T1 T2; do
    s=cam
    [ $t = T1 ] || s=cam2
    for f in flv mp4; do
        n=$(ls "$spool/$s/task-$t/$f" | grep -c "\.$f\$")
        [ "$n" = 1 ] || lr_fail "task $t: $n $f files: $(ls "$spool/$s/task-$t/$f")"
        file=$(ls "$spool/$s/task-$t/$f"/*.$f)
        [ "$(lr_streams "$file" | tr ' ' '\n' | sort | tr '\n' ' ')" = "audio:aac video:h264 " ] ||
            lr_fail "task $t: $file: $(lr_streams "$file")"
        grep -q "example.com/live/$s  *$t  *$f .* $file\$" "$LR_DIR/list.txt" ||
            lr_fail "task $t: $file is not in the catalog: $(cat "$LR_DIR/list.txt")"
        echo "$t $f $(lr_duration "$file") $file" >> "$LR_DIR/files.txt"
    done
done

# the times: task T1 from the log (when its session started, when its window closed) and its
# files (a file ends when its window closes, so it started its duration earlier); task T2 from
# the push of cam2 (t0 + 8 .. t0 + 14)
python3 - "$LR_DIR/serve.log.stamped" "$LR_DIR/files.txt" "$t0" <<'PY' > "$LR_DIR/times.txt" 2>&1 ||
import sys
log, files, t0 = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [l.rstrip("\n").split(" ", 1) for l in open(log)]
def when(text):
    hits = [float(t) for t, l in lines if text in l]
    assert hits, "no '%s' in the log" % text
    return hits[0]
start1, end1 = t0 + 6, t0 + 12
started = when("example.com/live/cam: recording starts (task T1 starts)")
closed = when("task T1: its window closed")
print("T1: session started %+.2f s after StartTime, window closed %+.2f s after EndTime" %
      (started - start1, closed - end1))
assert 0 <= started - start1 <= 0.5, "T1's session started %.2f s after StartTime" % (started - start1)
assert -0.1 <= closed - end1 <= 1, "T1's window closed %.2f s after EndTime" % (closed - end1)
for l in open(files):
    task, fmt, dur, path = l.split()
    dur = float(dur)
    if task == "T1":
        # the file was closed at `closed` (the log line follows at once) with the stream live
        begin, end = closed - dur, closed
        print("T1 %s: %.2f s, content from %+.2f s after StartTime to %+.2f s after EndTime" %
              (fmt, dur, begin - start1, end - end1))
        assert abs(begin - start1) <= 1, "T1 %s starts %.2f s off StartTime" % (fmt, begin - start1)
        assert abs(end - end1) <= 1, "T1 %s ends %.2f s off EndTime" % (fmt, end - end1)
    else:
        print("T2 %s: %.2f s of cam2's 6 s push" % (fmt, dur))
        assert 4.5 <= dur <= 6.3, "T2 %s: %.2f s for a 6 s push" % (fmt, dur)
started2 = when("example.com/live/cam2: recording starts (hook)")
print("T2: session started %+.2f s after cam2's push (t0 + 8)" % (started2 - (t0 + 8)))
assert started2 - (t0 + 8) <= 1.5, "cam2's session started %.2f s after its push" % (started2 - t0 - 8)
PY
    lr_fail "$(cat "$LR_DIR/times.txt")"
while read -r l; do lr_log "$l"; done < "$LR_DIR/times.txt"
lr_pass
