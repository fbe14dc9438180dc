#!/bin/sh
# ffliverec does what a cloud recording service does with one push: under a template with all four
# formats and FlowContinueDuration 20 s, a push through nginx-rtmp with two 3 s interruptions,
# demuxed once, gives one spliced HLS recording (2 discontinuities, finalized when no push comes
# back within 20 s) and three MP4, three FLV and three AAC files (one per push). All of them end up
# in the bucket (nothing left in the spool), every object read back from the bucket plays with
# about the pushed duration (ffprobe), and each is announced by exactly one callback with a valid
# signature and the right fields, the HLS one only after the splice window has run out. A stream
# bound to the exclusion template is not recorded at all, and a hostile stream name is refused
# before anything is written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init ffliverec-record
ffl=$LR_BUILD/ffliverec
lr_nginx_start
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
lr_callback_start
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"
cat > "$LR_DIR/rec.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Storage Endpoint="$LR_S3_ENDPOINT" Bucket="rec"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" RetryInterval="2" Events="100"/>
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
lr_ffliverec_bg "$LR_DIR/rec.xml" cam ffliverec.log
rec=$LR_LAST_PID
t0=$(date +%s)
lr_push_interrupted cam 6 3 6 3 6
t_last=$(date +%s)
lr_wait_pid $rec 60 || lr_fail "ffliverec did not end by itself after the splice window"
lr_log "ffliverec ended $(( $(date +%s) - t0 )) s after the first push started"
grep -q "recordings open, [0-9]* uploads and [0-9]* callbacks pending" "$LR_DIR/ffliverec.log" ||
    lr_fail "no status line with the queues"

# the bucket: 3 + 3 + 3 files and one HLS recording, every one readable with the pushed duration
objs=$(lr_s3_ls rec | sort)
back=$LR_DIR/back
for f in mp4 flv aac; do
    keys=$(echo "$objs" | grep "^example.com/live/cam/$f/cam_.*\.$f\$" || true)
    n=$(echo "$keys" | grep -c . || true)
    [ "$n" = 3 ] || lr_fail "$f: $n objects for 3 pushes: $objs"
    durs=""
    for k in $keys; do
        mkdir -p "$back/$(dirname "$k")"
        lr_s3_get rec "$k" "$back/$k" || lr_fail "cannot get $k"
        dur=$(lr_duration "$back/$k")
        awk -v d="$dur" 'BEGIN { exit !(d >= 4 && d <= 7.5) }' || lr_fail "$k lasts $dur s for a 6 s push"
        durs="$durs $(printf '%.1f' "$dur")"
    done
    [ "$f" = aac ] && [ "$(lr_streams "$back/$k")" != "audio:aac" ] && lr_fail "$k: $(lr_streams "$back/$k")"
    lr_log "$f: 3 objects,$durs s"
done
pl=$(echo "$objs" | grep '^example.com/live/cam/hls/.*\.m3u8$' || true)
[ "$(echo "$pl" | grep -c .)" = 1 ] || lr_fail "hls: playlists in the bucket: $objs"
case $pl in */cam.m3u8) lr_fail "the HLS recording was not finalized: $pl" ;; esac
for k in $(echo "$objs" | grep '^example.com/live/cam/hls/'); do
    mkdir -p "$back/$(dirname "$k")"
    lr_s3_get rec "$k" "$back/$k" || lr_fail "cannot get $k"
done
grep -q '^#EXT-X-ENDLIST' "$back/$pl" || lr_fail "no ENDLIST"
disc=$(grep -c '^#EXT-X-DISCONTINUITY$' "$back/$pl")
[ "$disc" = 2 ] || lr_fail "the HLS recording has $disc discontinuities for 2 interruptions"
nseg=$(grep -c '^[^#]' "$back/$pl")
[ "$(echo "$objs" | grep -c '^example.com/live/cam/hls/.*\.ts$')" = "$nseg" ] ||
    lr_fail "the playlist lists $nseg segments, the bucket has others: $objs"
hd=$(lr_duration "$back/$pl")
awk -v d="$hd" 'BEGIN { exit !(d >= 14 && d <= 19) }' || lr_fail "the HLS recording lasts $hd s for 18 s pushed"
lr_log "hls: $(basename "$pl"), $nseg segments, $hd s, $disc discontinuities, read back from the bucket"
left=$(find "$spool" -type f | grep -v '/cam\.m3u8\.' || true)
[ -z "$left" ] || lr_fail "files left in the spool after their upload: $left"

