#!/bin/sh
# liverec_mp4 finalizes an H.264 + AAC working file from its fragments' index, without a remux
# (libavformat/liverec_mp4final.c), and the result is the file a remux gives:
# - a working file left in the folder (a fragmented MP4 as liverec_mp4 writes it, 20 s of x264
#   at 3 Mb/s with B-frames, and AAC; fragments larger than the file protocol's largest write,
#   256 KiB) becomes an MP4 with its moov first whose packets (stream, pts, dts, size, key flag,
#   MD5 of the data) are those of ffmpeg's own remux of it (-c copy +faststart), and whose
#   streams start and last as that remux's do;
# - one cut in the middle of a fragment (a crash) keeps its whole samples: its packets are those
#   of ffmpeg's remux of it (-fflags +discardcorrupt), the first ones of the whole file's, and it
#   decodes without an error;
# - a recording with MP2 audio (a codec the index path leaves to the remux) is remuxed, as
#   before, and plays;
# - random bytes after two whole fragments are cut off, and the two fragments finalized by their
#   index; random bytes only (no mdat box) are removed, as a file without media always was; a file
#   whose second fragment announces 2^31 samples is left as it is, reported, and never given to
#   the mov demuxer (which would allocate for every sample); nothing crashes.
. "$(dirname "$0")/lib.sh"
lr_init mp4-final-index

src=$LR_DIR/src.flv
lr_av_source "$src" 20 3M

mkdir -p "$LR_DIR/a"
lr_mp4_working "$src" "$LR_DIR/a/1790000000000_cam.mp4.recording"
cp "$LR_DIR/a/1790000000000_cam.mp4.recording" "$LR_DIR/work.mp4"
"$LR_FFMPEG" -hide_banner -v error -i "$LR_DIR/work.mp4" -c copy -movflags +faststart "$LR_DIR/ref.mp4" ||
    lr_fail "cannot remux the reference"
lr_mp4_finalize_folder "$LR_DIR/a" a.log
grep -q "finalized by its index" "$LR_DIR/a.log" || lr_fail "the leftover was not finalized by its index (see a.log)"
final=$(ls "$LR_DIR"/a/cam_*.mp4 2>/dev/null)
[ -n "$final" ] || lr_fail "no final MP4: $(ls "$LR_DIR/a")"
[ "$(tr '\n' ' ' < "$final" | grep -a -o 'moov\|mdat' | head -n 1)" = moov ] || lr_fail "the final MP4 is not faststart"
lr_packets "$LR_DIR/ref.mp4" > "$LR_DIR/ref.txt"
lr_packets "$final" > "$LR_DIR/final.txt"
n=$(wc -l < "$LR_DIR/ref.txt")
[ "$n" -gt 1300 ] || lr_fail "the reference holds $n packets"
cmp -s "$LR_DIR/ref.txt" "$LR_DIR/final.txt" ||
    lr_fail "the packets differ from the remux's: $(diff "$LR_DIR/ref.txt" "$LR_DIR/final.txt" | head -n 6)"
streams() {
    "$LR_FFPROBE" -v error -show_entries stream=codec_name,start_time,duration,nb_frames -of csv=p=0 "$1"
}
streams "$LR_DIR/ref.mp4" > "$LR_DIR/ref-streams.txt"
streams "$final" > "$LR_DIR/final-streams.txt"
# the last sample's duration may differ by a tick: the fragment's own against the one before
paste -d, "$LR_DIR/ref-streams.txt" "$LR_DIR/final-streams.txt" | awk -F, '
    { if ($1 != $5 || $2 != $6 || $4 != $8 || $3 - $7 > 0.001 || $7 - $3 > 0.001) bad = 1 }
    END { exit bad }' ||
    lr_fail "the streams differ: $(cat "$LR_DIR/ref-streams.txt") against $(cat "$LR_DIR/final-streams.txt")"
lr_log "index finalize: $n packets as the remux's; streams $(tr '\n' ' ' < "$LR_DIR/final-streams.txt")"

# cut in the middle of a fragment's media (a crash): its whole samples are kept, as the remux
# (the mov demuxer, dropping the cut sample) keeps them
mkdir -p "$LR_DIR/b"
size=$(stat -c %s "$LR_DIR/work.mp4")
head -c $((size * 3 / 5)) "$LR_DIR/work.mp4" > "$LR_DIR/cut.mp4"
cp "$LR_DIR/cut.mp4" "$LR_DIR/b/1790000000000_cut.mp4.recording"
"$LR_FFMPEG" -hide_banner -v error -fflags +discardcorrupt -i "$LR_DIR/cut.mp4" -c copy -movflags +faststart \
    "$LR_DIR/cut-ref.mp4" 2> /dev/null || lr_fail "cannot remux the cut reference"
lr_mp4_finalize_folder "$LR_DIR/b" b.log
grep -q "finalized by its index" "$LR_DIR/b.log" || lr_fail "the cut leftover was not finalized by its index (see b.log)"
grep -q "ends early: keeping its whole samples" "$LR_DIR/b.log" || lr_fail "the cut was not reported (see b.log)"
cut=$(ls "$LR_DIR"/b/cut_*.mp4 2>/dev/null)
[ -n "$cut" ] || lr_fail "no final MP4 of the cut file: $(ls "$LR_DIR/b")"
lr_packets "$cut" > "$LR_DIR/cut.txt"
lr_packets "$LR_DIR/cut-ref.mp4" > "$LR_DIR/cut-ref.txt"
m=$(wc -l < "$LR_DIR/cut.txt")
cmp -s "$LR_DIR/cut.txt" "$LR_DIR/cut-ref.txt" ||
    lr_fail "the cut file's packets differ from the remux's: $(diff "$LR_DIR/cut-ref.txt" "$LR_DIR/cut.txt" | head -n 6)"
