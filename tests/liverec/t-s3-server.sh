#!/bin/sh
# The test S3 server of lib-s3.sh works: Swift starts, a bucket is made, an object goes in and
# comes back the same, a wrong secret is refused (403 SignatureDoesNotMatch), a missing bucket is
# 404 NoSuchBucket, a 2-part multipart upload completes (and can be copied), a part below the
# minimum size is refused and an aborted upload is no longer listed, the listing shows the keys,
# and after the proxy is stopped and restarted on the same port the data is still there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init s3-server

md5() { md5sum < "$1" | cut -d' ' -f1; }
since() { echo "$(date +%s.%N) - $1" | bc; }
body() { cat "$1" 2>/dev/null; }

# mpu KEY PART1 PART2: multipart upload of the two files; prints the HTTP status of the
# completion, its body in $LR_DIR/done.xml, the upload id in $LR_DIR/upload-id.
mpu() {
    lr_s3_req POST "/rec/$1?uploads=" "$LR_DIR/init.xml" -H "Content-Type: video/mp2t" \
        > /dev/null || lr_fail "CreateMultipartUpload failed: $(body "$LR_DIR/init.xml")"
    up=$(sed -n 's/.*<UploadId>\([^<]*\)<\/UploadId>.*/\1/p' "$LR_DIR/init.xml")
    [ -n "$up" ] || lr_fail "no UploadId: $(body "$LR_DIR/init.xml")"
    echo "$up" > "$LR_DIR/upload-id"
    [ "$(lr_s3_uploads rec)" = "$1 $up" ] || lr_fail "uploads listed: $(lr_s3_uploads rec)"
    xml="<CompleteMultipartUpload>"
    n=1
    for f in "$2" "$3"; do
        lr_s3_req PUT "/rec/$1?partNumber=$n&uploadId=$up" "$LR_DIR/part.xml" -T "$f" \
            -D "$LR_DIR/part.h" > /dev/null ||
            lr_fail "UploadPart $n failed: $(body "$LR_DIR/part.xml")"
        etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\([^[:space:]]*\).*/\1/p' "$LR_DIR/part.h")
        xml="$xml<Part><PartNumber>$n</PartNumber><ETag>$etag</ETag></Part>"
        n=$((n + 1))
    done
    echo "$xml</CompleteMultipartUpload>" > "$LR_DIR/complete.xml"
    lr_s3_req POST "/rec/$1?uploadId=$up" "$LR_DIR/done.xml" -H "Content-Type: application/xml" \
        --data-binary @"$LR_DIR/complete.xml"
}

t0=$(date +%s.%N)
lr_s3_start
lr_log "started in $(since "$t0") s"

lr_s3_mkbucket rec || lr_fail "cannot create a bucket: $(body "$LR_S3_LAST")"
head -c 300000 /dev/urandom > "$LR_DIR/a.bin"
lr_s3_put rec dir/a.bin "$LR_DIR/a.bin" || lr_fail "PUT failed: $(body "$LR_S3_LAST")"
lr_s3_get rec dir/a.bin "$LR_DIR/a.back" || lr_fail "GET failed: $(body "$LR_S3_LAST")"
[ "$(md5 "$LR_DIR/a.bin")" = "$(md5 "$LR_DIR/a.back")" ] || lr_fail "the object read back differs"

# wrong secret: 403 SignatureDoesNotMatch
good=$LR_S3_USERINFO
LR_S3_USERINFO=test%3Atester:wrong
code=$(lr_s3_req GET /rec/dir/a.bin "$LR_DIR/wrong.xml")
LR_S3_USERINFO=$good
[ "$code" = 403 ] || lr_fail "a wrong secret gave HTTP $code"
grep -q "<Code>SignatureDoesNotMatch</Code>" "$LR_DIR/wrong.xml" ||
    lr_fail "wrong secret: $(body "$LR_DIR/wrong.xml")"
# missing bucket and key: 404 NoSuchBucket, NoSuchKey; lr_s3_get fails and leaves no file
code=$(lr_s3_req GET /nobucket/a.bin "$LR_DIR/nobucket.xml")
[ "$code" = 404 ] || lr_fail "a missing bucket gave HTTP $code"
grep -q "<Code>NoSuchBucket</Code>" "$LR_DIR/nobucket.xml" ||
    lr_fail "missing bucket: $(body "$LR_DIR/nobucket.xml")"
lr_s3_get rec nokey "$LR_DIR/nokey" && lr_fail "GET of a missing key succeeded"
[ -e "$LR_DIR/nokey" ] && lr_fail "a failed GET left its output file"
grep -q "<Code>NoSuchKey</Code>" "$LR_S3_LAST" || lr_fail "missing key: $(body "$LR_S3_LAST")"

