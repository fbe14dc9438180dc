# liverec_hls FATE tests. Sourced by tests/fate-run.sh (CMD = . this file; lrhls_NAME), so the
# fate-run.sh helpers (ffmpeg, run, $outdir, $test) are available. Each test works in its own
# folder tests/data/fate/TEST/ and prints what it checks; the output is compared with
# tests/ref/fate/TEST. Wall-clock times are fixed with -wallclock so names and dates are stable.
# fate-run.sh runs with globbing off (set -f): folders are listed with ls, never with *.

LRH_T0=2026-01-01T00:00:00Z

lrh_dir() {
    d=$outdir/$test.d
    rm -rf "$d"
    mkdir -p "$d"
    echo "$d"
}

# lrh_record DIR NAME SECONDS WALLCLOCK [muxer and input options...]
# Encodes SECONDS of testsrc2 + sine (mpeg4 with a keyframe every second, mp2) into
# liverec_hls DIR/NAME.m3u8.
lrh_record() {
    dir=$1 name=$2 dur=$3 wall=$4
    shift 4
    ffmpeg -f lavfi -i testsrc2=size=160x120:rate=25:duration=$dur \
           -f lavfi -i sine=frequency=440:sample_rate=48000:duration=$dur \
           -threads 1 -idct simple -dct fastint -c:v mpeg4 -g 25 -c:a mp2fixed -b:a 64k \
           -flags +bitexact -fflags +bitexact \
           -f liverec_hls -segment_time 2 -wallclock $wall "$@" $dir/$name.m3u8
}

# what is in the folder, and what the playlists and state files say
lrh_show() {
    dir=$1
    echo "== files"
    (cd "$dir" && ls | grep -v '\.ts$' | grep -v '\.m4s$')
    echo "segments: $(cd "$dir" && ls | grep -c '\.\(ts\|m4s\)$')"
    for f in $(cd "$dir" && ls | grep '\.m3u8$\|\.liverec$'); do
        echo "== $f"
        cat "$dir/$f"
    done
}

