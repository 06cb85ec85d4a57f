#!/bin/sh
out=$(sh bin/greet --version)
[ "$out" = "greet 1.0.0" ] || { echo "expected 'greet 1.0.0', got '$out'"; exit 1; }
echo ok
