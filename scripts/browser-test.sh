#!/usr/bin/env bash
# Renders examples/feed.html in headless Chromium from a *different origin*
# than igfeed (--demo) and checks that every image really rendered
# (naturalWidth > 0): proof that CORS and Cross-Origin-Resource-Policy are
# right; then igfeed's own /demo page, to prove its strict
# Content-Security-Policy lets the page work. On both, every image must come
# from a resized variant (its currentSrc has ?w=, picked from srcset) and
# the page must not shift as images load (the layout shift the page records
# from a PerformanceObserver must be 0: its tiles reserve their space).
# Then the admin page as a person uses it (scripts/browser-admin.py,
# Playwright driving the same Chromium): log in, Connect with Instagram
# through the fake's authorize page, refresh, delete, with screenshots in
# target/browser-test/ and no console error or CSP violation allowed.
# Installs Debian's chromium and Playwright (PyPI, into ~/.cache/igfeed; it
# drives the system browser and downloads none) when missing. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
PW_VERSION=1.65.2
PW_VENV="${IGFEED_TOOLS_DIR:-$HOME/.cache/igfeed}/playwright-$PW_VERSION"
if [[ ! -x "$PW_VENV/bin/python" ]] || ! "$PW_VENV/bin/python" -c 'import playwright' 2>/dev/null; then
  echo "installing playwright $PW_VERSION into $PW_VENV"
  rm -rf "$PW_VENV"
  mkdir -p "$(dirname "$PW_VENV")"
  python3 -m venv "$PW_VENV"
  "$PW_VENV/bin/pip" install --quiet "playwright==$PW_VERSION"
fi
# Debian's /usr/bin/chromium is a wrapper script; Playwright wants the binary.
CHROMIUM_BIN=/usr/lib/chromium/chromium
[[ -x $CHROMIUM_BIN ]] || CHROMIUM_BIN=$(command -v chromium)

cargo build --locked --quiet
BIN=target/debug/igfeed
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

# The admin page against igfeed and the fake Instagram as separate
# processes, as in production. The browser reaches the fake's authorize
# page as `localhost` and igfeed as 127.0.0.1: two sites, so the return
# from "Instagram" is a cross-site navigation, as it is for real.
start_fake_upstream --photos
APP_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["app_id"])' "$WORK/fake.json")
APP_SECRET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["app_secret"])' "$WORK/fake.json")
FAKE_PORT=${GRAPH_URL##*:}
ADMIN_PORT=$(free_port)
ADMIN_KEY="browser-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
SHOTS_DIR=${BROWSER_TEST_OUT:-$PWD/target/browser-test}
IGFEED_LISTEN="127.0.0.1:$ADMIN_PORT" IGFEED_DATA_DIR="$WORK/admin-data" IGFEED_GRAPH_URL="$GRAPH_URL" \
IGFEED_ACCESS_TOKEN="$TOKEN" IGFEED_ADMIN_KEY="$ADMIN_KEY" IGFEED_MEDIA_HOSTS=127.0.0.1 \
IGFEED_PUBLIC_URL="http://127.0.0.1:$ADMIN_PORT" IGFEED_IG_APP_ID="$APP_ID" IGFEED_IG_APP_SECRET="$APP_SECRET" \
IGFEED_OAUTH_URL="http://localhost:$FAKE_PORT" IGFEED_OAUTH_API_URL="$GRAPH_URL" RUST_LOG=info \
  "$BIN" >"$WORK/igfeed-admin.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$ADMIN_PORT/healthz" || { echo "igfeed (admin) did not start"; cat "$WORK/igfeed-admin.log"; exit 1; }
# The default account's feed, so that its card has a preview too.
curl -fs "http://127.0.0.1:$ADMIN_PORT/feed" >/dev/null
echo "admin page at http://127.0.0.1:$ADMIN_PORT/admin/ (fake Instagram at http://localhost:$FAKE_PORT)"
if ADMIN_URL="http://127.0.0.1:$ADMIN_PORT" ADMIN_KEY="$ADMIN_KEY" CHROMIUM="$CHROMIUM_BIN" SHOTS_DIR="$SHOTS_DIR" \
  timeout 300 "$PW_VENV/bin/python" scripts/browser-admin.py; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "igfeed's log:"; tail -30 "$WORK/igfeed-admin.log"
fi
for secret in "$ADMIN_KEY" "$APP_SECRET"; do
  if grep -qF -- "$secret" "$WORK/igfeed-admin.log"; then
    echo "a secret reached igfeed's log"; failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
