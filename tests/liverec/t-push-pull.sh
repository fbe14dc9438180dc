#!/bin/sh
# The harness works end to end: a 10 s H.264+AAC push through nginx-rtmp, pulled by the built
# ffmpeg into a file, comes out with both streams and the pushed duration (within 5 %).
# Every later integration test stands on this path, so it is tested on its own first.
. "$(dirname "$0")/lib.sh"
lr_init push-pull

lr_nginx_start
lr_pull cam1 "$LR_DIR/out.flv"
puller=$LR_LAST_PID
sleep 0.5
lr_push cam1 10
lr_wait_pid $puller 15 || lr_fail "the puller did not end cleanly after the publisher left (status $?)"

[ -s "$LR_DIR/out.flv" ] || lr_fail "nothing was recorded"
streams=$(lr_streams "$LR_DIR/out.flv")
[ "$streams" = "video:h264 audio:aac" ] || lr_fail "streams are '$streams', expected 'video:h264 audio:aac'"
d=$(lr_duration "$LR_DIR/out.flv")
lr_within "$d" 10 5 || lr_fail "duration $d s is not within 5 % of the 10 s pushed"
lr_log "recorded $d s, $streams"
lr_pass
