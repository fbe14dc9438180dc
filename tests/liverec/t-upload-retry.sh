#!/bin/sh
# A recorder must not lose an object when the storage goes away for a while: with the S3 endpoint
# stopped mid-upload and back within the retry window, vodupload retries with backoff and the
# object is complete (same MD5). When it stays away past the retries, the write fails with an
# error, the multipart upload is aborted once the server answers again (none is left listed) and
# no object appears. With journal=FILE the same failure keeps the upload instead, and the next
# writer with that journal resumes it once the server is back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init upload-retry
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"
url=vodupload+$LR_S3_ENDPOINT/rec
md5() { md5sum < "$1" | cut -d' ' -f1; }

# writer SRC KEY LOG [options]: SRC fed at 10 MiB/s (a live recorder), in the background
writer() {
    src=$1 key=$2 log=$3
    shift 3
    python3 -c '
import sys, time
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        sys.stdout.buffer.write(b)
        sys.stdout.buffer.flush()
        time.sleep(0.1)
' "$src" 2>/dev/null | "$LR_FFMPEG" -hide_banner -nostdin -v verbose -f data -i pipe:0 -map 0 -c copy -f data \
        -part_size 5Mi "$@" "$url/$key" > "$LR_DIR/$log" 2>&1 &
    LR_LAST_PID=$!
    lr_track $LR_LAST_PID
}
wait_log() { # LOG PATTERN SECONDS
    i=0
    until grep -q -- "$2" "$LR_DIR/$1"; do
        [ $i -lt $(($3 * 10)) ] || lr_fail "no '$2' in $1 after $3 s"
        sleep 0.1
        i=$((i + 1))
    done
}

head -c 41943040 /dev/urandom > "$LR_DIR/a.bin"
writer "$LR_DIR/a.bin" a.bin a.log -retry_delay 0.5 -max_retries 6
w=$LR_LAST_PID
wait_log a.log "part 1 of rec/a.bin" 20
lr_s3_stop_proxy
sleep 3
lr_s3_restart_proxy
lr_wait_pid $w 60 || lr_fail "the writer failed although the server came back within the retries"
n=$(grep -c "retry [0-9]* of 6" "$LR_DIR/a.log")
[ "$n" -gt 0 ] || lr_fail "no retry was logged"
lr_s3_get rec a.bin "$LR_DIR/a.back" || lr_fail "the object is missing"
[ "$(md5 "$LR_DIR/a.bin")" = "$(md5 "$LR_DIR/a.back")" ] || lr_fail "the object differs from the source"
lr_log "server away for 3 s mid-upload: $n retries, 40 MiB stored with the same MD5"

head -c 31457280 /dev/urandom > "$LR_DIR/b.bin"
writer "$LR_DIR/b.bin" b.bin b.log -retry_delay 1 -max_retries 3
w=$LR_LAST_PID
wait_log b.log "part 1 of rec/b.bin" 20
lr_s3_stop_proxy
# the part in flight fails after 1 + 2 + 4 s of retries
wait_log b.log "UploadPart rec/b.bin failed after 4 attempts" 30
lr_s3_restart_proxy
lr_wait_pid $w 60 && lr_fail "the writer reported success for an upload that failed"
grep -q "multipart upload of rec/b.bin aborted: no object was stored" "$LR_DIR/b.log" ||
    lr_fail "the multipart upload was not aborted"
lr_s3_get rec b.bin "$LR_DIR/b.back" && lr_fail "an object was stored after a failed upload"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "a multipart upload is left: $(lr_s3_uploads rec)"
lr_log "server away past the retries: ffmpeg failed ($(grep -o -m1 'UploadPart [^ ]* failed after [0-9]* attempts: [^[]*' "$LR_DIR/b.log")), upload aborted, no object"

writer "$LR_DIR/b.bin" c.bin c.log -retry_delay 1 -max_retries 3 -journal "$LR_DIR/c.journal"
w=$LR_LAST_PID
wait_log c.log "part 1 of rec/c.bin" 20
lr_s3_stop_proxy
wait_log c.log "UploadPart rec/c.bin failed after 4 attempts" 30
lr_wait_pid $w 30 && lr_fail "the journaled writer reported success for an upload that failed"
grep -q "multipart upload .* of rec/c.bin kept: a writer started with the journal" "$LR_DIR/c.log" ||
    lr_fail "the journaled upload was not kept"
[ -s "$LR_DIR/c.journal" ] || lr_fail "the journal is gone"
lr_s3_restart_proxy
[ "$(lr_s3_uploads rec | wc -l)" = 1 ] || lr_fail "the kept upload is not listed: $(lr_s3_uploads rec)"
"$LR_FFMPEG" -hide_banner -nostdin -v verbose -f data -i "$LR_DIR/b.bin" -map 0 -c copy -f data \
    -part_size 5Mi -journal "$LR_DIR/c.journal" "$url/c.bin" > "$LR_DIR/c2.log" 2>&1 ||
    lr_fail "the writer resuming with the journal failed"
grep -q "resuming the upload of rec/c.bin" "$LR_DIR/c2.log" || lr_fail "the journaled upload was not resumed"
lr_s3_get rec c.bin "$LR_DIR/c.back" || lr_fail "the resumed object is missing"
[ "$(md5 "$LR_DIR/b.bin")" = "$(md5 "$LR_DIR/c.back")" ] || lr_fail "the resumed object differs"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "an upload is left: $(lr_s3_uploads rec)"
lr_log "with a journal the failed upload was kept and the next writer completed it ($(grep -c 'already uploaded' "$LR_DIR/c2.log") parts reused)"
lr_pass
