#!/bin/sh
# ffliverec learns what an RTMP push's streams are from their headers (the FLV demuxer's sequence
# headers, the video codec's parser) instead of decoding their first frames
# (fftools/ffliverec_probe.c; -probe_decode 1 brings back avformat_find_stream_info()), and
# records exactly what decoding them would have:
# - an H.264 + AAC push, recorded by two ffliverec at once into HLS, MP4 and FLV, one with
#   -probe_decode 1: every stream parameter their recordings' containers give is the same, as
#   are the packet counts, which are the pusher's; the two FLV files are the same byte for byte,
#   the two MP4 files hold the same packets (times, flags, bytes); only the second called avformat_find_stream_info() (its debug log says so; the
#   finished files are catalogued from their headers, which does not call it either, with the
#   times ffprobe gives them, to the millisecond);
# - a push whose video has no parser (Sorenson H.263, "flv1"): the headers do not give its
#   size, so ffliverec decodes, says so, and records it whole with its size;
# - an audio-only push: the probe waits its 5 s for a video stream that does not come, without
#   decoding, and the recordings have every audio packet.
. "$(dirname "$0")/lib.sh"
lr_init probe-headers
lr_nginx_start
cat > "$LR_DIR/rec.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Template TemplateId="1" TemplateName="all">
    <FlvParam/><HlsParam/><Mp4Param/>
    <HlsSpecialParam FlowContinueDuration="0"/>
  </Template>
  <Template TemplateId="2" TemplateName="flv">
    <FlvParam/>
  </Template>
  <Rule DomainName="example.com" TemplateId="1"/>
  <Rule DomainName="example.com" StreamName="sorenson" TemplateId="2"/>
</LiveRecordConfig>
X

# rec NAME STREAM [options]: a recorder of STREAM into $LR_DIR/NAME, debug log NAME.log
rec() {
    _rn=$1 _rs=$2
    shift 2
    lr_ffliverec_bg "$LR_DIR/rec.xml" "$_rs" "$_rn.log" -loglevel debug -spool "$LR_DIR/$_rn/spool" \
        -state "$LR_DIR/$_rn/state" "$@"
    eval "pid_$_rn=\$LR_LAST_PID"
}
# push STREAM SECONDS [encoder options]: through the origin, and into pushed-STREAM.flv
push() {
    _ps=$1 _pt=$2
    shift 2
    lr_log "push $_ps for $_pt s: $*"
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel warning -re \
        -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$_pt" \
        -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=$_pt" "$@" \
        -flags +global_header -f tee "[f=flv]$LR_RTMP_URL/$_ps|[f=flv]$LR_DIR/pushed-$_ps.flv" \
        > "$LR_DIR/push-$_ps.log" 2>&1 || lr_fail "the push of $_ps failed (see push-$_ps.log)"
}
wait_rec() {
    eval "_wp=\$pid_$1"
    lr_wait_pid "$_wp" 30 || lr_fail "the recorder $1 did not end after the push (status $?)"
}
count() { # FILE TYPE -> number of packets of that type (a playlist lists its streams twice)
    "$LR_FFPROBE" -v error -select_streams "$2" -count_packets -show_entries stream=nb_read_packets \
        -of csv=p=0 "$1" | head -n 1
}
# what a file's streams are as its container says (ffprobe would otherwise decode and show what
# the decoder found), without what depends on where the recording started or ended
params() {
    "$LR_FFPROBE" -v error -nofind_stream_info -show_streams "$1" |
        grep -v -e duration -e nb_frames -e bit_rate -e start_ -e _ts= -e '^TAG:' -e '^DISPOSITION'
}
one() { # FOLDER PATTERN -> the one file, or fail
    _of=$(ls "$1"/$2 2>/dev/null)
    [ "$(echo "$_of" | grep -c .)" = 1 ] || lr_fail "not one $2 in $1: $_of"
    echo "$_of"
}

# 1. H.264 + AAC, from the headers and by decoding
rec headers cam
rec decode cam -probe_decode 1
push cam 6 -map 0:v -map 1:a -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p \
    -g 50 -b:v 800k -c:a aac -b:a 96k -ac 2
wait_rec headers
wait_rec decode
grep -q 'avformat_find_stream_info()' "$LR_DIR/decode.log" ||
    lr_fail "-probe_decode 1 did not call avformat_find_stream_info() (or its debug line changed)"
! grep -q 'avformat_find_stream_info()\|decoding the first frames' "$LR_DIR/headers.log" ||
    lr_fail "the H.264 + AAC push (or a finished file) was decoded to learn its streams: $(grep -m2 'find_stream_info\|decoding the first' "$LR_DIR/headers.log")"
