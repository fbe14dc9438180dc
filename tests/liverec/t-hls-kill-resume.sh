#!/bin/sh
# A recorder killed with -9 mid-segment loses no complete segment: its playlist still lists every
# complete segment and stays valid, and the next recorder continues the same recording behind a
# discontinuity (the sidecar carries across processes), keeping every segment listed before.
. "$(dirname "$0")/lib.sh"
lr_init hls-kill-resume

lr_nginx_start
rec=$LR_DIR/rec
mkdir -p "$rec"
record() { # LOG [muxer options]
    log=$1
    shift
    "$LR_FFMPEG" -hide_banner -nostdin -rw_timeout 3000000 -i "$LR_RTMP_URL/cam" -c copy \
        -f liverec_hls -segment_time 1 -splice_timeout 120 "$@" "$rec/cam.m3u8" > "$LR_DIR/$log" 2>&1 &
    LR_LAST_PID=$!
    lr_track $LR_LAST_PID
}

record rec-1.log
r1=$LR_LAST_PID
sleep 0.5
lr_push_bg cam 12
pusher=$LR_LAST_PID
# wait for at least 3 listed segments, then kill -9 in the middle of the next one
i=0
while [ "$(grep -vc '^#' "$rec/cam.m3u8" 2>/dev/null || echo 0)" -lt 3 ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || lr_fail "the recorder listed no 3 segments in 20 s"
    sleep 0.1
done
sleep 0.5
kill -9 $r1
wait $r1 2>/dev/null
cp "$rec/cam.m3u8" "$LR_DIR/after-kill.m3u8"
listed=$(grep -v '^#' "$LR_DIR/after-kill.m3u8")
lr_log "killed with $(echo "$listed" | wc -l) segments listed"
grep -q '^#EXT-X-ENDLIST' "$LR_DIR/after-kill.m3u8" && lr_fail "a killed recording has ENDLIST"
[ -f "$rec/cam.m3u8.liverec" ] || lr_fail "no sidecar after the kill"
for seg in $listed; do
    n=$("$LR_FFPROBE" -v error -count_packets -select_streams v:0 -show_entries stream=nb_read_packets \
        -of csv=p=0 "$rec/$seg" | head -n 1) && [ "$n" -gt 0 ] || lr_fail "listed segment $seg is not readable after the kill"
done
# the playlist opens as it is (read as a finished one, so the reader does not wait for more)
{ cat "$LR_DIR/after-kill.m3u8"; echo '#EXT-X-ENDLIST'; } > "$rec/check.m3u8"
d=$("$LR_FFPROBE" -v error -show_entries format=duration -of csv=p=0 "$rec/check.m3u8") ||
    lr_fail "the playlist left by the kill does not open"
rm -f "$rec/check.m3u8"
lr_log "the playlist left by the kill opens: $d s"
lr_wait_pid $pusher 30

sleep 1
record rec-2.log -final 1
r2=$LR_LAST_PID
sleep 0.5
lr_push cam 4
lr_wait_pid $r2 20 || lr_fail "the second recorder did not end cleanly"
grep -q "Continuing recording" "$LR_DIR/rec-2.log" || lr_fail "the second recorder did not continue the recording"
final=$(ls "$rec"/cam_*.m3u8 2>/dev/null)
[ -n "$final" ] || lr_fail "no finalized playlist: $(ls "$rec")"
for seg in $listed; do
    grep -qx "$seg" "$final" || lr_fail "segment $seg listed before the kill is missing after the resume"
done
[ "$(grep -c '^#EXT-X-DISCONTINUITY$' "$final")" = 1 ] || lr_fail "expected one discontinuity: $(cat "$final")"
for seg in $(grep -v '^#' "$final"); do
    "$LR_FFPROBE" -v error "$rec/$seg" || lr_fail "segment $seg is not readable"
done
lr_log "final playlist: $(grep -vc '^#' "$final") segments, 1 discontinuity"
lr_pass
