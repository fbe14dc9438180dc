#!/bin/sh
# ffliverec reads only configurations that are valid: the example passes -check; a config that
# breaks the schema or the meaning (unknown TemplateId, FlowContinueDuration 1801, EndTime before
# StartTime, duplicate ids or rules, a hostile stream name, a VodFileName with a path) is refused
# with FILE:LINE and the rule broken, exit status 1. -match picks the rule of DESIGN.md section 3
# (most specific wins, exact AppName breaks ties), honours the exclusion template, and lists the
# stream's tasks with their state.
. "$(dirname "$0")/lib.sh"
lr_init ffliverec-config
ffl=$LR_BUILD/ffliverec
[ -x "$ffl" ] || lr_fail "build/ffliverec is missing"
example=$LR_TOP/liverec/examples/record-all.xml

"$ffl" -hide_banner -config "$example" -check > "$LR_DIR/check.out" 2>&1 ||
    lr_fail "the example does not pass -check: $(cat "$LR_DIR/check.out")"
grep -q "valid: 3 templates, 3 rules, 1 tasks, storage, callbacks" "$LR_DIR/check.out" ||
    lr_fail "unexpected summary: $(cat "$LR_DIR/check.out")"

# bad NAME LINE MESSAGE: the config in $LR_DIR/NAME.xml is refused with NAME.xml:LINE: MESSAGE
bad() {
    if "$ffl" -hide_banner -config "$LR_DIR/$1.xml" -check -now 2026-11-01T00:00:00Z \
            > "$LR_DIR/$1.out" 2>&1; then
        lr_fail "$1: accepted"
    fi
    grep -q -- "$1.xml:$2: .*$3" "$LR_DIR/$1.out" || lr_fail "$1: no '$1.xml:$2: ...$3' in: $(cat "$LR_DIR/$1.out")"
    grep -q "the configuration is not used" "$LR_DIR/$1.out" || lr_fail "$1: no final verdict"
    lr_log "$1: $(grep -m1 -- "$1.xml:$2:" "$LR_DIR/$1.out" | cut -c1-150)"
}
cfg() { # NAME: the config from stdin
    { echo '<?xml version="1.0"?>'; echo '<LiveRecordConfig>'; cat; echo '</LiveRecordConfig>'; } > "$LR_DIR/$1.xml"
}

cfg flow-1801 <<'X'
<Template TemplateId="1" TemplateName="t"><HlsParam/><HlsSpecialParam FlowContinueDuration="1801"/></Template>
X
bad flow-1801 3 "FlowContinueDuration.*1801"

cfg unknown-template <<'X'
<Template TemplateId="1" TemplateName="t"><HlsParam/></Template>
<Rule DomainName="example.com" TemplateId="7"/>
X
bad unknown-template 4 "unknown TemplateId 7"

cfg end-before-start <<'X'
<Template TemplateId="1" TemplateName="t"><FlvParam/></Template>
<Task TaskId="a" DomainName="d" AppName="live" StreamName="s" StartTime="2026-12-01T10:00:00Z" EndTime="2026-12-01T08:00:00Z" TemplateId="1"/>
X
bad end-before-start 4 "task 'a': EndTime is not after StartTime"

cfg schema-element <<'X'
<Template TemplateId="1" TemplateName="t"><MkvParam/></Template>
X
bad schema-element 3 "MkvParam.*not expected"

cfg bad-name <<'X'
<Template TemplateId="1" TemplateName="t"><FlvParam/></Template>
<Rule DomainName="example.com" StreamName="../../etc" TemplateId="1"/>
X
bad bad-name 4 "StreamName.*\.\./\.\./etc"

cfg duplicates <<'X'
<Template TemplateId="1" TemplateName="t"><FlvParam/></Template>
<Template TemplateId="1" TemplateName="u"><Mp4Param/></Template>
<Rule DomainName="d" TemplateId="1"/>
<Rule DomainName="d" TemplateId="1"/>
<Task TaskId="a" DomainName="d" AppName="live" StreamName="s" EndTime="2027-01-01T00:00:00Z" TemplateId="1"/>
<Task TaskId="a" DomainName="d" AppName="live" StreamName="s" EndTime="2027-01-01T00:00:00Z" TemplateId="1"/>
X
bad duplicates 4 "duplicate TemplateId 1 (first on line 3)"
grep -q "duplicates.xml:6: duplicate rule" "$LR_DIR/duplicates.out" || lr_fail "no duplicate rule error"
grep -q "duplicates.xml:8: duplicate TaskId 'a'" "$LR_DIR/duplicates.out" || lr_fail "no duplicate task error"

cfg vod-path <<'X'
<Template TemplateId="1" TemplateName="t"><Mp4Param VodFileName="../{StreamID}"/></Template>
X
bad vod-path 3 "may not contain a path separator"

cfg key-dots <<'X'
<Storage Endpoint="http://127.0.0.1:9" Bucket="rec" KeyTemplate="{AppName}/../x/"/>
X
bad key-dots 3 "'\.' and '\.\.' segments are not allowed"

printf '<LiveRecordConfig><Template' > "$LR_DIR/broken.xml"
bad broken 1 ""
"$ffl" -hide_banner -config "$LR_DIR/missing.xml" -check > "$LR_DIR/missing.out" 2>&1 && lr_fail "a missing file was accepted"
grep -q "missing.xml: No such file" "$LR_DIR/missing.out" || lr_fail "no error for a missing file"