# multipart upload of 2 parts: the first one of the minimum size, the last one smaller
head -c "$LR_S3_MIN_PART" /dev/urandom > "$LR_DIR/p1"
head -c 1000 /dev/urandom > "$LR_DIR/p2"
code=$(mpu mp.ts "$LR_DIR/p1" "$LR_DIR/p2") ||
    lr_fail "multipart upload: HTTP $code $(body "$LR_DIR/done.xml")"
grep -q "<ETag>\"[0-9a-f]*-2\"</ETag>" "$LR_DIR/done.xml" ||
    lr_fail "completion: $(body "$LR_DIR/done.xml")"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "a completed upload is still listed: $(lr_s3_uploads rec)"
cat "$LR_DIR/p1" "$LR_DIR/p2" > "$LR_DIR/mp.ts"
lr_s3_get rec mp.ts "$LR_DIR/mp.back" || lr_fail "the multipart object is not readable"
[ "$(md5 "$LR_DIR/mp.ts")" = "$(md5 "$LR_DIR/mp.back")" ] || lr_fail "the multipart object differs"
# a server-side copy of it has the same data
lr_s3_req PUT /rec/copy.ts "$LR_S3_LAST" -H "x-amz-copy-source: /rec/mp.ts" > /dev/null ||
    lr_fail "copy of a multipart object failed: $(body "$LR_S3_LAST")"
lr_s3_get rec copy.ts "$LR_DIR/copy.back" || lr_fail "the copy is not readable"
[ "$(md5 "$LR_DIR/mp.ts")" = "$(md5 "$LR_DIR/copy.back")" ] || lr_fail "the copy differs"
lr_s3_delete rec copy.ts || lr_fail "DELETE failed: $(body "$LR_S3_LAST")"

# a first part 1 byte below the minimum: 400 EntityTooSmall at completion; abort removes it
head -c $((LR_S3_MIN_PART - 1)) /dev/urandom > "$LR_DIR/p1"
code=$(mpu small.ts "$LR_DIR/p1" "$LR_DIR/p2") && lr_fail "a too small part was accepted"
up=$(cat "$LR_DIR/upload-id")
if [ "$code" != 400 ] || ! grep -q "<Code>EntityTooSmall</Code>" "$LR_DIR/done.xml"; then
    lr_fail "a part of $((LR_S3_MIN_PART - 1)) bytes: HTTP $code $(body "$LR_DIR/done.xml")"
fi
[ "$(lr_s3_uploads rec)" = "small.ts $up" ] || lr_fail "uploads listed: $(lr_s3_uploads rec)"
lr_s3_abort rec small.ts "$up" || lr_fail "abort failed: $(body "$LR_S3_LAST")"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "an aborted upload is still listed: $(lr_s3_uploads rec)"

[ "$(lr_s3_ls rec | tr '\n' ' ')" = "dir/a.bin mp.ts " ] || lr_fail "listing: $(lr_s3_ls rec)"
# one key a page: the listing follows the continuation token
LR_S3_MAX_KEYS=1
[ "$(lr_s3_ls rec | tr '\n' ' ')" = "dir/a.bin mp.ts " ] || lr_fail "paged listing: $(lr_s3_ls rec)"
unset LR_S3_MAX_KEYS

# the proxy goes away (no connection) and comes back on the same port with the data
port=$LR_S3_PORT
lr_s3_stop
code=$(lr_s3_req GET /rec/dir/a.bin "$LR_DIR/down" 2>/dev/null) &&
    lr_fail "a request worked without the proxy"
[ "$code" = 000 ] || lr_fail "with the proxy stopped: HTTP $code"
t0=$(date +%s.%N)
lr_s3_restart_proxy
lr_log "proxy restarted in $(since "$t0") s"
[ "$LR_S3_PORT" = "$port" ] || lr_fail "the port changed"
lr_s3_get rec dir/a.bin "$LR_DIR/a.back2" || lr_fail "GET after the restart failed"
[ "$(md5 "$LR_DIR/a.bin")" = "$(md5 "$LR_DIR/a.back2")" ] ||
    lr_fail "the object differs after the restart"
[ "$(lr_s3_ls rec | tr '\n' ' ')" = "dir/a.bin mp.ts " ] ||
    lr_fail "listing after the restart: $(lr_s3_ls rec)"

# Swift logs to its files
grep -q "GET /rec/dir/a.bin" "$LR_DIR/s3/proxy.log" || lr_fail "no access log in s3/proxy.log"
lr_pass
