# S3 server for the liverec integration tests. Sourced after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/lib-s3.sh"
#   lr_init my-test
#   lr_s3_start                  # LR_S3_ENDPOINT LR_S3_ACCESS LR_S3_SECRET LR_S3_REGION
#   lr_s3_mkbucket rec
#   lr_s3_put rec a.ts FILE; lr_s3_get rec a.ts OUT; lr_s3_ls rec; lr_s3_uploads rec
#   lr_s3_stop; lr_s3_restart_proxy  # the endpoint goes away and comes back on the same port
#
# The server is Debian's OpenStack Swift 2.30 (swift-proxy, swift-account, swift-container,
# swift-object) with the s3api and tempauth middleware: a proxy and an account, a container and an
# object server, each one process (workers = 0) in the foreground on 127.0.0.1 on a free port.
# Configs, rings, data and logs are in $LR_DIR/s3. Only swift.conf (hash prefix, storage policy
# 0, constraints) comes from /etc/swift/swift.conf: the servers read that path whatever swift_dir
# says.
#
# Logging: Swift's get_logger always adds a syslog handler (/dev/log, else UDP to
# 127.0.0.1:514), even for the proxy access log, and dup2()s /dev/null onto stdout/stderr once it
# listens. The log_custom_handlers hook in $LR_DIR/s3/lr_swift.py swaps that handler in each server
# process for a file handler on $LR_DIR/s3/<server>.log, so nothing goes to syslog. The same module
# gives the proxy an in-process cache in place of memcached: tempauth refuses requests without a
# cache, and a memcached shared between tests would mix their account and container info.
#
# The curl helpers sign with curl's --aws-sigv4 (curl 7.88). The access key "test:tester" holds a
# colon, which --user takes as the end of the user name (the server then sees access key "test"),
# so the credentials go percent-encoded in the URL (http://test%3Atester:testing@...), which curl
# decodes before signing. libcurl with CURLOPT_USERNAME/CURLOPT_PASSWORD has no such problem.
# libcurl 7.88 SigV4 quirks: it adds no x-amz-content-sha256 (Swift then answers 400
# InvalidRequest), so lr_s3_req sends UNSIGNED-PAYLOAD; it signs the query as written, so the query
# must be sorted by name and encoded as AWS does ("/" as %2F); it signs a bare key ("?uploads")
# wrongly: write "?uploads="; it sorts header lines, not names, so x-amz-copy-source with
# x-amz-copy-source-range, or x-amz-meta-a with x-amz-meta-a-b, gives 403 (curl PR #14370).

LR_S3_ACCESS=test:tester
LR_S3_SECRET=testing
LR_S3_REGION=us-east-1
LR_S3_PORT=""
LR_S3_ENDPOINT=""
LR_S3_PIDS=""
LR_S3_PROXY_PID=""
LR_S3_LAST=""
# s3api's smallest part but the last one (its default, as AWS: 5 MiB)
LR_S3_MIN_PART=${LR_S3_MIN_PART:-5242880}
# Debian's python3 has the swift module and starts in 0.05 s (a pyenv shim takes 0.5 s)
LR_S3_PYTHON=${LR_S3_PYTHON:-/usr/bin/python3}
export LR_S3_ACCESS LR_S3_SECRET LR_S3_REGION

