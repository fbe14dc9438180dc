#!/bin/sh
# ffliverec -serve records every push an origin announces, with no hand involved: nginx-rtmp's
# on_publish / on_publish_done point at the service (with its HookToken), and three streams are
# pushed at once under one rule (HLS + MP4, FlowContinueDuration 8 s): "a" once for 10 s, "b"
# three times for 5 s with two 3 s interruptions, and "private", bound to a template without any
# format. Exactly a and b are recorded: b's three pushes are one HLS recording spliced behind two
# discontinuities plus three MP4 files, a has one of each, all with about the pushed duration, and
# nothing is written for private. Every event reaches the callback receiver signed (md5(Key + t)),
# in an order a listener can rely on: per push a push event (1) before its interruption (0) with
# the same sequence; per recording record_start_succeeded, then record_paused / record_resumed in
# pairs across b's interruptions, then record_ended; one file event (100) per file. The end hook
# is the interruption: record_paused follows it within about a second (not after the pull's own
# timeout), and the 8 s splice window is counted from there. An excluded push is still announced
# (1 and 0: the recorder reports pushes, it does not decide what is recorded), but gets no
# recording event. SIGTERM then stops the service with status 0 within 10 s, and the catalog
# lists every file.
. "$(dirname "$0")/lib.sh"
lr_init serve-nginx
ffl=$LR_BUILD/ffliverec
token=t0ken-for-hooks
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK="http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp?token=$token"
LR_NGINX_STAT=1
lr_nginx_start
lr_callback_start
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}"
          StatusUrl="$LR_NGINX_STAT_URL" Domain="example.com"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" RetryInterval="2"/>
  <Service MaxSessions="10" HookToken="$token"/>
  <Template TemplateId="1" TemplateName="all">
    <HlsParam/><Mp4Param/>
    <HlsSpecialParam FlowContinueDuration="8"/>
  </Template>
  <Template TemplateId="2" TemplateName="none"/>
  <Rule DomainName="example.com" TemplateId="1"/>
  <Rule DomainName="example.com" StreamName="private" TemplateId="2"/>
</LiveRecordConfig>
X
lr_serve_start "$LR_DIR/serve.xml" serve.log -stats_period 5
lr_wait_log serve.log "serving .*1 origin" 5

# one push of b in the background (each a tracked PID, so that a failing test stops it)
push_b() {
    lr_log "push b #$1 for 5 s"
    lr_push_cmd b 5 "$LR_DIR/push-b-$1.log" &
    pb=$!
    lr_track $pb
}

# the three streams at once (a with a query argument of its own); b's interruptions are driven
# from here
lr_log "push a?pk=42 for 10 s (background)"
lr_push_cmd "a?pk=42" 10 "$LR_DIR/push-a.log" &
pa=$!
lr_track $pa
lr_push_bg private 8
pp=$LR_LAST_PID
t0=$(date +%s)
for n in 1 2 3; do
    push_b $n
    wait $pb || lr_fail "push b #$n failed (see push-b-$n.log)"
    [ $n = 3 ] || { lr_log "interruption of 3 s"; sleep 3; }
done
wait $pa || lr_fail "push of a failed (see push-a.log)"
wait $pp || lr_fail "push of private failed (see push-private.log)"
lr_log "pushes done after $(( $(date +%s) - t0 )) s"

# both sessions end once no push came back within 8 s; their last events are delivered
lr_wait_count serve.log "session of example.com/live/a ended" 1 40
lr_wait_count serve.log "session of example.com/live/b ended" 1 40
lr_log "sessions ended $(( $(date +%s) - t0 )) s after the pushes started"
# both record_ended events delivered, and the final HLS files' events (queued just before them)
lr_wait_count callbacks.jsonl '"record_ended"' 2 10
lr_wait_count callbacks.jsonl '"file_format": "hls"' 2 10
grep -q "no rule or task records it" "$LR_DIR/serve.log" || lr_fail "no log line for the excluded push"
grep "example.com/live/private" "$LR_DIR/serve.log" | grep -q "recording starts" &&
    lr_fail "a session was started for the excluded stream"

# the spool: a and b only
spool=$LR_DIR/spool
[ "$(ls "$spool/example.com/live" | tr '\n' ' ')" = "a b " ] ||
    lr_fail "recorded streams: $(ls "$spool/example.com/live" | tr '\n' ' ') (expected a and b)"
