#!/bin/sh
# kill -9 of ffliverec -serve while it records 3 live pushes (a, b, c) through nginx-rtmp, then a
# restart within 2 s on the same state and spool: nginx-rtmp does not send on_publish again for
# pushes already going on, so the new process must find them on the origin's status page
# (rtmp_stat, StatusUrl) at its start and record all 3 again within 5 s of the restart. Each
# stream then has one HLS recording spliced across the restart (one discontinuity, ENDLIST after
# SIGTERM) that keeps every segment listed at the kill unchanged, then the segment that was being
# written at the kill (what it holds, kept by the restart), then what came after the restart; the
# working MP4 the kill left is finalized into a playable MP4 holding what was recorded before the
# kill, without the packet the kill cut short (no .recording left, every frame decodes); the two
# MP4s hold the push but the gap; and the catalog lists both MP4s and the HLS recording of every
# stream. This is the service's promise that a crash (an OOM kill, a deploy gone wrong) loses
# neither a stream nor what was recorded.
. "$(dirname "$0")/lib.sh"
lr_init serve-kill9
PUSH=30
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK=http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp
LR_NGINX_STAT=1
lr_nginx_start
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/live/{StreamName}" StatusUrl="$LR_NGINX_STAT_URL" Domain="example.com"/>
  <Template TemplateId="1" TemplateName="hls-mp4">
    <HlsParam/><Mp4Param/>
    <HlsSpecialParam FlowContinueDuration="30"/>
  </Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
spool=$LR_DIR/spool/example.com/live
now_ms() { date +%s%3N; }

