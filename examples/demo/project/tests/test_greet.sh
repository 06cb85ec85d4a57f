#!/bin/sh
set -e
[ -f bin/greet ] || { echo "bin/greet does not exist"; exit 1; }
out=$(sh bin/greet Ada); [ "$out" = "Hello, Ada!" ] || { echo "expected 'Hello, Ada!', got '$out'"; exit 1; }
out=$(sh bin/greet); [ "$out" = "Hello, world!" ] || { echo "expected 'Hello, world!', got '$out'"; exit 1; }
echo ok
