#!/bin/sh
out=$(sh bin/greet Ada Grace)
expected=$(printf 'Hello, Ada!\nHello, Grace!')
[ "$out" = "$expected" ] || { echo "expected two lines, got '$out'"; exit 1; }
echo ok
