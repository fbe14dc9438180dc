#!/bin/sh
# Tasks record a stream inside their window, each into its own folder: two overlapping tasks for
# the same stream give two separate MP4 files (task-A, task-B), and a task whose EndTime falls
# inside the push closes its file cleanly at that time (finalized, shorter than the push), and one
# whose StartTime falls inside the push starts its file then.
. "$(dirname "$0")/lib.sh"
lr_init ffliverec-tasks
lr_nginx_start
now=$(date +%s)
cat > "$LR_DIR/tasks.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Template TemplateId="1" TemplateName="mp4"><Mp4Param/></Template>
  <Template TemplateId="2" TemplateName="flv"><FlvParam/></Template>
  <Task TaskId="A" DomainName="example.com" AppName="live" StreamName="cam" EndTime="$((now + 3600))" TemplateId="1"/>
  <Task TaskId="B" DomainName="example.com" AppName="live" StreamName="cam" StartTime="$((now - 60))" EndTime="$((now + 3600))" TemplateId="1"/>
  <Task TaskId="C" DomainName="example.com" AppName="live" StreamName="cam" EndTime="$((now + 6))" TemplateId="2"/>
  <Task TaskId="D" DomainName="example.com" AppName="live" StreamName="other" EndTime="$((now + 3600))" TemplateId="2"/>
  <Task TaskId="E" DomainName="example.com" AppName="live" StreamName="cam" StartTime="$((now + 6))" EndTime="$((now + 3600))" TemplateId="2"/>
</LiveRecordConfig>
X
spool=$LR_DIR/spool
lr_ffliverec_bg "$LR_DIR/tasks.xml" cam ffliverec.log
rec=$LR_LAST_PID
lr_push cam 10
lr_wait_pid $rec 20 || lr_fail "ffliverec did not end after the push"
d=$spool/example.com/live/cam
[ "$(ls "$d" | tr '\n' ' ')" = "task-A task-B task-C task-E " ] || lr_fail "folders: $(ls "$d")"
for t in A B; do
    f=$(ls "$d/task-$t/mp4")
    [ "$(echo "$f" | wc -l)" = 1 ] && echo "$f" | grep -q '\.mp4$' || lr_fail "task $t: $f"
    dur=$(lr_duration "$d/task-$t/mp4/$f")
    awk -v d="$dur" 'BEGIN { exit !(d >= 9 && d <= 11) }' || lr_fail "task $t: $dur s for a 10 s push"
done
[ "$(md5sum < "$d/task-A/mp4/$(ls "$d/task-A/mp4")")" = "$(md5sum < "$d/task-B/mp4/$(ls "$d/task-B/mp4")")" ] &&
    lr_log "tasks A and B: two files with the same content (same packets)"
f=$(ls "$d/task-C/flv")
echo "$f" | grep -q '\.flv$' || lr_fail "task C: $f"
dur=$(lr_duration "$d/task-C/flv/$f")
awk -v d="$dur" 'BEGIN { exit !(d >= 2 && d <= 6.5) }' || lr_fail "task C ended at its EndTime but its file lasts $dur s"
grep -q "task C: its window closed" "$LR_DIR/ffliverec.log" || lr_fail "no message for the end of task C's window"
[ -e "$spool/example.com/live/other" ] && lr_fail "task D (another stream) recorded this one"
f=$(ls "$d/task-E/flv")
echo "$f" | grep -q '\.flv$' || lr_fail "task E: $f"
dure=$(lr_duration "$d/task-E/flv/$f")
awk -v d="$dure" 'BEGIN { exit !(d >= 3 && d <= 7.5) }' || lr_fail "task E started at its StartTime but its file lasts $dure s"
lr_log "tasks A, B: 10 s MP4 each; task C: FLV of $dur s closed at its EndTime; task E: FLV of $dure s from its StartTime"
lr_pass
