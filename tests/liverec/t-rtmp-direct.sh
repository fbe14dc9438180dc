#!/bin/sh
# The RTMP protocol's audio and video messages read out in place, and rtmp_read_direct (patch
# 0014, always on in ffliverec): the demuxer gets exactly the packets it got when every message
# was copied into an FLV buffer and read through the 64 KiB I/O buffer.
# Three pullers of the same push, started before it (so all get it from its first frame): with
# rtmp_read_direct 0 (the messages still read in place), with 1, and with 1 and
# rtmp_read_coalesce 250 as ffliverec reads. Each writes the packets' hashes (framemd5: stream,
# timestamps, duration, size, MD5 of the bytes). The push has metadata, keyframes larger than the
# 64 KiB buffer and audio frames of a few hundred bytes; its own packets are hashed as well.
. "$(dirname "$0")/lib.sh"
lr_init rtmp-direct

lr_nginx_start
for c in "0 0" "1 0" "1 250"; do
    set -- $c
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel warning -rw_timeout 5000000 \
        -rtmp_read_direct "$1" -rtmp_read_coalesce "$2" -i "$LR_RTMP_URL/s1" \
        -c copy -f framemd5 "$LR_DIR/pull-$1-$2.md5" > "$LR_DIR/pull-$1-$2.log" 2>&1 &
    eval "pid_$1_$2=\$!"
    lr_track $!
done
sleep 1
lr_log "push s1: 360p with a still noise pattern at qp 24 (keyframes of ~80 KB, 2.6 Mb/s) and 128 kb/s of audio for 6 s"
lr_push_kept s1 6 noise=alls=20:allf=u -g 25 -qp 24 -b:a 128k
for c in 0_0 1_0 1_250; do
    eval "pid=\$pid_$c"
    lr_wait_pid "$pid" 15 || lr_fail "the puller $c did not end after the push (status $?)"
done

"$LR_FFMPEG" -hide_banner -nostdin -loglevel error -i "$LR_DIR/pushed.flv" -c copy -f framemd5 \
    "$LR_DIR/pushed.md5" || lr_fail "cannot hash the pushed file"
np=$(lr_md5_packets "$LR_DIR/pushed.md5" | wc -l)
big=$(lr_md5_biggest "$LR_DIR/pushed.md5")
lr_log "pushed: $np packets, the largest video packet $big bytes"
[ "$big" -gt 65536 ] || lr_fail "no video packet of the push is larger than 64 KiB ($big bytes)"
for c in 0-0 1-0 1-250; do
    n=$(lr_md5_packets "$LR_DIR/pull-$c.md5" | wc -l)
    lr_log "pull rtmp_read_direct/rtmp_read_coalesce $c: $n packets"
    [ "$n" -ge $((np - 4)) ] || lr_fail "the pull $c has $n packets of the $np pushed (see pull-$c.log)"
done
# the same packets with the same bytes, and the same stream headers (extradata)
for c in 1-0 1-250; do
    cmp -s "$LR_DIR/pull-0-0.md5" "$LR_DIR/pull-$c.md5" ||
        lr_fail "the pull $c differs from the one through the buffer: $(diff "$LR_DIR/pull-0-0.md5" "$LR_DIR/pull-$c.md5" | head -n 4 | tr '\n' ' ')"
done
# and the bytes are the push's: every pulled packet's size and hash is one of the push's
missing=$(lr_md5_foreign "$LR_DIR/pushed.md5" "$LR_DIR/pull-1-0.md5")
[ "$missing" = 0 ] || lr_fail "$missing pulled packets have bytes the push did not send"
lr_pass
