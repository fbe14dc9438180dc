#!/bin/sh
# A push that never ends: a simulated week (6.9 days of media, fed as fast as it can be read:
# 10000 frames of 1 fps all-keyframe video, their timestamps scaled by 60)
# recorded by liverec_hls with 10-minute segments and max_duration 1 day. The recording is cut
# at the first segment boundary past each day into consecutive recordings, so no playlist grows
# without bound (nor the work of rewriting it after every segment):
#   - 7 finalized VOD playlists, each but the last holding one day (at most a segment more), all
#     of them together the whole input, each conforming to RFC 8216 (hls_check.py);
#   - each recording starts where the one before ended (EXT-X-PROGRAM-DATE-TIME), without a
#     discontinuity, its segments named apart from the others' (nothing shared);
#   - nothing is left under the working name.
. "$(dirname "$0")/lib.sh"
lr_init hls-week
"$LR_FFMPEG" -hide_banner -nostdin -loglevel error -f lavfi -i "testsrc2=size=64x64:rate=1:duration=10000" \
    -c:v libx264 -preset ultrafast -g 1 -bf 0 -pix_fmt yuv420p "$LR_DIR/in.mp4" ||
    lr_fail "cannot make the input"
mkdir -p "$LR_DIR/out"
t0=$(date +%s.%N)
"$LR_FFMPEG" -hide_banner -nostdin -loglevel info -itsscale 60 -i "$LR_DIR/in.mp4" \
    -c copy -f liverec_hls -segment_time 600 -max_ts_jump 120 -max_duration 86400 -final 1 \
    -wallclock 2026-12-01T00:00:00Z "$LR_DIR/out/week.m3u8" > "$LR_DIR/week.log" 2>&1 ||
    lr_fail "recording the week failed (see week.log)"
t1=$(date +%s.%N)
n=$(grep -c "reached max_duration" "$LR_DIR/week.log")
[ "$n" = 6 ] || lr_fail "$n cuts at max_duration, 6 expected"
[ ! -e "$LR_DIR/out/week.m3u8" ] && [ ! -e "$LR_DIR/out/week.m3u8.liverec" ] ||
    lr_fail "something is left under the working name"

python3 - "$LR_DIR/out" "$LR_TOP/tests/liverec" "$t0" "$t1" <<'PY' || lr_fail "the week's recordings"
import datetime, os, subprocess, sys
d = sys.argv[1]
sys.path.insert(0, sys.argv[2])
import recording_check
report = recording_check.Report()
fail = report.fail
lists = sorted(f for f in os.listdir(d) if f.endswith(".m3u8"))
if len(lists) != 7:
    fail("%d finalized playlists, 7 expected: %s" % (len(lists), lists))
recs = []
for name in lists:
    path = os.path.join(d, name)
    r = subprocess.run([sys.executable, os.path.join(sys.argv[2], "hls_check.py"), "--vod",
                        "--files", path], capture_output=True, text=True)
    if r.returncode:
        fail(r.stderr.strip())
    text = open(path).read().split("\n")
    dates = [l.split(":", 1)[1] for l in text if l.startswith("#EXT-X-PROGRAM-DATE-TIME:")]
    durs = [float(l.split(":", 1)[1].rstrip(",")) for l in text if l.startswith("#EXTINF:")]
    segs = [l for l in text if l and not l.startswith("#")]
    if "#EXT-X-DISCONTINUITY" in text:
        fail("%s has a discontinuity" % name)
    start = datetime.datetime.fromisoformat(dates[0].replace("Z", "+00:00")).timestamp()
    recs.append((name, start, sum(durs), segs))
recs.sort(key=lambda r: r[1])
total = 0
for i, (name, start, dur, segs) in enumerate(recs):
    total += dur
    print("%s: %d segments, %.0f s from %s" % (name, len(segs), dur,
          datetime.datetime.utcfromtimestamp(start).isoformat()), file=sys.stderr)
    if i < len(recs) - 1:
        if not 86400 <= dur <= 86400 + 600:
            fail("%s holds %.0f s, not one day (to a segment)" % (name, dur))
        nxt = recs[i + 1][1]
        if abs(start + dur - nxt) > 1:
            fail("%s ends at %.3f, the next starts at %.3f" % (name, start + dur, nxt))
    if set(segs) & set(s for r in recs if r[0] != name for s in r[3]):
        fail("%s shares segments with another recording" % name)
if abs(total - 600000) > 60:
    fail("the recordings hold %.0f s of the 600000 s pushed" % total)
print("a simulated week (%.0f s of media, %d segments) recorded in %.1f s" %
      (total, sum(len(r[3]) for r in recs), float(sys.argv[4]) - float(sys.argv[3])), file=sys.stderr)
sys.exit(0 if report.ok else 1)
PY
lr_pass
