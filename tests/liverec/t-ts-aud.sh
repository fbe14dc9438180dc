#!/bin/sh
# h264_mp4toannexb's aud option and the MPEG-TS muxer asking for it (patches 0015 and 0016): the
# muxer's output is byte for byte what it wrote when it prepended each access unit delimiter
# itself (by copying the access unit), which it still does after a filter the user inserted
# without the option; the option writes one delimiter per access unit, first, and none where the
# stream has its own; the pictures decode the same.
# Inputs: MP4 with B-frames and AAC; MP4 whose H.264 carries its own delimiters; FLV with its own
# delimiters and parameter sets repeated in the stream; FLV with neither.
. "$(dirname "$0")/lib.sh"
lr_init ts-aud

enc() { # OUTPUT X264-PARAMS [MORE OPTIONS]
    out=$1 params=$2
    shift 2
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel error -y \
        -f lavfi -i "testsrc2=size=320x240:rate=25:duration=3" -f lavfi -i "sine=duration=3" \
        -c:v libx264 -preset veryfast -g 10 -x264-params "$params" -c:a aac "$@" "$LR_DIR/$out" ||
        lr_fail "cannot encode $out"
}
enc bframes.mp4 bframes=2
enc aud.mp4 aud=1:bframes=0
enc aud-headers.flv aud=1:repeat-headers=1
enc plain.flv bframes=0

# the types of the NAL units of an Annex B file, one per line, in order
nal_types() {
    python3 - "$1" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
i = d.find(b'\x00\x00\x01')
while i >= 0:
    print(d[i + 3] & 0x1f)
    i = d.find(b'\x00\x00\x01', i + 3)
PY
}

for f in bframes.mp4 aud.mp4 aud-headers.flv plain.flv; do
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel error -i "$LR_DIR/$f" -c copy -f mpegts \
        "$LR_DIR/$f.auto.ts" || lr_fail "$f: the remux into MPEG-TS failed"
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel error -i "$LR_DIR/$f" -c copy \
        -bsf:v h264_mp4toannexb -f mpegts "$LR_DIR/$f.user.ts" ||
        lr_fail "$f: the remux with a user's h264_mp4toannexb failed"
    cmp -s "$LR_DIR/$f.auto.ts" "$LR_DIR/$f.user.ts" ||
        lr_fail "$f: the MPEG-TS differs from the one whose delimiters the muxer prepended"

    for a in 0 1; do
        "$LR_FFMPEG" -hide_banner -nostdin -loglevel error -i "$LR_DIR/$f" -map 0:v -c copy \
            -bsf:v "h264_mp4toannexb=aud=$a" -f h264 "$LR_DIR/$f.$a.h264" ||
            lr_fail "$f: h264_mp4toannexb=aud=$a failed"
        "$LR_FFMPEG" -hide_banner -nostdin -loglevel error -i "$LR_DIR/$f.$a.h264" -f framemd5 - |
            grep -v '^#' > "$LR_DIR/$f.$a.md5"
    done
    frames=$(wc -l < "$LR_DIR/$f.1.md5")
    [ "$frames" = 75 ] || lr_fail "$f: $frames pictures decoded with aud=1, not 75"
    cmp -s "$LR_DIR/$f.0.md5" "$LR_DIR/$f.1.md5" || lr_fail "$f: the pictures differ with aud=1"
    nal_types "$LR_DIR/$f.1.h264" > "$LR_DIR/$f.1.nals"
    auds=$(grep -cx 9 "$LR_DIR/$f.1.nals")
    # a stream without delimiters of its own gets them first in each access unit; one with its
    # own (x264 puts its version SEI before the first) keeps them where they are
    case $f in aud*) ;; *)
        [ "$(head -n 1 "$LR_DIR/$f.1.nals")" = 9 ] || lr_fail "$f: aud=1 does not begin with a delimiter"
    esac
    [ "$auds" = "$frames" ] || lr_fail "$f: $auds delimiters with aud=1 for $frames access units"
    # one delimiter per access unit (the pictures have one slice each): no two in a row, and one
    # between any two pictures and before the first
    awk 'BEGIN { pic = 1 } prev == 9 && $1 == 9 { exit 1 }
         $1 == 1 || $1 == 5 { if (pic && !aud) exit 2; pic = 1; aud = 0 }
         $1 == 9 { aud = 1; pic = 0 } { prev = $1 }' "$LR_DIR/$f.1.nals" ||
        lr_fail "$f: the delimiters with aud=1 are not one per access unit"
    lr_log "$f: MPEG-TS identical; aud=1: $auds delimiters for $frames pictures, the same pictures"
done
lr_pass