left=$(find "$spool" -name '*.recording')
[ -z "$left" ] || lr_fail "working files left: $left"
for s in a b; do
    d=$spool/example.com/live/$s
    np=$([ $s = a ] && echo 1 || echo 3)
    mp4s=$(ls "$d/mp4" | grep '\.mp4$' || true)
    [ "$(echo "$mp4s" | grep -c .)" = $np ] || lr_fail "$s: $(echo $mp4s) for $np pushes"
    durs=""
    for f in $mp4s; do
        dur=$(lr_duration "$d/mp4/$f")
        if [ $s = a ]; then lo=7 hi=11; else lo=2.5 hi=6; fi
        awk -v d="$dur" -v lo=$lo -v hi=$hi 'BEGIN { exit !(d >= lo && d <= hi) }' ||
            lr_fail "$s: $f lasts $dur s (pushed $([ $s = a ] && echo 10 || echo 5) s)"
        [ "$(lr_streams "$d/mp4/$f" | tr ' ' '\n' | sort | tr '\n' ' ')" = "audio:aac video:h264 " ] ||
            lr_fail "$f: $(lr_streams "$d/mp4/$f")"
        durs="$durs $(printf '%.1f' "$dur")"
    done
    pl=$(ls "$d/hls" | grep '\.m3u8$' || true)
    [ "$(echo "$pl" | grep -c .)" = 1 ] || lr_fail "$s: HLS playlists: $(echo $pl)"
    case $pl in "$s".m3u8) lr_fail "$s: the HLS recording was not finalized: $pl" ;; "$s"_*) ;;
        *) lr_fail "$s: unexpected playlist name $pl" ;; esac
    grep -q '^#EXT-X-ENDLIST' "$d/hls/$pl" || lr_fail "$s: no ENDLIST in $pl"
    disc=$(grep -c '^#EXT-X-DISCONTINUITY$' "$d/hls/$pl")
    [ "$disc" = $((np - 1)) ] || lr_fail "$s: $pl has $disc discontinuities for $((np - 1)) interruptions"
    hd=$(lr_duration "$d/hls/$pl")
    if [ $s = a ]; then lo=7 hi=11; else lo=9.5 hi=16.5; fi
    awk -v d="$hd" -v lo=$lo -v hi=$hi 'BEGIN { exit !(d >= lo && d <= hi) }' ||
        lr_fail "$s: the HLS recording lasts $hd s for $([ $s = a ] && echo 10 || echo 15) s pushed"
    for seg in $(grep '^[^#]' "$d/hls/$pl"); do
        [ -s "$d/hls/$seg" ] || lr_fail "$s: $pl lists $seg, which is missing"
    done
    lr_log "$s: mp4$durs s; hls $pl, $hd s, $disc discontinuities"
done

# the events: signed, in order, one file event per file
python3 - "$LR_DIR/callbacks.jsonl" "$spool" <<'PY' || lr_fail "the events are not as specified"
import hashlib, json, os, sys
cbs = [json.loads(l) for l in open(sys.argv[1])]
spool = sys.argv[2]
for c in cbs:
    b = c["body"]
    assert c["content_type"] == "application/json", c["content_type"]
    assert b["sign"] == hashlib.md5(("k3y" + str(b["t"])).encode()).hexdigest(), "bad sign: %s" % b
    assert abs(b["t"] - (c["received"] + 600)) < 30, "t is not now + 600: %s" % b
    assert b["app"] == "example.com" and b["appname"] == "live", b
    assert b["stream_id"] in ("a", "b", "private") and b["channel_id"] == b["stream_id"], b
