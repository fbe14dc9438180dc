#!/bin/sh
# ffliverec -serve sizes tcmalloc's threads' caches from Service MaxSessions: each session is a
# thread that allocates and frees per packet, and tcmalloc's default bound for all its threads'
# caches together (32 MiB) leaves each of 200 sessions 160 KiB. At its start the service raises
# the bound to 1 MiB per session (at most 1 GiB), never lowers it, and leaves it to
# TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES when that is set. The bound the log reports is the one
# tcmalloc reads back:
#   MaxSessions 300: 300 MiB;  MaxSessions 5000: 1024 MiB;  MaxSessions 10: left at 32 MiB;
#   MaxSessions 300 with TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES=64 MiB: left to it.
. "$(dirname "$0")/lib.sh"
lr_init serve-heap

run() { # MaxSessions, environment setting (or "") -> the service's verbose log in serve-$1$2.log
    cat > "$LR_DIR/serve-$1.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Service MaxSessions="$1"/>
</LiveRecordConfig>
X
    log="serve-$1${2:+-env}.log"
    LR_SERVE_PORT=$(lr_free_port)
    LR_SERVE_WRAP="env $2" lr_serve_start "$LR_DIR/serve-$1.xml" "$log" -loglevel verbose
    lr_wait_log "$log" "serving " 10
    lr_stop "$LR_SERVE_PID"
    grep "heap: " "$LR_DIR/$log" || lr_fail "$log: no heap line"
}
run 300 ""
grep -q "heap: tcmalloc (.*), its threads' caches up to 300 MiB in all (Service MaxSessions 300)" \
    "$LR_DIR/serve-300.log" || lr_fail "MaxSessions 300: the caches are not raised to 300 MiB"
run 5000 ""
grep -q "its threads' caches up to 1024 MiB in all (Service MaxSessions 5000)" \
    "$LR_DIR/serve-5000.log" || lr_fail "MaxSessions 5000: the caches are not raised to 1 GiB"
run 10 ""
! grep -q "threads' caches" "$LR_DIR/serve-10.log" ||
    lr_fail "MaxSessions 10: the caches' bound was changed although the default is larger"
grep -q "heap: tcmalloc (" "$LR_DIR/serve-10.log" || lr_fail "MaxSessions 10: tcmalloc is not in use"
run 300 "TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES=67108864"
! grep -q "threads' caches" "$LR_DIR/serve-300-env.log" ||
    lr_fail "the caches' bound was changed although TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES is set"
lr_pass