for s in 0 1; do
    grep "^$s," "$LR_DIR/cut.txt" > "$LR_DIR/cut-$s.txt"
    grep "^$s," "$LR_DIR/ref.txt" | head -n $(wc -l < "$LR_DIR/cut-$s.txt") > "$LR_DIR/ref-$s.txt"
    cmp -s "$LR_DIR/cut-$s.txt" "$LR_DIR/ref-$s.txt" || lr_fail "stream $s of the cut file is not the start of the whole one's"
done
[ "$m" -gt $((n / 2)) ] && [ "$m" -lt $((n * 3 / 4)) ] || lr_fail "the cut file keeps $m of $n packets"
"$LR_FFMPEG" -hide_banner -v error -xerror -i "$cut" -f null - 2> "$LR_DIR/cut-decode.log" ||
    lr_fail "the cut file does not decode: $(head -n 3 "$LR_DIR/cut-decode.log")"
lr_log "cut at 3/5: $m of $n packets kept, as the remux keeps them, decoding without an error"

# MP2 audio: the remux, as before
mkdir -p "$LR_DIR/c"
"$LR_FFMPEG" -hide_banner -v error -i "$src" -c:v copy -c:a mp2 -f mp4 \
    -movflags +frag_keyframe+empty_moov+default_base_moof -frag_duration 1000000 \
    "$LR_DIR/c/1790000000000_mp2.mp4.recording" || lr_fail "cannot write the MP2 working file"
lr_mp4_finalize_folder "$LR_DIR/c" c.log
# (the mov demuxer reads MPEG audio in MP4 as mp3)
grep -q "Finalizing by index not possible (mp3): remuxing" "$LR_DIR/c.log" ||
    lr_fail "the MP2 recording was not left to the remux (see c.log)"
mp2=$(ls "$LR_DIR"/c/mp2_*.mp4 2>/dev/null)
[ -n "$mp2" ] || lr_fail "no final MP4 of the MP2 recording: $(ls "$LR_DIR/c")"
k=$("$LR_FFPROBE" -v error -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$mp2" | paste -sd+ | bc)
[ "$k" -gt 1200 ] || lr_fail "the remuxed MP2 recording holds $k packets"
lr_log "MP2 audio: remuxed ($k packets)"

# hostile leftovers: two whole fragments then random bytes; random bytes only; a fragment in the
# middle whose trun announces 2^31 samples
mkdir -p "$LR_DIR/d"
# the third moof's start (the offset grep gives is its type's, 4 bytes into the box)
third=$(($(grep -boa moof "$LR_DIR/work.mp4" | sed -n 3p | cut -d: -f1) - 4))
head -c $third "$LR_DIR/work.mp4" > "$LR_DIR/two.mp4"
cp "$LR_DIR/two.mp4" "$LR_DIR/d/1790000000000_junk.mp4.recording"
head -c 300000 /dev/urandom >> "$LR_DIR/d/1790000000000_junk.mp4.recording"
head -c 300000 /dev/urandom > "$LR_DIR/d/1790000000001_rand.mp4.recording"
python3 - "$LR_DIR/work.mp4" "$LR_DIR/d/1790000000002_bomb.mp4.recording" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.find(b"trun", d.find(b"trun") + 4)            # the second fragment's first trun
d[i + 8:i + 12] = (0x7fffffff).to_bytes(4, "big")   # its sample count
open(sys.argv[2], "wb").write(d)
PY
lr_mp4_finalize_folder "$LR_DIR/d" d.log
grep -q "Finalized '.*/next_" "$LR_DIR/d.log" || lr_fail "the recorder did not finish its own file (see d.log)"
grep -q "junk.mp4.recording' cut after its last whole fragment ($third of " "$LR_DIR/d.log" ||
    lr_fail "the junk was not cut off at $third (see d.log)"
grep -q "junk.mp4.recording' finalized by its index" "$LR_DIR/d.log" || lr_fail "the junk leftover was not finalized by its index"
"$LR_FFMPEG" -hide_banner -v error -i "$LR_DIR/two.mp4" -c copy -movflags +faststart "$LR_DIR/two-ref.mp4" ||
    lr_fail "cannot remux the two fragments"
lr_packets "$(ls "$LR_DIR"/d/junk_*.mp4)" > "$LR_DIR/junk.txt"
lr_packets "$LR_DIR/two-ref.mp4" > "$LR_DIR/two-ref.txt"
cmp -s "$LR_DIR/junk.txt" "$LR_DIR/two-ref.txt" || lr_fail "the junk leftover's packets are not its two fragments'"
[ -e "$LR_DIR/d/1790000000001_rand.mp4.recording" ] && lr_fail "the random leftover is still there"
[ -e "$LR_DIR/d/1790000000002_bomb.mp4.recording" ] || lr_fail "the leftover with a damaged fragment was not left as it was"
grep -q "bomb.mp4.recording' is no working file of liverec_mp4" "$LR_DIR/d.log" || lr_fail "the damaged fragment was not reported"
lr_log "hostile leftovers: $(ls "$LR_DIR/d" | tr '\n' ' ')"
lr_pass
