#!/bin/sh
# liverec_mp4 makes a local working file its final MP4 in place (libavformat/liverec_mp4final.c):
# - the final file is the working file itself (the same inode), its bytes unmoved after whole
#   4 KiB blocks inserted before them: an ftyp, the moov, a free box, and one mdat to the end
#   from the last 16 bytes of the working file's moov on (its fragments inside); its packets
#   (stream, pts, dts, size, key flag, MD5 of the data) are those of ffmpeg's own remux (-c copy
#   +faststart), and no note of the switch stays behind;
# - with -in_place 0 it is copied into a new file with one mdat, as before, the same packets;
# - what a kill in the middle of a switch leaves is finished by the next start, each with the
#   remux's packets: room inserted and nothing written in it; half the head written; the head
#   written but not the mdat header; all written; the note written and nothing inserted. A note whose file
#   is gone (renamed final before the kill) is removed. Room inserted without its note, and a
#   note of another size than the file's, and room before fragments that the check refuses now (a
#   trun announcing 2^31 samples, never given to the mov demuxer), are left as they are and
#   reported; nothing is removed.
. "$(dirname "$0")/lib.sh"
lr_init mp4-in-place

src=$LR_DIR/src.flv
lr_av_source "$src" 12 2M
lr_mp4_working "$src" "$LR_DIR/work.mp4"
"$LR_FFMPEG" -hide_banner -v error -i "$LR_DIR/work.mp4" -c copy -movflags +faststart "$LR_DIR/ref.mp4" ||
    lr_fail "cannot remux the reference"
lr_packets "$LR_DIR/ref.mp4" > "$LR_DIR/ref.txt"
n=$(wc -l < "$LR_DIR/ref.txt")
[ "$n" -gt 800 ] || lr_fail "the reference holds $n packets"
size=$(stat -c %s "$LR_DIR/work.mp4")
moov_end=$(lr_mp4_boxes "$LR_DIR/work.mp4" | awk 'NR <= 2 { e += $2 } END { print e }')

# FILE NAME: its packets must be the remux's
same_packets() {
    lr_packets "$1" > "$LR_DIR/$2.txt"
    cmp -s "$LR_DIR/ref.txt" "$LR_DIR/$2.txt" ||
        lr_fail "$2: the packets differ from the remux's: $(diff "$LR_DIR/ref.txt" "$LR_DIR/$2.txt" | head -n 4)"
}

# in place
mkdir -p "$LR_DIR/a"
cp "$LR_DIR/work.mp4" "$LR_DIR/a/1790000000000_cam.mp4.recording"
inode=$(stat -c %i "$LR_DIR/a/1790000000000_cam.mp4.recording")
lr_mp4_finalize_folder "$LR_DIR/a" a.log
grep -q "cam.mp4.recording' finalized by its index in place" "$LR_DIR/a.log" ||
    lr_fail "the leftover was not finalized in place (see a.log)"
final=$(ls "$LR_DIR"/a/cam_*.mp4 2>/dev/null)
[ -n "$final" ] || lr_fail "no final MP4: $(ls "$LR_DIR/a")"
[ "$(stat -c %i "$final")" = "$inode" ] || lr_fail "the final MP4 is another file than the working file"
[ -z "$(ls "$LR_DIR"/a/*.switch "$LR_DIR"/a/*.recording 2>/dev/null)" ] || lr_fail "left behind: $(ls "$LR_DIR/a")"
same_packets "$final" in-place
lr_mp4_boxes "$final" > "$LR_DIR/boxes.txt"
[ "$(awk '{ printf "%s ", $1 }' "$LR_DIR/boxes.txt")" = "ftyp moov free mdat " ] ||
    lr_fail "the final MP4's boxes are not ftyp, moov, free, mdat: $(tr '\n' ' ' < "$LR_DIR/boxes.txt")"
fsize=$(stat -c %s "$final")
room=$((fsize - size))
mdat=$(awk '$1 == "mdat" { print $2 }' "$LR_DIR/boxes.txt")
[ $((room % 4096)) -eq 0 ] && [ "$room" -gt 0 ] || lr_fail "$room bytes were inserted: no whole blocks"
[ "$mdat" -eq $((size - moov_end + 16)) ] ||
    lr_fail "the mdat has $mdat bytes, not the working file's from 16 bytes before its moov's end on"
lr_log "in place: $n packets as the remux's; $room bytes inserted before the $size of the working file, an mdat of $mdat"

# a copy when told so
mkdir -p "$LR_DIR/c"
cp "$LR_DIR/work.mp4" "$LR_DIR/c/1790000000000_cam.mp4.recording"
lr_mp4_finalize_folder "$LR_DIR/c" c.log -in_place 0
grep -q "cam.mp4.recording' finalized by its index:" "$LR_DIR/c.log" ||
    lr_fail "the leftover was not finalized by a copy (see c.log)"
