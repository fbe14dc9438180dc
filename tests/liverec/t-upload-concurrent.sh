#!/bin/sh
# Storage MaxConcurrentUploads: ffliverec records a push into MP4 and FLV (a file every 4 s of
# each) and uploads through a proxy that holds every MP4 request 12 s (a slow path to storage).
# With MaxConcurrentUploads="2" the FLV files, finished after the first MP4, are in the bucket
# while that MP4 is still held; every file ends up in the bucket, each once, and the catalog says
# uploaded. With MaxConcurrentUploads="1" (the order the catalog gives, one at a time) the first
# FLV waits behind the held MP4: the test's own check that the proxy does hold it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-s3.sh"
lr_init upload-concurrent
lr_nginx_start
lr_s3_start
lr_s3_mkbucket rec || lr_fail "cannot create the bucket"
export AWS_ACCESS_KEY_ID="$LR_S3_ACCESS" AWS_SECRET_ACCESS_KEY="$LR_S3_SECRET"
pport=$(lr_free_port)
python3 "$LR_TOP/tests/liverec/s3_fault_proxy.py" "$pport" "${LR_S3_ENDPOINT##*:}" "$LR_DIR/proxy.log" \
    --slow /mp4/:12 2> "$LR_DIR/proxy.err" &
lr_track $!
lr_wait_port "$pport" 10 || lr_fail "the proxy did not start"

# run N MAX: record stream cN with MaxConcurrentUploads MAX; prints the seconds from the end of the
# first MP4's upload to the end of the upload of the first FLV catalogued after it (negative: the
# FLV was stored while the MP4 was held)
run() {
    cat > "$LR_DIR/c$1.xml" <<X
<?xml version="1.0"?>
<LiveRecordConfig>
  <Storage Endpoint="http://127.0.0.1:$pport" Bucket="rec" KeyTemplate="{StreamName}/" MaxConcurrentUploads="$2"/>
  <Template TemplateId="1" TemplateName="mp4-flv">
    <Mp4Param RecordInterval="4"/><FlvParam RecordInterval="4"/>
  </Template>
  <Rule DomainName="" TemplateId="1"/>
</LiveRecordConfig>
X
    lr_ffliverec_bg "$LR_DIR/c$1.xml" c$1 rec-$1.log
    _r=$LR_LAST_PID
    lr_push c$1 10
    lr_wait_pid $_r 120 || lr_fail "ffliverec did not end (see rec-$1.log)"
    _objs=$(lr_s3_ls rec | grep "^c$1/")
    _cat=$(python3 -c 'import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT format, status FROM recordings WHERE stream = ?", (sys.argv[2],)).fetchall()
print(len(rows), sum(1 for r in rows if r[1] == "uploaded"))' "$LR_DIR/state/ffliverec.db" "c$1")
    [ "${_cat% *}" -ge 4 ] || lr_fail "c$1: ${_cat% *} files catalogued, at least 4 expected"
    [ "${_cat#* }" = "${_cat% *}" ] || lr_fail "c$1: ${_cat#* } of ${_cat% *} files uploaded"
    [ "$(echo "$_objs" | wc -l)" = "${_cat% *}" ] || lr_fail "c$1: objects: $_objs"
    # from the proxy's log (START END METHOD PATH ...)
    awk -v s="/rec/c$1/" '$3 == "PUT" && index($4, s) == 1 { n++; st[n] = $1; en[n] = $2; p[n] = $4 }
        END {
            for (i = 1; i <= n; i++)
                if (p[i] ~ /\/mp4\// && (!m || st[i] < st[m])) m = i
            for (i = 1; m && i <= n; i++)
                if (p[i] ~ /\/flv\// && st[i] >= st[m] && (!f || st[i] < st[f])) f = i
            if (!m || !f) exit 1
            printf "%.3f\n", en[f] - en[m] }' "$LR_DIR/proxy.log" ||
        lr_fail "c$1: no MP4 or FLV upload in the proxy's log"
}
d2=$(run 2 2)
awk -v d="$d2" 'BEGIN { exit !(d < -4) }' ||
    lr_fail "with 2 uploads at once the first FLV was stored ${d2} s after the held MP4 (not before it)"
d1=$(run 1 1)
awk -v d="$d1" 'BEGIN { exit !(d >= 0) }' ||
    lr_fail "with 1 upload at a time the first FLV was stored ${d1} s after the held MP4: the proxy did not hold it"
lr_log "MP4 held 12 s: the first FLV was stored ${d2#-} s before it with 2 uploads at once, ${d1} s after it with 1"
lr_pass
