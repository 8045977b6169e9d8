#!/usr/bin/env bash
# Renders examples/feed.html in headless Chromium from a *different origin*
# than igfeed (--demo) and checks that every image really rendered
# (naturalWidth > 0): proof that CORS and Cross-Origin-Resource-Policy are
# right; then igfeed's own /demo page, to prove its strict
# Content-Security-Policy lets the page work. On both, every image must come
# from a resized variant (its currentSrc has ?w=, picked from srcset) and
# the page must not shift as images load (the layout shift the page records
# from a PerformanceObserver must be 0: its tiles reserve their space).
# Installs Debian's chromium when missing. Loopback only.
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
# Waits until igfeed has measured every picture (the warm-up after the first
# feed fetch fills width, height and dominant_color), so the page gets the
# sizes it reserves its tiles with; then counts the pictures it will show.
feed_pictures() {
  curl -fs "http://127.0.0.1:$API_PORT/feed" | python3 -c '
import json, sys
feed = json.load(sys.stdin)
items = [x for p in feed["data"] for x in [p] + (p.get("children") or [])]
shown = [x for x in items if x["display_url"]]
unmeasured = [x["id"] for x in shown if x["width"] is None]
print(len(shown))
sys.exit(1 if unmeasured else 0)'
}
EXPECTED=
for ((i = 0; i < 200; i++)); do
  EXPECTED=$(feed_pictures) && break
  EXPECTED=
  sleep 0.1
done
[[ -n $EXPECTED ]] || { echo "the feed's pictures were not measured (width still null) within 20 s"; cat "$WORK/igfeed.log"; exit 1; }
echo "the feed's $EXPECTED pictures are measured (width, height, dominant_color)"
# check_page NAME URL: loads URL in headless Chromium and checks that every
# image of the feed rendered from a resized variant, and that nothing shifted
# (the page records its counts and its layout shift on <body>).
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
variants, widths = int(attrs.get("variants", 0)), attrs.get("widths", "")
try:
    cls = float(attrs.get("cls", ""))
except ValueError:
    cls = None  # not measured: fails
ok = attrs.get("done") == "true" and failed == 0 and loaded == expected and expected > 0 and "error" not in attrs
print(f"browser ({name}): {loaded} images rendered (naturalWidth > 0), {failed} failed, {expected} expected")
variants_ok = variants == loaded
print(f"browser ({name}): {variants} of {loaded} images from resized variants (?w= {widths or 'none'}): {'ok' if variants_ok else 'FAILED'}")
cls_ok = cls is not None and cls < 0.001
print(f"browser ({name}): cumulative layout shift {attrs.get('cls', 'not recorded')} (must be < 0.001): {'ok' if cls_ok else 'FAILED'}")
sys.exit(0 if ok and variants_ok and cls_ok else 1)
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