# Last LINES (default 15) of each Swift log on stderr (lr_cleanup only shows $LR_DIR/*.log).
lr_s3_logs() {
    for _s3f in "$LR_DIR"/s3/*.log; do
        [ -s "$_s3f" ] || continue
        lr_log "--- tail of $_s3f"
        tail -n "${1:-15}" "$_s3f" >&2
    done
}

lr_s3_fail() {
    lr_s3_logs 15
    lr_fail "$@"
}

# The Python module the Swift processes import (PYTHONPATH=$LR_DIR/s3).
lr_s3_write_hooks() {
    cat > "$1/lr_swift.py" <<'EOF'
# Hooks for the liverec test Swift (tests/liverec/lib-s3.sh).
import json
import logging
import time as _time

from swift.common import utils

_path = None


class FileLog(logging.FileHandler):
    """Stands in for Swift's syslog handler: appends to the server's log file."""

    def __init__(self, *args, **kwargs):
        logging.FileHandler.__init__(self, _path)

    def format(self, record):
        return _time.strftime('%H:%M:%S ') + logging.FileHandler.format(self, record)


def log_to_file(conf, name, log_to_console, log_route, fmt, logger, adapted_logger):
    """log_custom_handlers hook: this logger and all later ones write to conf['lr_log_file']."""
    global _path
    _path = conf.get('lr_log_file') or _path
    utils.ThreadSafeSysLogHandler = FileLog  # what get_logger() creates from now on
    old = utils.get_logger.handler4logger.get(logger)
    if old is not None and not isinstance(old, FileLog):
        new = FileLog()
        new.setFormatter(old.formatter)
        logger.removeHandler(old)
        old.close()
        logger.addHandler(new)
        utils.get_logger.handler4logger[logger] = new


class MemoryCache(object):
    """What Swift uses of swift.common.memcached.MemcacheRing, in this process's memory."""

    def __init__(self):
        self.data = {}

    @staticmethod
    def _expires(time):
        if not time:
            return 0
        return time if time > 30 * 24 * 3600 else _time.time() + time

    def set(self, key, value, serialize=True, time=0, min_compress_len=0, raise_on_error=False):
        self.data[key] = (json.dumps(value) if serialize else value, serialize, self._expires(time))

    def get(self, key, raise_on_error=False):
        item = self.data.get(key)
        if item is None:
            return None
        value, serialized, expires = item
        if expires and expires < _time.time():
            del self.data[key]
            return None
        return json.loads(value) if serialized else value

    def incr(self, key, delta=1, time=0):
        value = self.get(key)
        value = max((int(value) if value is not None else 0) + int(delta), 0)
        self.set(key, value, time=time)
        return value

    def decr(self, key, delta=1, time=0):
        return self.incr(key, -int(delta), time)

    def delete(self, key, server_key=None):
        self.data.pop(key, None)

    def set_multi(self, mapping, server_key, serialize=True, time=0, min_compress_len=0):
        for key, value in mapping.items():
            self.set(key, value, serialize, time)

    def get_multi(self, keys, server_key):
        return [self.get(key) for key in keys]


def cache_filter(global_conf, **local_conf):
    """paste filter factory: env['swift.cache'] is a MemoryCache."""
    cache = MemoryCache()

    def factory(app):
        def middleware(env, start_response):
            env['swift.cache'] = cache
            return app(env, start_response)
        return middleware
    return factory
EOF
}

# The four server configs in DIR.
lr_s3_write_confs() {
    _s3d=$1
    for _s3srv in account container object proxy; do
        case $_s3srv in
            account) _s3p=$LR_S3_ACCOUNT_PORT ;;
            container) _s3p=$LR_S3_CONTAINER_PORT ;;
            object) _s3p=$LR_S3_OBJECT_PORT ;;
            proxy) _s3p=$LR_S3_PORT ;;
        esac
        # user: as root Swift would switch to user "swift", which cannot write in $LR_DIR
        cat > "$_s3d/$_s3srv-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $_s3p
workers = 0
user = $(id -un)
swift_dir = $_s3d
devices = $_s3d/devices
mount_check = false
disable_fallocate = true
fallocate_reserve = 0
log_name = $_s3srv
log_level = ${LR_S3_LOG_LEVEL:-INFO}
log_custom_handlers = lr_swift.log_to_file
lr_log_file = $_s3d/$_s3srv.log
EOF
        [ $_s3srv = proxy ] && continue
        cat >> "$_s3d/$_s3srv-server.conf" <<EOF

[pipeline:main]
pipeline = $_s3srv-server

[app:$_s3srv-server]
use = egg:swift#$_s3srv
EOF
    done
    # Debian's sample pipeline without container_sync; "cache" is the in-process one (no
    # memcached). s3api needs slo after it for multipart uploads.
    cat >> "$_s3d/proxy-server.conf" <<EOF

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl ratelimit s3api tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:s3api]
use = egg:swift#s3api
location = $LR_S3_REGION
min_segment_size = $LR_S3_MIN_PART

[filter:cache]
paste.filter_factory = lr_swift:cache_filter
EOF
    for _s3f in catch_errors gatekeeper healthcheck proxy-logging listing_formats bulk tempurl \
            ratelimit copy container-quotas account-quotas slo dlo versioned_writes symlink; do
        printf '\n[filter:%s]\nuse = egg:swift#%s\n' $_s3f "$(echo $_s3f | tr - _)"
    done >> "$_s3d/proxy-server.conf"
}

# The account, container and object rings in DIR: part power 6, 1 replica, one device d1 on
# 127.0.0.1 at the server's port. What swift-ring-builder create/add/rebalance does, through its
# Python API in one process (swift-ring-builder takes about 1 s a call, 9 calls).
lr_s3_rings() {
    "$LR_S3_PYTHON" - "$1" "$LR_S3_ACCOUNT_PORT" "$LR_S3_CONTAINER_PORT" "$LR_S3_OBJECT_PORT" \
            > "$1/rings.log" 2>&1 <<'EOF' || lr_s3_fail "building the Swift rings failed"
import os, sys
from swift.common.ring import RingBuilder
d = sys.argv[1]
for name, port in zip(('account', 'container', 'object'), sys.argv[2:]):
    b = RingBuilder(6, 1, 0)
    b.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port), 'device': 'd1',
               'weight': 100, 'meta': ''})
    b.rebalance()
    b.save(os.path.join(d, name + '.builder'))
    b.get_ring().save(os.path.join(d, name + '.ring.gz'))
    print(name, port, 'ok')
EOF
}

# Start one server (account, container, object or proxy) in the background; PID in LR_LAST_PID.
# Swift calls setsid() but does not fork with workers = 0, so $! is the server.
lr_s3_spawn() {
    PYTHONPATH=$LR_DIR/s3 "swift-$1-server" "$LR_DIR/s3/$1-server.conf" \
        >> "$LR_DIR/s3/$1.log" 2>&1 &
    LR_LAST_PID=$!
    lr_track $LR_LAST_PID
}

# lr_s3_wait_ports SECONDS PORT...: lr_wait_port for several ports in one Python process; fails
# at once when one of LR_S3_PIDS has exited.
lr_s3_wait_ports() {
    "$LR_S3_PYTHON" - "$LR_S3_PIDS" "$@" <<'EOF'
import os, socket, sys, time
pids = [int(p) for p in sys.argv[1].split()]
end = time.time() + float(sys.argv[2])
ports = [int(p) for p in sys.argv[3:]]
while ports and time.time() < end:
    try:
        socket.create_connection(('127.0.0.1', ports[0]), timeout=0.5).close()
        ports.pop(0)
        continue
    except OSError:
        pass
    for p in pids:
        try:
            os.kill(p, 0)
        except OSError:
            sys.exit('Swift server %d has exited' % p)
    time.sleep(0.05)
sys.exit(1 if ports else 0)
EOF
}

# Wait up to SECONDS until ListBuckets answers 200.
lr_s3_wait_ready() {
    _s3i=0
    while [ $_s3i -lt $(($1 * 10)) ]; do
        lr_s3_req GET / /dev/null > /dev/null 2>&1 && return 0
        kill -0 "$LR_S3_PROXY_PID" 2>/dev/null || return 1
        sleep 0.1
        _s3i=$((_s3i + 1))
    done
    return 1
}

# Start Swift; returns once an S3 request works. Sets and exports LR_S3_PORT, LR_S3_ENDPOINT,
# LR_S3_PIDS (the four servers), LR_S3_PROXY_PID.
lr_s3_start() {
    for _s3b in swift-proxy-server swift-account-server swift-container-server swift-object-server \
            curl "$LR_S3_PYTHON"; do
        command -v "$_s3b" > /dev/null || lr_fail "$_s3b not found (Debian packages: swift-proxy" \
            "swift-account swift-container swift-object curl)"
    done
    [ -r /etc/swift/swift.conf ] || lr_fail "/etc/swift/swift.conf is missing (package swift)"
    _s3d=$LR_DIR/s3
    mkdir -p "$_s3d/devices/d1" || lr_fail "cannot create $_s3d"
    LR_S3_LAST=$_s3d/last-response.xml
    # four free ports, and the credentials percent-encoded for the URL (split into $1..$5)
    # shellcheck disable=SC2046
    set -- $("$LR_S3_PYTHON" - "$LR_S3_ACCESS" "$LR_S3_SECRET" <<'EOF'
import socket, sys, urllib.parse
socks = [socket.socket() for i in range(4)]
for s in socks:
    s.bind(('127.0.0.1', 0))
print(*[s.getsockname()[1] for s in socks])
print(':'.join(urllib.parse.quote(a, safe='') for a in sys.argv[1:]))
EOF
)
    [ $# = 5 ] || lr_fail "cannot get free ports"
    LR_S3_PORT=$1
    LR_S3_ACCOUNT_PORT=$2
    LR_S3_CONTAINER_PORT=$3
    LR_S3_OBJECT_PORT=$4
    LR_S3_USERINFO=$5
    LR_S3_ENDPOINT=http://127.0.0.1:$LR_S3_PORT
    export LR_S3_PORT LR_S3_ENDPOINT
    lr_s3_write_hooks "$_s3d"
    lr_s3_write_confs "$_s3d"
    lr_s3_rings "$_s3d"
    LR_S3_PIDS=""
    for _s3srv in account container object proxy; do
        lr_s3_spawn $_s3srv
        LR_S3_PIDS="$LR_S3_PIDS $LR_LAST_PID"
    done
    LR_S3_PROXY_PID=$LR_LAST_PID
    export LR_S3_PIDS LR_S3_PROXY_PID
    lr_s3_wait_ports 60 "$LR_S3_ACCOUNT_PORT" "$LR_S3_CONTAINER_PORT" "$LR_S3_OBJECT_PORT" \
        "$LR_S3_PORT" || lr_s3_fail "the Swift servers did not all listen"
    lr_s3_wait_ready 20 || lr_s3_fail "Swift's S3 API does not answer"
    lr_log "Swift S3 on $LR_S3_ENDPOINT (pids$LR_S3_PIDS, proxy $LR_S3_PROXY_PID)"
}

# Stop the proxy only: the S3 endpoint goes away, the data and the storage servers stay.
lr_s3_stop() {
    lr_stop "$LR_S3_PROXY_PID"
    lr_log "Swift proxy stopped"
}
lr_s3_stop_proxy() { lr_s3_stop; }

# Start the proxy again on the same port (Swift retries the bind for 30 s); returns once S3
# answers. LR_S3_PIDS and LR_S3_PROXY_PID name the new proxy.
lr_s3_restart_proxy() {
    lr_stop "$LR_S3_PROXY_PID"
    _s3old=$LR_S3_PROXY_PID
    lr_s3_spawn proxy
    LR_S3_PROXY_PID=$LR_LAST_PID
    _s3new=""
    for _s3p in $LR_S3_PIDS; do
        [ "$_s3p" = "$_s3old" ] || _s3new="$_s3new $_s3p"
    done
    LR_S3_PIDS="$_s3new $LR_S3_PROXY_PID"
    export LR_S3_PIDS LR_S3_PROXY_PID
    lr_s3_wait_ports 60 "$LR_S3_PORT" || lr_s3_fail "the Swift proxy did not listen again"
    lr_s3_wait_ready 20 || lr_s3_fail "Swift's S3 API does not answer after the restart"
    lr_log "Swift proxy restarted (pid $LR_S3_PROXY_PID)"
}

# lr_s3_req METHOD PATH OUT [curl options]: a SigV4-signed request with an unsigned payload. The
# body goes to OUT, the HTTP status is printed ("000": no connection); returns 0 on 2xx. PATH is
# /bucket/key?query, URL-encoded, the query sorted by name (curl 7.88 signs it as written) and a
# bare key written "key=". For HEAD add -I.
lr_s3_req() {
    _s3m=$1
    _s3path=$2
    _s3out=$3
    shift 3
    _s3c=$(curl -sS -g -o "$_s3out" -w '%{http_code}' -X "$_s3m" \
        --aws-sigv4 "aws:amz:$LR_S3_REGION:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        "$@" "http://$LR_S3_USERINFO@127.0.0.1:$LR_S3_PORT$_s3path") || _s3c=000
    echo "$_s3c"
    case $_s3c in
        2??) return 0 ;;
    esac
    return 1
}

# The helpers below return non-zero on a non-2xx answer; its body is then in $LR_S3_LAST. KEY
# goes into the URL as given: encode anything but letters, digits and "/-_.~".
lr_s3_mkbucket() { # BUCKET
    lr_s3_req PUT "/$1" "$LR_S3_LAST" > /dev/null
}

lr_s3_put() { # BUCKET KEY FILE
    lr_s3_req PUT "/$1/$2" "$LR_S3_LAST" -T "$3" > /dev/null
}

lr_s3_get() { # BUCKET KEY OUTFILE (not left behind on an error)
    lr_s3_req GET "/$1/$2" "$3" > /dev/null && return 0
    [ -f "$3" ] && mv -f "$3" "$LR_S3_LAST" # a regular file only: OUTFILE may be /dev/null
    return 1
}

lr_s3_delete() { # BUCKET KEY
    lr_s3_req DELETE "/$1/$2" "$LR_S3_LAST" > /dev/null
}

lr_s3_abort() { # BUCKET KEY UPLOADID
    lr_s3_req DELETE "/$1/$2?uploadId=$3" "$LR_S3_LAST" > /dev/null
}

# Keys of BUCKET, one a line (ListObjectsV2, follows continuation tokens; LR_S3_MAX_KEYS a page;
# LR_S3_LS_SIZES=1: "KEY SIZE").
lr_s3_ls() {
    _s3q=""
    while :; do
        lr_s3_req GET "/$1?${_s3q}list-type=2&max-keys=${LR_S3_MAX_KEYS:-1000}" "$LR_S3_LAST" \
            > /dev/null || return 1
        "$LR_S3_PYTHON" - "$LR_S3_LAST" "$LR_DIR/s3/list.next" "${LR_S3_LS_SIZES:-0}" <<'EOF' || return 1
import sys, urllib.parse, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = root.tag.split('}')[0] + '}' if root.tag.startswith('{') else ''
for c in root.findall(ns + 'Contents'):
    print(c.findtext(ns + 'Key') + (' ' + c.findtext(ns + 'Size') if sys.argv[3] == '1' else ''))
token = ''
if root.findtext(ns + 'IsTruncated') == 'true':
    token = root.findtext(ns + 'NextContinuationToken')
with open(sys.argv[2], 'w') as f:
    f.write('continuation-token=%s&' % urllib.parse.quote(token, safe='') if token else '')
EOF
        _s3q=$(cat "$LR_DIR/s3/list.next")
        [ -n "$_s3q" ] || return 0
    done
}

# In-progress multipart uploads of BUCKET, "KEY UPLOADID" a line (first 1000).
lr_s3_uploads() {
    lr_s3_req GET "/$1?uploads=" "$LR_S3_LAST" > /dev/null || return 1
    "$LR_S3_PYTHON" - "$LR_S3_LAST" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = root.tag.split('}')[0] + '}' if root.tag.startswith('{') else ''
for u in root.findall(ns + 'Upload'):
    print(u.findtext(ns + 'Key'), u.findtext(ns + 'UploadId'))
EOF
}

# Every object of BUCKET into DIR/KEY, the keys listed in DIR/objects.txt: lr_s3_fetch_all BUCKET DIR
lr_s3_fetch_all() {
    mkdir -p "$2" || lr_fail "cannot create $2"
    lr_s3_ls "$1" > "$2/objects.txt" || lr_fail "cannot list the bucket $1"
    while read -r _s3k; do
        mkdir -p "$2/$(dirname "$_s3k")"
        lr_s3_get "$1" "$_s3k" "$2/$_s3k" || lr_fail "cannot get $_s3k"
    done < "$2/objects.txt"
}

# What a test of the whole service runs against: nginx-rtmp whose hooks go to the service (on
# LR_SERVE_PORT, chosen here; ?token=TOKEN if given) and whose rtmp_stat page is
# LR_NGINX_STAT_URL, Swift with the bucket "rec" (its keys exported as AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, as vodupload reads them), and the callback receiver (LR_CALLBACK_URL):
# lr_service_stack [TOKEN]
lr_service_stack() {
    LR_SERVE_PORT=$(lr_free_port)
    LR_NGINX_HOOK=http://127.0.0.1:$LR_SERVE_PORT/hook/nginx-rtmp${1:+?token=$1}
    LR_NGINX_STAT=1
    lr_nginx_start
    lr_s3_start
    lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
    AWS_ACCESS_KEY_ID=$LR_S3_ACCESS
    AWS_SECRET_ACCESS_KEY=$LR_S3_SECRET
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    lr_callback_start
}
