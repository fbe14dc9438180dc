#!/bin/sh
# SIGHUP reloads ffliverec -serve's configuration without stopping it, and follows the cloud's rule
# that a configuration applies from the next push. Under a first configuration whose rule binds
# "cam" to a template without formats, a push of cam records nothing; after a new valid file and
# SIGHUP ("configuration reloaded"), the next push is recorded (MP4). A file that is not XML and a
# file with a rule naming an unknown TemplateId are each refused on SIGHUP with their FILE:LINE
# error, the service keeps running, and the configuration in force stays: the next push is still
# recorded as MP4. A reload in the middle of a recording does not change it: a 10 s push that
# started under the MP4-only configuration, with SIGHUP to an HLS-only one after a few seconds,
# still gives one whole MP4 file and no HLS; the push after it gets HLS and no MP4. A Callback that a
# reload adds (the first configuration has none) announces the files of the pushes after it, and
# after a reload that changes its Url, what is announced from then on goes to the new one. This is what lets an operator change
# rules on a live service without cutting or corrupting recordings.
. "$(dirname "$0")/lib.sh"
lr_init serve-reload
LR_SERVE_PORT=$(lr_free_port)
LR_NGINX_HOOK=http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp
lr_nginx_start
lr_callback_start
cfg=$LR_DIR/serve.xml
spool=$LR_DIR/spool
cam=$spool/example.com/live/cam

# write_config FILE TEMPLATE-BODY [RULE-TEMPLATE-ID [CALLBACK-PATH]]
write_config() {
    callback=""
    [ -z "${4:-}" ] || callback="<Callback Url=\"${LR_CALLBACK_URL%/live/record}$4\" Key=\"k\" RetryInterval=\"1\" Events=\"100\"/>"
    cat > "$1" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Origin Type="nginx-rtmp" PullUrl="rtmp://127.0.0.1:$LR_RTMP_PORT/{AppName}/{StreamName}"
          Domain="example.com"/>
  $callback
  <Template TemplateId="1" TemplateName="t">$2</Template>
  <Rule DomainName="example.com" TemplateId="${3:-1}"/>
</LiveRecordConfig>
X
}
write_config "$LR_DIR/none.xml" ""
write_config "$LR_DIR/mp4.xml" "<Mp4Param/>" 1 /first
write_config "$LR_DIR/hls.xml" '<HlsParam/><HlsSpecialParam FlowContinueDuration="2"/>' 1 /second
write_config "$LR_DIR/bad-ref.xml" "<Mp4Param/>" 9
sed 's|</Template>|</Templat>|' "$LR_DIR/mp4.xml" > "$LR_DIR/bad-xml.xml"

# use FILE as the configuration and send SIGHUP; wait for the Nth "reloaded" or "refused"
reload() { # FILE reloaded|refused N
    cp "$LR_DIR/$1" "$cfg"
    kill -HUP $LR_SERVE_PID
    case $2 in
        reloaded) lr_wait_count serve.log "configuration reloaded" $3 5 ;;
        refused) lr_wait_count serve.log "the new configuration is refused; the one in force stays" $3 5 ;;
    esac
    kill -0 $LR_SERVE_PID 2>/dev/null || lr_fail "ffliverec -serve is gone after SIGHUP with $1"
    lr_log "SIGHUP with $1: $2"
}
count() { # FOLDER EXT: finished files
    ls "$1" 2>/dev/null | grep -c "\.$2\$"
}
# A recorded push of cam ends when the session says so (the next push must not race its end).
ended() { # N
    lr_wait_count serve.log "session of example.com/live/cam ended" $1 30
}

cp "$LR_DIR/none.xml" "$cfg"
lr_serve_start "$cfg" serve.log -stats_period 0
lr_wait_log serve.log "serving .*1 origin" 5

# 1. a template without formats: the push is seen, nothing is recorded
lr_push cam 4
lr_wait_count serve.log "example.com/live/cam: the push ended" 1 5
grep -q "example.com/live/cam is live (hook); no rule or task records it" "$LR_DIR/serve.log" ||
    lr_fail "no 'no rule or task records it' for the first push"
[ -e "$cam" ] && lr_fail "something was recorded under the first configuration: $(find "$cam")"
lr_log "push 1: not recorded"

# 2. a valid new configuration applies from the next push
reload mp4.xml reloaded 1
lr_push cam 4
ended 1
[ "$(count "$cam/mp4" mp4)" = 1 ] || lr_fail "push 2: MP4 files: $(ls "$cam/mp4" 2>&1)"
lr_wait_log callbacks.jsonl '"path": "/first".*"file_format": "mp4"' 10
lr_log "push 2: recorded ($(ls "$cam/mp4")), announced by the Callback the reload added"

