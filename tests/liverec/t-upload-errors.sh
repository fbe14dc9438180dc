#!/bin/sh
# vodupload never reports success for an object that is not there, and says why: a wrong secret
# gives S3's 403 SignatureDoesNotMatch (and the secret is not in the log), a missing bucket 404
# NoSuchBucket, both at once without retries; malformed URLs are refused before any request; a
# muxer that needs to seek back (MP4 without fragments) fails instead of storing a corrupt object.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init upload-errors
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"
url=vodupload+$LR_S3_ENDPOINT/rec
head -c 300000 /dev/urandom > "$LR_DIR/small.bin"
head -c 12000000 /dev/urandom > "$LR_DIR/big.bin"

# expect_fail NAME FILE URL MESSAGE [options]: ffmpeg fails, its log has MESSAGE
expect_fail() {
    name=$1 src=$2 dst=$3 msg=$4
    shift 4
    if "$LR_FFMPEG" -hide_banner -nostdin -f data -i "$src" -map 0 -c copy -f data "$@" "$dst" \
            > "$LR_DIR/$name.log" 2>&1; then
        lr_fail "$name: ffmpeg reported success"
    fi
    grep -q -- "$msg" "$LR_DIR/$name.log" || lr_fail "$name: no '$msg' in the log"
    lr_log "$name: $(grep -m1 -- "$msg" "$LR_DIR/$name.log" | cut -c1-160)"
}

for f in small big; do
    AWS_SECRET_ACCESS_KEY=Wrong-Secret-4711 expect_fail wrong-secret-$f "$LR_DIR/$f.bin" "$url/$f.bin" \
        "HTTP 403 SignatureDoesNotMatch" -max_retries 3 -part_size 5Mi
    grep -q "retry" "$LR_DIR/wrong-secret-$f.log" && lr_fail "a 403 was retried"
    grep -q "Wrong-Secret-4711" "$LR_DIR/wrong-secret-$f.log" && lr_fail "the secret is in the log"
    expect_fail no-bucket-$f "$LR_DIR/$f.bin" "vodupload+$LR_S3_ENDPOINT/nobucket/$f.bin" \
        "HTTP 404 NoSuchBucket" -part_size 5Mi
done
[ -z "$(lr_s3_ls rec)" ] || lr_fail "objects after failed uploads: $(lr_s3_ls rec)"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "open multipart uploads after failures: $(lr_s3_uploads rec)"

# an option given on the command line takes the place of the environment
AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= "$LR_FFMPEG" -hide_banner -nostdin -v error -f data \
    -i "$LR_DIR/small.bin" -map 0 -c copy -f data -access_key "$LR_S3_ACCESS" -secret_key "$LR_S3_SECRET" \
    "$url/opt.bin" > "$LR_DIR/options.log" 2>&1 || lr_fail "access_key/secret_key options do not work"

host=${LR_S3_ENDPOINT#http://}
expect_fail url-credentials "$LR_DIR/small.bin" "vodupload+http://a:b@$host/rec/x.bin" "credentials do not belong in the URL"
expect_fail url-dots "$LR_DIR/small.bin" "vodupload+http://$host/rec/a/../x.bin" "'..' path segments"
expect_fail url-no-bucket "$LR_DIR/small.bin" "vodupload+http://$host/" "no bucket in the URL"
expect_fail url-ftp "$LR_DIR/small.bin" "vodupload+ftp://$host/rec/x.bin" "must be vodupload+http"
expect_fail part-size "$LR_DIR/small.bin" "$url/x.bin" "part_size" -part_size 1Mi

# MP4 needs to seek back: refused at the start, nothing stored
"$LR_FFMPEG" -hide_banner -nostdin -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 -c:v mpeg4 \
    -f mp4 "$url/clip.mp4" > "$LR_DIR/mp4.log" 2>&1 && lr_fail "a plain MP4 into a bucket reported success"
grep -q "non seekable output" "$LR_DIR/mp4.log" || lr_fail "no non-seekable error for MP4"
# fragmented MP4 streams and is stored
"$LR_FFMPEG" -hide_banner -nostdin -v error -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 \
    -c:v mpeg4 -f mp4 -movflags +frag_keyframe+empty_moov "$url/frag.mp4" > "$LR_DIR/frag.log" 2>&1 ||
    lr_fail "fragmented MP4 into a bucket failed"
[ "$(lr_s3_ls rec | sort | tr '\n' ' ')" = "frag.mp4 opt.bin " ] || lr_fail "bucket holds: $(lr_s3_ls rec)"
lr_s3_get rec frag.mp4 "$LR_DIR/frag.mp4" || lr_fail "frag.mp4 not readable"
n=$("$LR_FFPROBE" -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$LR_DIR/frag.mp4")
[ "$n" = 50 ] || lr_fail "the fragmented MP4 decodes $n frames of 50"
lr_log "fragmented MP4 stored and decodes $n frames"
lr_pass
