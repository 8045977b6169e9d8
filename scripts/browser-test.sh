#!/usr/bin/env bash
# Renders examples/feed.html in headless Chromium from a *different origin*
# than igfeed (--demo) and checks that every image really rendered
# (naturalWidth > 0): proof that CORS and Cross-Origin-Resource-Policy are
# right; then igfeed's own /demo page, to prove its strict
# Content-Security-Policy lets the page work. Installs Debian's chromium when
# missing. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

cargo build --locked --quiet
source scripts/lib.sh

API_PORT=$(free_port)
PAGE_PORT=$(free_port)
IGFEED_LISTEN="127.0.0.1:$API_PORT" IGFEED_DATA_DIR="$WORK/data" RUST_LOG=warn \
  target/debug/igfeed --demo >"$WORK/igfeed.log" 2>&1 &
PIDS+=($!)
mkdir -p "$WORK/site" && cp examples/feed.html "$WORK/site/"
python3 -m http.server "$PAGE_PORT" --bind 127.0.0.1 --directory "$WORK/site" >/dev/null 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$API_PORT/readyz" || { echo "igfeed --demo did not start"; cat "$WORK/igfeed.log"; exit 1; }

# The page's origin is localhost:PAGE_PORT, the API's 127.0.0.1:API_PORT.
EXPECTED=$(curl -fs "http://127.0.0.1:$API_PORT/feed" | python3 -c '
import json, sys
feed = json.load(sys.stdin)
n = 0
for p in feed["data"]:
    cover = (p["thumbnail_url"] or p["media_url"]) if p["media_type"] == "VIDEO" else p["media_url"]
    n += 1 if cover else 0
    for c in p.get("children") or []:
        n += 1 if ((c["thumbnail_url"] or c["media_url"]) if c["media_type"] == "VIDEO" else c["media_url"]) else 0
print(n)')
# check_page NAME URL: loads URL in headless Chromium and checks that every
# image of the feed rendered (the page records its counts on <body>).
check_page() {
  local name=$1 url=$2
  echo "loading $url in headless chromium (expecting $EXPECTED images)"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/profile-$name" --virtual-time-budget=20000 --dump-dom "$url" \
    2>"$WORK/chromium-$name.err" >"$WORK/dom-$name.html" || true
  local body
  body=$(grep -o '<body[^>]*>' "$WORK/dom-$name.html" || true)
  echo "rendered ($name): $body"
  python3 - "$EXPECTED" "$body" "$name" <<'PY'
import re, sys
expected, body, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', body))
loaded, failed = int(attrs.get("loaded", 0)), int(attrs.get("failed", -1))
ok = attrs.get("done") == "true" and failed == 0 and loaded == expected and expected > 0 and "error" not in attrs
print(f"browser ({name}): {loaded} images rendered (naturalWidth > 0), {failed} failed, {expected} expected")
sys.exit(0 if ok else 1)
PY
}

passed=0
failed=0
# The example page on another origin, reading the feed cross-origin (CORS,
# Cross-Origin-Resource-Policy) of the account named in the query; then
# igfeed's own /demo page, under its strict Content-Security-Policy.
for page in "cross-origin|http://localhost:$PAGE_PORT/feed.html?igfeed=http://127.0.0.1:$API_PORT&account=default" \
  "demo-csp|http://127.0.0.1:$API_PORT/demo"; do
  if check_page "${page%%|*}" "${page#*|}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
