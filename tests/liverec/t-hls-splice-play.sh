#!/bin/sh
# The flagship: three pushes of one stream through nginx-rtmp with two interruptions, recorded by
# three successive ffmpeg processes with liverec_hls, become one playlist with two
# discontinuities (the second push at another resolution), finalized by the last one; hls.js in
# headless Chromium plays it from start to end across both discontinuities.
. "$(dirname "$0")/lib.sh"
lr_init hls-splice-play

lr_nginx_start
rec=$LR_DIR/rec
mkdir -p "$rec"

# push N: record with a fresh ffmpeg process while pushing, then the interruption
record_push() { # N SECONDS SIZE [muxer options]
    n=$1 secs=$2
    LR_PUSH_VSIZE=$3
    shift 3
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel info -rw_timeout 3000000 -i "$LR_RTMP_URL/cam1" \
        -c copy -f liverec_hls -segment_time 2 -splice_timeout 60 -stream_id cam1 "$@" \
        "$rec/cam1.m3u8" > "$LR_DIR/rec-$n.log" 2>&1 &
    recorder=$!
    lr_track $recorder
    sleep 0.5
    lr_push cam1 "$secs"
    lr_wait_pid $recorder 20 || lr_fail "recorder $n did not end cleanly (see rec-$n.log)"
}

record_push 1 6 640x360
sleep 3
record_push 2 5 854x480
sleep 3
record_push 3 6 640x360 -final 1

playlist=$(ls "$rec"/cam1_*.m3u8 2>/dev/null)
[ -n "$playlist" ] && [ $(echo "$playlist" | wc -l) = 1 ] || lr_fail "expected one finalized playlist, found: $(ls "$rec")"
[ -e "$rec/cam1.m3u8" ] && lr_fail "the working playlist is still there after final=1"
[ -e "$rec/cam1.m3u8.liverec" ] && lr_fail "the sidecar is still there after final=1"
cat "$playlist" > "$LR_DIR/playlist.txt"
[ "$(grep -c '^#EXT-X-DISCONTINUITY$' "$playlist")" = 2 ] || lr_fail "expected 2 discontinuities: $(cat "$playlist")"
[ "$(grep -c '^#EXT-X-PROGRAM-DATE-TIME:' "$playlist")" = 3 ] || lr_fail "expected 3 program dates"
grep -q '^#EXT-X-PLAYLIST-TYPE:VOD$' "$playlist" && grep -q '^#EXT-X-ENDLIST$' "$playlist" ||
    lr_fail "the final playlist is not VOD with ENDLIST"

# every segment is readable; the resolutions follow the pushes
total=0
for seg in $(grep -v '^#' "$playlist"); do
    size=$("$LR_FFPROBE" -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 "$rec/$seg" | head -n 1) ||
        lr_fail "ffprobe cannot read $seg"
    echo "$seg $size" >> "$LR_DIR/segments.txt"
done
sizes=$(awk '{ print $2 }' "$LR_DIR/segments.txt" | uniq | tr '\n' ' ')
[ "$sizes" = "640,360 854,480 640,360 " ] || lr_fail "resolutions per push are '$sizes'"
duration=$(awk -F'[:,]' '/^#EXTINF:/ { d += $2 } END { print d }' "$playlist")
lr_within "$duration" 17 10 || lr_fail "playlist lasts $duration s for 17 s pushed"
lr_log "playlist: $(grep -vc '^#' "$playlist") segments, $duration s, 2 discontinuities"

# hls.js plays it to the end across both discontinuities
lr_play_hls_prepare
report=$(lr_play_hls "$playlist" 2 120) || lr_fail "the player failed: $(tail -n 5 "$LR_DIR/player.log")"
echo "$report" > "$LR_DIR/player.json"
lr_log "player: $report"
[ "$(lr_json "$report" fatal)" = None ] || lr_fail "hls.js fatal error: $(lr_json "$report" fatal)"
current=$(lr_json "$report" currentTime)
lr_within "$current" "$duration" 5 || lr_fail "playback reached $current s of $duration s"
[ "$(lr_json "$report" ended)" = True ] || lr_fail "playback did not end"
[ "$(lr_json "$report" cc)" = "[0, 1, 2]" ] || lr_fail "hls.js did not cross both discontinuities: $(lr_json "$report" cc)"
frames=$(lr_json "$report" frames)
lr_within "$frames" 425 5 || lr_fail "decoded $frames frames for 425 pushed (17 s at 25 fps)"
lr_pass