# the newest working MP4 of stream $1 that starts at or after $2 (ms): prints its start (ms)
working_since() {
    for f in "$spool/$1"/mp4/*_"$1".mp4.recording; do
        [ -e "$f" ] || continue
        s=$(basename "$f")
        s=${s%%_*}
        [ "$s" -ge "$2" ] && echo "$s"
    done | sort -n | tail -n 1
}
# wait up to $3 s for stream $1's working MP4 starting at or after $2 (ms), or fail; sets
# ww_seen (when it was seen, ms) and ww_start (its start, ms)
wait_working() {
    _i=0
    until ww_start=$(working_since "$1" "$2") && [ -n "$ww_start" ]; do
        [ $_i -lt $(($3 * 20)) ] || lr_fail "$1: no working MP4 within $3 s (since $2): $(ls "$spool/$1/mp4" 2>/dev/null)"
        sleep 0.05
        _i=$((_i + 1))
    done
    ww_seen=$(now_ms)
}

lr_serve_start "$LR_DIR/serve.xml" serve-1.log
serve1=$LR_SERVE_PID
t_push=$(now_ms)
pushers=""
for s in a b c; do
    lr_push_bg $s $PUSH
    pushers="$pushers $LR_LAST_PID"
done
for s in a b c; do
    wait_working $s "$t_push" 8
    eval "rec1_$s=$ww_start"
    lr_log "$s: recording since $((ww_start - t_push)) ms after the push started"
done
lr_wait_log serve-1.log "example.com/live/c: recording starts (hook)" 1
for s in a b; do
    grep -q "example.com/live/$s: recording starts (hook)" "$LR_DIR/serve-1.log" ||
        lr_fail "$s was not started by its hook"
done

# kill -9 two seconds into the second HLS segment of every stream (10 s segments): what the
# playlists list then must all be in the final recordings
i=0
for s in a b c; do
    until [ "$(grep -c '^[^#]' "$spool/$s/hls/$s.m3u8" 2>/dev/null)" -ge 1 ]; do
        i=$((i + 1))
        [ $i -lt 400 ] || lr_fail "$s: no HLS segment listed 20 s after the recording started"
        sleep 0.05
    done
done
sleep 2
kill -KILL $serve1
t_kill=$(now_ms)
wait $serve1 2>/dev/null
for s in a b c; do
    [ -n "$(working_since $s "${t_push}")" ] || lr_fail "$s: no working MP4 left by the kill"
    eval "left_$s=\$(ls \"\$spool/$s/mp4/\"*.mp4.recording)"
    # the segments listed at the kill (name and content), and the open one, which is lost
    (cd "$spool/$s/hls" && for seg in $(grep '^[^#]' $s.m3u8); do md5sum "$seg"; done) > "$LR_DIR/listed-$s.md5"
    [ -s "$LR_DIR/listed-$s.md5" ] || lr_fail "$s: no segment listed at the kill"
    open=""
    for f in "$spool/$s/hls/"*.ts; do
        grep -q " $(basename "$f")\$" "$LR_DIR/listed-$s.md5" || open=$f
    done
    listed=$(awk -F'[:,]' '/^#EXTINF:/ { t += $2 } END { printf "%.2f", t }' "$spool/$s/hls/$s.m3u8")
    partial=0
    [ -z "$open" ] || partial=$(stat -c %s "$open")
    eval "listed_$s=$listed partial_$s=$partial"
done
lr_log "killed -9 $(((t_kill - t_push) / 1000)) s into the pushes"
sleep 1
: > "$LR_DIR/serve-2.log"
lr_stamp_log serve-2.log
t_restart=$(now_ms)
lr_serve_start "$LR_DIR/serve.xml" serve-2.log
serve2=$LR_SERVE_PID
for s in a b c; do
    wait_working $s "$((t_kill + 1))" 6
    seen=$((ww_seen - t_restart))
    [ $seen -le 5000 ] || lr_fail "$s: recorded again $seen ms after the restart"
    eval "rec2_$s=$ww_start seen_$s=$seen"
    lr_log "$s: recorded again $seen ms after the restart (its new MP4 starts $((ww_start - t_restart)) ms after it)"
done
sleep 0.1
for s in a b c; do
    t=$(grep -m 1 "example.com/live/$s: recording starts (the origin's status page lists it)" \
        "$LR_DIR/serve-2.log.stamped" | cut -d' ' -f1 | tr -d .)
    [ -n "$t" ] || lr_fail "$s: not started from the status page after the restart"
    eval "decided_$s=$((t - t_restart))"
done

# the pushes end; the MP4s close at once, HLS waits for a push that does not come: SIGTERM
for p in $pushers; do
    lr_wait_pid $p $((PUSH + 15)) || lr_fail "a push failed (see push-*.log)"
done
t_end=$(now_ms)
for s in a b c; do
    lr_wait_log serve-2.log "finished: $spool/$s/mp4/" 10
done
kill -TERM $serve2
lr_wait_pid $serve2 20 || lr_fail "the service did not stop within 20 s of SIGTERM"
grep -q "SIGTERM: stopping" "$LR_DIR/serve-2.log" || lr_fail "no SIGTERM line"

"$LR_BUILD/ffliverec" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list.txt" 2>&1 ||
    lr_fail "ffliverec -list failed: $(cat "$LR_DIR/list.txt")"
for s in a b c; do
    d=$spool/$s
    eval "r1=\$rec1_$s r2=\$rec2_$s left=\$left_$s"
    # MP4: the one the kill left (finalized by the restart) and the one after it
    rem=$(find "$d/mp4" -name '*.recording*')
    [ -z "$rem" ] || lr_fail "$s: working files left: $rem"
    mp4s=$(ls "$d/mp4"/*.mp4 2>/dev/null)
    [ "$(echo "$mp4s" | grep -c .)" = 2 ] || lr_fail "$s: MP4 files: $(ls "$d/mp4")"
    m1=$(echo "$mp4s" | head -n 1) m2=$(echo "$mp4s" | tail -n 1)
    for m in "$m1" "$m2"; do
        [ "$(lr_streams "$m" | tr ' ' '\n' | sort | tr '\n' ' ')" = "audio:aac video:h264 " ] ||
            lr_fail "$s: $m: $(lr_streams "$m")"
    done
    d1=$(lr_duration "$m1") d2=$(lr_duration "$m2")
    # the leftover decodes to its end: the packet the kill cut short is left out
    "$LR_FFMPEG" -v error -nostdin -i "$m1" -map 0:v -f framemd5 "$LR_DIR/frames-$s.txt" \
        > "$LR_DIR/decode-$s.log" 2>&1 || lr_fail "$s: the finalized leftover $m1 does not decode"
    errs=$(grep -c 'Decoding error' "$LR_DIR/decode-$s.log")
    [ "$errs" = 0 ] || lr_fail "$s: $errs decoding errors in $m1: $(head -n 5 "$LR_DIR/decode-$s.log")"
    frames=$(grep -c '^0,' "$LR_DIR/frames-$s.txt")
    vframes=$("$LR_FFPROBE" -v error -select_streams v -show_entries stream=nb_frames -of csv=p=0 "$m1")
    [ "$frames" -ge $((vframes - 1)) ] || lr_fail "$s: $m1 decodes $frames of its $vframes frames"
    # the files hold what was pushed: the first keyframe after each connect (content starts a
    # little before the working file's name says: the names take the time after the analysis)
    before=$(((t_kill - r1) / 1000)).$(((t_kill - r1) % 1000 / 100))
    after=$(((t_end - r2) / 1000)).$(((t_end - r2) % 1000 / 100))
    # fragments every keyframe (2 s GOP) and at least every second: a kill loses at most one;
    # at most what was pushed (ffmpeg -re sends its first 0.5 s at once)
    awk -v d="$d1" -v e="$before" -v m="$(((t_kill - t_push) / 100))e-1" 'BEGIN { exit !(d >= e - 2.5 && d <= m + 1) }' ||
        lr_fail "$s: the MP4 the kill left lasts $d1 s, $before s were recorded before the kill"
    awk -v d="$d2" -v e="$after" -v m="$(((t_end - t_kill) / 100))e-1" 'BEGIN { exit !(d >= e - 1 && d <= m + 1) }' ||
        lr_fail "$s: the MP4 after the restart lasts $d2 s for $after s"
    # together: the push but the gap (kill to the new working file) and the first connect
    gap=$(((r2 - t_kill) / 1000)).$(((r2 - t_kill) % 1000 / 100))
    awk -v a="$d1" -v b="$d2" -v g="$gap" -v p="$PUSH" 'BEGIN { exit !(a + b >= p - g - 4.5 && a + b <= p + 1) }' ||
        lr_fail "$s: the MP4s hold $d1 + $d2 s of a $PUSH s push with a $gap s gap"
    grep -q "Finalizing '$left' left by an earlier recorder" "$LR_DIR/serve-2.log" ||
        lr_fail "$s: no 'Finalizing ... left by an earlier recorder' for $left"
    # HLS: one recording, finalized, one discontinuity (the restart); every segment listed at
    # the kill kept as it was, then what was recorded after the restart
    [ ! -e "$d/hls/$s.m3u8" ] || lr_fail "$s: the working playlist is still there"
    pls=$(ls "$d/hls"/*.m3u8)
    [ "$(echo "$pls" | grep -c .)" = 1 ] || lr_fail "$s: playlists: $(ls "$d/hls")"
    grep -q '^#EXT-X-ENDLIST' "$pls" || lr_fail "$s: $pls has no ENDLIST"
    disc=$(grep -c '^#EXT-X-DISCONTINUITY$' "$pls")
    [ "$disc" = 1 ] || lr_fail "$s: $disc discontinuities for one restart"
    for seg in $(grep -v '^#' "$pls"); do
        [ -s "$d/hls/$seg" ] || lr_fail "$s: $pls lists $seg, which is missing"
    done
    # before the restart: the segments listed at the kill, then the one it interrupted (unless
    # the kill came before any of it was on disk: right after a cut, the first 32 KiB of the new
    # segment are still in the muxer's buffer, and a segment of 0 bytes has nothing to keep)
    awk '/^#EXT-X-DISCONTINUITY$/ { exit } /^[^#]/ { print }' "$pls" > "$LR_DIR/kept-$s.txt"
    nl=$(grep -c . "$LR_DIR/listed-$s.md5")
    eval "partial=\$partial_$s"
    want=$((nl + 1))
    [ "$partial" -gt 0 ] || want=$nl
    [ "$(awk '{ print $2 }' "$LR_DIR/listed-$s.md5")" = "$(head -n "$nl" "$LR_DIR/kept-$s.txt")" ] &&
        [ "$(grep -c . "$LR_DIR/kept-$s.txt")" = "$want" ] ||
        lr_fail "$s: segments before the restart: $(tr '\n' ' ' < "$LR_DIR/kept-$s.txt"), listed at the kill: $(awk '{ print $2 }' "$LR_DIR/listed-$s.md5" | tr '\n' ' ') (and the one the kill interrupted)"
    (cd "$d/hls" && md5sum -c --quiet "$LR_DIR/listed-$s.md5") > /dev/null 2>&1 ||
        lr_fail "$s: a segment listed at the kill changed afterwards"
    set -- $(awk -F'[:,]' 'BEGIN { part = 0 } /^#EXT-X-DISCONTINUITY$/ { part = 1 } /^#EXTINF:/ { t[part] += $2 }
        END { printf "%.2f %.2f", t[0], t[1] }' "$pls")
    h1=$1 h2=$2
    hd=$(lr_duration "$pls")
    eval "listed=\$listed_$s partial=\$partial_$s"
    # (the interrupted segment adds to what was listed when some of it was on disk)
    awk -v h="$h1" -v l="$listed" -v p="$partial" 'BEGIN { exit !(p > 0 ? h > l : h == l) }' ||
        lr_fail "$s: HLS has $h1 s before the restart, $listed s were listed at the kill, $partial bytes of the interrupted segment were on disk"
    awk -v h="$h2" -v m="$d2" 'BEGIN { d = h - m; exit !(d >= -1 && d <= 1) }' ||
        lr_fail "$s: HLS has $h2 s after the restart, the MP4 $d2 s"
    awk -v d="$hd" -v a="$h1" -v b="$h2" 'BEGIN { d -= a + b; exit !(d >= -0.5 && d <= 0.5) }' ||
        lr_fail "$s: the HLS recording lasts $hd s, its playlist lists $h1 + $h2 s"
    # what the kill cost HLS: at most what was not yet written out of the muxer (the MP4 written
    # beside it by fragments of a keyframe interval is the measure)
    lost=$(awk -v m="$d1" -v l="$h1" 'BEGIN { printf "%.1f", m - l }')
    awk -v x="$lost" 'BEGIN { exit !(x <= 2.5) }' ||
        lr_fail "$s: HLS lost $lost s recorded before the kill (the MP4 left by the kill has $d1 s, HLS $h1 s)"
    # the catalog: both MP4s and the HLS recording
    for f in "$m1" "$m2" "$pls"; do
        grep -q " $f\$" "$LR_DIR/list.txt" || lr_fail "$s: $f is not in the catalog: $(cat "$LR_DIR/list.txt")"
    done
    [ "$(grep -c "example.com/live/$s " "$LR_DIR/list.txt")" = 3 ] ||
        lr_fail "$s: catalog: $(grep "example.com/live/$s " "$LR_DIR/list.txt")"
    eval "seen=\$seen_$s decided=\$decided_$s"
    lr_log "$s: again after $seen ms (its session started $decided ms after the restart); MP4 $d1 s (left by the kill) + $d2 s, gap $gap s; HLS $hd s ($h1 + $h2, 1 discontinuity; $listed s listed at the kill, the interrupted segment kept: $partial bytes of it were on disk at the kill; $lost s less than the MP4)"
done
lr_pass