copy=$(ls "$LR_DIR"/c/cam_*.mp4 2>/dev/null)
[ -n "$copy" ] || lr_fail "no final MP4 of the copy: $(ls "$LR_DIR/c")"
same_packets "$copy" copy
[ "$(lr_mp4_boxes "$copy" | grep -c '^mdat ')" -eq 1 ] || lr_fail "the copy has not one mdat"
lr_log "-in_place 0: a copy with one mdat, $(stat -c %s "$copy") bytes, the same packets"

# what a kill leaves in the middle of a switch
mkdir -p "$LR_DIR/k"
python3 - "$LR_DIR/work.mp4" "$final" "$room" "$LR_DIR/k" <<'PY'
import os, sys
work = open(sys.argv[1], "rb").read()
final = bytearray(open(sys.argv[2], "rb").read())
room, d = int(sys.argv[3]), sys.argv[4]
def put(name, data, note=None):
    open(os.path.join(d, name), "wb").write(data)
    if note:
        open(os.path.join(d, name + ".switch"), "w").write("%d %d\n" % note)
note = (len(work), room)
put("1790000000000_zero.mp4.recording", bytes(room) + work, note)
put("1790000000001_half.mp4.recording", bytes(final[:room // 2]) + bytes(room - room // 2) + work, note)
put("1790000000002_head.mp4.recording", bytes(final[:room]) + work, note)
put("1790000000003_done.mp4.recording", bytes(final), note)
put("1790000000004_none.mp4.recording", work, note)
open(os.path.join(d, "1790000000005_gone.mp4.recording.switch"), "w").write("%d %d\n" % note)
put("1790000000006_lost.mp4.recording", bytes(room) + work)
put("1790000000007_odd.mp4.recording", work, (len(work) + 5, room))
# room inserted before fragments that are no longer what the check passed: a trun announcing
# 2^31 samples (the mov demuxer would allocate for each)
bomb = bytearray(work)
i = bomb.find(b"trun")
bomb[i + 8:i + 12] = (0x7fffffff).to_bytes(4, "big")
put("1790000000008_bomb.mp4.recording", bytes(room) + bytes(bomb), note)
PY
lr_mp4_finalize_folder "$LR_DIR/k" k.log
for x in 0:zero 1:half 2:head 3:done 4:none; do
    name=${x#*:}
    f=$(ls "$LR_DIR"/k/${name}_*.mp4 2>/dev/null)
    [ -n "$f" ] || lr_fail "$name: not finalized (see k.log): $(ls "$LR_DIR/k" | tr '\n' ' ')"
    same_packets "$f" "$name"
    # the name's end: 12 s after its start
    case $f in *_2026-09-21-14-13-20_2026-09-21-14-13-32.mp4) ;; *) lr_fail "$name: named $f";; esac
    w=$LR_DIR/k/179000000000${x%%:*}_$name.mp4.recording
    [ -e "$w" ] || [ -e "$w.switch" ] && lr_fail "$name: its working file or its note stays"
done
grep -q "Finishing the switch of '.*zero.mp4.recording'" "$LR_DIR/k.log" || lr_fail "the room inserted was not reported"
[ -e "$LR_DIR/k/1790000000005_gone.mp4.recording.switch" ] && lr_fail "the note of a file made final stays"
[ -e "$LR_DIR/k/1790000000006_lost.mp4.recording" ] || lr_fail "the room inserted without its note was removed"
grep -q "lost.mp4.recording' is no working file" "$LR_DIR/k.log" || lr_fail "the room without its note was not reported"
[ -e "$LR_DIR/k/1790000000007_odd.mp4.recording" ] && [ -e "$LR_DIR/k/1790000000007_odd.mp4.recording.switch" ] ||
    lr_fail "the file of another size than its note's was not left as it was"
grep -q "odd.mp4.recording' has $size bytes, neither" "$LR_DIR/k.log" || lr_fail "the size against the note was not reported"
[ -e "$LR_DIR/k/1790000000008_bomb.mp4.recording" ] && [ -e "$LR_DIR/k/1790000000008_bomb.mp4.recording.switch" ] ||
    lr_fail "the damaged fragments after the room were not left as they were"
grep -q "bomb.mp4.recording' after the $room bytes of its switch is no working file" "$LR_DIR/k.log" ||
    lr_fail "the damaged fragments after the room were not reported"
lr_log "after kills: $(ls "$LR_DIR/k" | tr '\n' ' ')"
lr_pass
