#!/usr/bin/env bash
# Run the interop tests (tests/interop/NN-area-case.py) in parallel.
#
#   tests/run-interop.sh                 every test
#   tests/run-interop.sh 10 bad-         only tests whose name contains
#                                        one of the arguments
#
# Each test starts its own theked from $THEKE_BUILD (default "build") on
# free loopback ports, so tests do not share state.  The tests need
# Debian's slixmpp, hence /usr/bin/python3 rather than the first python3
# on PATH.  Environment: JOBS (parallel tests, default 4), TEST_TIMEOUT
# (seconds per test, default 120).
#
# Prints PASS/FAIL per test as they finish, the output of every failing
# test, and last exactly one line "interop: N passed, M failed".  Exits 1
# if any test failed.
set -u

cd "$(dirname "$0")/.." || exit 1
export THEKE_BUILD="${THEKE_BUILD:-build}"
PY=/usr/bin/python3
JOBS="${JOBS:-4}"
TEST_TIMEOUT="${TEST_TIMEOUT:-120}"

tests=()
for t in tests/interop/[0-9]*.py; do
    [ -e "$t" ] || continue
    if [ "$#" -gt 0 ]; then
        keep=0
        for pat in "$@"; do
            case "$(basename "$t")" in *"$pat"*) keep=1 ;; esac
        done
        [ "$keep" -eq 1 ] || continue
    fi
    tests+=("$t")
done

if [ "${#tests[@]}" -eq 0 ]; then
    echo "no interop tests selected" >&2
    echo "interop: 0 passed, 0 failed"
    exit 1
fi
if [ ! -x "$THEKE_BUILD/theked" ] || [ ! -x "$THEKE_BUILD/thekectl" ]; then
    echo "warning: $THEKE_BUILD/theked or $THEKE_BUILD/thekectl missing;" \
         "every test will fail (run make first)" >&2
fi

out=$(mktemp -d -t theke-interop.XXXXXX) || exit 1
trap 'rm -rf "$out"' EXIT

# One test: output to $out/NAME.log, exit status to $out/NAME.rc.
run_one() {
    local t=$1 name start rc
    name=$(basename "$t" .py)
    start=$(date +%s)
    timeout -k 5 "$TEST_TIMEOUT" "$PY" -B "$t" >"$out/$name.log" 2>&1
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "(killed after ${TEST_TIMEOUT}s)" >>"$out/$name.log"
    fi
    echo "$rc" >"$out/$name.rc"
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name ($(( $(date +%s) - start ))s)"
    else
        echo "FAIL $name (exit status $rc, $(( $(date +%s) - start ))s)"
    fi
}

running=0
for t in "${tests[@]}"; do
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
    run_one "$t" &
    running=$((running + 1))
done
wait

passed=0
failed=0
failures=()
for t in "${tests[@]}"; do
    name=$(basename "$t" .py)
    rc=$(cat "$out/$name.rc" 2>/dev/null || echo 255)
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
done

for name in "${failures[@]+"${failures[@]}"}"; do
    echo
    echo "======== $name ========"
    cat "$out/$name.log" 2>/dev/null
done
[ "$failed" -eq 0 ] || echo

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