# matching (DESIGN.md section 3)
cfg match <<'X'
<Template TemplateId="1" TemplateName="domain"><FlvParam/></Template>
<Template TemplateId="2" TemplateName="excluded"/>
<Template TemplateId="3" TemplateName="stream-any-domain"><HlsParam/><HlsSpecialParam FlowContinueDuration="20"/></Template>
<Template TemplateId="4" TemplateName="all"><AacParam RecordInterval="600"/></Template>
<Template TemplateId="5" TemplateName="domain-app"><Mp4Param/></Template>
<Rule DomainName="" AppName="" StreamName="" TemplateId="4"/>
<Rule DomainName="" AppName="" StreamName="lecture" TemplateId="3"/>
<Rule DomainName="a.com" AppName="" StreamName="" TemplateId="1"/>
<Rule DomainName="a.com" AppName="live" StreamName="" TemplateId="5"/>
<Rule DomainName="a.com" AppName="" StreamName="secret" TemplateId="2"/>
<Task TaskId="now" DomainName="a.com" AppName="live" StreamName="cam" EndTime="2026-12-01T00:00:00Z" TemplateId="4"/>
<Task TaskId="later" DomainName="a.com" AppName="live" StreamName="cam" StartTime="2026-11-20T00:00:00Z" EndTime="2026-12-01T00:00:00Z" TemplateId="3"/>
X
m() { "$ffl" -hide_banner -config "$LR_DIR/match.xml" -now 2026-11-10T00:00:00Z -match "$1" > "$LR_DIR/m.out" 2>&1 ||
          lr_fail "-match $1 failed: $(cat "$LR_DIR/m.out")"; }
m a.com/live/cam
grep -q "rule on line 11 wins (priority 1, app exact)" "$LR_DIR/m.out" || lr_fail "a.com/live/cam: $(cat "$LR_DIR/m.out")"
grep -q "template 5 'domain-app' .*records mp4" "$LR_DIR/m.out" || lr_fail "a.com/live/cam: wrong template"
grep -q "task 'now' (line 13), active now: template 4" "$LR_DIR/m.out" || lr_fail "task 'now' not active"
grep -q "task 'later' (line 14), waiting for its StartTime" "$LR_DIR/m.out" || lr_fail "task 'later' not waiting"
m a.com/other/cam
grep -q "rule on line 10 wins (priority 1, app any)" "$LR_DIR/m.out" || lr_fail "a.com/other/cam: $(cat "$LR_DIR/m.out")"
m a.com/live/secret
grep -q "rule on line 12 wins (priority 0" "$LR_DIR/m.out" || lr_fail "a.com/live/secret: $(cat "$LR_DIR/m.out")"
grep -q "NOT recorded" "$LR_DIR/m.out" || lr_fail "the exclusion template does not say 'NOT recorded'"
m b.com/live/lecture
grep -q "rule on line 9 wins (priority 2" "$LR_DIR/m.out" || lr_fail "b.com/live/lecture: $(cat "$LR_DIR/m.out")"
grep -q "hls (spliced across interruptions up to 20 s, at most 43200 s a recording)" "$LR_DIR/m.out" ||
    lr_fail "no splice window and maximum shown"
m b.com/live/cam
grep -q "rule on line 8 wins (priority 3" "$LR_DIR/m.out" || lr_fail "b.com/live/cam: $(cat "$LR_DIR/m.out")"
lr_log "-match: priorities 0..3, app tie-break, exclusion and task windows as specified"

"$ffl" -hide_banner -config "$LR_DIR/match.xml" -match 'a.com/live/../../etc' > "$LR_DIR/hostile.out" 2>&1 &&
    lr_fail "a hostile stream name was accepted"
grep -q "not a valid name" "$LR_DIR/hostile.out" || lr_fail "no clear error for a hostile name"
# -rw_timeout is a duration: a value in microseconds, as ffmpeg's own option takes, is refused
"$ffl" -hide_banner -config "$example" -domain a.com -app live -stream cam -i rtmp://127.0.0.1:9/x \
    -rw_timeout 5000000 -spool "$LR_DIR/rw-spool" -state "$LR_DIR/rw-state" > "$LR_DIR/rw.out" 2>&1 &&
    lr_fail "-rw_timeout 5000000 (58 days) was accepted"
grep -q "rw_timeout must be between 0.1 s and 1 hour" "$LR_DIR/rw.out" || lr_fail "no clear error for -rw_timeout 5000000: $(cat "$LR_DIR/rw.out")"
[ -e "$LR_DIR/rw-state" ] && lr_fail "a refused command made its state folder"
# so is -read_coalesce, up to a second
"$ffl" -hide_banner -config "$example" -domain a.com -app live -stream cam -i rtmp://127.0.0.1:9/x \
    -read_coalesce 100000 -spool "$LR_DIR/rc-spool" -state "$LR_DIR/rc-state" > "$LR_DIR/rc.out" 2>&1 &&
    lr_fail "-read_coalesce 100000 (28 hours) was accepted"
grep -q "read_coalesce must be between 0 and 1 s" "$LR_DIR/rc.out" || lr_fail "no clear error for -read_coalesce 100000: $(cat "$LR_DIR/rc.out")"
[ -e "$LR_DIR/rc-state" ] && lr_fail "a refused command made its state folder"
# and -hook_hold, up to 5 s (nginx-rtmp gives up on a hook after 10)
"$ffl" -hide_banner -config "$example" -serve -listen 127.0.0.1:9 -hook_hold 2000000 \
    -spool "$LR_DIR/hh-spool" -state "$LR_DIR/hh-state" > "$LR_DIR/hh.out" 2>&1 &&
    lr_fail "-hook_hold 2000000 (23 days) was accepted"
grep -q "hook_hold must be between 0 and 5 s" "$LR_DIR/hh.out" || lr_fail "no clear error for -hook_hold 2000000: $(cat "$LR_DIR/hh.out")"
[ -e "$LR_DIR/hh-state" ] && lr_fail "a refused command made its state folder"
lr_pass
