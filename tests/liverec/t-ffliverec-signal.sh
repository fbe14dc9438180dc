#!/bin/sh
# SIGTERM and SIGINT end a recording cleanly, at once, in the middle of a push: the MP4 file is
# finalized (no working file left, moov first, about the recorded duration) and the HLS recording
# is finalized too (VOD playlist under its final name) instead of waiting for the splice window;
# both are in the catalog and ffliverec exits with status 0.
. "$(dirname "$0")/lib.sh"
lr_init ffliverec-signal
ffl=$LR_BUILD/ffliverec
lr_nginx_start
cat > "$LR_DIR/sig.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Template TemplateId="1" TemplateName="t">
    <HlsParam/><Mp4Param/>
    <HlsSpecialParam FlowContinueDuration="600"/>
  </Template>
  <Rule DomainName="" TemplateId="1"/>
</LiveRecordConfig>
X
for sig in TERM INT; do
    s=cam$sig
    lr_ffliverec_bg "$LR_DIR/sig.xml" $s rec-$sig.log
    r=$LR_LAST_PID
    lr_push_bg $s 30
    sleep 7
    t=$(date +%s.%N)
    kill -$sig $r
    lr_wait_pid $r 10
    st=$?
    took=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    [ $st = 0 ] || lr_fail "SIG$sig: exit status $st (see rec-$sig.log)"
    lr_stop $LR_LAST_PID
    d=$LR_DIR/spool/example.com/live/$s
    ls "$d/mp4" | grep -q 'recording$' && lr_fail "SIG$sig: a working MP4 is left: $(ls "$d/mp4")"
    f=$(ls "$d/mp4" | grep '\.mp4$') || lr_fail "SIG$sig: no MP4: $(ls "$d/mp4")"
    dur=$(lr_duration "$d/mp4/$f")
    awk -v d="$dur" 'BEGIN { exit !(d >= 4 && d <= 8) }' || lr_fail "SIG$sig: the MP4 lasts $dur s for about 6 s recorded"
    pl=$(ls "$d/hls" | grep "^${s}_.*\.m3u8\$") || lr_fail "SIG$sig: the HLS recording was not finalized: $(ls "$d/hls")"
    grep -q '^#EXT-X-ENDLIST' "$d/hls/$pl" || lr_fail "SIG$sig: no ENDLIST in $pl"
    "$ffl" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list.txt"
    [ "$(grep -c "/$s .* local " "$LR_DIR/list.txt")" = 2 ] || lr_fail "SIG$sig: catalog: $(cat "$LR_DIR/list.txt")"
    lr_log "SIG$sig: exited 0 after $took s; MP4 of $dur s and HLS $pl finalized"
done
lr_pass