# one callback per object, signed, with the fields of the object; HLS after the splice window
python3 - "$LR_DIR/callbacks.jsonl" "$LR_S3_ENDPOINT" "$t_last" <<'PY' || lr_fail "the callbacks are not as specified"
import hashlib, json, sys
cbs = [json.loads(l) for l in open(sys.argv[1])]
endpoint, t_last = sys.argv[2], int(sys.argv[3])
fmts = sorted(c["body"]["file_format"] for c in cbs)
assert fmts == ["aac"] * 3 + ["flv"] * 3 + ["hls"] + ["mp4"] * 3, fmts
urls = [c["body"]["video_url"] for c in cbs]
assert len(set(urls)) == len(urls), "an object was announced twice: %s" % urls
for c in cbs:
    b = c["body"]
    assert b["event_type"] == 100 and b["app"] == "example.com" and b["appname"] == "live"
    assert b["stream_id"] == "cam" and b["task_id"] == ""
    assert b["sign"] == hashlib.md5(("k3y" + str(b["t"])).encode()).hexdigest(), "bad sign"
    assert abs(b["t"] - (c["received"] + 600)) < 30, "t is not now + 600"
    assert b["video_url"].startswith(endpoint + "/rec/example.com/live/cam/%s/" % b["file_format"])
    exp = 18 if b["file_format"] == "hls" else 6
    assert exp - 3 <= b["duration"] <= exp + 2, (b["file_format"], b["duration"])
    if b["file_format"] == "hls":
        # spliced: from the first push's start to the last one's end, the two gaps included
        span = b["end_time"] - b["start_time"]
        assert b["duration"] + 3 <= span <= b["duration"] + 10, ("hls span", span, b["duration"])
        assert abs(b["end_time"] - t_last) <= 3, ("hls end_time is not when the last push ended", b["end_time"] - t_last)
    else:
        assert abs((b["end_time"] - b["start_time"]) - b["duration"]) <= 1
    assert b["file_size"] > 0 and b["record_bps"] > 0
hls = [c for c in cbs if c["body"]["file_format"] == "hls"][0]
others = max(c["received"] for c in cbs if c is not hls)
assert hls["received"] >= t_last + 15, "HLS announced %.1f s after the last push: inside the window" % (hls["received"] - t_last)
print("HLS callback %.1f s after the last push ended, %.1f s after the last other one" %
      (hls["received"] - t_last, hls["received"] - others))
PY
for u in $(python3 -c 'import json,sys; [print(json.loads(l)["body"]["video_url"]) for l in open(sys.argv[1])]' "$LR_DIR/callbacks.jsonl"); do
    echo "$objs" | grep -qx "${u#"$LR_S3_ENDPOINT/rec/"}" || lr_fail "video_url $u is not in the bucket"
done
lr_log "10 callbacks (3 mp4, 3 flv, 3 aac, 1 hls), signed, every video_url in the bucket"

# the exclusion template: nothing is recorded, and it says so
"$ffl" -hide_banner -config "$LR_DIR/rec.xml" -domain example.com -app live -stream private \
    -i "$LR_RTMP_URL/private" -spool "$spool" -state "$LR_DIR/state" > "$LR_DIR/private.log" 2>&1 ||
    lr_fail "ffliverec failed for an excluded stream"
grep -q "is not recorded" "$LR_DIR/private.log" || lr_fail "no 'not recorded' message"
[ -e "$spool/example.com/live/private" ] && lr_fail "files were made for an excluded stream"
lr_s3_ls rec | grep -q private && lr_fail "objects were made for an excluded stream"

# a hostile stream name never reaches a path
mkdir -p "$LR_DIR/jail"
( cd "$LR_DIR/jail" && "$ffl" -hide_banner -config "$LR_DIR/rec.xml" -domain example.com -app live \
    -stream ../../etc -i "$LR_RTMP_URL/x" -spool s -state st ) > "$LR_DIR/hostile.log" 2>&1 &&
    lr_fail "-stream ../../etc was accepted"
grep -q "not a valid name" "$LR_DIR/hostile.log" || lr_fail "no clear error for -stream ../../etc: $(cat "$LR_DIR/hostile.log")"
[ -z "$(ls -A "$LR_DIR/jail")" ] || lr_fail "something was written for a refused stream: $(ls -A "$LR_DIR/jail")"
[ -e "$LR_DIR/etc" ] && lr_fail "a folder was made outside"
lr_pass
