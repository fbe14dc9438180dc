#!/bin/sh
# ffliverec -serve and the limit of open files: a shell's soft limit (1,024 by default) is far
# below what hundreds of sessions hold, so the service raises it towards its hard limit, as far as
# Service MaxSessions needs (16 files a session and 256 for itself), and warns when even the hard
# limit is too low. Started through prlimit with a soft limit of 512:
#   hard limit 4,096, MaxSessions 100: the soft limit becomes 1,856, no warning;
#   hard limit 512, MaxSessions 100: the limit stays 512, with a warning naming both.
. "$(dirname "$0")/lib.sh"
lr_init serve-nofile
command -v prlimit > /dev/null || lr_fail "prlimit (util-linux) is missing"

cat > "$LR_DIR/serve.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Service MaxSessions="100"/>
</LiveRecordConfig>
X
soft_limit() { # PID -> its soft limit of open files
    awk '/^Max open files/ { print $4 }' "/proc/$1/limits"
}
for hard in 4096 512; do
    LR_SERVE_PORT=$(lr_free_port)
    LR_SERVE_WRAP="prlimit --nofile=512:$hard" lr_serve_start "$LR_DIR/serve.xml" "serve-$hard.log" \
        -loglevel verbose
    lr_wait_log "serve-$hard.log" "serving " 10
    got=$(soft_limit "$LR_SERVE_PID")
    lr_log "hard limit $hard: the service's soft limit is $got"
    lr_stop "$LR_SERVE_PID"
    if [ "$hard" = 4096 ]; then
        [ "$got" = 1856 ] || lr_fail "the soft limit is $got, not 100 x 16 + 256 = 1856"
        grep -q "the limit is raised from 512 to 1856" "$LR_DIR/serve-$hard.log" ||
            lr_fail "the raise is not logged"
        ! grep -q "open files are limited" "$LR_DIR/serve-$hard.log" ||
            lr_fail "a warning although the limit is enough"
    else
        [ "$got" = 512 ] || lr_fail "the soft limit is $got, not the hard limit 512"
        grep -q "open files are limited to 512 (ulimit -n, hard limit 512): Service MaxSessions 100 may need up to 1856" \
            "$LR_DIR/serve-$hard.log" || lr_fail "no warning about the limit: $(cat "$LR_DIR/serve-$hard.log")"
    fi
done
lr_pass