# packets of every segment a playlist lists, per stream, and their sum (an fMP4 segment is read
# behind its init segment, through the concat protocol)
lrh_packets() {
    playlist=$1
    dir=$(dirname "$playlist")
    total=0
    map=""
    for line in $(grep '^#EXT-X-MAP:\|^[^#]' "$playlist"); do
        case $line in
        '#EXT-X-MAP:URI='*) map=${line#*URI=\"}; map=${map%\"}; continue ;;
        esac
        src=$dir/$line
        [ -n "$map" ] && src="concat:$dir/$map|$dir/$line"
        n=$(run ffprobe${PROGSUF}${EXECSUF} -v error -count_packets \
                -show_entries stream=index,codec_type,nb_read_packets -of csv=p=0 "$src" |
            sort -u | tr '\n' ' ')
        echo "$line: $n"
        for k in $n; do total=$((total + ${k##*,})); done
    done
    echo "total packets: $total"
}

# One push: EVENT playlist, cuts at keyframes after segment_time, a date on the first segment,
# no discontinuity, all packets in the segments.
lrhls_single() {
    d=$(lrh_dir)
    lrh_record $d cam 7 $LRH_T0 || return
    lrh_show $d
    lrh_packets $d/cam.m3u8
}

# A second push within splice_timeout continues the playlist behind one discontinuity, with a
# date; numbering continues.
lrhls_splice() {
    d=$(lrh_dir)
    lrh_record $d cam 5 2026-01-01T00:00:00Z -splice_timeout 60 || return
    lrh_record $d cam 3 2026-01-01T00:00:30Z -splice_timeout 60 || return
    lrh_show $d
    lrh_packets $d/cam.m3u8
}

# The clock set back while the push was away (to before the end of what the recording lists):
# the next block's date goes on from where the last one ended, so dates never go back.
lrhls_clock_back() {
    d=$(lrh_dir)
    lrh_record $d cam 5 2026-01-01T00:00:00Z -splice_timeout 60 || return
    lrh_record $d cam 3 2026-01-01T00:00:02Z -splice_timeout 60 || return
    grep '^#EXT-X-PROGRAM-DATE-TIME\|^#EXT-X-DISCONTINUITY\|^#EXTINF' $d/cam.m3u8
}

# A push after the timeout finalizes the old recording (VOD, ENDLIST, named from the template in
# the chosen time zone) and starts a new one.
lrhls_timeout() {
    d=$(lrh_dir)
    lrh_record $d cam 3 2026-01-01T00:00:00Z -splice_timeout 10 -time_zone +08:00 || return
    lrh_record $d cam 3 2026-01-01T00:01:00Z -splice_timeout 10 -time_zone +08:00 || return
    lrh_show $d
}

# final=1 finalizes on close: only the named VOD playlist is left, no working name, no state.
lrhls_final() {
    d=$(lrh_dir)
    lrh_record $d cam 3 $LRH_T0 -final 1 -stream_id ../evil/name \
        -vod_file_name "rec_{StreamID}_{StartHour}{StartMinute}{StartSecond}{StartMillisecond}-{EndSecond}{EndMillisecond}" || return
    lrh_show $d
    ls -a $d | grep -c '^cam\.m3u8' | sed 's/^/working files left: /'
}

# An existing final name is never overwritten: the second recording gets a suffix.
lrhls_collision() {
    d=$(lrh_dir)
    lrh_record $d cam 3 $LRH_T0 -final 1 -vod_file_name fixed || return
    lrh_record $d cam 3 $LRH_T0 -final 1 -vod_file_name fixed || return
    lrh_show $d
}

# A timestamp jump inside one push: new segment behind a discontinuity, timestamps kept.
lrhls_tsjump() {
    d=$(lrh_dir)
    ffmpeg -f lavfi -i testsrc2=size=160x120:rate=25:duration=5 \
           -vf 'setpts=PTS+gte(T\,2)*30/TB' -an \
           -threads 1 -idct simple -dct fastint -c:v mpeg4 -g 25 -flags +bitexact -fflags +bitexact \
           -f liverec_hls -segment_time 2 -max_ts_jump 5 -wallclock $LRH_T0 $d/cam.m3u8 || return
    lrh_show $d
    lrh_packets $d/cam.m3u8
}

# Audio only: cut on time alone.
lrhls_audio_only() {
    d=$(lrh_dir)
    ffmpeg -f lavfi -i sine=frequency=440:sample_rate=48000:duration=5 \
           -c:a mp2fixed -b:a 64k -flags +bitexact -fflags +bitexact \
           -f liverec_hls -segment_time 2 -wallclock $LRH_T0 $d/radio.m3u8 || return
    lrh_show $d
    lrh_packets $d/radio.m3u8
}

# fMP4 segments: an init segment behind EXT-X-MAP, a new map after the discontinuity.
lrhls_fmp4() {
    d=$(lrh_dir)
    lrh_record $d cam 3 2026-01-01T00:00:00Z -segment_type fmp4 -splice_timeout 60 || return
    lrh_record $d cam 3 2026-01-01T00:00:20Z -segment_type fmp4 -splice_timeout 60 || return
    lrh_show $d
    lrh_packets $d/cam.m3u8
    for m in $(sed -n 's/^#EXT-X-MAP:URI="\(.*\)"$/\1/p' $d/cam.m3u8); do
        run ffprobe${PROGSUF}${EXECSUF} -v error -show_entries stream=codec_name -of csv=p=0 \
            "$d/$m" | tr '\n' ' '
        echo "<- $m"
    done
}

# A corrupt or newer sidecar is a clear error and is left exactly as it was.
lrhls_bad_state() {
    d=$(lrh_dir)
    lrh_record $d cam 3 $LRH_T0 -splice_timeout 60 || return
    cp $d/cam.m3u8.liverec $d/good
    for state in "garbage" "liverec_hls 99" "liverec_hls 1
recording_start=-5" "liverec_hls 1
segment_base=../../etc
recording_start=1
last_end=2"; do
        printf '%s\n' "$state" > $d/cam.m3u8.liverec
        cp $d/cam.m3u8.liverec $d/before
        cp $d/cam.m3u8 $d/playlist-before
        lrh_record $d cam 1 $LRH_T0 -splice_timeout 60 2> $d/err && echo "accepted: $state"
        grep -o "Corrupt state file.*\|not a liverec_hls state file\|has state version.*" $d/err | sed "s#$d/##"
        cmp -s $d/before $d/cam.m3u8.liverec && cmp -s $d/playlist-before $d/cam.m3u8 && echo "left untouched"
    done
}

# Bad options are refused with a clear message before anything is written.
lrhls_bad_options() {
    d=$(lrh_dir)
    for opt in "-splice_timeout 1801" "-segment_time 0" "-time_zone Mars/Olympus" \
               "-vod_file_name {StreamID}_{StartWeekday}" "-vod_file_name sub/{StreamID}" \
               "-wallclock yesterday" "-segment_type dash"; do
        lrh_record $d cam 1 $LRH_T0 $opt 2> $d/err && echo "accepted: $opt"
        grep -o "Unknown placeholder {StartWeekday}\|contains a path separator\|Invalid time_zone 'Mars/Olympus'\|Invalid wallclock 'yesterday'\|out of range[^\n]*\|Unable to parse option value \"dash\"" $d/err | head -n 1
    done
    echo "files: $(ls $d | grep -v -c '^err$')"
}

# New codec parameters inside one push (the publisher changed resolution: a second H.264
# sequence header in the FLV stream) start a new segment behind a discontinuity. libx264 output
# is not bit-exact across builds, so only the structure is compared, not packet checksums.
lrhls_codec_change() {
    d=$(lrh_dir)
    # the second part's timestamps continue the first's: only the parameters change
    for part in 320x240:0 160x120:3; do
        size=${part%:*}
        ffmpeg -f lavfi -i testsrc2=size=$size:rate=25:duration=3 \
               -f lavfi -i sine=frequency=440:sample_rate=44100:duration=3 \
               -threads 1 -c:v libx264 -preset ultrafast -g 25 -c:a adpcm_swf \
               -output_ts_offset ${part#*:} -flags +bitexact -fflags +bitexact -f flv $d/part-$size.flv || return
    done
    # one FLV stream: the second file's tags (after its 13-byte header) follow the first's
    cp $d/part-320x240.flv $d/changed.flv
    tail -c +14 $d/part-160x120.flv >> $d/changed.flv
    ffmpeg -i $d/changed.flv -c copy -fflags +bitexact \
           -f liverec_hls -segment_time 2 -wallclock $LRH_T0 $d/cam.m3u8 || return
    rm -f $d/*.flv
    grep -v '^#EXTINF' $d/cam.m3u8
    for seg in $(grep -v '^#' $d/cam.m3u8); do
        echo "$seg: $(run ffprobe${PROGSUF}${EXECSUF} -v error -select_streams v:0 \
            -show_entries stream=width,height -of csv=p=0 $d/$seg | head -n 1)"
    done
}

# A second writer on an open recording fails at once with a clear error and changes nothing.
lrhls_two_writers() {
    d=$(lrh_dir)
    ffmpeg -re -f lavfi -i testsrc2=size=160x120:rate=25:duration=4 \
           -threads 1 -c:v mpeg4 -g 25 -flags +bitexact -fflags +bitexact \
           -f liverec_hls -segment_time 1 -wallclock $LRH_T0 $d/cam.m3u8 2> $d/first.err &
    first=$!
    i=0
    while [ ! -s $d/cam.m3u8 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    cp $d/cam.m3u8.liverec $d/state-before
    lrh_record $d cam 1 $LRH_T0 2> $d/err && echo "the second writer was accepted"
    grep -o "Another process is recording into.*" $d/err | sed "s#$d/##g"
    cmp -s $d/state-before $d/cam.m3u8.liverec && echo "state unchanged by the second writer"
    wait $first && echo "the first writer finished"
    grep -c '^#EXTINF' $d/cam.m3u8 | sed 's/^/segments of the first writer: /'
}

# kill -9 in the middle of a segment: the playlist still lists every complete segment, has no
# ENDLIST and opens; the next run continues the recording behind one discontinuity and keeps
# every segment listed before the kill. (How many segments were complete at the kill depends on
# timing, so the output states the facts, not the count.)
lrhls_kill_resume() {
    d=$(lrh_dir)
    # exec: $! must be ffmpeg itself, not a subshell running it
    (exec $target_exec $target_path/ffmpeg${PROGSUF}${EXECSUF} -nostdin -re \
           -f lavfi -i testsrc2=size=160x120:rate=25:duration=8 \
           -threads 1 -c:v mpeg4 -g 25 -flags +bitexact -fflags +bitexact \
           -f liverec_hls -segment_time 1 -splice_timeout 120 -wallclock $LRH_T0 $d/cam.m3u8 2> $d/first.err) &
    first=$!
    i=0
    while [ "$(grep -c '^#EXTINF' $d/cam.m3u8 2>/dev/null || echo 0)" -lt 2 ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    sleep 0.5
    kill -9 $first
    wait $first
    cp $d/cam.m3u8 $d/killed.m3u8
    [ "$(grep -c '^#EXTINF' $d/killed.m3u8)" -ge 2 ] && echo "complete segments listed after the kill"
    grep -q ENDLIST $d/killed.m3u8 || echo "no ENDLIST after the kill"
    for seg in $(grep -v '^#' $d/killed.m3u8); do
        run ffprobe${PROGSUF}${EXECSUF} -v error $d/$seg || echo "unreadable: $seg"
    done
    lrh_record $d cam 2 2026-01-01T00:01:00Z -splice_timeout 120 -final 1 -vod_file_name final || return
    grep -c '^#EXT-X-DISCONTINUITY' $d/final.m3u8 | sed 's/^/discontinuities: /'
    kept=1
    for seg in $(grep -v '^#' $d/killed.m3u8); do
        grep -qx "$seg" $d/final.m3u8 || kept=0
    done
    [ $kept = 1 ] && echo "every segment listed before the kill is kept"
    for seg in $(grep -v '^#' $d/final.m3u8); do
        run ffprobe${PROGSUF}${EXECSUF} -v error $d/$seg || echo "unreadable: $seg"
    done
    ls $d | grep -c 'm3u8\.' | sed 's/^/working files left: /'
}
