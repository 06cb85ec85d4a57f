#!/bin/sh
# Runs every test and names the ones that fail.
status=0
for test in tests/test_*.sh; do
    sh "$test" >/dev/null 2>&1 || { echo "FAIL $test"; status=1; }
done
exit $status
