#!/usr/bin/env bash
# Run each unit test binary given as an argument, one after the other.
#
#   tests/run-unit.sh build/tests/test_core build/tests/test_cfg ...
#
# Prints PASS or FAIL per binary (with the failing binary's output), then
# one summary line "unit: N passed, M failed", counted per binary.  Exits 1
# if any binary failed or none was given.
set -u

passed=0
failed=0
out=$(mktemp -t theke-unit.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT

if [ "$#" -eq 0 ]; then
    echo "usage: $0 TEST_BINARY..." >&2
    echo "unit: 0 passed, 0 failed"
    exit 1
fi

for bin in "$@"; do
    name=$(basename "$bin")
    if [ ! -x "$bin" ]; then
        echo "FAIL $name (not an executable file: $bin)"
        failed=$((failed + 1))
        continue
    fi
    start=$(date +%s)
    "$bin" >"$out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name (${secs}s)"
        passed=$((passed + 1))
    else
        echo "FAIL $name (exit status $rc, ${secs}s)"
        sed 's/^/    /' "$out"
        failed=$((failed + 1))
    fi
done

echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
