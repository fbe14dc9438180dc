# liverec integration harness (DESIGN.md section 4). Sourced by every tests/liverec/t-*.sh.
#
# Gives each test its own folder, a real RTMP origin (Debian's nginx + libnginx-mod-rtmp) on
# 127.0.0.1 on a free port, a synthetic H.264+AAC push made by the built ffmpeg (optionally with
# interruptions), a puller, and ffprobe helpers. Every process a test starts is recorded and stopped
# by its PID when the test ends, also when it fails or is interrupted.
#
#   . "$(dirname "$0")/lib.sh"
#   lr_init my-test            # folder $LR_DIR, traps
#   lr_nginx_start             # origin at rtmp://127.0.0.1:$LR_RTMP_PORT/live
#   lr_pull name out.flv       # background; PID in $LR_LAST_PID
#   lr_push name 10            # foreground push of 10 s
#   lr_pass / lr_fail "why"

LR_TOP=${LR_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
LR_BUILD=${LR_BUILD:-$LR_TOP/build}
LR_FFMPEG=$LR_BUILD/ffmpeg
LR_FFPROBE=$LR_BUILD/ffprobe
LR_NGINX=${LR_NGINX:-/usr/sbin/nginx}
LR_RTMP_MODULE=${LR_RTMP_MODULE:-/usr/lib/nginx/modules/ngx_rtmp_module.so}
LR_PIDS=""
LR_NAME=""
LR_DIR=""
LR_LAST_PID=""

lr_log() { echo "[$LR_NAME] $*" >&2; }

lr_fail() {
    lr_log "FAIL: $*"
    exit 1
}

lr_pass() {
    lr_log "PASS"
    exit 0
}

# Stop one process by PID: TERM, up to 5 s for it to go, then KILL.
lr_stop() {
    pid=$1
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

lr_track() { LR_PIDS="$LR_PIDS $1"; }
LR_MOUNTS=""

# Mount a tmpfs of SIZE (mount's syntax: 16m) on FOLDER (created), unmounted when the test ends.
lr_tmpfs() {
    mkdir -p "$1" || lr_fail "cannot create $1"
    mount -t tmpfs -o "size=$2,mode=0755" liverec-test "$1" ||
        lr_fail "cannot mount a tmpfs on $1 (the test needs root)"
    LR_MOUNTS="$LR_MOUNTS $1"
}

lr_cleanup() {
    status=$?
    trap - EXIT INT TERM
    for pid in $LR_PIDS; do
        lr_stop "$pid"
    done
    for m in $LR_MOUNTS; do
        # a failed test keeps what was in it
        [ $status = 0 ] || cp -a "$m" "$m.kept" 2>/dev/null
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    if [ $status != 0 ] && [ -n "$LR_DIR" ]; then
        # leave the evidence and show the logs
        for f in "$LR_DIR"/*.log; do
            [ -s "$f" ] || continue
            lr_log "--- tail of $f"
            tail -n 15 "$f" >&2
        done
    elif [ -n "$LR_DIR" ] && [ "${LR_KEEP:-0}" != 1 ]; then
        rm -rf "$LR_DIR"
    fi
    exit $status
}

lr_init() {
    LR_NAME=$1
    [ -x "$LR_FFMPEG" ] && [ -x "$LR_FFPROBE" ] || { echo "[$LR_NAME] build/ffmpeg and build/ffprobe are missing: run make" >&2; exit 1; }
    LR_DIR=$LR_BUILD/tests/liverec/$LR_NAME
    rm -rf "$LR_DIR"
    mkdir -p "$LR_DIR" || exit 1
    trap lr_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
lr_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Wait until something accepts TCP connections on 127.0.0.1:$1 (up to $2 seconds, default 10).
lr_wait_port() {
    python3 - "$1" "${2:-10}" <<'EOF'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# Wait until something listens on 127.0.0.1:$1 (up to $2 seconds, default 10) without connecting
# to it, for a server that takes one client only (ffmpeg -listen 1): reads /proc/net/tcp.
lr_wait_listen() {
    _wl=$(printf ':%04X' "$1")
    _wi=0
    until awk -v p="$_wl" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp; do
        [ $_wi -lt $((${2:-10} * 10)) ] || return 1
        sleep 0.1
        _wi=$((_wi + 1))
    done
}

# Start the RTMP origin: nginx with its own prefix, config, pid file and logs in $LR_DIR/nginx.
# Application "live" (live on, no recording). Sets LR_RTMP_PORT and LR_RTMP_URL.
# With LR_NGINX_HOOK set (a URL), on_publish and on_publish_done post there; with LR_NGINX_STAT=1
# an HTTP server on 127.0.0.1 serves the rtmp_stat page at $LR_NGINX_STAT_URL.
lr_nginx_start() {
    [ -x "$LR_NGINX" ] || lr_fail "nginx not found at $LR_NGINX (liverec/install-deps installs it)"
    [ -f "$LR_RTMP_MODULE" ] || lr_fail "nginx RTMP module not found at $LR_RTMP_MODULE (libnginx-mod-rtmp)"
    prefix=$LR_DIR/nginx
    mkdir -p "$prefix/logs"
    LR_RTMP_PORT=$(lr_free_port)
    LR_RTMP_URL=rtmp://127.0.0.1:$LR_RTMP_PORT/live
    hooks="" stat=""
    [ -z "${LR_NGINX_HOOK:-}" ] || hooks="on_publish $LR_NGINX_HOOK; on_publish_done $LR_NGINX_HOOK;"
    if [ "${LR_NGINX_STAT:-0}" = 1 ]; then
        LR_NGINX_STAT_PORT=$(lr_free_port)
        LR_NGINX_STAT_URL=http://127.0.0.1:$LR_NGINX_STAT_PORT/stat
        stat="http { access_log off; client_body_temp_path $prefix/tmp; proxy_temp_path $prefix/tmp;
    fastcgi_temp_path $prefix/tmp; uwsgi_temp_path $prefix/tmp; scgi_temp_path $prefix/tmp;
    server { listen 127.0.0.1:$LR_NGINX_STAT_PORT; location /stat { rtmp_stat all; } } }"
        mkdir -p "$prefix/tmp"
    fi
    cat > "$prefix/nginx.conf" <<EOF
load_module $LR_RTMP_MODULE;
daemon off;
master_process on;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log info;
events { worker_connections 256; }
rtmp {
    server {
        listen 127.0.0.1:$LR_RTMP_PORT;
        chunk_size 4096;
        application live {
            live on;
            record off;
            wait_key on;
            $hooks
        }
    }
}
$stat
EOF
    "$LR_NGINX" -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" > "$LR_DIR/nginx.log" 2>&1 &
    LR_NGINX_PID=$!
    lr_track $LR_NGINX_PID
    lr_wait_port "$LR_RTMP_PORT" 10 || lr_fail "nginx-rtmp did not start listening on 127.0.0.1:$LR_RTMP_PORT"
    kill -0 $LR_NGINX_PID 2>/dev/null || lr_fail "nginx exited at start"
    lr_log "nginx-rtmp (pid $LR_NGINX_PID) on $LR_RTMP_URL"
}

# The synthetic live input: testsrc2 + a sine, H.264 (GOP $LR_GOP frames, default 2 s) and AAC,
# paced in real time. Extra options for the video size etc. go through LR_PUSH_VSIZE.
lr_push_cmd() { # NAME SECONDS LOG
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel warning -re \
        -f lavfi -i "testsrc2=size=${LR_PUSH_VSIZE:-640x360}:rate=${LR_PUSH_FPS:-25}:duration=$2" \
        -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=$2" \
        -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -g "${LR_GOP:-50}" -b:v 800k \
        -c:a aac -b:a 96k -ac 2 \
        -f flv "$LR_RTMP_URL/$1" > "$3" 2>&1
}

# Push NAME for SECONDS in the foreground, and keep what was pushed in $LR_DIR/pushed.flv (a test
# that compares the pulls with it). VIDEO is the lavfi source's filters after testsrc2 (its size,
# rate and duration are set here), the rest are options for the encoders (H.264 and AAC); fails
# the test if the push fails. lr_push_kept NAME SECONDS VIDEO [ENCODER OPTIONS...]
lr_push_kept() {
    _kn=$1 _ks=$2 _kv=$3
    shift 3
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel warning -re \
        -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$_ks${_kv:+,$_kv}" \
        -re -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=$_ks" -map 0:v -map 1:a \
        -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -c:a aac -ac 2 "$@" \
        -flags +global_header \
        -f tee "[f=flv]$LR_RTMP_URL/$_kn|[f=flv]$LR_DIR/pushed.flv" > "$LR_DIR/push.log" 2>&1 ||
        lr_fail "the push failed (see push.log)"
}

# Push NAME for SECONDS in the foreground.
lr_push() {
    lr_log "push $1 for $2 s"
    lr_push_cmd "$1" "$2" "$LR_DIR/push-$1.log" || lr_fail "push of $1 failed (see push-$1.log)"
}

# Push NAME in the background for SECONDS; PID in LR_LAST_PID.
lr_push_bg() {
    lr_log "push $1 for $2 s (background)"
    lr_push_cmd "$1" "$2" "$LR_DIR/push-$1.log" &
    LR_LAST_PID=$!
    lr_track $LR_LAST_PID
}

# Push the streams NAME... for SECONDS in the background from one encoder through ffmpeg's tee
# muxer (each output publishes and writes in a thread of its own, as N publishers would); PID in
# LR_LAST_PID, log push-many.log: lr_push_many SECONDS NAME...
lr_push_many() {
    _ps=$1
    shift
    _tee=""
    for _pn in "$@"; do
        _tee="${_tee:+$_tee|}[f=flv:onfail=ignore:use_fifo=1]$LR_RTMP_URL/$_pn"
    done
    lr_log "push $* for $_ps s (one encoder, background)"
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel warning -re \
        -f lavfi -i "testsrc2=size=${LR_PUSH_VSIZE:-640x360}:rate=${LR_PUSH_FPS:-25}:duration=$_ps" \
        -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=$_ps" -map 0:v -map 1:a \
        -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -g "${LR_GOP:-50}" \
        -b:v "${LR_PUSH_VBITRATE:-800k}" -c:a aac -b:a "${LR_PUSH_ABITRATE:-96k}" -ac 2 \
        -flags +global_header -f tee "$_tee" > "$LR_DIR/push-many.log" 2>&1 &
    LR_LAST_PID=$!
    lr_track $LR_LAST_PID
}

# Push NAME with interruptions: lr_push_interrupted NAME PUSH GAP PUSH [GAP PUSH ...]
# (seconds), foreground. Each push is a new RTMP publish of the same stream.
lr_push_interrupted() {
    name=$1
    shift
    n=0
    while [ $# -gt 0 ]; do
        n=$((n + 1))
        lr_log "push $name #$n for $1 s"
        lr_push_cmd "$name" "$1" "$LR_DIR/push-$name-$n.log" || lr_fail "push #$n of $name failed"
        shift
        [ $# -gt 0 ] || break
        lr_log "interruption of $1 s"
        sleep "$1"
        shift
    done
}

# Pull NAME from the origin into OUT with the built ffmpeg (-c copy) in the background; extra
# ffmpeg output options follow OUT. The puller notices the publisher leaving through -rw_timeout.
lr_pull() {
    name=$1
    out=$2
    shift 2
    "$LR_FFMPEG" -hide_banner -nostdin -loglevel warning -rw_timeout "${LR_RW_TIMEOUT:-3000000}" \
        -i "$LR_RTMP_URL/$name" -c copy "$@" "$out" > "$LR_DIR/pull-$name.log" 2>&1 &
    LR_LAST_PID=$!
    lr_track $LR_LAST_PID
    lr_log "pull $name -> $(basename "$out") (pid $LR_LAST_PID)"
}

# Wait up to SECONDS for PID to exit by itself; returns its exit status (124 on timeout, then
# stopped).
lr_wait_pid() {
    pid=$1
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ $i -ge $(($2 * 10)) ]; then
            lr_stop "$pid"
            return 124
        fi
        sleep 0.1
        i=$((i + 1))
    done
    wait "$pid"
}

# Record STREAM of example.com/live from the origin with ffliverec in the background, output in
# $LR_DIR/LOG: lr_ffliverec_bg CONFIG STREAM LOG [options...]. The spool and state folders are
# $LR_DIR/spool and $LR_DIR/state unless the options name others. PID in LR_LAST_PID; returns
# after a second, so that it is waiting on the origin when a push starts.
lr_ffliverec_bg() {
    _fcfg=$1 _fstream=$2 _flog=$3
    shift 3
    "$LR_BUILD/ffliverec" -hide_banner -config "$_fcfg" -domain example.com -app live \
        -stream "$_fstream" -i "$LR_RTMP_URL/$_fstream" -spool "$LR_DIR/spool" -state "$LR_DIR/state" \
        "$@" > "$LR_DIR/$_flog" 2>&1 &
    LR_LAST_PID=$!
    lr_track $LR_LAST_PID
    sleep 1
}

# Wait up to SECONDS for a line matching PATTERN (grep) in $LR_DIR/LOG, or fail:
# lr_wait_log LOG PATTERN SECONDS
lr_wait_log() {
    _wi=0
    until grep -q "$2" "$LR_DIR/$1"; do
        [ $_wi -lt $(($3 * 10)) ] || lr_fail "no '$2' in $1 after $3 s"
        sleep 0.1
        _wi=$((_wi + 1))
    done
}

# Wait up to SECONDS for at least N lines matching PATTERN (grep) in $LR_DIR/LOG, or fail:
# lr_wait_count LOG PATTERN N SECONDS
lr_wait_count() {
    _ci=0
    until [ "$(cat "$LR_DIR/$1" 2>/dev/null | grep -c "$2")" -ge "$3" ]; do
        [ $_ci -lt $(($4 * 10)) ] || lr_fail "fewer than $3 '$2' in $1 after $4 s"
        sleep 0.1
        _ci=$((_ci + 1))
    done
}

# Wait up to SECONDS until the catalog DB has recordings, all uploaded, and every callback and
# event is delivered, or fail: lr_wait_drained DB SECONDS
lr_wait_drained() {
    python3 - "$1" "$2" <<'PY' ||
import sqlite3, sys, time
end = time.time() + int(sys.argv[2])
while time.time() < end:
    try:
        c = sqlite3.connect(sys.argv[1], timeout=5)
        left = c.execute("SELECT (SELECT count(*) FROM recordings WHERE status != 'uploaded') +"
                         " (SELECT count(*) FROM callbacks WHERE status != 'delivered') +"
                         " (SELECT count(*) FROM events WHERE status != 'delivered')").fetchone()[0]
        n = c.execute("SELECT count(*) FROM recordings").fetchone()[0]
        c.close()
    except sqlite3.Error:
        left, n = 1, 0
    if not left and n:
        sys.exit(0)
    time.sleep(0.5)
sys.exit(1)
PY
    lr_fail "the queues did not drain within $2 s: $(python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print("recordings", c.execute("SELECT group_concat(status) FROM recordings").fetchone()[0], "callbacks", c.execute("SELECT group_concat(status) FROM callbacks").fetchone()[0], "events", c.execute("SELECT group_concat(status) FROM events").fetchone()[0])' "$1")"
}

# ffprobe helpers
lr_duration() { # FILE -> container duration in seconds
    "$LR_FFPROBE" -v error -show_entries format=duration -of default=nw=1:nk=1 "$1"
}
lr_streams() { # FILE -> "video:h264 audio:aac" style list
    "$LR_FFPROBE" -v error -show_entries stream=codec_type,codec_name -of csv=p=0 "$1" |
        awk -F, '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1 } END { print "" }'
}
# framemd5 helpers (lines: stream, dts, pts, duration, size, hash)
# FILE -> per stream, in decode order: stream,pts,dts,size,flags,hash of each packet
lr_packets() {
    "$LR_FFPROBE" -v error -show_data_hash md5 \
        -show_entries packet=stream_index,pts,dts,size,flags,data_hash -of csv=p=0 "$1" |
        sort -t, -k1,1n -k3,3n
}
# SOURCE OUT [input options]: a working file as liverec_mp4 writes it (libavformat/liverec_seg.c,
# kind_mp4) of SOURCE's packets
lr_mp4_working() {
    _src=$1 _out=$2
    shift 2
    "$LR_FFMPEG" -hide_banner -v error "$@" -i "$_src" -c copy -f mp4 \
        -movflags +frag_keyframe+empty_moov+default_base_moof -frag_duration 1000000 "$_out" ||
        lr_fail "cannot write $_out"
}
# OUT SECONDS VIDEO_BITRATE: a 640x360 25 fps H.264 (B-frames, GOP 50) + AAC file of testsrc2
lr_av_source() {
    "$LR_FFMPEG" -hide_banner -v error -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=sample_rate=44100 \
        -t "$2" -c:v libx264 -preset veryfast -bf 3 -g 50 -b:v "$3" -c:a aac -b:a 96k "$1" ||
        lr_fail "cannot make the source $1"
}
# DIR LOG [liverec_mp4 options]: finalize the leftovers of DIR as the next recorder does at its
# start, with a short recording of its own (log $LR_DIR/LOG, verbose)
lr_mp4_finalize_folder() {
    _d=$1 _l=$2
    shift 2
    "$LR_FFMPEG" -hide_banner -v verbose -f lavfi -i testsrc2=size=64x64:rate=25 -t 1 -c:v libx264 \
        -f liverec_mp4 "$@" -stream_id next "$_d/" > "$LR_DIR/$_l" 2>&1 || lr_fail "the recorder failed (see $_l)"
}
# FILE -> its top-level boxes, "type size" a line
lr_mp4_boxes() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
pos = 0
while pos + 8 <= len(d):
    size, kind = struct.unpack(">I4s", d[pos:pos + 8])
    if size == 1:
        size = struct.unpack(">Q", d[pos + 8:pos + 16])[0]
    print(kind.decode("latin-1"), size)
    if size < 8:
        break
    pos += size
PY
}
lr_md5_packets() { grep -v '^#' "$1"; } # FILE -> its packet lines
lr_md5_biggest() { # FILE -> the size of its largest packet of stream 0
    lr_md5_packets "$1" | awk -F, '$1 + 0 == 0 && $5 + 0 > m { m = $5 + 0 } END { print m + 0 }'
}
# SENT GOT -> how many packets of GOT have bytes (size and hash) no packet of SENT has; not the
# stream index, which a reader numbers in the order the streams come to it
lr_md5_foreign() {
    lr_md5_packets "$1" | awk -F, '{ print $5, $NF }' | sort > "$LR_DIR/md5-sent.keys"
    lr_md5_packets "$2" | awk -F, '{ print $5, $NF }' | sort > "$LR_DIR/md5-got.keys"
    comm -13 "$LR_DIR/md5-sent.keys" "$LR_DIR/md5-got.keys" | wc -l
}
# within A B PERCENT: true when A is within PERCENT % of B
lr_within() {
    awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= b * p / 100) }'
}

# Serve DIR over HTTP on 127.0.0.1 (a free port) with Python's http.server; sets LR_HTTP_URL.
lr_http_start() {
    port=$(lr_free_port)
    python3 -m http.server --bind 127.0.0.1 --directory "$1" "$port" > "$LR_DIR/http.log" 2>&1 &
    LR_HTTP_PID=$!
    lr_track $LR_HTTP_PID
    lr_wait_port "$port" 10 || lr_fail "the HTTP server did not start"
    LR_HTTP_URL=http://127.0.0.1:$port
}

# Play PLAYLIST (a path under $LR_DIR) with hls.js in headless Chromium at playback RATE
# (default 1); prints the player's JSON report (see tests/liverec/player/play-hls.mjs). Called as
# $(lr_play_hls ...), it runs in a subshell: call lr_play_hls_prepare first in the test's own
# shell, so that the HTTP server it starts is the test's, stopped by PID at its end.
LR_PLAYER=${LR_PLAYER:-$LR_BUILD/player}
lr_play_hls_prepare() {
    [ -f "$LR_PLAYER/node_modules/hls.js/dist/hls.min.js" ] ||
        lr_fail "hls.js is not installed in $LR_PLAYER (liverec/install-deps installs it)"
    [ -x /usr/bin/chromium ] || lr_fail "chromium is not installed (liverec/install-deps installs it)"
    www=$LR_DIR/www
    mkdir -p "$www"
    cp "$LR_TOP/tests/liverec/player/player.html" "$www/"
    cp "$LR_PLAYER/node_modules/hls.js/dist/hls.min.js" "$www/"
    [ -e "$www/data" ] || ln -s "$LR_DIR" "$www/data"
    [ -n "${LR_HTTP_URL:-}" ] || lr_http_start "$www"
}

lr_play_hls() {
    lr_play_hls_prepare
    rel=${1#"$LR_DIR"/}
    rm -rf "$LR_DIR/chromium-profile"
    cp "$LR_TOP/tests/liverec/player/play-hls.mjs" "$LR_PLAYER/" # resolves its imports there
    node "$LR_PLAYER/play-hls.mjs" \
        "$LR_HTTP_URL/player.html?src=data/$rel&rate=${2:-1}" "${3:-180}" "$LR_DIR/chromium-profile" \
        2> "$LR_DIR/player.log"
}

# read a field of a flat JSON object: lr_json 'JSON' field
lr_json() {
    printf '%s' "$1" | python3 -c 'import json, sys; v = json.load(sys.stdin).get(sys.argv[1]); print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$2"
}

# A callback receiver on 127.0.0.1 (a free port): Python's ThreadingHTTPServer. Every POST is
# appended to $LR_DIR/callbacks.jsonl as {"received": UNIX_SECONDS, "path": ..., "body": JSON}.
# While the file $LR_DIR/callback.fail exists it answers 500 (and records nothing). Sets
# LR_CALLBACK_URL and LR_CALLBACK_PID.
lr_callback_start() { # [PORT]: default a free one
    port=${1:-$(lr_free_port)}
    python3 - "$port" "$LR_DIR" > "$LR_DIR/callback-receiver.log" 2>&1 <<'PY' &
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, d = int(sys.argv[1]), sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if os.path.exists(os.path.join(d, "callback.fail")):
            self.send_response(500)
            self.end_headers()
            return
        with open(os.path.join(d, "callbacks.jsonl"), "a") as f:
            f.write(json.dumps({"received": time.time(), "path": self.path,
                                "content_type": self.headers.get("Content-Type"),
                                "body": json.loads(body)}) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
    LR_CALLBACK_PID=$!
    lr_track $LR_CALLBACK_PID
    lr_wait_port "$port" 10 || lr_fail "the callback receiver did not start"
    LR_CALLBACK_URL=http://127.0.0.1:$port/live/record
}

# Start ffliverec -serve with CONFIG on a free port, output in $LR_DIR/LOG:
# lr_serve_start CONFIG LOG [options...]. Spool and state are $LR_DIR/spool and $LR_DIR/state.
# Sets LR_SERVE_PORT (choose it before with LR_SERVE_PORT=...), LR_SERVE_URL and LR_SERVE_PID;
# returns when it listens. LR_SERVE_WRAP, if set, is a command prefix that must exec the service
# in the same process (env VAR=... does: t-clock-jump preloads libfaketime so).
lr_serve_start() {
    _scfg=$1 _slog=$2
    shift 2
    LR_SERVE_PORT=${LR_SERVE_PORT:-$(lr_free_port)}
    LR_SERVE_URL=http://127.0.0.1:$LR_SERVE_PORT
    # shellcheck disable=SC2086
    ${LR_SERVE_WRAP:-} "$LR_BUILD/ffliverec" -hide_banner -config "$_scfg" -serve -listen "127.0.0.1:$LR_SERVE_PORT" \
        -spool "$LR_DIR/spool" -state "$LR_DIR/state" "$@" >> "$LR_DIR/$_slog" 2>&1 &
    LR_SERVE_PID=$!
    lr_track $LR_SERVE_PID
    lr_wait_port "$LR_SERVE_PORT" 10 || lr_fail "ffliverec -serve did not listen on $LR_SERVE_PORT"
}

# Copy every line of $LR_DIR/LOG, as it appears, into $LR_DIR/LOG.stamped prefixed with the wall
# clock it appeared at (Unix seconds, 20 ms resolution), in the background: lr_stamp_log LOG
lr_stamp_log() {
    python3 - "$LR_DIR/$1" "$LR_DIR/$1.stamped" <<'PY' &
import sys, time
src, dst = sys.argv[1], sys.argv[2]
pos, buf = 0, b""
with open(dst, "a") as out:
    while True:
        try:
            with open(src, "rb") as f:
                f.seek(pos)
                data = f.read()
        except FileNotFoundError:
            data = b""
        if data:
            now = time.time()
            pos += len(data)
            *lines, buf = (buf + data).split(b"\n")
            for l in lines:
                out.write("%.3f %s\n" % (now, l.decode(errors="replace")))
            out.flush()
        time.sleep(0.02)
PY
    lr_track $!
}
