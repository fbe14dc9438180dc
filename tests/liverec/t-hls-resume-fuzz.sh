#!/bin/sh
# The resume parsers face files anyone could have edited: 90 mutated sidecars and working
# playlists (seeded, so every run tries the same ones) never crash liverec_hls, never make it
# write outside its folder, and when it refuses one, it leaves both files exactly as they were.
. "$(dirname "$0")/lib.sh"
lr_init hls-resume-fuzz

base=$LR_DIR/base
work=$LR_DIR/work/rec
mkdir -p "$base" "$work"
# exit status 0 (accepted), 1 (refused) or 2 (killed by a signal: a crash)
rec() { # WALLCLOCK DIR: one second into DIR/cam.m3u8, continuing within 60 s
    python3 -c 'import subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; sys.exit(2 if r < 0 else min(r, 1))' \
    "$LR_FFMPEG" -v error -nostdin -f lavfi -i testsrc2=size=64x48:rate=25:duration=1 \
        -c:v mpeg4 -g 5 -f liverec_hls -segment_time 0.2 -splice_timeout 60 \
        -wallclock "$1" "$2/cam.m3u8"
}
rec 2026-01-01T00:00:00Z "$base" 2> "$LR_DIR/base.log" || lr_fail "cannot make the base recording"
rec 2026-01-01T00:00:05Z "$base" 2>> "$LR_DIR/base.log" || lr_fail "cannot continue the base recording"

python3 - "$base" "$LR_DIR/cases" <<'PY'
import os, random, sys
base, out = sys.argv[1], sys.argv[2]
rnd = random.Random(20261125)
state = open(os.path.join(base, 'cam.m3u8.liverec'), 'rb').read()
playlist = open(os.path.join(base, 'cam.m3u8'), 'rb').read()
evil = [b'../../../../tmp/liverec-escape', b'/etc/passwd', b'\x00', b'9' * 40, b'-1', b'=',
        b'\n', b'#EXT-X-MAP:URI="../x"', b'%n%s%s', b'\xff\xfe', b'', b'liverec_hls 2', b'#EXTINF:1e308,']
def mutate(data):
    data = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(5)
        pos = rnd.randrange(len(data) + 1)
        if op == 0 and data:                       # flip a byte
            data[min(pos, len(data) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:                              # truncate
            del data[pos:]
        elif op == 2:                              # insert something hostile
            data[pos:pos] = rnd.choice(evil)
        elif op == 3 and data:                     # duplicate a line
            lines = bytes(data).split(b'\n')
            i = rnd.randrange(len(lines))
            lines.insert(i, lines[i])
            data = bytearray(b'\n'.join(lines))
        else:                                      # replace a value after '=' or ':'
            lines = bytes(data).split(b'\n')
            i = rnd.randrange(len(lines))
            sep = b'=' if b'=' in lines[i] else b':'
            if sep in lines[i]:
                lines[i] = lines[i].split(sep)[0] + sep + rnd.choice(evil)
            data = bytearray(b'\n'.join(lines))
    return bytes(data)
os.makedirs(out)
for n in range(90):
    s, p = state, playlist
    if n % 3 != 1: s = mutate(s)
    if n % 3 != 0: p = mutate(p)
    open(os.path.join(out, '%03d.state' % n), 'wb').write(s)
    open(os.path.join(out, '%03d.m3u8' % n), 'wb').write(p)
PY
[ -d "$LR_DIR/cases" ] || lr_fail "no cases generated"

refused=0 accepted=0
for st in "$LR_DIR"/cases/*.state; do
    n=$(basename "$st" .state)
    rm -rf "$LR_DIR/work"
    mkdir -p "$work"
    cp "$base"/*.ts "$work/"
    cp "$st" "$work/cam.m3u8.liverec"
    cp "$LR_DIR/cases/$n.m3u8" "$work/cam.m3u8"
    rec 2026-01-01T00:00:10Z "$work" 2> "$LR_DIR/case.log"
    status=$?
    [ $status != 2 ] || lr_fail "case $n: ffmpeg was killed by a signal (crash)"
    outside=$(find "$LR_DIR/work" -mindepth 1 -maxdepth 1 ! -name rec)
    [ -z "$outside" ] || lr_fail "case $n: wrote outside its folder: $outside"
    [ -e /tmp/liverec-escape ] && lr_fail "case $n: wrote /tmp/liverec-escape"
    if [ $status = 0 ]; then
        accepted=$((accepted + 1))
        grep -q '^#EXTM3U' "$work/cam.m3u8" || lr_fail "case $n: accepted, but left no playlist"
    else
        refused=$((refused + 1))
        cmp -s "$st" "$work/cam.m3u8.liverec" && cmp -s "$LR_DIR/cases/$n.m3u8" "$work/cam.m3u8" ||
            lr_fail "case $n: refused ($(head -n 1 "$LR_DIR/case.log")) but changed the files"
    fi
done
lr_log "90 mutated cases: $refused refused without a change, $accepted accepted, no crash"
lr_pass
