#!/bin/sh
# A full spool does not lose what was recorded, and recording goes on once there is space again.
# ffliverec -serve records one push of 44 s (HLS + MP4) into a spool on a 16 MiB tmpfs. 8 s in,
# a file fills the tmpfs; 8 s later it is removed. Then: the log names each failed file, the
# callback receiver gets record_error then record_resumed per format (in pairs, in that order);
# the MP4 written before the disk filled is kept and plays (its working file, when the faststart
# copy has no space), and a second MP4 holds the rest of the push; the HLS recording is one
# finalized playlist that goes on behind a discontinuity, every segment it lists is there and
# not empty; nothing of 0 s or 0 bytes is in the spool or the catalog, no working file is left.
. "$(dirname "$0")/lib.sh"
lr_init full-disk
ffl=$LR_BUILD/ffliverec
token=t0ken-for-hooks
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK="http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp?token=$token"
lr_nginx_start
lr_callback_start
spool=$LR_DIR/spool
lr_tmpfs "$spool" 16m
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}"
          Domain="example.com"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" RetryInterval="2"/>
  <Service HookToken="$token"/>
  <Template TemplateId="1" TemplateName="all">
    <HlsParam/><Mp4Param/>
    <HlsSpecialParam FlowContinueDuration="4"/>
  </Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
lr_serve_start "$LR_DIR/serve.xml" serve.log
lr_wait_log serve.log "serving .*1 origin" 5

lr_push_bg cam 44
pp=$LR_LAST_PID
t_push=$(date +%s.%N)
lr_wait_log serve.log "recording mp4 into" 15
sleep 8
lr_log "filling the spool ($(df -h "$spool" | awk 'NR == 2 { print $4 }') free)"
t_fill=$(date +%s.%N)
dd if=/dev/zero of="$spool/filler" bs=64k > "$LR_DIR/dd.log" 2>&1
[ "$(df -k "$spool" | awk 'NR == 2 { print $4 }')" -lt 64 ] || lr_fail "the spool did not fill: $(df -h "$spool")"
sleep 8
lr_log "freeing the spool"
rm -f "$spool/filler"
t_free=$(date +%s.%N)
wait $pp || lr_fail "the push failed (see push-cam.log)"
t_end=$(date +%s.%N)
lr_wait_count serve.log "session of example.com/live/cam ended" 1 30
lr_wait_count callbacks.jsonl '"record_ended"' 1 10

# the log names what failed, and says that it went on
grep "writing failed" "$LR_DIR/serve.log" | grep -q "spool/example.com/live/cam/mp4" ||
    lr_fail "no error for the MP4 folder"
grep "writing failed" "$LR_DIR/serve.log" | grep -q "spool/example.com/live/cam/hls/cam.m3u8" ||
    lr_fail "no error for the HLS playlist"
for f in mp4 hls; do
    grep -q "cam/$f.*writing works again" "$LR_DIR/serve.log" || lr_fail "$f: writing never worked again"
done

# events: per format record_error, then record_resumed, once each
python3 - "$LR_DIR/callbacks.jsonl" <<'PY' || lr_fail "recording events (see callbacks.jsonl)"
import json, sys
seq = {"mp4": [], "hls": []}
for line in open(sys.argv[1]):
    body = json.loads(line)["body"]
    ev = body.get("record_event")
    if ev in ("record_error", "record_resumed"):
        msg = json.loads(body["record_detail"])["message"]
        if ": writing " not in msg:
            continue    # not about writing (a push read late on a busy machine)
        seq["hls" if ".m3u8" in msg else "mp4"].append(ev)
