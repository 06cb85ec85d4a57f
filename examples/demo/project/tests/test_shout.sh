#!/bin/sh
out=$(sh bin/greet --shout Ada)
[ "$out" = "HELLO, ADA!" ] || { echo "expected 'HELLO, ADA!', got '$out'"; exit 1; }
echo ok
