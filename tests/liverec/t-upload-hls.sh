#!/bin/sh
# liverec_hls records straight into a bucket through vodupload: segments, the EVENT playlist and
# the resume state are objects; the playlist and state are written as a temporary object and
# moved (server-side copy + delete), the next process reads the state back from the bucket and
# splices behind a discontinuity, and final=1 moves the recording to its VOD name and deletes the
# working playlist and state. What is left in the bucket plays from start to end (ffprobe).
# The bucket's region is not the default one and the credentials are not in the environment:
# the muxer's protocol_opts give both to every object it opens, checks or moves (without them
# the same recording fails).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init upload-hls
LR_S3_REGION=eu-test-1
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION
url=vodupload+$LR_S3_ENDPOINT/rec/live/cam/cam.m3u8
opts="region=$LR_S3_REGION:access_key=$(echo "$LR_S3_ACCESS" | sed 's/:/\\:/g'):secret_key=$LR_S3_SECRET"

run() { # N SECONDS WALLCLOCK [muxer options]
    n=$1 dur=$2 wall=$3
    shift 3
    "$LR_FFMPEG" -hide_banner -nostdin -f lavfi -i testsrc2=size=320x240:rate=25:duration=$dur \
        -f lavfi -i sine=frequency=440:sample_rate=48000:duration=$dur \
        -c:v libx264 -preset veryfast -g 25 -pix_fmt yuv420p -c:a aac -b:a 64k \
        -f liverec_hls -segment_time 2 -splice_timeout 60 -wallclock "$wall" "$@" "$url" \
        > "$LR_DIR/rec-$n.log" 2>&1
}
record() { # N SECONDS WALLCLOCK [muxer options]
    run "$@" -protocol_opts "$opts" || lr_fail "recording $1 into the bucket failed"
}

# the credentials in the environment, the default region: refused
AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET" run 0 2 2026-01-01T00:00:00Z &&
    lr_fail "a recording signed for the default region was stored in $LR_S3_REGION"
[ -z "$(lr_s3_ls rec)" ] || lr_fail "the refused recording left objects: $(lr_s3_ls rec)"

record 1 6 2026-01-01T00:00:00Z
record 2 4 2026-01-01T00:00:30Z
objs=$(lr_s3_ls rec | sort)
echo "$objs" | grep -q '\.tmp$' && lr_fail "temporary objects are left: $objs"
echo "$objs" | grep -qx 'live/cam/cam.m3u8.liverec' || lr_fail "no state object: $objs"
lr_s3_get rec live/cam/cam.m3u8 "$LR_DIR/event.m3u8" || lr_fail "no playlist object"
grep -q '^#EXT-X-PLAYLIST-TYPE:EVENT' "$LR_DIR/event.m3u8" || lr_fail "the open playlist is not EVENT"
[ "$(grep -c '^#EXT-X-DISCONTINUITY$' "$LR_DIR/event.m3u8")" = 1 ] || lr_fail "the second push did not splice"
lr_log "2 processes -> $(grep -vc '^#' "$LR_DIR/event.m3u8") segments, 1 discontinuity, state in the bucket"

record 3 4 2026-01-01T00:01:00Z -final 1
objs=$(lr_s3_ls rec | sort)
echo "$objs" | grep -q 'cam\.m3u8$\|\.liverec$\|\.tmp$' && lr_fail "working objects left after final: $objs"
final=$(echo "$objs" | grep '\.m3u8$')
[ "$(echo "$final" | wc -l)" = 1 ] || lr_fail "expected one final playlist: $objs"
mkdir -p "$LR_DIR/local/live/cam"
for o in $objs; do
    lr_s3_get rec "$o" "$LR_DIR/local/$o" || lr_fail "cannot read $o"
done
pl=$LR_DIR/local/$final
grep -q '^#EXT-X-ENDLIST' "$pl" || lr_fail "the final playlist has no ENDLIST"
[ "$(grep -c '^#EXT-X-DISCONTINUITY$' "$pl")" = 2 ] || lr_fail "the final playlist has not 2 discontinuities"
for s in $(grep -v '^#' "$pl"); do
    [ -s "$LR_DIR/local/live/cam/$s" ] || lr_fail "segment $s is listed but not in the bucket"
done
d=$("$LR_FFPROBE" -v error -show_entries format=duration -of csv=p=0 "$pl")
lr_within "$d" 14 5 || lr_fail "the recording lasts $d s for 14 s recorded"
lr_log "final $(basename "$final"): $(grep -vc '^#' "$pl") segments, $d s, 2 discontinuities, no working objects"
lr_pass
