#!/usr/bin/env bash
# Start-up of each real agent CLI run directly (no longrun), from launch to its first
# request to the scripted model server: the baseline for the `## Agents` numbers in
# BENCHMARKS.md. Needs the CLIs from .ci/run and `cargo build --features fake-agent`.
# Usage: benches/agent_startup.sh [runs]
set -euo pipefail
runs="${1:-3}"
cache="${LONGRUN_NPM_CACHE:-$HOME/.cache/longrun-ci/npm}"
claude="${LONGRUN_CLAUDE_BIN:-$cache/claude/node_modules/@anthropic-ai/claude-code-linux-x64/claude}"
codex="${LONGRUN_CODEX_BIN:-$cache/codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex}"
opencode="${LONGRUN_OPENCODE_BIN:-$cache/opencode/node_modules/opencode-linux-x64/bin/opencode}"
plugin="${LONGRUN_OPENCODE_PLUGIN_DIR:-$cache/opencode-config}"
server="${CARGO_TARGET_DIR:-target}/debug/longrun-model-server"
work="$(mktemp -d)"
trap 'kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
echo '{"mode":"script","steps":[{"answer":"ok"}]}' >"$work/scenario.json"
"$server" "$work/scenario.json" "$work/requests.jsonl" >"$work/port" &
server_pid=$!
sleep 0.5
port="$(head -1 "$work/port")"
now_ms() { date +%s%3N; }
requests() { local count; count="$(grep -sc '"/v1/' "$work/requests.jsonl" || true)"; echo "${count:-0}"; }
first_request_after() { # <start ms>: waits for the next logged model request
    local before="$1" count="$2"
    while [ "$(requests)" -le "$count" ]; do sleep 0.02; done
    local at
    at="$(grep '"/v1/' "$work/requests.jsonl" | sed -n "$((count + 1))p" | sed 's/.*"at_ms":\([0-9]*\).*/\1/')"
    echo $((at - before))
}
measure() { # <name> <command...>
    local name="$1"
    shift
    for _ in $(seq "$runs"); do
        local count
        count="$(requests)"
        local start
        start="$(now_ms)"
        "$@" </dev/null >/dev/null 2>&1 &
        local pid=$!
        echo "$name: $(first_request_after "$start" "$count") ms to the first model request"
        wait "$pid" || true
    done
}
mkdir -p "$work/tree" "$work/home/config/opencode" "$work/codex"
git -C "$work/tree" init -q
cp -R "$plugin/node_modules" "$plugin/package.json" "$work/home/config/opencode/"
printf 'model = "gpt-5.5"\nmodel_provider = "fake"\ncheck_for_update_on_startup = false\n\n[model_providers.fake]\nname = "fake"\nbase_url = "http://127.0.0.1:%s/v1"\nwire_api = "responses"\nenv_key = "FAKE_API_KEY"\nstream_max_retries = 0\nrequest_max_retries = 0\n\n[features]\nplugins = false\n\n[analytics]\nenabled = false\n' "$port" >"$work/codex/config.toml"
base=(env -i PATH=/usr/bin:/bin HOME="$work/home" XDG_CONFIG_HOME="$work/home/config" XDG_DATA_HOME="$work/home/data" XDG_CACHE_HOME="$work/home/cache" XDG_STATE_HOME="$work/home/state")
cd "$work/tree"
measure claude "${base[@]}" ANTHROPIC_BASE_URL="http://127.0.0.1:$port" ANTHROPIC_API_KEY=x \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
    "$claude" -p hello --output-format stream-json --verbose --permission-mode acceptEdits
measure codex "${base[@]}" CODEX_HOME="$work/codex" FAKE_API_KEY=x \
    "$codex" exec --json --ephemeral --sandbox workspace-write hello
config="{\"model\":\"fake/fake-model\",\"small_model\":\"fake/fake-model\",\"autoupdate\":false,\"share\":\"disabled\",\"provider\":{\"fake\":{\"npm\":\"@ai-sdk/openai-compatible\",\"name\":\"Fake\",\"options\":{\"baseURL\":\"http://127.0.0.1:$port/v1\",\"apiKey\":\"x\"},\"models\":{\"fake-model\":{\"name\":\"Fake\"}}}}}"
measure opencode "${base[@]}" OPENCODE_CONFIG_CONTENT="$config" OPENCODE_DISABLE_MODELS_FETCH=1 \
    OPENCODE_DISABLE_AUTOUPDATE=1 "$opencode" run --format json --dir "$work/tree" hello
