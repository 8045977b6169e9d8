#!/usr/bin/env bash
# Contract fuzzing: schemathesis (pinned, from PyPI) against a locally started
# igfeed + fake Instagram, using the committed openapi/openapi.json. Fails on
# any 5xx or any response that does not conform to the spec. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
VENV="${IGFEED_TOOLS_DIR:-$HOME/.cache/igfeed}/schemathesis-$ST_VERSION"
if [[ ! -x "$VENV/bin/schemathesis" ]]; then
  echo "installing schemathesis $ST_VERSION into $VENV"
  # Whatever is there is unusable (a half-made venv, a dangling link): start over.
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$ST_VERSION"
fi

cargo build --locked --quiet
BIN=target/debug/igfeed
source scripts/lib.sh
start_fake_upstream --posts 30
PORT=$(free_port)
ADMIN_KEY="contract-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"

IGFEED_LISTEN="127.0.0.1:$PORT" IGFEED_GRAPH_URL="$GRAPH_URL" IGFEED_ACCESS_TOKEN="$TOKEN" \
IGFEED_ADMIN_KEY="$ADMIN_KEY" IGFEED_DATA_DIR="$WORK/data" IGFEED_MEDIA_HOSTS=127.0.0.1 \
IGFEED_REFRESH_MIN_AGE=1s RUST_LOG=warn "$BIN" >"$WORK/igfeed.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$PORT/readyz" || { echo "igfeed did not become ready"; cat "$WORK/igfeed.log"; exit 1; }

echo "schemathesis $ST_VERSION against http://127.0.0.1:$PORT"
status=0
(cd "$WORK" && "$VENV/bin/schemathesis" --config-file "$OLDPWD/schemathesis.toml" run "$OLDPWD/openapi/openapi.json" \
  --url "http://127.0.0.1:$PORT" \
  --header "Authorization: Bearer $ADMIN_KEY" \
  --max-examples "${ST_MAX_EXAMPLES:-60}" \
  --request-timeout 20 \
  --seed 1 \
  --no-color) || status=$?
if ! kill -0 "${PIDS[1]}" 2>/dev/null; then
  echo "igfeed died during the run:"; tail -50 "$WORK/igfeed.log"; exit 1
fi
if grep -q "$TOKEN\|$ADMIN_KEY" "$WORK/igfeed.log"; then
  echo "a secret reached igfeed's log"; exit 1
fi
exit $status
