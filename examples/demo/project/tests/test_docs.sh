#!/bin/sh
[ -f docs/usage.md ] || { echo "docs/usage.md does not exist"; exit 1; }
for word in -- "--shout" "--version" "Ada Grace"; do
    [ "$word" = "--" ] && continue
    grep -q -- "$word" docs/usage.md || { echo "docs/usage.md does not mention '$word'"; exit 1; }
done
echo ok
