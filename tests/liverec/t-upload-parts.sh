#!/bin/sh
# vodupload's multipart uploads against Swift, through a proxy that does what a bad network or
# server does (s3_fault_proxy.py):
#   - parts in flight: with parts_in_flight 3 and every request held 1 s by the proxy, up to 3
#     parts are sent at once and never more; the object has the written bytes;
#   - parts grow: part_size 5 MiB, max_part_count 10 (a doubling every part), max_buffer 80 MiB
#     (parts of at most 20 MiB with 4 buffers): 60 MiB go as 5, 10, 20, 20 and 5 MiB;
#   - a recording longer than max_part_count parts allow fails saying which limit stops it, and
#     no object or open upload is left;
#   - a byte flipped in transit: Swift answers BadDigest, the part is sent again, same MD5;
#   - CompleteMultipartUpload answered 200 with an <Error> body: retried, never taken as done;
#   - a Complete whose ETag is not the parts' one: the write fails, "stored" is never said;
#   - a part that fails for good while others are in flight: the abort waits for them, and no
#     upload is left open afterwards (no part lands after the abort).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init upload-parts
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"
md5() { md5sum < "$1" | cut -d' ' -f1; }
s3port=${LR_S3_ENDPOINT##*:}

# proxy NAME [options]: a fault proxy in front of Swift, logging to NAME.proxy; sets url
proxy() {
    [ -n "${proxy_pid:-}" ] && lr_stop "$proxy_pid"
    _pport=$(lr_free_port)
    _pname=$1
    shift
    python3 "$LR_TOP/tests/liverec/s3_fault_proxy.py" "$_pport" "$s3port" "$LR_DIR/$_pname.proxy" "$@" \
        2> "$LR_DIR/$_pname.proxy.err" &
    proxy_pid=$!
    lr_track $proxy_pid
    lr_wait_port "$_pport" 10 || lr_fail "the fault proxy did not start"
    url=vodupload+http://127.0.0.1:$_pport/rec
}
upload() { # FILE KEY LOG [protocol options]
    _src=$1 _key=$2 _log=$3
    shift 3
    "$LR_FFMPEG" -hide_banner -nostdin -v verbose -f data -i "$_src" -map 0 -c copy -f data "$@" \
        "$url/$_key" > "$LR_DIR/$_log" 2>&1
}
part_sizes() { # LOG KEY: the bytes of each part sent, in part order
    sed -n "s/.*part \([0-9]*\) of rec\/$2: \([0-9]*\) bytes in .*/\1 \2/p" "$LR_DIR/$1" | sort -n |
        awk '{ printf "%s%d", (NR > 1 ? " " : ""), $2 / 1048576 }'
}
no_open_upload() {
    [ -z "$(lr_s3_uploads rec)" ] || lr_fail "$1: a multipart upload is left open: $(lr_s3_uploads rec)"
}
head -c 62914560 /dev/urandom > "$LR_DIR/60m.bin"
want=$(md5 "$LR_DIR/60m.bin")

# 1. parts in flight, and their growth
proxy inflight --slow /rec/grow.bin:1
upload "$LR_DIR/60m.bin" grow.bin grow.log -part_size 5Mi -parts_in_flight 3 -max_part_count 10 \
    -max_buffer 80Mi || lr_fail "the upload with 3 parts in flight failed: $(tail -n 3 "$LR_DIR/grow.log")"
sizes=$(part_sizes grow.log grow.bin)
[ "$sizes" = "5 10 20 20 5" ] || lr_fail "part sizes (MiB) were '$sizes', not 5 10 20 20 5"
lr_s3_get rec grow.bin "$LR_DIR/grow.back" || lr_fail "grow.bin is not in the bucket"
[ "$(md5 "$LR_DIR/grow.back")" = "$want" ] || lr_fail "grow.bin differs from what was written"
most=$(awk '$3 == "PUT" && $4 ~ /partNumber=/ { print $1, 1; print $2, -1 }' "$LR_DIR/inflight.proxy" |
       sort -n -k1,1 -k2,2n | awk '{ n += $2; if (n > m) m = n } END { print m + 0 }')
[ "$most" -ge 2 ] && [ "$most" -le 3 ] || lr_fail "$most parts were in flight at once (parts_in_flight 3)"
no_open_upload "grow.bin"
lr_log "60 MiB in parts of $sizes MiB, at most $most in flight, same MD5"

# 2. more than max_part_count parts allow
upload "$LR_DIR/60m.bin" long.bin long.log -part_size 5Mi -max_part_count 3 -max_buffer 30Mi &&
    lr_fail "60 MiB in at most 3 parts of at most 10 MiB was reported stored"
grep -q "would need more than 3 parts (max_part_count) of up to 10485760 bytes" "$LR_DIR/long.log" ||
    lr_fail "no message naming the limit: $(grep -i error "$LR_DIR/long.log" | head -n 3)"
grep -q "stored rec/long.bin" "$LR_DIR/long.log" && lr_fail "long.bin was said to be stored"
lr_s3_get rec long.bin "$LR_DIR/none" && lr_fail "long.bin is in the bucket"
no_open_upload "long.bin"
lr_log "past max_part_count: refused with the limit named, nothing stored, nothing left open"

# 3. a byte flipped in transit
proxy flip --flip-part 2
upload "$LR_DIR/60m.bin" flip.bin flip.log -part_size 8Mi || lr_fail "the upload with a flipped byte failed"
grep -q "UploadPart rec/flip.bin: BadDigest" "$LR_DIR/flip.log" || lr_fail "no BadDigest retry in the log"
[ "$(grep -c 'partNumber=.* 400 ' "$LR_DIR/flip.proxy")" = 1 ] || lr_fail "Swift did not refuse the flipped part once"
lr_s3_get rec flip.bin "$LR_DIR/flip.back" || lr_fail "flip.bin is not in the bucket"
[ "$(md5 "$LR_DIR/flip.back")" = "$want" ] || lr_fail "flip.bin differs from what was written"
no_open_upload "flip.bin"
lr_log "a flipped byte: BadDigest, the part sent again, same MD5"

# 4. Complete answered 200 with an <Error>
proxy err200 --complete-error 1
upload "$LR_DIR/60m.bin" err200.bin err200.log -part_size 16Mi || lr_fail "the upload failed after a 200 <Error>"
grep -q "CompleteMultipartUpload rec/err200.bin: InternalError" "$LR_DIR/err200.log" ||
    lr_fail "the 200 <Error> was not retried"
[ "$(grep -c '^[0-9.]* [0-9.]* POST .*uploadId=' "$LR_DIR/err200.proxy")" = 2 ] || lr_fail "Complete was not sent twice"
lr_s3_get rec err200.bin "$LR_DIR/err200.back" || lr_fail "err200.bin is not in the bucket"
[ "$(md5 "$LR_DIR/err200.back")" = "$want" ] || lr_fail "err200.bin differs from what was written"
lr_log "Complete answered 200 with an <Error>: retried, same MD5"

# 5. a Complete whose ETag is not the parts' one
proxy etag --complete-etag 1
upload "$LR_DIR/60m.bin" etag.bin etag.log -part_size 16Mi &&
    lr_fail "an object whose ETag is not its parts' was reported stored"
grep -q "the stored object's ETag is .*: it is not what was written" "$LR_DIR/etag.log" ||
    lr_fail "no message for the wrong ETag"
grep -q "stored rec/etag.bin" "$LR_DIR/etag.log" && lr_fail "etag.bin was said to be stored"
upload "$LR_DIR/60m.bin" etag2.bin etag2.log -part_size 16Mi -verify_etag 0 ||
    lr_fail "with verify_etag 0 the upload failed"
lr_log "a Complete with another ETag: the write fails (verify_etag 0: it passes)"

# 6. a part fails for good while others are in flight: nothing lands after the abort
proxy abort --flip-part 3 --slow /rec/abort.bin:1
upload "$LR_DIR/60m.bin" abort.bin abort.log -part_size 5Mi -parts_in_flight 3 -max_retries 0 &&
    lr_fail "an upload whose part failed was reported stored"
grep -q "multipart upload of rec/abort.bin aborted" "$LR_DIR/abort.log" || lr_fail "no abort message"
aborted=$(awk '$3 == "DELETE" && $4 ~ /uploadId=/ { print $1 }' "$LR_DIR/abort.proxy" | head -n 1)
[ -n "$aborted" ] || lr_fail "no AbortMultipartUpload reached the server"
late=$(awk -v a="$aborted" '$3 == "PUT" && $4 ~ /partNumber=/ && $2 > a' "$LR_DIR/abort.proxy" | wc -l)
[ "$late" = 0 ] || lr_fail "$late parts were answered after the abort was sent"
sleep 2
no_open_upload "abort.bin"
lr_s3_get rec abort.bin "$LR_DIR/none" && lr_fail "abort.bin is in the bucket"
lr_log "a part failing with others in flight: they end first, then the abort; nothing left open"
lr_pass
