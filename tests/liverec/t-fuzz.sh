#!/bin/sh
# Every fuzz target of tests/fuzz/ (the configuration loader, the API's signature check and its
# credentials file, the API's template parameters and their round trip through the catalog and
# -export, liverec_hls's resume from its sidecar and working playlist, the whole listener: hooks,
# signed API requests, status routes), built with libFuzzer,
# AddressSanitizer and UBSan, runs 10 s from the committed seeds: a regression that crashes,
# leaks or trips a sanitizer on input from outside fails make check. make fuzz runs them longer
# (FUZZ_SECONDS).
. "$(dirname "$0")/lib.sh"
lr_init fuzz
"$LR_TOP/tests/fuzz/build" > "$LR_DIR/build.log" 2>&1 || {
    cat "$LR_DIR/build.log" >&2
    lr_fail "the fuzz targets do not build"
}
FUZZ_SECONDS=${FUZZ_SECONDS:-10} "$LR_TOP/tests/fuzz/run" || lr_fail "a fuzz target failed"
lr_pass
