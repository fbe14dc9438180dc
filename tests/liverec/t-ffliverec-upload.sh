#!/bin/sh
# ffliverec uploads what it records: finished files go into the catalog (SQLite in the state
# folder) and to the S3 server through vodupload, and a local file is removed only after its
# upload is confirmed. With the storage down when the files finish, uploads are retried and
# complete when it is back. A recorder killed with -9 while uploads are pending leaves them in the
# catalog; "ffliverec -flush" completes them, each object once, and -list shows the catalog. The
# same when the recorder is killed in the middle of an upload (the server has the request and
# has not answered yet): the restart completes it, once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init ffliverec-upload
ffl=$LR_BUILD/ffliverec
lr_nginx_start
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"
cat > "$LR_DIR/up.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Storage Endpoint="$LR_S3_ENDPOINT" Bucket="rec" KeyTemplate="vod/{AppName}/{StreamName}/"/>
  <Template TemplateId="1" TemplateName="mp4-hls">
    <HlsParam/><Mp4Param/>
    <HlsSpecialParam FlowContinueDuration="5"/>
  </Template>
  <Rule DomainName="" TemplateId="1"/>
</LiveRecordConfig>
X
# 1. two pushes, storage up: 2 MP4 + 1 HLS recording in the bucket, nothing left in the spool
lr_ffliverec_bg "$LR_DIR/up.xml" cam rec-1.log
r=$LR_LAST_PID
lr_push_interrupted cam 5 2 5
lr_wait_pid $r 40 || lr_fail "ffliverec did not end (see rec-1.log)"
objs=$(lr_s3_ls rec | sort)
[ "$(echo "$objs" | grep -c '^vod/live/cam/mp4/cam_.*\.mp4$')" = 2 ] || lr_fail "MP4 objects: $objs"
pl=$(echo "$objs" | grep '^vod/live/cam/hls/cam_.*\.m3u8$')
[ -n "$pl" ] || lr_fail "no HLS playlist object: $objs"
mkdir -p "$LR_DIR/back/vod/live/cam/hls"
for o in $(echo "$objs" | grep '/hls/'); do lr_s3_get rec "$o" "$LR_DIR/back/$o" || lr_fail "cannot get $o"; done
d=$(lr_duration "$LR_DIR/back/$pl")
awk -v d="$d" 'BEGIN { exit !(d >= 8 && d <= 11) }' || lr_fail "the uploaded HLS recording lasts $d s for 10 s pushed"
left=$(find "$LR_DIR/spool" -type f | grep -v '\.m3u8\.\|cam\.m3u8$' || true)
[ -z "$left" ] || lr_fail "files left in the spool after their upload: $left"
lr_log "uploaded: $(echo "$objs" | wc -l) objects, HLS of $d s plays from the bucket, spool empty"

# 2. storage down when the files finish, back 8 s later: the uploads complete
lr_ffliverec_bg "$LR_DIR/up.xml" cam2 rec-2.log
r=$LR_LAST_PID
lr_push cam2 4
lr_s3_stop_proxy
lr_wait_log rec-2.log "upload of .* failed" 30
sleep 8
lr_s3_restart_proxy
lr_wait_pid $r 60 || lr_fail "ffliverec did not finish its uploads after the storage came back"
[ "$(lr_s3_ls rec | grep -c '^vod/live/cam2/mp4/.*\.mp4$')" = 1 ] || lr_fail "cam2's MP4 is not in the bucket"
lr_log "storage down then up: $(grep -c 'upload of .* failed' "$LR_DIR/rec-2.log") failed attempts, then uploaded"

# 3. kill -9 with uploads pending; -flush completes them, each once
lr_ffliverec_bg "$LR_DIR/up.xml" cam3 rec-3.log
r=$LR_LAST_PID
lr_push cam3 4
lr_s3_stop_proxy
lr_wait_log rec-3.log "upload of .* failed" 30
kill -9 $r
wait $r 2>/dev/null
lr_s3_restart_proxy
"$ffl" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list-1.txt" || lr_fail "-list failed"
grep -q 'cam3 .* pending' "$LR_DIR/list-1.txt" || lr_fail "no pending cam3 upload in the catalog: $(cat "$LR_DIR/list-1.txt")"
"$ffl" -hide_banner -config "$LR_DIR/up.xml" -state "$LR_DIR/state" -flush > "$LR_DIR/flush.log" 2>&1 ||
    lr_fail "-flush failed: $(tail -3 "$LR_DIR/flush.log")"
"$ffl" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list-2.txt"
grep -q ' pending ' "$LR_DIR/list-2.txt" && lr_fail "still pending after -flush: $(cat "$LR_DIR/list-2.txt")"
[ "$(grep -c 'cam3 .* mp4 .* uploaded' "$LR_DIR/list-2.txt")" = 1 ] || lr_fail "cam3's MP4 is not uploaded once: $(cat "$LR_DIR/list-2.txt")"
[ "$(lr_s3_ls rec | grep -c '^vod/live/cam3/mp4/.*\.mp4$')" = 1 ] || lr_fail "cam3's MP4 is not in the bucket once"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "open multipart uploads: $(lr_s3_uploads rec)"
n=$(grep -c ' uploaded ' "$LR_DIR/list-2.txt")
lr_log "kill -9 with uploads pending, -flush: all $n catalog entries uploaded, each object once"

# 4. kill -9 in the middle of an upload: the proxy is frozen (SIGSTOP), so the PUT is sent and
# never answered; after the kill it thaws and the next run completes the upload, once
lr_ffliverec_bg "$LR_DIR/up.xml" cam4 rec-4.log
r=$LR_LAST_PID
kill -STOP "$LR_S3_PROXY_PID"
lr_push cam4 4
lr_wait_log rec-4.log "finished: .*cam4.*\.mp4 .*queued for upload" 30
sleep 2
grep -q "uploaded .*cam4" "$LR_DIR/rec-4.log" && lr_fail "the upload finished against a frozen server"
kill -9 $r
wait $r 2>/dev/null
kill -CONT "$LR_S3_PROXY_PID"
"$ffl" -hide_banner -config "$LR_DIR/up.xml" -state "$LR_DIR/state" -flush > "$LR_DIR/flush-4.log" 2>&1 ||
    lr_fail "-flush after a kill mid-upload failed: $(tail -3 "$LR_DIR/flush-4.log")"
"$ffl" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list-4.txt"
[ "$(grep -c 'cam4 .* mp4 .* uploaded' "$LR_DIR/list-4.txt")" = 1 ] || lr_fail "cam4's MP4 is not uploaded once: $(cat "$LR_DIR/list-4.txt")"
[ "$(lr_s3_ls rec | grep -c '^vod/live/cam4/mp4/.*\.mp4$')" = 1 ] || lr_fail "cam4's MP4 is not in the bucket once"
lr_s3_get rec "$(lr_s3_ls rec | grep '^vod/live/cam4/mp4/.*\.mp4$')" "$LR_DIR/cam4.mp4" || lr_fail "cannot get cam4's MP4"
d=$(lr_duration "$LR_DIR/cam4.mp4")
awk -v d="$d" 'BEGIN { exit !(d >= 3 && d <= 5) }' || lr_fail "cam4's MP4 lasts $d s for a 4 s push"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "open multipart uploads: $(lr_s3_uploads rec)"
lr_log "kill -9 mid-upload, -flush: cam4's MP4 ($d s) uploaded once"
lr_pass
