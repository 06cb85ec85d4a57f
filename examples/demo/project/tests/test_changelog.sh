#!/bin/sh
[ -f CHANGELOG.md ] || { echo "CHANGELOG.md does not exist"; exit 1; }
grep -q '^## 1.0.0' CHANGELOG.md || { echo "no '## 1.0.0' heading"; exit 1; }
n=$(grep -c '^- ' CHANGELOG.md)
[ "$n" -ge 3 ] || { echo "expected at least 3 bullet points, found $n"; exit 1; }
echo ok
