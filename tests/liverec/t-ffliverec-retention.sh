#!/bin/sh
# StorageTime is a retention period: a recording is deleted once it has passed, where it is kept.
# With storage, the MP4 and the HLS recording (playlist and every segment) of a template with
# StorageTime 20 s are in the bucket after the session, and gone after -flush once 20 s have
# passed, while the FLV of the same push (StorageTime 0) stays; the catalog says deleted and
# uploaded. Without storage, a running session deletes its own local AAC file (StorageTime 2 s)
# while it waits for the push to come back, and keeps the HLS recording (StorageTime 0).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init ffliverec-retention
ffl=$LR_BUILD/ffliverec
lr_nginx_start
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"

# 1. objects in the bucket, deleted by -flush after their StorageTime
cat > "$LR_DIR/stored.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Storage Endpoint="$LR_S3_ENDPOINT" Bucket="rec"/>
  <Template TemplateId="1" TemplateName="short">
    <FlvParam/><HlsParam StorageTime="20"/><Mp4Param StorageTime="20"/>
    <HlsSpecialParam FlowContinueDuration="2"/>
  </Template>
  <Rule DomainName="" TemplateId="1"/>
</LiveRecordConfig>
X
lr_ffliverec_bg "$LR_DIR/stored.xml" cam rec-1.log
r=$LR_LAST_PID
lr_push cam 4
lr_wait_pid $r 40 || lr_fail "ffliverec did not end (see rec-1.log)"
ended=$(date +%s)
objs=$(lr_s3_ls rec | sort)
for f in flv mp4 m3u8 ts; do
    echo "$objs" | grep -q "\.$f\$" || lr_fail "no .$f object after the session: $objs"
done
nobj=$(echo "$objs" | wc -l)
"$ffl" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list-1.txt" || lr_fail "-list failed"
grep -q ' flv .* uploaded .* never ' "$LR_DIR/list-1.txt" || lr_fail "the FLV should never expire: $(cat "$LR_DIR/list-1.txt")"
grep -q ' mp4 .* uploaded .* 20[0-9-]*T[0-9:]*Z ' "$LR_DIR/list-1.txt" || lr_fail "the MP4 has no expiry: $(cat "$LR_DIR/list-1.txt")"
# -flush before the StorageTime has passed deletes nothing
"$ffl" -hide_banner -config "$LR_DIR/stored.xml" -state "$LR_DIR/state" -flush > "$LR_DIR/flush-0.log" 2>&1 ||
    lr_fail "-flush failed: $(tail -3 "$LR_DIR/flush-0.log")"
[ "$(lr_s3_ls rec | wc -l)" = "$nobj" ] || lr_fail "objects were deleted before their StorageTime"
sleep $((ended + 21 - $(date +%s)))
"$ffl" -hide_banner -config "$LR_DIR/stored.xml" -state "$LR_DIR/state" -flush > "$LR_DIR/flush-1.log" 2>&1 ||
    lr_fail "-flush failed: $(tail -3 "$LR_DIR/flush-1.log")"
left=$(lr_s3_ls rec)
[ "$(echo "$left" | grep -c .)" = 1 ] && echo "$left" | grep -q '/flv/.*\.flv$' ||
    lr_fail "after StorageTime the bucket should hold the FLV only: $left"
"$ffl" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list-2.txt"
[ "$(grep -c ' deleted ' "$LR_DIR/list-2.txt")" = 2 ] || lr_fail "catalog: $(cat "$LR_DIR/list-2.txt")"
grep -q ' flv .* uploaded ' "$LR_DIR/list-2.txt" || lr_fail "catalog: $(cat "$LR_DIR/list-2.txt")"
lr_log "stored: $nobj objects, $(grep -c 'retention: deleted' "$LR_DIR/flush-1.log") recordings deleted after StorageTime ($((nobj - 1)) objects), the FLV kept"

# 2. local files, deleted by the running session
cat > "$LR_DIR/local.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Template TemplateId="1" TemplateName="local">
    <HlsParam/><AacParam StorageTime="2"/>
    <HlsSpecialParam FlowContinueDuration="10"/>
  </Template>
  <Rule DomainName="" TemplateId="1"/>
</LiveRecordConfig>
X
lr_ffliverec_bg "$LR_DIR/local.xml" loc rec-2.log -spool "$LR_DIR/spool2" -state "$LR_DIR/state2"
r=$LR_LAST_PID
lr_push loc 3
lr_wait_pid $r 40 || lr_fail "ffliverec did not end (see rec-2.log)"
d=$LR_DIR/spool2/example.com/live/loc
ls "$d/aac" | grep -q '\.aac$' && lr_fail "the AAC file outlived its StorageTime: $(ls "$d/aac")"
awk '/retention: deleted .*\.aac/ { d = NR } /session of .* ended/ { e = NR } END { exit !(d && d < e) }' \
    "$LR_DIR/rec-2.log" || lr_fail "the session did not delete the AAC file while it ran"
ls "$d/hls" | grep -q '^loc_.*\.m3u8$' || lr_fail "the HLS recording (StorageTime 0) is gone: $(ls "$d/hls")"
"$ffl" -hide_banner -list -state "$LR_DIR/state2" > "$LR_DIR/list-3.txt"
grep -q ' aac .* deleted ' "$LR_DIR/list-3.txt" && grep -q ' hls .* local .* never ' "$LR_DIR/list-3.txt" ||
    lr_fail "catalog: $(cat "$LR_DIR/list-3.txt")"
lr_log "local: the session deleted its AAC file 2 s after it was finished, the HLS recording stays"
lr_pass
