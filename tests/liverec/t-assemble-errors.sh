#!/bin/sh
# The assembly is safe and says what is wrong: a corrupted tarball is refused before anything is
# unpacked, a patch that no longer applies is named, FFmpeg's own error for an unknown configure
# option is passed through, and a second run with nothing changed does not re-extract.
# Works on a copy of the build scripts in the test folder, so the real build/ is never touched.
. "$(dirname "$0")/lib.sh"
lr_init assemble-errors

good=$("$LR_TOP/liverec/fetch-upstream" 2>/dev/null) || lr_fail "cannot get the upstream tarball"
tree=$LR_DIR/tree
mktree() {
    rm -rf "$tree"
    mkdir -p "$tree"
    cp -r "$LR_TOP/liverec" "$LR_TOP/configure" "$tree/"
    for d in libavformat libavcodec fftools doc tests; do
        [ -d "$LR_TOP/$d" ] && cp -r "$LR_TOP/$d" "$tree/"
    done
    rm -rf "$tree/tests/liverec"
}

# 1. corrupted tarball in the cache: refused, clear message, non-zero
mkdir -p "$LR_DIR/cache/liverec"
cp "$good" "$LR_DIR/cache/liverec/"
printf 'garbage' | dd of="$LR_DIR/cache/liverec/$(basename "$good")" bs=1 seek=100000 conv=notrunc 2>/dev/null
if XDG_CACHE_HOME=$LR_DIR/cache "$LR_TOP/liverec/fetch-upstream" > "$LR_DIR/1.out" 2> "$LR_DIR/1.err"; then
    lr_fail "a corrupted cached tarball was accepted"
fi
grep -q "corrupted (sha256 mismatch)" "$LR_DIR/1.err" || lr_fail "no clear message for a corrupted cache: $(cat "$LR_DIR/1.err")"

# 2. corrupted FFMPEG_TARBALL: refused by the assembly, nothing unpacked
mktree
if FFMPEG_TARBALL=$LR_DIR/cache/liverec/$(basename "$good") XDG_CACHE_HOME=$LR_DIR/cache2 \
        "$tree/liverec/assemble" > "$LR_DIR/2.out" 2> "$LR_DIR/2.err"; then
    lr_fail "assembly accepted a corrupted FFMPEG_TARBALL"
fi
grep -q "sha256 mismatch" "$LR_DIR/2.err" || lr_fail "no checksum message: $(cat "$LR_DIR/2.err")"
[ -e "$tree/build/src" ] || [ -e "$tree/build/src.new" ] && lr_fail "something was unpacked from a corrupted tarball"

# 3. a patch that does not apply is named, and no half-assembled tree is left behind
mktree
cat > "$tree/liverec/patches/9999-does-not-apply.patch" <<'PATCH'
--- a/libavformat/allformats.c
+++ b/libavformat/allformats.c
@@ -1,3 +1,3 @@
-this line is not in allformats.c
+neither is this one
 nor this
 nor that
PATCH
echo 9999-does-not-apply.patch >> "$tree/liverec/patches/series"
if FFMPEG_TARBALL=$good "$tree/liverec/assemble" > "$LR_DIR/3.out" 2> "$LR_DIR/3.err"; then
    lr_fail "a patch that does not apply was accepted"
fi
grep -q "patch liverec/patches/9999-does-not-apply.patch does not apply" "$LR_DIR/3.err" ||
    lr_fail "the failing patch is not named: $(cat "$LR_DIR/3.err")"
[ -e "$tree/build/src" ] && lr_fail "a half-assembled build/src was left behind"

# 4. idempotent: a second assembly with nothing changed keeps the tree; a changed patch re-assembles
mktree
FFMPEG_TARBALL=$good "$tree/liverec/assemble" -q 2> "$LR_DIR/4.err" || lr_fail "assembly failed: $(cat "$LR_DIR/4.err")"
touch "$tree/build/src/.marker"
FFMPEG_TARBALL=$good "$tree/liverec/assemble" -q 2>> "$LR_DIR/4.err" || lr_fail "second assembly failed"
[ -e "$tree/build/src/.marker" ] || lr_fail "a second assembly with nothing changed re-extracted the tree"
echo "# a comment after the hunks changes the patch, not what it does" >> "$tree/liverec/patches/0002-tests-include-liverec-fate.patch"
FFMPEG_TARBALL=$good "$tree/liverec/assemble" -q 2>> "$LR_DIR/4.err" || lr_fail "re-assembly failed: $(cat "$LR_DIR/4.err")"
[ -e "$tree/build/src/.marker" ] && lr_fail "a changed patch did not re-assemble the tree"
grep -q "tests/fate/liverec.mak" "$tree/build/src/tests/Makefile" || lr_fail "patches not applied after re-assembly"

# 5. an unknown configure option: FFmpeg's own message, non-zero exit
if FFMPEG_TARBALL=$good "$tree/configure" --enable-no-such-thing > "$LR_DIR/5.out" 2> "$LR_DIR/5.err"; then
    lr_fail "an unknown configure option was accepted"
fi
grep -q "Unknown option \"--enable-no-such-thing\"" "$LR_DIR/5.err" ||
    lr_fail "FFmpeg's message is not passed through: $(cat "$LR_DIR/5.err")"
lr_pass
