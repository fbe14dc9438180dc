#!/bin/sh
# Configuration files and the state folder come from outside: no mutation of them may crash
# ffliverec. 300 seeded mutations of the example configuration (bytes flipped, cut, repeated;
# attribute values replaced by huge, negative, empty, long or hostile ones; elements repeated)
# each end with status 0 (valid) or 1 (refused, with a FILE:LINE message or the verdict), never
# a signal, and nothing is written beside them. A state database that is not one (garbage, empty,
# cut) or comes from a newer ffliverec makes -list fail with a message, and is left as it was.
. "$(dirname "$0")/lib.sh"
lr_init ffliverec-config-fuzz
ffl=$LR_BUILD/ffliverec
mkdir -p "$LR_DIR/cfg"
python3 - "$LR_TOP/liverec/examples/record-all.xml" "$LR_DIR/cfg" <<'PY'
import random, re, sys
src = open(sys.argv[1], "rb").read()
out = sys.argv[2]
rnd = random.Random(20261201)
values = [b"", b"-1", b"0", b"1801", b"99999999999999999999999", b"1e9", b"../../etc", b"a/b",
          b"x" * 5000, b"\xff\xfe", b"&amp;&lt;", b"%s%n%p", b"{StreamID}/{EndYear}", b"\x00",
          b"2026-13-45T99:99:99Z", b"http://[::1", b"' or 1=1 --"]
attr = re.compile(rb'(\w+)="([^"]*)"')
for i in range(300):
    d = bytearray(src)
    kind = i % 6
    if kind == 0:
        for _ in range(rnd.randint(1, 8)):
            d[rnd.randrange(len(d))] = rnd.randrange(256)
    elif kind == 1:
        d = d[:rnd.randrange(len(d))]
    elif kind == 2:
        a, b = sorted(rnd.randrange(len(d)) for _ in range(2))
        d = d[:b] + d[a:b] * rnd.randint(1, 3) + d[b:]
    else:
        ms = list(attr.finditer(bytes(d)))
        text = bytes(d)
        picks = set(rnd.sample(range(len(ms)), min(len(ms), rnd.randint(1, 3))))
        res, last = b"", 0
        for j, m in enumerate(ms):
            if j in picks:
                res += text[last:m.start(2)] + rnd.choice(values)
                last = m.end(2)
        d = bytearray(res + text[last:])
        if kind == 5:
            lines = d.split(b"\n")
            k = rnd.randrange(len(lines))
            lines.insert(k, lines[k])
            d = bytearray(b"\n".join(lines))
    open("%s/m%03d.xml" % (out, i), "wb").write(d)
PY
valid=0 refused=0
for f in "$LR_DIR"/cfg/m*.xml; do
    "$ffl" -hide_banner -config "$f" -check -now 2026-11-01T00:00:00Z > "$f.out" 2>&1
    st=$?
    case $st in
        0) valid=$((valid + 1)) ;;
        1) refused=$((refused + 1))
           grep -q "$(basename "$f")\(:[0-9]*\)\?: \|the configuration is not used" "$f.out" ||
               lr_fail "$(basename "$f") refused without a message: $(head -3 "$f.out")" ;;
        *) lr_fail "$(basename "$f"): exit status $st: $(tail -3 "$f.out")" ;;
    esac
done
extra=$(ls "$LR_DIR/cfg" | grep -v '^m[0-9]*\.xml\(\.out\)\?$' || true)
[ -z "$extra" ] || lr_fail "files appeared beside the configurations: $extra"
lr_log "300 mutated configurations: $valid valid, $refused refused with a message, no crash"

# state databases that are not what they should be
mkdir -p "$LR_DIR/st"
bad_state() { # NAME: the database in $LR_DIR/st/NAME/ffliverec.db must be refused and kept
    sum=$(md5sum < "$LR_DIR/st/$1/ffliverec.db")
    "$ffl" -hide_banner -list -state "$LR_DIR/st/$1" > "$LR_DIR/st/$1.out" 2>&1
    st=$?
    [ $st = 1 ] || lr_fail "state $1: exit status $st: $(cat "$LR_DIR/st/$1.out")"
    grep -q "state .*ffliverec.db" "$LR_DIR/st/$1.out" || lr_fail "state $1: no message: $(cat "$LR_DIR/st/$1.out")"
    [ "$(md5sum < "$LR_DIR/st/$1/ffliverec.db")" = "$sum" ] || lr_fail "state $1 was changed"
    lr_log "state $1: $(head -1 "$LR_DIR/st/$1.out" | cut -c1-120)"
}
mkdir -p "$LR_DIR/st/garbage" "$LR_DIR/st/newer" "$LR_DIR/st/cut" "$LR_DIR/st/good"
head -c 8192 /dev/urandom > "$LR_DIR/st/garbage/ffliverec.db"
"$ffl" -hide_banner -list -state "$LR_DIR/st/good" > /dev/null || lr_fail "a new state folder cannot be listed"
python3 -c 'import sqlite3,sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 99"); c.commit(); c.close()' \
    "$LR_DIR/st/good/ffliverec.db" 2>/dev/null ||
    lr_fail "cannot set up the newer database"
cp "$LR_DIR/st/good/ffliverec.db" "$LR_DIR/st/newer/ffliverec.db"
head -c 1000 "$LR_DIR/st/good/ffliverec.db" > "$LR_DIR/st/cut/ffliverec.db"
bad_state garbage
bad_state newer
bad_state cut

# -state creates its missing parents the way -spool does, the state folder itself private
"$ffl" -hide_banner -list -state "$LR_DIR/st/new/a/b/" > "$LR_DIR/st/new.out" 2>&1 ||
    lr_fail "-state with missing parents: $(cat "$LR_DIR/st/new.out")"
[ -f "$LR_DIR/st/new/a/b/ffliverec.db" ] || lr_fail "-state with missing parents made no catalog"
[ "$(stat -c %a "$LR_DIR/st/new/a/b")" = 700 ] ||
    lr_fail "the state folder is mode $(stat -c %a "$LR_DIR/st/new/a/b"), not 700"
: > "$LR_DIR/st/file"
"$ffl" -hide_banner -list -state "$LR_DIR/st/file/x" > "$LR_DIR/st/file.out" 2>&1 &&
    lr_fail "-state under a file was accepted"
grep -q "cannot create the folder .*st/file/x" "$LR_DIR/st/file.out" ||
    lr_fail "-state under a file: no message naming it: $(cat "$LR_DIR/st/file.out")"
lr_pass
