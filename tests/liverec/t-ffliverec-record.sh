#!/bin/sh
# ffliverec records one stream into every format of its template from one demux: a push through
# nginx-rtmp with two 3 s interruptions, under a template with all four formats and
# FlowContinueDuration 20 s, gives one spliced HLS recording (2 discontinuities, finalized when no
# push comes back within 20 s) and three MP4, three FLV and three AAC files (one per push), all
# readable by ffprobe with about the pushed duration. A stream bound to the exclusion template is
# not recorded at all.
. "$(dirname "$0")/lib.sh"
lr_init ffliverec-record
ffl=$LR_BUILD/ffliverec
lr_nginx_start
cat > "$LR_DIR/rec.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Template TemplateId="1" TemplateName="all">
    <FlvParam/><HlsParam/><Mp4Param/><AacParam/>
    <HlsSpecialParam FlowContinueDuration="20"/>
  </Template>
  <Template TemplateId="2" TemplateName="none"/>
  <Rule DomainName="example.com" TemplateId="1"/>
  <Rule DomainName="example.com" StreamName="private" TemplateId="2"/>
</LiveRecordConfig>
X
spool=$LR_DIR/spool
"$ffl" -hide_banner -config "$LR_DIR/rec.xml" -domain example.com -app live -stream cam \
    -i "$LR_RTMP_URL/cam" -spool "$spool" > "$LR_DIR/ffliverec.log" 2>&1 &
rec=$LR_LAST_PID
rec=$!
lr_track $rec
sleep 1
t0=$(date +%s)
lr_push_interrupted cam 6 3 6 3 6
lr_wait_pid $rec 40 || lr_fail "ffliverec did not end by itself after the splice window"
lr_log "ffliverec ended $(( $(date +%s) - t0 )) s after the first push started"

d=$spool/example.com/live/cam
[ "$(ls "$d" | tr '\n' ' ')" = "aac flv hls mp4 " ] || lr_fail "format folders: $(ls "$d")"
for f in mp4 flv aac; do
    n=$(ls "$d/$f" | grep -c "\.$f\$")
    [ "$n" = 3 ] || lr_fail "$f: $n files for 3 pushes: $(ls "$d/$f")"
    ls "$d/$f" | grep -q 'recording$' && lr_fail "$f: a working file is left: $(ls "$d/$f")"
    for file in $(ls "$d/$f"); do
        dur=$(lr_duration "$d/$f/$file")
        awk -v d="$dur" 'BEGIN { exit !(d >= 4 && d <= 7.5) }' || lr_fail "$f/$file lasts $dur s for a 6 s push"
    done
    lr_log "$f: 3 files, $(for file in $(ls "$d/$f"); do printf '%.1f s ' "$(lr_duration "$d/$f/$file")"; done)"
done
pl=$(ls "$d/hls" | grep '\.m3u8$')
[ "$(echo "$pl" | wc -l)" = 1 ] || lr_fail "hls: playlists $(ls "$d/hls")"
[ "$pl" != cam.m3u8 ] || lr_fail "the HLS recording was not finalized"
grep -q '^#EXT-X-ENDLIST' "$d/hls/$pl" || lr_fail "no ENDLIST"
disc=$(grep -c '^#EXT-X-DISCONTINUITY$' "$d/hls/$pl")
[ "$disc" = 2 ] || lr_fail "the HLS recording has $disc discontinuities for 2 interruptions"
hd=$(lr_duration "$d/hls/$pl")
awk -v d="$hd" 'BEGIN { exit !(d >= 14 && d <= 19) }' || lr_fail "the HLS recording lasts $hd s for 18 s pushed"
lr_log "hls: $pl, $hd s, $disc discontinuities"

# the exclusion template: nothing is recorded, and it says so
"$ffl" -hide_banner -config "$LR_DIR/rec.xml" -domain example.com -app live -stream private \
    -i "$LR_RTMP_URL/private" -spool "$spool" > "$LR_DIR/private.log" 2>&1 || lr_fail "ffliverec failed for an excluded stream"
grep -q "is not recorded" "$LR_DIR/private.log" || lr_fail "no 'not recorded' message"
[ -e "$spool/example.com/live/private" ] && lr_fail "files were made for an excluded stream"
lr_pass
