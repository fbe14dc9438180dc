#!/bin/sh
# A liverec_mp4 recording through nginx-rtmp killed with -9 mid-file leaves a working MP4 that
# ffprobe decodes up to its last fragment; the next recorder starting in the folder finalizes it
# (moov up front) with the duration pushed before the kill, within one fragment. The same push
# recorded with liverec_flv gives an FLV whose onMetaData has the duration and a keyframe index.
. "$(dirname "$0")/lib.sh"
lr_init mp4-kill-recover

lr_nginx_start
mkdir -p "$LR_DIR/mp4" "$LR_DIR/flv"
recorder() { # LOG
    "$LR_FFMPEG" -hide_banner -nostdin -rw_timeout 3000000 -i "$LR_RTMP_URL/cam" \
        -map 0 -c copy -f liverec_mp4 -record_interval 600 -stream_id cam "$LR_DIR/mp4" \
        -map 0 -c copy -f liverec_flv -record_interval 600 -stream_id cam "$LR_DIR/flv" \
        > "$LR_DIR/$1" 2>&1 &
    LR_LAST_PID=$!
    lr_track $LR_LAST_PID
}

recorder rec-1.log
r1=$LR_LAST_PID
sleep 0.5
lr_push_bg cam 12
pusher=$LR_LAST_PID
start=$(date +%s.%N)
sleep 7
kill -9 $r1
killed=$(date +%s.%N)
wait $r1 2>/dev/null
pushed=$(awk -v a="$start" -v b="$killed" 'BEGIN { printf "%.3f", b - a }')

work=$(ls "$LR_DIR"/mp4/*_cam.mp4.recording 2>/dev/null)
[ -n "$work" ] || lr_fail "no working MP4 after the kill: $(ls "$LR_DIR/mp4")"
frames=$("$LR_FFPROBE" -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$work" | head -n 1)
[ "${frames:-0}" -gt 100 ] || lr_fail "the working MP4 decodes only ${frames:-0} frames after $pushed s"
lr_log "killed after $pushed s of push; the working MP4 decodes $frames frames"
lr_wait_pid $pusher 20

# the next recorder finalizes what the crash left
recorder rec-2.log
r2=$LR_LAST_PID
sleep 0.5
lr_push cam 4
lr_wait_pid $r2 20 || lr_fail "the second recorder did not end cleanly"
[ -e "$work" ] && lr_fail "the working file is still there after the next start"
grep -q "left by an earlier recorder" "$LR_DIR/rec-2.log" || lr_fail "no recovery message"
old=$(ls "$LR_DIR"/mp4/cam_*.mp4 | head -n 1)
d=$("$LR_FFPROBE" -v error -show_entries format=duration -of csv=p=0 "$old")
# one fragment: the GOP of the push (2 s), plus the push's own start-up
awk -v d="$d" -v p="$pushed" 'BEGIN { exit !(d <= p + 0.5 && d >= p - 2.5) }' ||
    lr_fail "the recovered MP4 lasts $d s for $pushed s pushed before the kill"
[ "$(tr '\n' ' ' < "$old" | grep -a -o 'moov\|mdat' | head -n 1)" = moov ] || lr_fail "the recovered MP4 is not faststart"
lr_log "recovered $(basename "$old"): $d s of the $pushed s pushed before the kill, moov first"
[ "$(ls "$LR_DIR"/mp4/cam_*.mp4 | wc -l)" = 2 ] || lr_fail "expected 2 MP4 files: $(ls "$LR_DIR/mp4")"

# FLV of the second push: duration and a keyframe index in onMetaData
flv=$(ls -t "$LR_DIR"/flv/cam_*.flv | head -n 1)
tags=$("$LR_FFPROBE" -v error -show_entries format=duration:format_tags=hasKeyframes,canSeekToEnd -of csv=p=0 "$flv")
lr_log "FLV $(basename "$flv"): $tags"
d=$(echo "$tags" | cut -d, -f1)
lr_within "$d" 4 10 || lr_fail "the FLV lasts $d s for 4 s pushed"
echo "$tags" | grep -q 'true,true' || lr_fail "the FLV lacks hasKeyframes/canSeekToEnd: $tags"
grep -a -q filepositions "$flv" || lr_fail "the FLV has no keyframe index"
lr_pass
