#!/bin/sh
# ffliverec announces every finished file with one signed callback after its upload is confirmed:
# a push with one 2 s interruption (MP4 + HLS, FlowContinueDuration 4 s) gives two MP4 callbacks
# and one HLS callback, the HLS one only at the end (after the splice window). Each has the
# cloud's fields, video_url of the uploaded object, t = now + 600 and sign = md5(Key + t). The
# receiver down at first (nothing listens), then failing (HTTP 500), then answering, still gets
# each callback exactly once. The recording status events (332) come through the same queue, in
# order: start, paused at the interruption, resumed, paused when the last push ends, ended.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init ffliverec-callback
lr_nginx_start
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
cb_port=$(lr_free_port)
LR_CALLBACK_URL=http://127.0.0.1:$cb_port/live/record
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"
cat > "$LR_DIR/cb.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Storage Endpoint="$LR_S3_ENDPOINT" Bucket="rec"/>
  <Callback Url="$LR_CALLBACK_URL" Key="s3cr3t-key" MaxAttempts="20" RetryInterval="2"/>
  <Template TemplateId="1" TemplateName="mp4-hls">
    <HlsParam/><Mp4Param/>
    <HlsSpecialParam FlowContinueDuration="4"/>
  </Template>
  <Rule DomainName="example.com" AppName="live" TemplateId="1"/>
</LiveRecordConfig>
X
lr_ffliverec_bg "$LR_DIR/cb.xml" cam ffliverec.log
rec=$LR_LAST_PID
lr_push_interrupted cam 5 2 5
lr_wait_log ffliverec.log ": Couldn.t connect" 20
touch "$LR_DIR/callback.fail"
lr_callback_start "$cb_port"
lr_wait_log ffliverec.log ": not a 2xx answer" 20
sleep 2
[ -s "$LR_DIR/callbacks.jsonl" ] && lr_fail "callbacks recorded while the receiver failed"
rm -f "$LR_DIR/callback.fail"
lr_wait_pid $rec 60 || lr_fail "ffliverec did not end after delivering its callbacks"

python3 - "$LR_DIR/callbacks.jsonl" "$LR_S3_ENDPOINT" <<'PY' || lr_fail "the callbacks are not as specified"
import hashlib, json, sys
everything = [json.loads(l) for l in open(sys.argv[1])]
cbs = [c for c in everything if c["body"]["event_type"] == 100]
endpoint = sys.argv[2]
status = [c["body"] for c in everything if c["body"]["event_type"] == 332]
# the last push ends (paused), nothing comes back (ended)
assert [b["record_event"] for b in status] == ["record_start_succeeded", "record_paused",
    "record_resumed", "record_paused", "record_ended"], [b["record_event"] for b in status]
for b in status:
    assert b["sign"] == hashlib.md5(("s3cr3t-key" + str(b["t"])).encode()).hexdigest(), "bad sign"
    assert b["stream_id"] == "cam" and b["app"] == "example.com" and json.loads(b["record_detail"])
assert len(everything) == len(cbs) + len(status), "other events: %s" % everything
fmts = sorted(c["body"]["file_format"] for c in cbs)
assert fmts == ["hls", "mp4", "mp4"], fmts
ids = [c["body"]["record_file_id"] for c in cbs]
assert len(set(ids)) == len(ids), "a file was announced twice: %s" % ids
for c in cbs:
    b = c["body"]
    assert c["content_type"] == "application/json", c["content_type"]
    assert b["event_type"] == 100 and b["app"] == "example.com" and b["appname"] == "live"
    assert b["stream_id"] == "cam" and b["channel_id"] == "cam" and b["task_id"] == ""
    assert b["sign"] == hashlib.md5(("s3cr3t-key" + str(b["t"])).encode()).hexdigest(), "bad sign"
    assert abs(b["t"] - (c["received"] + 600)) < 30, "t is not now + 600"
    assert b["video_url"].startswith(endpoint + "/rec/example.com/live/cam/" + b["file_format"] + "/"), b["video_url"]
    assert b["file_size"] > 0 and b["end_time"] >= b["start_time"] > 1700000000
    for k in ("start_time_usec", "end_time_usec", "duration", "media_start_time", "record_bps",
              "file_id", "stream_param"):
        assert k in b, k
    exp = 10 if b["file_format"] == "hls" else 5
    assert exp - 2 <= b["duration"] <= exp + 2, (b["file_format"], b["duration"])
    print(b["file_format"], b["duration"], "s", b["file_size"], "bytes", b["video_url"])
hls = [c for c in cbs if c["body"]["file_format"] == "hls"][0]
assert hls["received"] >= max(c["received"] for c in cbs if c["body"]["file_format"] == "mp4") - 5
PY
for u in $(python3 -c 'import json,sys; [print(json.loads(l)["body"]["video_url"]) for l in open(sys.argv[1]) if json.loads(l)["body"]["event_type"] == 100]' "$LR_DIR/callbacks.jsonl"); do
    key=${u#"$LR_S3_ENDPOINT/rec/"}
    lr_s3_get rec "$key" "$LR_DIR/obj" || lr_fail "video_url $u is not in the bucket"
done
lr_log "3 callbacks (2 mp4, 1 hls), signed, each once after the receiver came back; every video_url is in the bucket"
lr_log "delays from confirmation to delivery: $(grep -o 'delivered ([0-9.]* s' "$LR_DIR/ffliverec.log" | tr '\n' ' ')"
lr_pass
