#!/bin/sh
# liverec_mp4 and liverec_flv open each working file twice: the lock creates it, then the muxer's
# output opens it to write. The second open must not truncate it (O_TRUNC): on ext4, a file
# truncated to nothing is written back to the disk when it is closed (auto_da_alloc), in the
# recorder's thread, at the end of every file. A recording of 12 s cut every 3 s, under strace:
# every working file opened without O_TRUNC, and the files hold every packet of the source.
. "$(dirname "$0")/lib.sh"
lr_init seg-open-flags

command -v strace > /dev/null || lr_fail "strace is missing (liverec/install-deps installs it)"
mkdir -p "$LR_DIR/mp4" "$LR_DIR/flv"
lr_av_source "$LR_DIR/src.mp4" 12 1500k

strace -f -qq -e trace=openat -o "$LR_DIR/open.strace" \
    "$LR_FFMPEG" -hide_banner -nostdin -v error -i "$LR_DIR/src.mp4" \
    -map 0 -c copy -f liverec_mp4 -record_interval 3 -stream_id cam "$LR_DIR/mp4" \
    -map 0 -c copy -f liverec_flv -record_interval 3 -stream_id cam "$LR_DIR/flv" \
    > "$LR_DIR/rec.log" 2>&1 || lr_fail "the recording failed (see rec.log)"

for kind in mp4 flv; do
    opens=$(grep -c "/$kind/[^\"]*_cam\.$kind\.recording\"" "$LR_DIR/open.strace")
    writes=$(grep "/$kind/[^\"]*_cam\.$kind\.recording\"" "$LR_DIR/open.strace" | grep -c 'O_WRONLY')
    trunc=$(grep "/$kind/[^\"]*_cam\.$kind\.recording\"" "$LR_DIR/open.strace" | grep -c 'O_TRUNC')
    files=$(ls "$LR_DIR/$kind"/*.$kind | wc -l)
    lr_log "$kind: $files files; working files opened $opens times, $writes to write, $trunc with O_TRUNC"
    [ "$files" -ge 3 ] || lr_fail "$kind: $files files for 12 s cut every 3 s"
    [ "$writes" -ge "$files" ] || lr_fail "$kind: $writes opens to write for $files files (see open.strace)"
    [ "$trunc" -eq 0 ] || lr_fail "$kind: a working file was opened with O_TRUNC: $(grep "/$kind/[^\"]*_cam\.$kind\.recording\"" \
        "$LR_DIR/open.strace" | grep O_TRUNC | head -n 1)"
    ls "$LR_DIR/$kind"/*.recording* > /dev/null 2>&1 && lr_fail "$kind: working files left: $(ls "$LR_DIR/$kind")"
    for t in v a; do
        want=$("$LR_FFPROBE" -v error -count_packets -select_streams $t:0 -show_entries stream=nb_read_packets \
            -of csv=p=0 "$LR_DIR/src.mp4")
        got=0
        for f in "$LR_DIR/$kind"/*.$kind; do
            c=$("$LR_FFPROBE" -v error -count_packets -select_streams $t:0 -show_entries stream=nb_read_packets \
                -of csv=p=0 "$f")
            got=$((got + ${c:-0}))
        done
        [ "$got" -eq "$want" ] || lr_fail "$kind: $got packets of stream $t in the files, $want in the source"
    done
done
lr_pass