# (space freed by one format can let the other write a little longer: an error may come again)
for f, s in seq.items():
    print(f, s, file=sys.stderr)
    assert s and len(s) % 2 == 0 and s == ["record_error", "record_resumed"] * (len(s) // 2), (f, s)
PY

# MP4: the file from before the disk filled, and the rest of the push; times from the catalog
d=$spool/example.com/live/cam
left=$(find "$spool" -name '*.recording' -o -name '*.final' -o -name '*.tmp')
[ -z "$left" ] || lr_fail "working files left: $left"
mp4s=$(ls "$d/mp4" | grep '\.mp4$' || true)
[ "$(echo "$mp4s" | grep -c .)" = 2 ] || lr_fail "MP4 files: $(echo $mp4s) (expected 2)"
n=0
for f in $mp4s; do
    n=$((n + 1))
    "$LR_FFMPEG" -v error -xerror -i "$d/mp4/$f" -f null - > "$LR_DIR/decode-$n.log" 2>&1 ||
        lr_fail "$f does not decode: $(head -3 "$LR_DIR/decode-$n.log")"
    lr_log "mp4 $n: $f, $(lr_duration "$d/mp4/$f") s, $(stat -c %s "$d/mp4/$f") bytes, decodes"
done
python3 - "$LR_DIR/state/ffliverec.db" "$t_push" "$t_fill" "$t_free" "$t_end" <<'PY' ||
import sqlite3, sys
push, fill, free, end = (float(v) for v in sys.argv[2:6])
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT local_path, start_usec / 1e6, end_usec / 1e6 FROM recordings WHERE format = 'mp4'"
    " ORDER BY start_usec").fetchall()
(p1, s1, e1), (p2, s2, e2) = rows
print("mp4 1: %.1f to %.1f s, mp4 2: %.1f to %.1f s (fill at %.1f, free at %.1f, end at %.1f)" %
      (s1 - push, e1 - push, s2 - push, e2 - push, fill - push, free - push, end - push),
      file=sys.stderr)
# the first holds the push up to the fill (a second of slack), not past the free
assert s1 < fill and e1 >= fill - 2 and e1 <= free + 1, "the first MP4"
# the second starts once there is space again, and goes on to the push's end
assert s2 >= fill and s2 <= free + 6 and e2 >= end - 3, "the second MP4"
PY
    lr_fail "the MP4 files do not cover the push around the outage"

# HLS: one playlist, finalized, with a discontinuity where the disk was full
pl=$(ls "$d/hls" | grep '\.m3u8$' || true)
[ "$(echo "$pl" | grep -c .)" = 1 ] || lr_fail "HLS playlists: $(echo $pl)"
grep -q '^#EXT-X-ENDLIST' "$d/hls/$pl" || lr_fail "no ENDLIST in $pl"
disc=$(grep -c '^#EXT-X-DISCONTINUITY$' "$d/hls/$pl")
[ "$disc" -ge 1 ] || lr_fail "$pl has no discontinuity"
for seg in $(grep '^[^#]' "$d/hls/$pl"); do
    [ -s "$d/hls/$seg" ] || lr_fail "$pl lists $seg, which is missing or empty"
done
hd=$(lr_duration "$d/hls/$pl")
# what was pushed but while the disk was full (a segment's end of slack on each side)
want=$(awk -v p="$t_push" -v f="$t_fill" -v r="$t_free" -v e="$t_end" 'BEGIN { printf "%.1f", (e - p) - (r - f) - 6 }')
awk -v d="$hd" -v w="$want" 'BEGIN { exit !(d >= w && d <= 44) }' ||
    lr_fail "the HLS recording lasts $hd s (expected at least $want)"
"$LR_FFMPEG" -v error -i "$d/hls/$pl" -f null - > "$LR_DIR/decode-hls.log" 2>&1 ||
    lr_fail "$pl does not decode: $(head -3 "$LR_DIR/decode-hls.log")"
lr_log "hls: $pl, $hd s, $disc discontinuities"

# nothing empty in the spool or the catalog
empty=$(find "$spool" -type f -size 0)
[ -z "$empty" ] || lr_fail "empty files: $empty"
"$ffl" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list.txt" 2>&1 || lr_fail "-list failed"
python3 - "$LR_DIR/state/ffliverec.db" <<'PY' || lr_fail "the catalog holds what is not a recording"
import os, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT format, local_path, size, duration_ms FROM recordings").fetchall()
assert len(rows) == 3, rows
for fmt, path, size, dur in rows:
    assert size > 0 and os.path.getsize(path) > 0, (path, size)
    assert dur != 0, (path, dur)
PY
lr_pass
