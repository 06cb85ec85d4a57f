#!/usr/bin/env bash
# Cycle throughput: N independent tasks, a scripted agent that sleeps 1 s, P parallel
# workers, `longrun loop --every 0`. Prints the wall time against the ideal N/P seconds, and
# per-task overheads from the run artifacts. Needs `cargo build --release` and
# `cargo build --features fake-agent` (for the scripted agent) first.
# Usage: benches/cycle_throughput.sh [N] [P]
set -euo pipefail
N="${1:-200}"; P="${2:-8}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
LONGRUN="$TARGET/release/longrun"; AGENT="$TARGET/debug/longrun-fake-agent"
WORK="$(mktemp -d)"; [ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT; echo "work: $WORK" >&2
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=b@x
mkdir -p "$WORK/repo" "$WORK/scripts"; cd "$WORK/repo"
git init -q -b main && git commit -q --allow-empty -m init
"$LONGRUN" init -q >/dev/null 2>&1
{ echo "tasks:"; for i in $(seq 1 "$N"); do
    printf '  - task_id: T%s\n    title: Task %s\n    validators: [["test", "-f", "out/T%s.txt"]]\n' "$i" "$i" "$i"
    printf 'sleep 1000\nwrite out/T%s.txt done\ncommit task %s\n' "$i" "$i" > "$WORK/scripts/T$i"
done; } > checklist.yaml
cat > longrun.yaml <<YAML
max_parallel: $P
routing:
  default: fake
agents:
  fake:
    kind: command
    command: ["$AGENT", "include $WORK/scripts/{task_id}"]
    prompt: file
    timeout: 120s
YAML
git add -A && git commit -qm plan
start=$(date +%s.%N)
${TRACE:-} "$LONGRUN" loop --every 0 ${LOOP_ARGS:--q} > "${LOOP_OUT:-/dev/null}" 2>&1 || true
end=$(date +%s.%N)
merged=$(git log --first-parent --format=%B main | grep -c '^Longrun-Task:' || true)
python3 - "$start" "$end" "$N" "$P" "$merged" <<'PY'
import sys
start, end, n, p, merged = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
wall = end - start; ideal = n / p
print(f"tasks {n}, parallel {p}, merged {merged}: wall {wall:.1f} s, ideal {ideal:.1f} s, ratio {wall/ideal:.2f}, overhead per task {(wall-ideal)*p/n*1000:.0f} ms of a worker slot")
PY
