#!/bin/sh
# An RTMP message written with one write (patch 0017): the chunks, their 1-byte headers and the
# extended timestamps after them are the bytes they were, and the publisher makes one send() per
# message instead of one per header and per chunk.
# The input (4 s, 360p with a still noise pattern at qp 24: keyframes of ~80 KB) is published:
#   - to ffmpeg's own RTMP server (-listen 1), which asks for chunks of 128 bytes, with the
#     timestamps from about 2 s on moved 17,000 s later (past 0xFFFFFF ms: the first video and
#     audio messages after the jump, the video one of some KB, have the extended timestamp after
#     each chunk's header), as fast as it goes, under strace;
#   - through nginx-rtmp (chunk_size 4096) with -re, pulled by a player started before.
# Each receiver hashes its packets (framemd5): ffmpeg's server has the file's packets, bytes and
# times; nginx's player has the packets' bytes.
. "$(dirname "$0")/lib.sh"
lr_init rtmp-write

command -v strace > /dev/null || lr_fail "strace is missing (liverec/install-deps installs it)"
lr_log "encoding the input"
jump="if(gte(TS*TB\,2)\,TS+17000/TB\,TS)"
"$LR_FFMPEG" -hide_banner -nostdin -loglevel error \
    -f lavfi -i "testsrc2=size=640x360:rate=25:duration=4,noise=alls=20:allf=u" \
    -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=4" \
    -c:v libx264 -preset veryfast -g 25 -qp 24 -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 \
    "$LR_DIR/in.flv" || lr_fail "cannot encode the input"
"$LR_FFMPEG" -hide_banner -nostdin -loglevel error -i "$LR_DIR/in.flv" -c copy \
    -bsf:v "setts=ts=$jump" -bsf:a "setts=ts=$jump" "$LR_DIR/jump.flv" ||
    lr_fail "cannot move the timestamps of the input"
hash_file() { # IN OUT
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel error -i "$1" -c copy -f framemd5 "$2" ||
        lr_fail "cannot hash $1"
}
hash_file "$LR_DIR/in.flv" "$LR_DIR/in.md5"
hash_file "$LR_DIR/jump.flv" "$LR_DIR/jump.md5"
np=$(lr_md5_packets "$LR_DIR/in.md5" | wc -l)
big=$(lr_md5_biggest "$LR_DIR/in.md5")
late=$(lr_md5_packets "$LR_DIR/jump.md5" | awk -F, '$1 + 0 == 0 && $2 + 0 >= 17000000 { n++ } END { print n + 0 }')
# the size of the first video packet after the jump (framemd5 times are in ms here)
first=$(lr_md5_packets "$LR_DIR/jump.md5" | awk -F, '$1 + 0 == 0 && $2 + 0 >= 17000000 { print $5 + 0; exit }')
lr_log "input: $np packets, the largest $big bytes; $late video packets of jump.flv past 17,000 s, the first of ${first:-0} bytes"
[ "$big" -gt 16384 ] || lr_fail "no video packet of the input spans several chunks ($big bytes)"
[ "$late" -gt 0 ] || lr_fail "the timestamps of jump.flv did not move (see jump.md5)"
[ "${first:-0}" -gt 1024 ] ||
    lr_fail "the first video packet after the jump spans too few chunks (${first:-0} bytes)"

# the same packets in the same order, bytes and times (the FLV demuxer reads both the same way)
same_packets() { # EXPECTED GOT WHAT
    lr_md5_packets "$1" > "$LR_DIR/want"
    lr_md5_packets "$2" > "$LR_DIR/got"
    cmp -s "$LR_DIR/want" "$LR_DIR/got" ||
        lr_fail "$3: $(wc -l < "$LR_DIR/got") packets, not the $(wc -l < "$LR_DIR/want") of the input, or not the same: $(diff "$LR_DIR/want" "$LR_DIR/got" | head -n 4 | tr '\n' ' ')"
}

port=$(lr_free_port)
"$LR_FFMPEG" -hide_banner -nostdin -loglevel warning -listen 1 -timeout 20 \
    -i "rtmp://127.0.0.1:$port/live/s" -c copy -f framemd5 "$LR_DIR/server.md5" \
    > "$LR_DIR/server.log" 2>&1 &
server=$!
lr_track $server
# (a probe connection would be the one client the server takes)
lr_wait_listen "$port" 10 || lr_fail "ffmpeg's RTMP server does not listen (see server.log)"
lr_log "publish jump.flv to ffmpeg's RTMP server (128-byte chunks) under strace"
strace -f -qq -c -o "$LR_DIR/push.strace" -e trace=sendto \
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel verbose -i "$LR_DIR/jump.flv" -c copy \
    -f flv "rtmp://127.0.0.1:$port/live/s" > "$LR_DIR/push-server.log" 2>&1 ||
    lr_fail "the publish to ffmpeg's RTMP server failed (see push-server.log)"
lr_wait_pid $server 15 || lr_fail "ffmpeg's RTMP server did not end after the publish (status $?)"
same_packets "$LR_DIR/jump.md5" "$LR_DIR/server.md5" "ffmpeg's RTMP server"
sends=$(awk '$NF == "sendto" { print $4 }' "$LR_DIR/push.strace")
sent=$(sed -n 's/.*Output stream #0:[0-9]* ([a-z]*): \([0-9]*\) packets muxed.*/\1/p' \
    "$LR_DIR/push-server.log" | awk '{ n += $1 } END { print n + 0 }')
lr_log "the publisher: $sent packets muxed, ${sends:-0} sendto calls"
[ "$sent" = "$np" ] || lr_fail "the publisher muxed $sent packets, not $np"
# one per message, a few for the handshake and the commands, and room for the sends a full socket
# cuts short (the socket is non-blocking, so a large message may take two); a write per chunk of
# 128 bytes would be more than $big / 128 for the largest packet alone
[ "${sends:-0}" -gt "$np" ] && [ "$sends" -le $((2 * np)) ] ||
    lr_fail "${sends:-0} sendto calls for $np packets: not one per message"

lr_nginx_start
lr_pull s "$LR_DIR/pull.md5" -f framemd5
sleep 1
lr_log "publish in.flv through nginx-rtmp (4096-byte chunks) at its pace"
"$LR_FFMPEG" -hide_banner -nostdin -loglevel warning -re -i "$LR_DIR/in.flv" -c copy \
    -f flv "$LR_RTMP_URL/s" > "$LR_DIR/push-nginx.log" 2>&1 ||
    lr_fail "the publish through nginx-rtmp failed (see push-nginx.log)"
lr_wait_pid $LR_LAST_PID 15 || lr_fail "the player did not end after the publish (status $?)"
# nginx-rtmp gives a player its own timestamps, and may start it a few packets late: the bytes
n=$(lr_md5_packets "$LR_DIR/pull.md5" | wc -l)
lr_log "the player of nginx-rtmp: $n packets"
[ "$n" -ge $((np - 4)) ] || lr_fail "the player of nginx-rtmp has $n packets of the $np published"
missing=$(lr_md5_foreign "$LR_DIR/in.md5" "$LR_DIR/pull.md5")
[ "$missing" = 0 ] || lr_fail "$missing packets of the player have bytes the publisher did not send"
lr_pass
