#!/bin/sh
# ffliverec -serve says when it does not keep up with a push. The service is stopped (SIGSTOP) for
# 5 s in the middle of a 16 s push from nginx-rtmp, as a machine too busy to run it would: what
# nginx-rtmp sent meanwhile waits in the sockets and in nginx's queue, and is read late once the
# service runs again. Expected: a warning that the push is read late, a record_error event for it
# at the callback receiver, liverec_pushes_behind_total 1 at /metrics, then "read in time again";
# and a push read in time (before) raises nothing. The recording goes on and is finalized.
. "$(dirname "$0")/lib.sh"
lr_init serve-behind
token=t0ken-for-hooks
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK="http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp?token=$token"
lr_nginx_start
lr_callback_start
cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}" Domain="example.com"/>
  <Callback Url="$LR_CALLBACK_URL" Key="k3y" RetryInterval="1"/>
  <Service MaxSessions="4" HookToken="$token"/>
  <Template TemplateId="1" TemplateName="mp4"><Mp4Param/></Template>
  <Rule DomainName="example.com" TemplateId="1"/>
</LiveRecordConfig>
X
lr_serve_start "$LR_DIR/serve.xml" serve.log
lr_wait_log serve.log "serving " 10

lr_push_bg cam 16
push=$LR_LAST_PID
lr_wait_log serve.log "recording mp4 into" 10
sleep 4
metrics() { curl -sf "$LR_SERVE_URL/metrics" | sed -n "s/^$1 //p"; }
[ "$(metrics liverec_pushes_behind_total)" = 0 ] || lr_fail "behind before anything was late"
grep -q "read .* later than it comes" "$LR_DIR/serve.log" && lr_fail "a push read in time was said to be late"
lr_log "SIGSTOP for 5 s"
kill -STOP "$LR_SERVE_PID"
sleep 5
kill -CONT "$LR_SERVE_PID"
lr_wait_log serve.log "the push is read .* s later than it comes: the machine does not keep up" 5
lr_wait_log serve.log "the push is read in time again" 10
lr_log "$(grep -o 'the push is read [0-9.]* s later than it comes' "$LR_DIR/serve.log")"
[ "$(metrics liverec_pushes_behind_total)" = 1 ] ||
    lr_fail "liverec_pushes_behind_total is $(metrics liverec_pushes_behind_total), not 1"
wait $push || lr_fail "the push failed (see push-cam.log)"
lr_wait_log serve.log "session of example.com/live/cam ended" 20
lr_wait_log callbacks.jsonl '"record_ended"' 10
python3 - "$LR_DIR/callbacks.jsonl" <<'PY' || lr_fail "no record_error event for the late reading (see callbacks.jsonl)"
import json, sys
errors = [json.loads(json.loads(l)["body"]["record_detail"])["message"]
          for l in open(sys.argv[1]) if json.loads(l)["body"].get("record_event") == "record_error"]
print(errors, file=sys.stderr)
assert len(errors) >= 1 and "later than it comes" in errors[0], errors
PY
mp4=$(ls "$LR_DIR"/spool/example.com/live/cam/mp4/*.mp4)
d=$(lr_duration "$mp4")
lr_log "recorded: $(basename "$mp4"), $d s"
awk -v d="$d" 'BEGIN { exit !(d > 10) }' || lr_fail "the recording lasts $d s of a 16 s push"
lr_pass
