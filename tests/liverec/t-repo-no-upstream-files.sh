#!/bin/sh
# The repository holds only our files: none of them is byte-identical to the file at the same
# path in the pinned upstream tarball (FFmpeg's own sources live in the tarball, never here).
. "$(dirname "$0")/lib.sh"
lr_init repo-no-upstream-files

tarball=$("$LR_TOP/liverec/fetch-upstream" 2>"$LR_DIR/fetch.log") || lr_fail "cannot get the upstream tarball"
mkdir -p "$LR_DIR/up"
tar -xJf "$tarball" -C "$LR_DIR/up" --strip-components=1 || lr_fail "cannot unpack $tarball"

cd "$LR_TOP" || exit 1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files > "$LR_DIR/ours"
else
    find . -path ./build -prune -o -path ./.git -prune -o -type f -print | sed 's#^\./##' > "$LR_DIR/ours"
fi
[ -s "$LR_DIR/ours" ] || lr_fail "no files listed"
n=0
while read -r f; do
    n=$((n + 1))
    if [ -f "$LR_DIR/up/$f" ] && cmp -s "$f" "$LR_DIR/up/$f"; then
        echo "$f" >> "$LR_DIR/same"
    fi
done < "$LR_DIR/ours"
[ -s "$LR_DIR/same" ] && lr_fail "files identical to upstream FFmpeg's: $(tr '\n' ' ' < "$LR_DIR/same")"
lr_log "$n files checked, none is upstream's"
lr_pass
