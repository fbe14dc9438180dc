#!/bin/sh
# With journal=FILE, a writer killed with -9 mid-upload is resumed by the next writer of the same
# object: it continues the same multipart upload, does not send again the parts the server
# already has (same bytes, same MD5), and the object is complete, stored once, journal removed.
# Killed with parts in flight while parts grow, only those in flight may be sent again.
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
# a part in flight at the kill may have reached the server without its journal line
more=$(sed -n 's/.*journaled parts are on the server, and \([0-9]*\) more it did not journal$/\1/p' "$LR_DIR/w2.log")
skipped=$(grep -c "part [0-9]* of rec/spool/a.bin is already uploaded" "$LR_DIR/w2.log")
sent=$(grep -c "part [0-9]* of rec/spool/a.bin: [0-9]* bytes" "$LR_DIR/w2.log")
[ "$skipped" = "$((parts + more))" ] || lr_fail "skipped $skipped parts, the journal had $parts and $more more were on the server"
[ $((skipped + sent)) = 6 ] || lr_fail "$skipped skipped + $sent sent parts for 30 MiB in 5 MiB parts"
lr_s3_get rec spool/a.bin "$LR_DIR/a.back" || lr_fail "the object is missing"
[ "$(md5 "$LR_DIR/a.bin")" = "$(md5 "$LR_DIR/a.back")" ] || lr_fail "the resumed object differs"
[ -e "$journal" ] && lr_fail "the journal is still there"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "an upload is left open: $(lr_s3_uploads rec)"
[ "$(lr_s3_ls rec)" = spool/a.bin ] || lr_fail "bucket holds: $(lr_s3_ls rec)"
lr_log "resumed: $skipped parts kept ($more not journaled), $sent sent, same MD5, journal removed, no open upload"

# 2. killed with parts in flight, parts growing at every part (part_size 5 MiB, max_part_count 10:
# 5, 10, 20, 20 and 5 MiB for 60 MiB), every request held 1 s by the fault proxy: the parts the
# journal lists are not sent again, nor those in flight at the kill that reached the server (its
# ListParts gives their MD5s as ETags); only an in-flight part the server did not take may be; the
# object is whole
head -c 62914560 /dev/urandom > "$LR_DIR/b.bin"
jb=$LR_DIR/b.journal
pport=$(lr_free_port)
python3 "$LR_TOP/tests/liverec/s3_fault_proxy.py" "$pport" "${LR_S3_ENDPOINT##*:}" "$LR_DIR/b.proxy" \
    --slow /rec/spool/b.bin:1 2> "$LR_DIR/b.proxy.err" &
lr_track $!
lr_wait_port "$pport" 10 || lr_fail "the fault proxy did not start"
burl=vodupload+http://127.0.0.1:$pport/rec/spool/b.bin
bopts="-part_size 5Mi -parts_in_flight 3 -max_part_count 10 -max_buffer 80Mi -journal $jb"
# shellcheck disable=SC2086
"$LR_FFMPEG" -hide_banner -nostdin -v verbose -f data -i "$LR_DIR/b.bin" -map 0 -c copy -f data \
    $bopts "$burl" > "$LR_DIR/b1.log" 2>&1 &
w1=$!
lr_track $w1
i=0
until [ "$(grep -c '^part ' "$jb" 2>/dev/null)" -ge 2 ]; do
    [ $i -lt 300 ] || lr_fail "the journal lists no 2 parts after 30 s"
    sleep 0.1
    i=$((i + 1))
done
kill -9 $w1
t_kill=$(date +%s.%N)
wait $w1 2>/dev/null
journaled=$(sed -n 's/^part \([0-9]*\) .*/\1/p' "$jb" | sort -n | tr '\n' ' ')
# the parts in flight at the kill reach the server (or fail) within the proxy's hold
sleep 2
# shellcheck disable=SC2086
"$LR_FFMPEG" -hide_banner -nostdin -v verbose -f data -i "$LR_DIR/b.bin" -map 0 -c copy -f data \
    $bopts "$burl" > "$LR_DIR/b2.log" 2>&1 || lr_fail "the resumed writer failed: $(tail -n 3 "$LR_DIR/b2.log")"
lr_s3_get rec spool/b.bin "$LR_DIR/b.back" || lr_fail "b.bin is not in the bucket"
[ "$(md5 "$LR_DIR/b.bin")" = "$(md5 "$LR_DIR/b.back")" ] || lr_fail "the resumed b.bin differs"
[ -e "$jb" ] && lr_fail "b.bin's journal is still there"
[ -z "$(lr_s3_uploads rec)" ] || lr_fail "an upload is left open: $(lr_s3_uploads rec)"
python3 - "$LR_DIR/b.proxy" "$t_kill" "$journaled" "$LR_DIR/b2.log" <<'PY' || lr_fail "parts sent again after the kill"
import re, sys
log, t_kill, journaled, w2 = sys.argv[1], float(sys.argv[2]), set(map(int, sys.argv[3].split())), sys.argv[4]
before, after = {}, {}
for line in open(log):
    f = line.split()
    m = re.search(r"[?&]partNumber=(\d+)", f[3])
    if f[2] != "PUT" or not m:
        continue
    side = before if float(f[0]) < t_kill else after
    side.setdefault(int(m.group(1)), []).append(int(f[4]))
in_flight = sorted(n for n in before if n not in journaled)
landed = [n for n in in_flight if 200 in before[n]]
again = sorted(set(before) & set(after))
w2log = open(w2).read()
sizes = [int(x) // 1048576 for x in re.findall(r"part \d+ of rec/spool/b.bin: (\d+) bytes", w2log)]
print("killed with parts %s journaled and %s in flight (%s reached the server); resumed: parts %s"
      " sent (%s MiB), %s of them sent again" % (sorted(journaled), in_flight, landed, sorted(after),
                                                 sizes, again), file=sys.stderr)
ok = True
for n in again:
    if n in journaled or n in landed:
        print("part %d was on the server and sent again" % n, file=sys.stderr)
        ok = False
want = "%d of %d journaled parts are on the server, and %d more it did not journal" % (
    len(journaled), len(journaled), len(landed))
if want not in w2log:
    print("the resumed writer did not say: %s" % want, file=sys.stderr)
    ok = False
if len(in_flight) > 3:
    print("%d parts in flight with parts_in_flight 3" % len(in_flight), file=sys.stderr)
    ok = False
if not in_flight:
    print("no part was in flight at the kill: the case is not tested", file=sys.stderr)
    ok = False
if sorted(set(before) | set(after)) != [1, 2, 3, 4, 5]:
    print("parts sent: %s" % sorted(set(before) | set(after)), file=sys.stderr)
    ok = False
sys.exit(0 if ok else 1)
PY
lr_log "killed with parts in flight across growth steps: resumed, same MD5, no part the server had sent again"

# a journal for another object is ignored, with a warning
printf 'vodupload-journal 1\nurl http://elsewhere/rec/x\nupload_id abc\n' > "$journal"
"$LR_FFMPEG" -hide_banner -nostdin -f data -i "$LR_DIR/a.bin" -map 0 -c copy -f data \
    -part_size 5Mi -journal "$journal" "$url" > "$LR_DIR/w3.log" 2>&1 || lr_fail "a foreign journal made the writer fail"
grep -q "does not describe rec/spool/a.bin" "$LR_DIR/w3.log" || lr_fail "no warning for a foreign journal"
lr_pass
