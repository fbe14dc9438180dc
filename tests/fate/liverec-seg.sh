# liverec_mp4 / liverec_flv / liverec_aac FATE tests. Sourced by tests/fate-run.sh like
# liverec-hls.sh (CMD = . this file; lrseg_NAME); globbing is off there, folders are listed with
# ls. Inputs: testsrc2 with a 2 s GOP (keyframe every 50 frames) and a sine, through bit-exact
# encoders; -wallclock fixes the names.

LRS_T0=2026-01-01T00:00:00Z

lrs_dir() {
    d=$outdir/$test.d
    rm -rf "$d"
    mkdir -p "$d/out"
    echo "$d"
}

# lrs_record DIR SECONDS MUXER [options]: mpeg4 + mp2 (MP4) or flv1 + adpcm_swf (FLV)
lrs_record() {
    dir=$1 dur=$2 muxer=$3
    shift 3
    if [ $muxer = liverec_flv ]; then codecs="-c:v flv -c:a adpcm_swf"; else codecs="-c:v mpeg4 -c:a mp2fixed"; fi
    ffmpeg -f lavfi -i testsrc2=size=160x120:rate=25:duration=$dur \
           -f lavfi -i sine=frequency=440:sample_rate=44100:duration=$dur \
           -threads 1 -idct simple -dct fastint $codecs -g 50 -flags +bitexact -fflags +bitexact \
           -f $muxer -record_interval 5 -wallclock $LRS_T0 "$@" $dir/out/
}

# every file: name, then per stream its packet count and first timestamp, and the duration
# (not with nodur: ADTS has no duration of its own, it is estimated from the encoder's bit rate)
lrs_show() {
    dir=$1
    entries=stream=index,codec_type,nb_read_packets,start_time:format=duration
    [ "${2:-}" = nodur ] && entries=stream=index,codec_type,nb_read_packets
    total=0
    for f in $(ls $dir/out); do
        echo "$f"
        run ffprobe${PROGSUF}${EXECSUF} -v error -count_packets \
            -show_entries $entries -of csv=p=0 $dir/out/$f | sort -u | sed 's/^/    /'
        for n in $(run ffprobe${PROGSUF}${EXECSUF} -v error -count_packets \
                       -show_entries stream=nb_read_packets -of csv=p=0 $dir/out/$f); do
            total=$((total + n))
        done
    done
    echo "total packets: $total"
}

# 14 s with a 2 s GOP and a 5 s interval: files cut at 6 s and 12 s, each from 0, packets add up
# to the input's (350 video + 603 audio), MP4 with the moov before the mdat.
lrseg_mp4_cuts() {
    d=$(lrs_dir)
    lrs_record $d 14 liverec_mp4 -stream_id cam || return
    lrs_show $d
    # faststart: the first of moov and mdat in each file is moov
    for f in $(ls $d/out); do
        echo "$f: $(tr '\n' ' ' < $d/out/$f | grep -a -o 'moov\|mdat' | head -n 1) first"
    done
}

# FLV: duration and a keyframe index in onMetaData after the finalizing remux.
lrseg_flv_cuts() {
    d=$(lrs_dir)
    lrs_record $d 14 liverec_flv -stream_id cam || return
    lrs_show $d
    for f in $(ls $d/out); do
        run ffprobe${PROGSUF}${EXECSUF} -v error -show_entries format_tags=hasKeyframes,lastkeyframetimestamp,canSeekToEnd \
            -of csv=p=0 $d/out/$f
    done
}

# Audio only rotates on time alone; AAC takes the audio stream only.
lrseg_aac_audio_only() {
    d=$(lrs_dir)
    ffmpeg -f lavfi -i testsrc2=size=160x120:rate=25:duration=11 \
           -f lavfi -i sine=frequency=440:sample_rate=44100:duration=11 \
           -map 0:v -map 1:a -af aresample -threads 1 -c:v mpeg4 -c:a aac -b:a 64k -flags +bitexact -fflags +bitexact \
           -f liverec_aac -record_interval 5 -wallclock $LRS_T0 -stream_id radio $d/out/ || return
    lrs_show $d nodur
}

# The names come from the template and the fixed clock, in the chosen time zone; an existing
# name gets a suffix; a hostile stream id stays inside the folder.
lrseg_names() {
    d=$(lrs_dir)
    lrs_record $d 7 liverec_mp4 -stream_id ../x -time_zone +08:00 \
        -vod_file_name "{StreamID}-{StartYear}{StartMonth}{StartDay}T{StartHour}{StartMinute}{StartSecond}.{StartMillisecond}-{EndHour}{EndMinute}{EndSecond}.{EndMillisecond}" || return
    lrs_record $d 7 liverec_mp4 -stream_id ../x -time_zone +08:00 \
        -vod_file_name "{StreamID}-{StartYear}{StartMonth}{StartDay}T{StartHour}{StartMinute}{StartSecond}.{StartMillisecond}-{EndHour}{EndMinute}{EndSecond}.{EndMillisecond}" || return
    ls $d/out
    ls $d | grep -v '^out$' | sed 's/^/outside the folder: /'
}

# A working file left by a crash (a fragmented MP4 cut in the middle of a fragment) is finalized
# by the next recorder that starts in the folder: moov up front, everything up to the last
# complete fragment kept.
lrseg_recover() {
    d=$(lrs_dir)
    ffmpeg -f lavfi -i testsrc2=size=160x120:rate=25:duration=6 \
           -threads 1 -idct simple -dct fastint -c:v mpeg4 -g 50 -flags +bitexact -fflags +bitexact \
           -movflags +frag_keyframe+empty_moov+default_base_moof -f mp4 $d/full.mp4 || return
    size=$(wc -c < $d/full.mp4)
    # cut in the middle of its last packet, which is left out (it was cut short)
    head -c $((size - 5000)) $d/full.mp4 > $d/out/1767225000000_old.mp4.recording
    # no stream_id: the folder's name, "out"
    lrs_record $d 2 liverec_mp4 || return
    lrs_show $d
}

# Bad input is refused with a clear message before anything is written.
lrseg_errors() {
    d=$(lrs_dir)
    ffmpeg -f lavfi -i testsrc2=size=160x120:rate=25:duration=1 -map 0:v -c:v mpeg4 \
           -f liverec_aac $d/out/ 2> $d/err && echo "accepted video into .aac"
    grep -o "liverec_aac records the audio stream, and the input has none" $d/err
    for opt in "-record_interval 0.5" "-record_interval 7201" "-vod_file_name {Foo}" "-time_zone +25:00"; do
        lrs_record $d 1 liverec_mp4 $opt 2> $d/err && echo "accepted: $opt"
        grep -o "out of range[^\n]*\|Unknown placeholder {Foo}\|Invalid time_zone '+25:00'" $d/err | head -n 1
    done
    ffmpeg -f lavfi -i testsrc2=duration=1 -c:v mpeg4 -f liverec_mp4 $d/missing/ 2> $d/err && echo "accepted a missing folder"
    grep -o "The output folder '.*' does not exist" $d/err | sed "s#$d/##"
    echo "files: $(ls $d/out | wc -l)"
}
