#!/bin/sh
# ffliverec -serve records an nginx-rtmp push from its first frame. nginx-rtmp keeps no GOP for a
# player that joins late (and this test's nginx has wait_key on, as many do), so a pull started
# by the publish hook would begin at the push's second keyframe. The service therefore holds its
# answer to the hook (nginx holds the publisher meanwhile) until the pull has subscribed, at most
# -hook_hold. Three services in turn, each on the same nginx:
#   a: PullUrl right: the MP4 holds every video frame pushed (6 s at 25 fps: 150, the first a
#      keyframe at 0), and plays every audio sample it holds (the last one is not cut by the edit
#      list), and the answer came once the recording subscribed, well within the limit;
#   b: PullUrl to a closed port: the answer comes as soon as the pull fails, not after the limit;
#   c: PullUrl to a port that accepts and never answers, -hook_hold 0.5: the publisher is let go
#      after 0.5 s, with a warning naming the stream.
# Each hold is counted by how it ended in liverec_publish_holds_total at /metrics.
. "$(dirname "$0")/lib.sh"
lr_init serve-first-frame
token=t0ken-for-hooks
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK="http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp?token=$token"
lr_nginx_start
spool=$LR_DIR/spool

config() { # PULL_URL -> serve.xml
    cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="$1" Domain="example.com"/>
  <Service MaxSessions="4" HookToken="$token"/>
  <Template TemplateId="1" TemplateName="mp4"><Mp4Param/></Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
}
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a < b) }'; }
# a service on serve.xml logging into LOG (with OPTIONS), and one push of STREAM for SECONDS:
# serve_push LOG STREAM SECONDS [OPTIONS...]
serve_push() {
    _log=$1 _stream=$2 _secs=$3
    shift 3
    lr_serve_start "$LR_DIR/serve.xml" "$_log" -loglevel verbose "$@"
    lr_wait_log "$_log" "serving " 10
    lr_push "$_stream" "$_secs"
}
# the service's count of held publish hooks that ended so (subscribed, failed, timeout)
holds() { curl -sf "$LR_SERVE_URL/metrics" | sed -n "s/^liverec_publish_holds_total{end=\"$1\"} //p"; }
# the seconds after which the hook of STREAM was answered, from LOG
answered() {
    sed -n "s|.*example.com/live/$2: publish hook answered after \([0-9.]*\) s.*|\1|p" "$LR_DIR/$1" | head -n 1
}

# a: the whole push
config "rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}"
serve_push serve-a.log a 6
lr_wait_log serve-a.log "session of example.com/live/a ended" 20
[ "$(holds subscribed) $(holds failed) $(holds timeout)" = "1 0 0" ] ||
    lr_fail "a: holds subscribed/failed/timeout: $(holds subscribed) $(holds failed) $(holds timeout)"
lr_stop "$LR_SERVE_PID"
grep -q "example.com/live/a: publish hook answered after .* (the recording subscribed)" "$LR_DIR/serve-a.log" ||
    lr_fail "a: the hook was not answered on the recording's subscription: $(grep 'hook' "$LR_DIR/serve-a.log")"
t=$(answered serve-a.log a)
below "$t" 1.5 || lr_fail "a: the hook was answered after $t s"
mp4=$(ls "$spool"/example.com/live/a/mp4/*.mp4)
[ "$(echo "$mp4" | grep -c .)" = 1 ] || lr_fail "a: MP4 files: $mp4"
frames=$("$LR_FFPROBE" -v error -select_streams v -count_packets -show_entries stream=nb_read_packets \
         -of csv=p=0 "$mp4")
first=$("$LR_FFPROBE" -v error -select_streams v -show_entries packet=pts_time,flags -of csv=p=0 \
        -read_intervals "%+#1" "$mp4")
# every audio sample the MP4 holds is played: its last one has a duration, so the edit list
# does not leave it out
set -- $("$LR_FFPROBE" -v error -select_streams a -count_packets \
         -show_entries stream=nb_frames,nb_read_packets -of csv=p=0 "$mp4" | tr ',' ' ')
lr_log "a: hook answered after $t s; $frames video frames recorded of 150 pushed, the first: $first; audio: $2 of the $1 samples played"
[ "$frames" = 150 ] || lr_fail "a: $frames video frames recorded, 150 pushed"
[ "$1" -ge 258 ] && [ "$1" = "$2" ] || lr_fail "a: $2 audio packets read of the $1 in the MP4 (6 s: 259)"
case "$first" in
    0.000000,K*) ;;
    *) lr_fail "a: the first video frame is $first, not a keyframe at 0" ;;
esac

# b: the pull cannot connect: answered at its failure
config "rtmp://127.0.0.1:$(lr_free_port)/{AppName}/{StreamName}"
serve_push serve-b.log b 2
[ "$(holds failed)" = 1 ] || lr_fail "b: $(holds failed) holds ended by a failure, not 1"
lr_stop "$LR_SERVE_PID"
grep -q "example.com/live/b: publish hook answered after .* (the recording could not subscribe)" "$LR_DIR/serve-b.log" ||
    lr_fail "b: the hook was not answered on the failure: $(grep 'hook' "$LR_DIR/serve-b.log")"
t=$(answered serve-b.log b)
lr_log "b: hook answered after $t s"
below "$t" 1 || lr_fail "b: the hook was answered after $t s, not at the pull's failure"

# c: the pull connects but is never answered: the limit lets the publisher go
mute=$(lr_free_port)
python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:
    held.append(s.accept()[0])
' "$mute" &
lr_track $!
lr_wait_port "$mute" 10 || lr_fail "the mute listener did not start"
config "rtmp://127.0.0.1:$mute/{AppName}/{StreamName}"
serve_push serve-c.log c 2 -hook_hold 0.5
[ "$(holds timeout)" = 1 ] || lr_fail "c: $(holds timeout) holds ran out, not 1"
lr_stop "$LR_SERVE_PID"
grep -q "example.com/live/c: the publisher is let go before the recording could subscribe (0\.5 s)" "$LR_DIR/serve-c.log" ||
    lr_fail "c: no warning at the limit: $(grep 'hook\|publisher' "$LR_DIR/serve-c.log")"
lr_pass