pv=$(count "$LR_DIR/pushed-cam.flv" v)
pa=$(count "$LR_DIR/pushed-cam.flv" a)
[ "${pv:-0}" -gt 100 ] && [ "${pa:-0}" -gt 200 ] || lr_fail "the pusher's own copy has $pv video and $pa audio packets"
for f in mp4 flv hls; do
    case $f in hls) pat='cam_*.m3u8' ;; *) pat="*.$f" ;; esac
    h=$(one "$LR_DIR/headers/spool/example.com/live/cam/$f" "$pat")
    d=$(one "$LR_DIR/decode/spool/example.com/live/cam/$f" "$pat")
    params "$h" > "$LR_DIR/params-headers-$f.txt"
    params "$d" > "$LR_DIR/params-decode-$f.txt"
    [ $f != mp4 ] || grep -q '^width=640$' "$LR_DIR/params-headers-$f.txt" || lr_fail "$f: no width 640: $h"
    diff "$LR_DIR/params-decode-$f.txt" "$LR_DIR/params-headers-$f.txt" > "$LR_DIR/params-$f.diff" ||
        lr_fail "$f: the stream parameters differ from those learnt by decoding: $(cat "$LR_DIR/params-$f.diff")"
    for t in v a; do
        eval "want=\$p$t"
        [ "$(count "$h" $t)" = "$want" ] && [ "$(count "$d" $t)" = "$want" ] ||
            lr_fail "$f $t: $(count "$h" $t) packets (from the headers), $(count "$d" $t) (decoding), $want pushed"
    done
    # the same packets with the same parameters: the same FLV, byte for byte; the same MP4
    # packets (an MP4 is made final in its working file, whose moov, hidden in a free box, says
    # the aspect ratio only when it was decoded)
    case $f in
    flv) cmp "$h" "$d" > /dev/null || lr_fail "the two FLV recordings differ: $(cmp "$h" "$d")" ;;
    mp4) lr_packets "$h" > "$LR_DIR/packets-headers.txt"
         lr_packets "$d" > "$LR_DIR/packets-decode.txt"
         cmp -s "$LR_DIR/packets-headers.txt" "$LR_DIR/packets-decode.txt" ||
             lr_fail "the two MP4 recordings' packets differ" ;;
    esac
done
# the finished files are catalogued without decoding (the check above) and with their times: an
# FLV file's duration from its metadata, an HLS recording's from its playlist and its start from
# its first segment, as ffprobe gives them
for f in mp4 flv hls; do
    case $f in hls) pat='cam_*.m3u8' ;; *) pat="*.$f" ;; esac
    cat=$(python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("select duration_ms, media_start_ms from recordings where format = ?", (sys.argv[2],)).fetchall()
print(" ".join("%d,%d" % x for x in r))' "$LR_DIR/headers/state/ffliverec.db" $f)
    probe=$("$LR_FFPROBE" -v error -show_entries format=duration,start_time -of csv=p=0 \
            "$(one "$LR_DIR/headers/spool/example.com/live/cam/$f" "$pat")" |
            awk -F, '{ printf "%d,%d", $2 * 1000 + 0.5, $1 * 1000 + 0.5 }')
    echo "$cat $probe" | awk '{ split($1, c, ","); split($2, p, ",")
        exit !(c[1] - p[1] <= 1 && p[1] - c[1] <= 1 && c[2] - p[2] <= 1 && p[2] - c[2] <= 1) }' ||
        lr_fail "$f: catalogued with duration,start $cat ms, ffprobe says $probe (to the ms)"
done
lr_log "H.264 + AAC: same parameters and the pusher's $pv video and $pa audio packets, not decoded"

# 2. no parser for the video: decoded, whole
rec sorenson sorenson
push sorenson 5 -map 0:v -map 1:a -c:v flv1 -b:v 800k -g 50 -c:a aac -b:a 96k -ac 2
wait_rec sorenson
grep -q 'decoding the first frames' "$LR_DIR/sorenson.log" ||
    lr_fail "flv1 video: ffliverec did not say it decodes to learn the streams"
f=$(one "$LR_DIR/sorenson/spool/example.com/live/sorenson/flv" '*.flv')
[ "$(lr_streams "$f" | tr ' ' '\n' | sort | tr '\n' ' ')" = "audio:aac video:flv1 " ] || lr_fail "flv1 recording: $(lr_streams "$f")"
size=$("$LR_FFPROBE" -v error -select_streams v -show_entries stream=width,height -of csv=p=0 "$f")
[ "$size" = "640,360" ] || lr_fail "flv1 recording of 640x360: $size"
[ "$(count "$f" v)" = "$(count "$LR_DIR/pushed-sorenson.flv" v)" ] ||
    lr_fail "flv1: $(count "$f" v) video packets of $(count "$LR_DIR/pushed-sorenson.flv" v)"
lr_log "flv1 + AAC: decoded to learn its size, every video packet recorded"

# 3. audio only: the probe waits for a video stream, and keeps what it read meanwhile
rec audio voice
push voice 9 -map 1:a -c:a aac -b:a 96k -ac 2
wait_rec audio
! grep -q 'avformat_find_stream_info()\|decoding the first frames' "$LR_DIR/audio.log" ||
    lr_fail "the audio-only push was decoded to learn its stream"
pa=$(count "$LR_DIR/pushed-voice.flv" a)
for f in mp4 hls; do
    case $f in hls) pat='voice_*.m3u8' ;; *) pat="*.$f" ;; esac
    r=$(one "$LR_DIR/audio/spool/example.com/live/voice/$f" "$pat")
    # (a playlist lists its streams twice)
    streams=$("$LR_FFPROBE" -v error -show_entries stream=codec_type,codec_name -of csv=p=0 "$r" |
              grep . | sort -u)
    [ "$streams" = "aac,audio" ] || lr_fail "audio only, $f: $streams"
    [ "$(count "$r" a)" = "$pa" ] || lr_fail "audio only, $f: $(count "$r" a) packets of the $pa pushed"
done
lr_log "audio only: all $pa packets, not decoded"
lr_pass
