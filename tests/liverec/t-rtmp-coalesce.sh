#!/bin/sh
# The RTMP protocol's rtmp_read_coalesce (patch 0009, ffliverec's -read_coalesce): a pull that lets
# data gather before each read gets exactly the packets of one that reads at once, with several
# times fewer recv() calls, each after one poll(), and a stream that slows down is not held back
# into a timeout.
# Two pullers of the same push, started before it (so both get it from its first frame), under
# strace -c: one with rtmp_read_coalesce 0, one with 400 ms and -rw_timeout 1 s. The push sends
# 800 kb/s of video and 32 kb/s of audio for 6 s, then (an x264 zone) a fiftieth of that video
# bitrate for 8 s: the coalescing puller's low-water mark, set for ~100 KB/s, takes seconds to
# fill at a few KB/s, and the push's last fraction of a second never fills it: without the mark
# going back down when data is slow, that end is held back until the pull gives up and is lost
# (seen: 6 video and 12 audio packets).
. "$(dirname "$0")/lib.sh"
lr_init rtmp-coalesce
command -v strace > /dev/null || lr_fail "strace is missing (liverec/install-deps installs it)"

lr_nginx_start
for c in 0 400; do
    strace -f -qq -c -o "$LR_DIR/strace-$c.txt" \
        "$LR_FFMPEG" -hide_banner -nostdin -loglevel warning -rw_timeout 1000000 \
        -rtmp_read_coalesce $c -i "$LR_RTMP_URL/s1" -c copy -f flv "$LR_DIR/pull-$c.flv" \
        > "$LR_DIR/pull-$c.log" 2>&1 &
    eval "pid_$c=\$!"
    lr_track $!
done
sleep 1
lr_log "push s1: 800 kb/s of video for 6 s, then 16 kb/s for 8 s, and 32 kb/s of audio"
lr_push_kept s1 14 "" -g 50 -b:v 800k -x264-params zones=150,349,b=0.02 -b:a 32k
for c in 0 400; do
    eval "pid=\$pid_$c"
    lr_wait_pid "$pid" 15 || lr_fail "the puller with rtmp_read_coalesce $c did not end after the push (status $?)"
done

count() { # FILE TYPE -> number of packets of that type
    "$LR_FFPROBE" -v error -select_streams "$2" -count_packets -show_entries stream=nb_read_packets \
        -of csv=p=0 "$1"
}
last_audio() { # FILE -> time of the last audio packet
    "$LR_FFPROBE" -v error -select_streams a -show_entries packet=pts_time -of csv=p=0 "$1" | tail -n 1
}
calls() { # strace summary, system call -> number of calls
    awk -v c="$2" '$NF == c { print $4 }' "$1"
}
recv() { calls "$1" recvfrom; }
polls() { calls "$1" poll; }
pv=$(count "$LR_DIR/pushed.flv" v) pa=$(count "$LR_DIR/pushed.flv" a)
for c in 0 400; do
    v=$(count "$LR_DIR/pull-$c.flv" v) a=$(count "$LR_DIR/pull-$c.flv" a)
    eval "v_$c=$v a_$c=$a"
    lr_log "rtmp_read_coalesce $c: $v video + $a audio packets (pushed $pv + $pa), last audio at" \
        "$(last_audio "$LR_DIR/pull-$c.flv") s, $(recv "$LR_DIR/strace-$c.txt") recvfrom and" \
        "$(polls "$LR_DIR/strace-$c.txt") poll calls"
done
[ "$v_0" -ge $((pv - 2)) ] && [ "$a_0" -ge $((pa - 50)) ] ||
    lr_fail "the reference pull lost data: $v_0 + $a_0 packets of $pv + $pa"
[ "$v_400" = "$v_0" ] && [ "$a_400" = "$a_0" ] ||
    lr_fail "the coalescing pull has $v_400 + $a_400 packets, the reference $v_0 + $a_0"
r0=$(recv "$LR_DIR/strace-0.txt") r400=$(recv "$LR_DIR/strace-400.txt")
[ -n "$r0" ] && [ -n "$r400" ] || lr_fail "no recvfrom counts in the strace summaries"
[ $((r400 * 3)) -le "$r0" ] ||
    lr_fail "coalescing read $r400 times, not a third or less of the reference's $r0"
# a coalesced wait is one poll(), not slices of 100 ms: beyond the polls both pulls make before
# their writes (acknowledgements) and reads without a mark, about one poll per read
p0=$(polls "$LR_DIR/strace-0.txt") p400=$(polls "$LR_DIR/strace-400.txt")
[ -n "$p0" ] && [ -n "$p400" ] || lr_fail "no poll counts in the strace summaries"
[ $((p400 - r400)) -le $((p0 - r0 + r400 / 2)) ] ||
    lr_fail "coalescing polled $p400 times for $r400 reads (the reference $p0 for $r0): its waits are sliced"
lr_pass
