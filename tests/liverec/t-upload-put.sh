#!/bin/sh
# vodupload stores what ffmpeg writes, byte for byte: an object smaller than one part is one PUT,
# a 50 MiB object is a multipart upload of 5 MiB parts; both read back with the same MD5, no
# multipart upload is left open, and the Content-Type comes from the key's extension. The same
# objects read back through vodupload itself (ranged GETs) give the same bytes. Nothing written
# stores nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init upload-put
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"
url=vodupload+$LR_S3_ENDPOINT/rec

# copy FILE to URL byte for byte (the data demuxer and muxer pass the bytes through)
upload() { # FILE URL LOG [protocol options]
    src=$1 dst=$2 log=$3
    shift 3
    "$LR_FFMPEG" -hide_banner -nostdin -v verbose -f data -i "$src" -map 0 -c copy -f data "$@" "$dst" \
        > "$LR_DIR/$log" 2>&1
}
md5() { md5sum < "$1" | cut -d' ' -f1; }

head -c 1000000 /dev/urandom > "$LR_DIR/small.ts"
head -c 52428800 /dev/urandom > "$LR_DIR/big.bin"

upload "$LR_DIR/small.ts" "$url/cam/small.ts" small.log || lr_fail "the small upload failed"
grep -q "stored rec/cam/small.ts: 1000000 bytes$" "$LR_DIR/small.log" || lr_fail "no single-PUT message"
grep -q "CreateMultipartUpload\|part 1 of" "$LR_DIR/small.log" && lr_fail "a small object used a multipart upload"
lr_s3_get rec cam/small.ts "$LR_DIR/small.back" || lr_fail "the small object is not in the bucket"
[ "$(md5 "$LR_DIR/small.ts")" = "$(md5 "$LR_DIR/small.back")" ] || lr_fail "the small object differs"
ctype=$(lr_s3_req HEAD /rec/cam/small.ts /dev/null -I -D "$LR_DIR/head.txt" >/dev/null;
        sed -n 's/^[Cc]ontent-[Tt]ype: *\([^;[:space:]]*\).*/\1/p' "$LR_DIR/head.txt")
[ "$ctype" = video/mp2t ] || lr_fail "Content-Type of a .ts object is '$ctype'"
lr_log "1000000 bytes: one PUT, same MD5, Content-Type $ctype"

# nothing written: no object (an existing one is not replaced by nothing)
: > "$LR_DIR/empty.bin"
upload "$LR_DIR/empty.bin" "$url/cam/empty.bin" empty.log || lr_fail "the empty upload failed"
grep -q "nothing was written to rec/cam/empty.bin: no object stored" "$LR_DIR/empty.log" ||
    lr_fail "no message for an upload of nothing"
lr_s3_get rec cam/empty.bin "$LR_DIR/empty.back" 2> /dev/null && lr_fail "an upload of nothing stored an object"

t0=$(date +%s.%N)
upload "$LR_DIR/big.bin" "$url/big.bin" big.log -part_size 5Mi || lr_fail "the 50 MiB upload failed"
t1=$(date +%s.%N)
parts=$(grep -c "part [0-9]* of rec/big.bin: " "$LR_DIR/big.log")
[ "$parts" = 10 ] || lr_fail "50 MiB in 5 MiB parts took $parts parts"
grep -q "stored rec/big.bin: 52428800 bytes in 10 parts" "$LR_DIR/big.log" || lr_fail "no completion message"
lr_s3_get rec big.bin "$LR_DIR/big.back" || lr_fail "the big object is not in the bucket"
[ "$(md5 "$LR_DIR/big.bin")" = "$(md5 "$LR_DIR/big.back")" ] || lr_fail "the 50 MiB object differs"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "a multipart upload is still open: $(lr_s3_uploads rec)"
lr_log "52428800 bytes: 10 parts, same MD5, no open upload, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"

# read back through the protocol: 50 ranged GETs of 1 MiB
"$LR_FFMPEG" -hide_banner -nostdin -v error -f data -i "$url/big.bin" -map 0 -c copy -f data \
    "$LR_DIR/big.read" || lr_fail "reading the object through vodupload failed"
[ "$(md5 "$LR_DIR/big.bin")" = "$(md5 "$LR_DIR/big.read")" ] || lr_fail "reading back through vodupload differs"
lr_log "read back through vodupload: same MD5"
[ "$(lr_s3_ls rec | sort | tr '\n' ' ')" = "big.bin cam/small.ts " ] || lr_fail "bucket holds: $(lr_s3_ls rec)"
lr_pass