pushes = {"a": 1, "b": 3, "private": 1}
status = {
    "a": ["record_start_succeeded", "record_paused", "record_ended"],
    "b": ["record_start_succeeded", "record_paused", "record_resumed", "record_paused",
          "record_resumed", "record_paused", "record_ended"],
    "private": [],
}
files = {"a": ["hls", "mp4"], "b": ["hls", "mp4", "mp4", "mp4"], "private": []}
for s in ("a", "b", "private"):
    ev = [c["body"] for c in cbs if c["body"]["stream_id"] == s]
    seq = [(b["event_type"], b.get("record_event") or b.get("file_format") or b.get("sequence")) for b in ev]
    # push (1) and interruption (0): alternating, paired by sequence, one pair per push
    pe = [b for b in ev if b["event_type"] in (0, 1)]
    assert [b["event_type"] for b in pe] == [1, 0] * pushes[s], (s, seq)
    for i in range(0, len(pe), 2):
        assert pe[i]["sequence"] == pe[i + 1]["sequence"], (s, "sequence", seq)
        assert 2000 <= pe[i + 1]["push_duration"] <= 13000, (s, pe[i + 1])
        for b in pe[i:i + 2]:
            assert b["errcode"] == 0 and b["user_ip"] == "127.0.0.1", b
            assert b["stream_param"] == ("pk=42" if s == "a" else ""), b
    assert len(set(b["sequence"] for b in pe)) == pushes[s], (s, "sequences not distinct", seq)
    # recording status: exactly the expected story, each detail a JSON document in a string
    st = [b for b in ev if b["event_type"] == 332]
    assert [b["record_event"] for b in st] == status[s], (s, seq)
    for b in st:
        assert isinstance(json.loads(b["record_detail"]), dict), b
    # files: one event per file, with the spool's durations
    fe = [b for b in ev if b["event_type"] == 100]
    assert sorted(b["file_format"] for b in fe) == files[s], (s, seq)
    assert len(set(b["record_file_id"] for b in fe)) == len(fe), (s, "a file announced twice")
    for b in fe:
        exp = {("a", "hls"): 10, ("a", "mp4"): 10, ("b", "hls"): 15, ("b", "mp4"): 5}[(s, b["file_format"])]
        assert exp - 4 <= b["duration"] <= exp + 1, (s, b["file_format"], b["duration"])
        assert b["file_size"] > 0 and b["task_id"] == "", b
    assert len(ev) == len(pe) + len(st) + len(fe), (s, "unexpected event types", seq)
    if not ev:
        continue
    # the order across kinds: push k's event 1 comes before the recording starts / resumes for it,
    # every file of a push after that push started, the final HLS after the last pause
    order = [(b["event_type"], b.get("record_event")) for b in ev]
    idx = lambda pred, n=0: [i for i, b in enumerate(ev) if pred(b)][n]
    if status[s]:
        assert idx(lambda b: b["event_type"] == 1) < idx(lambda b: b.get("record_event") == "record_start_succeeded"), seq
        for k in range(1, pushes[s]):
            assert idx(lambda b: b["event_type"] == 1, k) < idx(lambda b: b.get("record_event") == "record_resumed", k - 1), seq
        assert idx(lambda b: b["event_type"] == 0, pushes[s] - 1) < idx(lambda b: b.get("record_event") == "record_ended"), seq
        hls = idx(lambda b: b.get("file_format") == "hls")
        assert hls > idx(lambda b: b.get("record_event") == "record_paused", pushes[s] - 1), seq
        assert idx(lambda b: b.get("record_event") == "record_start_succeeded") < min(
            i for i, b in enumerate(ev) if b["event_type"] == 100), seq
    rec = [c["received"] for c in cbs if c["body"]["stream_id"] == s]
    if status[s]:
        # the end hook is the interruption: the session pauses about a second (of quiet) after
        # it, not after its pull's rw_timeout, and the splice window (8 s) is counted from there
        # (the last attempt to pull may outlast it by up to rw_timeout, 3 s)
        end = rec[idx(lambda b: b["event_type"] == 0, pushes[s] - 1)]
        paused = rec[idx(lambda b: b.get("record_event") == "record_paused", pushes[s] - 1)] - end
        ended = rec[idx(lambda b: b.get("record_event") == "record_ended")] - end
        print("%s: record_paused %.1f s after the last push event 0, record_ended %.1f s after it" % (
            s, paused, ended))
        assert -0.5 <= paused <= 3, (s, "record_paused %.1f s after the push ended" % paused)
        assert 8 <= ended <= 14.5, (s, "record_ended %.1f s after the push ended (window 8 s)" % ended)
    print("%s: %s" % (s, " ".join("%d%s" % (t, ":" + str(e) if t in (332, 100) else "") for t, e in seq)))
PY
lr_log "events: $(wc -l < "$LR_DIR/callbacks.jsonl") delivered, signed, in order"

# SIGTERM: status 0 within 10 s, every file in the catalog
kill -TERM $LR_SERVE_PID
lr_wait_pid $LR_SERVE_PID 10
st=$?
[ $st = 0 ] || lr_fail "ffliverec -serve: exit status $st after SIGTERM (124: still running after 10 s)"
grep -q "SIGTERM: stopping" "$LR_DIR/serve.log" || lr_fail "no 'SIGTERM: stopping' in serve.log"
"$ffl" -hide_banner -list -state "$LR_DIR/state" > "$LR_DIR/list.txt" 2>&1 || lr_fail "ffliverec -list failed"
for f in $(find "$spool" -name '*.mp4' -o -name '*_*.m3u8'); do
    grep -qF " $f" "$LR_DIR/list.txt" || lr_fail "$f is not in the catalog: $(cat "$LR_DIR/list.txt")"
done
grep -q '^6 recordings$' "$LR_DIR/list.txt" || lr_fail "the catalog: $(cat "$LR_DIR/list.txt")"
grep -q 'live/private' "$LR_DIR/list.txt" && lr_fail "the catalog lists the excluded stream"
lr_log "SIGTERM: exited 0; the catalog lists the 6 files"
lr_pass