# 3. invalid files are refused with FILE:LINE, the one in force stays
xline=$(grep -n '</Templat>' "$LR_DIR/bad-xml.xml" | cut -d: -f1)
reload bad-xml.xml refused 1
grep -q "^$cfg:$xline: .*mismatch" "$LR_DIR/serve.log" ||
    lr_fail "no FILE:LINE error for the XML error: $(tail -n 5 "$LR_DIR/serve.log")"
line=$(grep -n '<Rule ' "$LR_DIR/bad-ref.xml" | cut -d: -f1)
reload bad-ref.xml refused 2
grep -q "^$cfg:$line: .*unknown TemplateId 9" "$LR_DIR/serve.log" ||
    lr_fail "no '$cfg:$line: ... unknown TemplateId 9': $(tail -n 5 "$LR_DIR/serve.log")"
[ "$(grep -c "configuration reloaded" "$LR_DIR/serve.log")" = 1 ] || lr_fail "an invalid file was loaded"
lr_push cam 4
ended 2
[ "$(count "$cam/mp4" mp4)" = 2 ] || lr_fail "push 3 (after the refused files): MP4 files: $(ls "$cam/mp4" 2>&1)"
lr_log "push 3: still recorded as MP4 after two refused files"

# 4. a running recording keeps the configuration it started with
cp "$LR_DIR/mp4.xml" "$cfg"
lr_push_bg cam 10
p4=$LR_LAST_PID
lr_wait_count serve.log "recording mp4 into $cam/mp4/" 3 10
sleep 3
reload hls.xml reloaded 2
wait $p4 || lr_fail "push 4 failed (see push-cam.log)"
ended 3
[ "$(count "$cam/mp4" mp4)" = 3 ] || lr_fail "push 4: MP4 files: $(ls "$cam/mp4" 2>&1)"
[ "$(count "$cam/hls" m3u8)" = 0 ] || lr_fail "push 4 made HLS though it started under the MP4 configuration: $(ls "$cam/hls")"
last=$(ls "$cam/mp4" | grep '\.mp4$' | sort | tail -n 1)
dur=$(lr_duration "$cam/mp4/$last")
awk -v d="$dur" 'BEGIN { exit !(d >= 7 && d <= 11) }' || lr_fail "push 4: $last lasts $dur s for a 10 s push"
lr_log "push 4: one MP4 of $dur s, no HLS, across the reload"

# 5. the next push gets the new configuration
lr_push cam 4
ended 4
[ "$(count "$cam/mp4" mp4)" = 3 ] || lr_fail "push 5 made MP4 under the HLS configuration: $(ls "$cam/mp4")"
pl=$(ls "$cam/hls" | grep '^cam_.*\.m3u8$') || lr_fail "push 5: no finalized HLS playlist: $(ls "$cam/hls" 2>&1)"
grep -q '^#EXT-X-ENDLIST' "$cam/hls/$pl" || lr_fail "push 5: no ENDLIST in $pl"
hd=$(lr_duration "$cam/hls/$pl")
awk -v d="$hd" 'BEGIN { exit !(d >= 2.5 && d <= 4.5) }' || lr_fail "push 5: $pl lasts $hd s for a 4 s push"
lr_wait_log callbacks.jsonl '"path": "/second".*"file_format": "hls"' 10
# a callback goes to the Url in force when it is sent: pushes 2 and 3 to the first, push 4's MP4
# (finished after the reload) and push 5's HLS to the second
sleep 1
[ "$(grep -c '"path": "/first"' "$LR_DIR/callbacks.jsonl")" = 2 ] &&
    [ "$(grep -c '"path": "/second"' "$LR_DIR/callbacks.jsonl")" = 2 ] ||
    lr_fail "callbacks: $(grep -c '"path": "/first"' "$LR_DIR/callbacks.jsonl") at the first Url (2 expected), $(grep -c '"path": "/second"' "$LR_DIR/callbacks.jsonl") at the second (2 expected)"
lr_log "push 5: HLS $pl of $hd s, no MP4, announced at the Callback Url of the new configuration"

kill -TERM $LR_SERVE_PID
lr_wait_pid $LR_SERVE_PID 10 || lr_fail "ffliverec -serve did not exit with 0 within 10 s of SIGTERM"
lr_pass
