#!/bin/sh
err=$(sh bin/greet --nope 2>&1 >/dev/null); code=$?
[ "$code" = 2 ] || { echo "expected exit 2, got $code"; exit 1; }
case "$err" in *usage:*) ;; *) echo "expected 'usage:' on stderr, got '$err'"; exit 1;; esac
echo ok
