#!/bin/sh
# With journal=FILE, a writer killed with -9 mid-upload is resumed by the next writer of the same
# object: it continues the same multipart upload, does not send again the parts the server
# already has (same bytes, same MD5), and the object is complete, stored once, journal removed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init upload-resume
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"
url=vodupload+$LR_S3_ENDPOINT/rec/spool/a.bin
journal=$LR_DIR/a.journal
md5() { md5sum < "$1" | cut -d' ' -f1; }
head -c 31457280 /dev/urandom > "$LR_DIR/a.bin"

python3 -c '
import sys, time
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        sys.stdout.buffer.write(b)
        sys.stdout.buffer.flush()
        time.sleep(0.15)
' "$LR_DIR/a.bin" > "$LR_DIR/fifo-feed.bin" &
feeder=$!
lr_track $feeder
# the first writer reads the growing copy (a recording being written), -follow keeps it reading
"$LR_FFMPEG" -hide_banner -nostdin -v verbose -f data -follow 1 -i "file:$LR_DIR/fifo-feed.bin" \
    -map 0 -c copy -f data -part_size 5Mi -journal "$journal" "$url" > "$LR_DIR/w1.log" 2>&1 &
w1=$!
lr_track $w1
i=0
until grep -q "^part 3 " "$journal" 2>/dev/null; do
    [ $i -lt 300 ] || lr_fail "the journal lists no 3 parts after 30 s"
    sleep 0.1
    i=$((i + 1))
done
kill -9 $w1
wait $w1 2>/dev/null
lr_stop $feeder
parts=$(grep -c '^part ' "$journal")
lr_log "killed with $parts parts in the journal; open uploads: $(lr_s3_uploads rec | wc -l)"
[ "$(lr_s3_uploads rec | wc -l)" = 1 ] || lr_fail "expected one open multipart upload"
lr_s3_get rec spool/a.bin "$LR_DIR/none" && lr_fail "an object exists before the upload completed"

"$LR_FFMPEG" -hide_banner -nostdin -v verbose -f data -i "$LR_DIR/a.bin" -map 0 -c copy -f data \
    -part_size 5Mi -journal "$journal" "$url" > "$LR_DIR/w2.log" 2>&1 || lr_fail "the resumed writer failed"
grep -q "resuming the upload of rec/spool/a.bin: $parts of $parts journaled parts are on the server" \
    "$LR_DIR/w2.log" || lr_fail "no resume message"
skipped=$(grep -c "part [0-9]* of rec/spool/a.bin is already uploaded" "$LR_DIR/w2.log")
sent=$(grep -c "part [0-9]* of rec/spool/a.bin: [0-9]* bytes" "$LR_DIR/w2.log")
[ "$skipped" = "$parts" ] || lr_fail "skipped $skipped parts, the journal had $parts"
[ $((skipped + sent)) = 6 ] || lr_fail "$skipped skipped + $sent sent parts for 30 MiB in 5 MiB parts"
lr_s3_get rec spool/a.bin "$LR_DIR/a.back" || lr_fail "the object is missing"
[ "$(md5 "$LR_DIR/a.bin")" = "$(md5 "$LR_DIR/a.back")" ] || lr_fail "the resumed object differs"
[ -e "$journal" ] && lr_fail "the journal is still there"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "an upload is left open: $(lr_s3_uploads rec)"
[ "$(lr_s3_ls rec)" = spool/a.bin ] || lr_fail "bucket holds: $(lr_s3_ls rec)"
lr_log "resumed: $skipped parts kept, $sent sent, same MD5, journal removed, no open upload"

# a journal for another object is ignored, with a warning
printf 'vodupload-journal 1\nurl http://elsewhere/rec/x\nupload_id abc\n' > "$journal"
"$LR_FFMPEG" -hide_banner -nostdin -f data -i "$LR_DIR/a.bin" -map 0 -c copy -f data \
    -part_size 5Mi -journal "$journal" "$url" > "$LR_DIR/w3.log" 2>&1 || lr_fail "a foreign journal made the writer fail"
grep -q "does not describe rec/spool/a.bin" "$LR_DIR/w3.log" || lr_fail "no warning for a foreign journal"
lr_pass
