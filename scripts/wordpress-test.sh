#!/usr/bin/env bash
# WordPress plugin test (integrations/wordpress/igfeed): a real WordPress
# (Debian's package, copied into a private directory) on its own MariaDB
# (private datadir and socket, no TCP) and PHP's built-in server, with the
# plugin active, reading the real igfeed binary that runs against its
# built-in fake Instagram (two accounts when igfeed has named accounts).
# Checks the shortcode and the block, the last good copy when igfeed is
# down, the signed webhook, the graph.instagram.com stand-in for Bricks'
# Instagram element, the Bricks hooks, the settings form; runs the plugin's
# PHPUnit tests inside that WordPress; then, against `igfeed --demo` (whose
# pictures decode), checks width/height/srcset, that every image renders in
# headless Chromium, and that the block works in the block editor.
#
# Installs what it needs from Debian when missing (as root). Stops only what
# it started and removes its work directory on exit. Loopback only.
#
# IGFEED_BIN=path/to/igfeed skips the cargo build; WP_TEST_BROWSER=0 skips
# Chromium; WP_TEST_ARTIFACTS=DIR keeps the pages and logs there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PLUGIN=$ROOT/integrations/wordpress/igfeed
TESTENV=$ROOT/integrations/wordpress/test-env
START=$SECONDS
BROWSER=${WP_TEST_BROWSER:-1}

step() { printf '\n==> %s\n' "$*"; }

# --- packages -------------------------------------------------------------
php_has() { php -r "exit(extension_loaded('$1') ? 0 : 1);" 2>/dev/null; }
missing=()
command -v php >/dev/null 2>&1 || missing+=(php-cli)
[[ -f /usr/share/wordpress/wp-settings.php ]] || missing+=(wordpress)
[[ -d /usr/share/wordpress/wp-content/themes/twentytwentythree ]] || missing+=(wordpress-theme-twentytwentythree)
[[ -x /usr/sbin/mariadbd ]] && command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
php_has mysqli || missing+=(php-mysql)
php_has dom || missing+=(php-xml)
php_has mbstring || missing+=(php-mbstring)
php_has curl || missing+=(php-curl)
command -v phpunit >/dev/null 2>&1 || missing+=(phpunit)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [[ $BROWSER == 1 ]] && ! command -v chromium >/dev/null 2>&1; then missing+=(chromium); fi
if ((${#missing[@]})); then
  step "installing ${missing[*]} (Debian packages)"
  # Keep package scripts from starting system services (MariaDB, Apache):
  # this test runs its own, and only those.
  policy_added=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_added=1
  fi
  installed=0
  apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
      "${missing[@]}" >"${TMPDIR:-/tmp}/wordpress-test-apt.log" 2>&1 && installed=1
  if [[ $policy_added == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi
  [[ $installed == 1 ]] || { tail -30 "${TMPDIR:-/tmp}/wordpress-test-apt.log"; echo "apt-get install failed"; exit 1; }
  rm -f "${TMPDIR:-/tmp}/wordpress-test-apt.log"
else
  echo "packages: all present"
fi

pass=0
fail=0
check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
    pass=$((pass + 1))
  else
    echo "FAILED: $what"
    fail=$((fail + 1))
  fi
}

step "syntax"
lint_ok() {
  local f out rc=0
  while IFS= read -r -d '' f; do
    out=$(php -l "$f" 2>&1) || { echo "  $out"; rc=1; }
  done < <(find "$PLUGIN" "$TESTENV" -name '*.php' -print0)
  return $rc
}
check "php -l on every PHP file of the plugin, its tests and the test environment ($(find "$PLUGIN" "$TESTENV" -name '*.php' | wc -l) files)" lint_ok
if command -v node >/dev/null 2>&1; then
  check "node --check on the block's editor script" node --check "$PLUGIN/block/editor.js"
fi

# --- igfeed ---------------------------------------------------------------
if [[ -n ${IGFEED_BIN:-} ]]; then
  BIN=$(realpath "$IGFEED_BIN")
else
  step "cargo build"
  cargo build --locked --quiet
  BIN=$ROOT/target/debug/igfeed
fi

wp_cleanup() {
  if [[ -n ${PHP_PID:-} ]]; then
    kill -- "-$PHP_PID" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 -- "-$PHP_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  if [[ -n ${WP_TEST_ARTIFACTS:-} ]]; then
    mkdir -p "$WP_TEST_ARTIFACTS" && cp "$WORK"/*.html "$WORK"/*.log "$WORK"/*.err "$WP_TEST_ARTIFACTS"/ 2>/dev/null
  fi
  # The PHP server and igfeed are in PIDS; MariaDB is asked to shut down
  # and waited for, so its files can be removed.
  if [[ -n ${DB_PID:-} ]] && kill -0 "$DB_PID" 2>/dev/null; then
    kill "$DB_PID" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$DB_PID" 2>/dev/null || break; sleep 0.1; done
  fi
}
EXTRA_CLEANUP=wp_cleanup
source scripts/lib.sh

step "igfeed + fake Instagram"
WP_PORT=$(free_port)
SITE=http://127.0.0.1:$WP_PORT
SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
LOGIN_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
export WP_ADMIN_PASS=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
# Two Instagram accounts when this igfeed has named accounts: 'default'
# from IGFEED_ACCESS_TOKEN, 'shop' put through the admin API (the admin key
# stays in this script; WordPress never sees a key or a token).
# With --photos (when this igfeed has it) the fake's pictures are real
# JPEGs, so igfeed learns their width, height and colour.
ACCOUNTS=1
PHOTOS=
FAKE_ARGS=()
FAKE_HELP=$("$BIN" fake-upstream --help 2>/dev/null || true)
if grep -q -- '--accounts' <<<"$FAKE_HELP"; then
  ACCOUNTS=2
  FAKE_ARGS+=(--accounts 2)
fi
if grep -q -- '--photos' <<<"$FAKE_HELP"; then
  PHOTOS=all
  FAKE_ARGS+=(--photos)
fi
start_fake_upstream "${FAKE_ARGS[@]}"
ADMIN_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
IG_PORT=$(free_port)
IG=http://127.0.0.1:$IG_PORT
# igfeed's own signed feed.updated webhook to WordPress, when it has one
# (IGFEED_FEED_WEBHOOK). It is turned on only at the restart below: a first
# start announces every account's first feed, at a moment the test does not
# choose; a restart announces nothing.
HAS_FEED_WEBHOOK=0
"$BIN" --help 2>/dev/null | grep -q IGFEED_FEED_WEBHOOK && HAS_FEED_WEBHOOK=1
start_igfeed() { # start_igfeed [webhook]
  local hook=()
  if [[ ${1:-} == webhook && $HAS_FEED_WEBHOOK == 1 ]]; then
    hook=(IGFEED_FEED_WEBHOOK="$SITE/wp-json/igfeed/v1/webhook" IGFEED_WEBHOOK_SECRET="$SECRET")
  fi
  env "${hook[@]}" IGFEED_GRAPH_URL="$GRAPH_URL" IGFEED_ACCESS_TOKEN="$TOKEN" IGFEED_LISTEN="127.0.0.1:$IG_PORT" \
    IGFEED_DATA_DIR="$WORK/igfeed-data" IGFEED_MEDIA_HOSTS=127.0.0.1 IGFEED_ADMIN_KEY="$ADMIN_KEY" RUST_LOG=warn \
    "$BIN" >>"$WORK/igfeed.log" 2>&1 &
  IG_PID=$!
  PIDS+=("$IG_PID")
  wait_up "$IG/feed" 150 || { echo "igfeed did not serve its feed"; cat "$WORK/igfeed.log"; exit 1; }
}
# settle URL [all]: waits (at most 45 s) until igfeed's feed at URL stops
# changing: the display fields (width, height, colour) fill in once igfeed
# has fetched the pictures. With 'all', also until every post with a
# picture has its size (the fake's pictures decode only with --photos, the
# demo's always do).
settle() {
  python3 - "$1" "${2:-}" <<'PY'
import json, sys, time, urllib.request
url, need_all = sys.argv[1], sys.argv[2] == "all"
last, since, deadline = None, time.time(), time.time() + 45
while time.time() < deadline:
    body = urllib.request.urlopen(url, timeout=5).read()
    feed = json.loads(body)
    filled = all(p.get("width") for p in feed["data"] if p.get("display_url"))
    if body != last:
        last, since = body, time.time()
    elif time.time() - since >= 1.5 and (filled or not need_all):
        sys.exit(0)
    time.sleep(0.25)
print(f"{url} did not settle")
sys.exit(1)
PY
}
start_igfeed
# The plugin reads /feeds/{account}; an igfeed that serves only /feed (the
# default account) is read there instead.
FEED_PATH=/feeds/default
if [[ $(curl -s -o /dev/null -w '%{http_code}' "$IG/feeds/default") != 200 ]]; then
  FEED_PATH=/feed
  ACCOUNTS=1
fi
if [[ $ACCOUNTS == 2 ]]; then
  TOKEN2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens"][1])' "$WORK/fake.json")
  curl -fs -o /dev/null -X PUT -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
    --data "{\"access_token\":\"$TOKEN2\"}" "$IG/admin/accounts/shop" || { echo "could not add the account 'shop'"; exit 1; }
  wait_up "$IG/feeds/shop" 150 || { echo "igfeed did not serve /feeds/shop"; exit 1; }
fi
settle "$IG$FEED_PATH" $PHOTOS
[[ $ACCOUNTS == 2 ]] && settle "$IG/feeds/shop" $PHOTOS
echo "igfeed at $IG, feed at $FEED_PATH, $ACCOUNTS account(s)"

step "MariaDB (private datadir and socket)"
DB_DIR=$WORK/db
DB_SOCK=$WORK/mysqld.sock
mariadb-install-db --no-defaults --datadir="$DB_DIR" --user=root --auth-root-authentication-method=normal \
  --skip-test-db >"$WORK/db-install.log" 2>&1 || { cat "$WORK/db-install.log"; exit 1; }
/usr/sbin/mariadbd --no-defaults --datadir="$DB_DIR" --socket="$DB_SOCK" --skip-networking --user=root \
  --pid-file="$WORK/mysqld.pid" --log-error="$WORK/mysqld.err" --innodb-buffer-pool-size=64M >>"$WORK/mysqld.err" 2>&1 &
DB_PID=$!
for ((i = 0; i < 300; i++)); do
  mariadb-admin --no-defaults -S "$DB_SOCK" -uroot ping >/dev/null 2>&1 && break
  kill -0 "$DB_PID" 2>/dev/null || { cat "$WORK/mysqld.err"; exit 1; }
  sleep 0.1
done
mariadb --no-defaults -S "$DB_SOCK" -uroot -e 'CREATE DATABASE wordpress CHARACTER SET utf8mb4'

step "WordPress (Debian's, copied to a private directory)"
WP=$WORK/wp
export WP_HTTP_HOST=127.0.0.1:$WP_PORT
cp -a /usr/share/wordpress "$WP"
rm -f "$WP/wp-config.php"
mkdir -p "$WP/wp-content/plugins" "$WP/wp-content/mu-plugins" "$WP/wp-content/uploads"
cp -r "$PLUGIN" "$WP/wp-content/plugins/igfeed"
cp "$TESTENV/igfeed-test-hooks.php" "$WP/wp-content/mu-plugins/"
cp "$TESTENV/router.php" "$WP/"
keys=$(python3 -c '
import secrets
for k in ["AUTH_KEY","SECURE_AUTH_KEY","LOGGED_IN_KEY","NONCE_KEY","AUTH_SALT","SECURE_AUTH_SALT","LOGGED_IN_SALT","NONCE_SALT"]:
    print("define( %r, %r );" % (k, secrets.token_hex(32)))')
cat >"$WP/wp-config.php" <<PHP
<?php
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'root' );
define( 'DB_PASSWORD', '' );
define( 'DB_HOST', 'localhost:$DB_SOCK' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
$keys
\$table_prefix = 'wp_';
define( 'WP_HOME', '$SITE' );
define( 'WP_SITEURL', '$SITE' );
define( 'WP_CONTENT_DIR', __DIR__ . '/wp-content' );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_LOG', '$WORK/wp-debug.log' );
define( 'WP_DEBUG_DISPLAY', false );
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
define( 'IGFEED_URL', '$IG' );
define( 'IGFEED_WEBHOOK_SECRET', '$SECRET' );
define( 'IGFEED_TEST_LOGIN_SECRET', '$LOGIN_SECRET' );
if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
PHP
PAGES=$(php "$TESTENV/install.php" "$WP/wp-load.php") || { echo "WordPress install failed"; exit 1; }
echo "pages: $PAGES"
wpeval() { php "$TESTENV/eval.php" "$WP/wp-load.php" "$1"; }
[[ $FEED_PATH == /feed ]] && wpeval "update_option( 'igfeed_test_feed_path', '/feed' );"

# Its own session, so that its worker processes (which outlive a killed
# master) are stopped with it as one process group.
PHP_CLI_SERVER_WORKERS=4 setsid php -S "127.0.0.1:$WP_PORT" -t "$WP" "$WP/router.php" >"$WORK/php-server.log" 2>&1 &
PHP_PID=$!
wait_up "$SITE/wp-login.php" 100 || { echo "WordPress did not answer"; cat "$WORK/php-server.log"; exit 1; }
echo "WordPress at $SITE (ready after $((SECONDS - START))s)"

# --- checks ---------------------------------------------------------------
curl -fs "$IG$FEED_PATH" >"$WORK/feed.json"
[[ $ACCOUNTS == 2 ]] && curl -fs "$IG/feeds/shop" >"$WORK/feed-shop.json"
page() { curl -fs "$SITE/igfeed-$1/" >"$WORK/page-$1.html"; }
srcs() { grep -o '<img class="igfeed__image" src="[^"]*"' "$1" | sort; }

# grid_ok NAME EXPECTED_ITEMS [TYPE] [FEED_FILE] [IGFEED]: the page's grid
# has EXPECTED_ITEMS posts of the feed in FEED_FILE (default feed.json), in
# order (of TYPE), each a link to its permalink around an <img> from
# IGFEED's /media/ with alt text (alt_text when there is one), loading=lazy,
# and width/height and srcset/sizes exactly when the feed has them; videos
# carry a badge.
grid_ok() {
  page "$1" || return 1
  python3 - "$WORK/page-$1.html" "${4:-$WORK/feed.json}" "${5:-$IG}" "$2" "${3:-}" <<'PY'
import json, sys
from html.parser import HTMLParser

html_file, feed_file, ig, expected, only = sys.argv[1:6]
feed = json.load(open(feed_file))
posts = [p for p in feed["data"] if not only or p["media_type"] == only][: int(expected)]

class Grid(HTMLParser):
    def __init__(self):
        super().__init__()
        self.items, self.grids, self.cur = [], 0, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "ul" and "igfeed__grid" in cls:
            self.grids += 1
            self.label = a.get("aria-label")
        if tag == "li" and "igfeed__item" in cls:
            self.cur = {"class": cls, "img": None, "href": None, "badge": False}
            self.items.append(self.cur)
        if self.cur is None:
            return
        if tag == "a" and "igfeed__link" in cls:
            self.cur["href"] = a.get("href")
        if tag == "img":
            self.cur["img"] = a
        if tag == "span" and "igfeed__badge--video" in cls:
            self.cur["badge"] = True

g = Grid()
g.feed(open(html_file).read())
errors = []
if g.grids != 1:
    errors.append(f"{g.grids} grids")
elif g.label != "Instagram posts by @" + feed["user"]["username"]:
    errors.append(f"aria-label {g.label!r}")
if len(g.items) != len(posts):
    errors.append(f"{len(g.items)} items, expected {len(posts)}")
for item, post in zip(g.items, posts):
    pid = post["id"]
    if item["href"] != post["permalink"]:
        errors.append(f"{pid}: href {item['href']}")
    img = item["img"]
    cover = post.get("display_url") or post.get("thumbnail_url") or (None if post["media_type"] == "VIDEO" else post.get("media_url"))
    if cover is None and post.get("children"):
        c = post["children"][0]
        cover = c.get("display_url") or c.get("thumbnail_url") or (None if c["media_type"] == "VIDEO" else c.get("media_url"))
    if cover is None:
        if img is not None:
            errors.append(f"{pid}: an <img> for a post without picture")
        continue
    if img is None:
        errors.append(f"{pid}: no <img>")
        continue
    if img.get("src") != cover or not cover.startswith(ig + "/media/"):
        errors.append(f"{pid}: src {img.get('src')} (expected {cover})")
    if img.get("loading") != "lazy":
        errors.append(f"{pid}: loading={img.get('loading')}")
    if not (img.get("alt") or "").strip():
        errors.append(f"{pid}: empty alt")
    if post.get("alt_text") and img.get("alt") != post["alt_text"]:
        errors.append(f"{pid}: alt is not alt_text")
    has_size = bool(post.get("width") and post.get("height"))
    if has_size != ("width" in img and "height" in img):
        errors.append(f"{pid}: width/height {img.get('width')}x{img.get('height')}, feed {post.get('width')}x{post.get('height')}")
    if has_size and (int(img["width"]), int(img["height"])) != (post["width"], post["height"]):
        errors.append(f"{pid}: size differs")
    # srcset: igfeed's variants no wider than the picture, plus the picture
    # itself at its width when no variant has exactly that width.
    width = post.get("width") if has_size else None
    want = {int(w) for w in (post.get("sizes") or {}) if not width or int(w) <= width}
    if want and width:
        want.add(width)
    got = {int(c.split()[1][:-1]) for c in img.get("srcset", "").split(", ") if c}
    if want != got:
        errors.append(f"{pid}: srcset {img.get('srcset')!r}, feed sizes {post.get('sizes')!r}, width {width}")
    if "srcset" in img and "sizes" not in img:
        errors.append(f"{pid}: srcset without sizes")
    if (post["media_type"] == "VIDEO") != item["badge"]:
        errors.append(f"{pid}: video badge {item['badge']}")
counts = {k: sum(1 for p in posts if p.get(k)) for k in ("display_url", "sizes", "width", "alt_text")}
print(f"  {len(g.items)} posts; the feed has display_url on {counts['display_url']}, sizes on {counts['sizes']}, width/height on {counts['width']}, alt_text on {counts['alt_text']}")
for e in errors[:10]:
    print("  " + e)
sys.exit(1 if errors else 0)
PY
}

step "shortcode and block"
check "[igfeed limit=9] renders 9 posts linking to their permalinks, images from igfeed with alt, lazy, sizes" grid_ok shortcode 9
check "<!-- wp:igfeed/feed {\"limit\":3} /--> renders 3 posts" grid_ok block 3
check "[igfeed type=\"video\"] renders only the videos, each with a play badge" grid_ok videos 50 VIDEO
captions_ok() {
  page captions || return 1
  local want
  want=$(python3 -c 'import json,sys; print(sum(1 for p in json.load(open(sys.argv[1]))["data"][:4] if p.get("caption")))' "$WORK/feed.json")
  [[ $(grep -o 'class="igfeed__caption"' "$WORK/page-captions.html" | wc -l) == "$want" ]] &&
    grep -q '<div class="igfeed igfeed--account-default [^"]*\balignwide\b' "$WORK/page-captions.html" &&
    grep -q '<div class="igfeed igfeed--account-default [^"]*\bwp-block-igfeed-feed\b' "$WORK/page-captions.html" &&
    grep -q -- '--igfeed-columns:2;' "$WORK/page-captions.html"
}
clamped_ok() {
  page clamped || return 1
  local want
  want=$(python3 -c 'import json,sys; print(min(50, len(json.load(open(sys.argv[1]))["data"])))' "$WORK/feed.json")
  [[ $(grep -o 'class="igfeed__item ' "$WORK/page-clamped.html" | wc -l) == "$want" ]] &&
    grep -q -- '--igfeed-columns:1;' "$WORK/page-clamped.html"
}
invalid_ok() {
  page invalid || return 1
  ! grep -q 'igfeed__grid' "$WORK/page-invalid.html" && grep -q '<!-- igfeed: invalid account name -->' "$WORK/page-invalid.html"
}
assets_ok() {
  grep -q 'wp-content/plugins/igfeed/assets/igfeed.css' "$WORK/page-shortcode.html" &&
    ! grep -q 'igfeed/block/editor.js' "$WORK/page-shortcode.html"
}
check "block with captions, 2 columns, align wide: a caption under each captioned post, the block's classes kept" captions_ok
check "limit=999 columns=0 clamp to the whole feed (at most 50) and 1 column" clamped_ok
check "an invalid account renders no grid, only a comment" invalid_ok
check "the stylesheet is linked and no igfeed script is sent to visitors" assets_ok
if [[ $ACCOUNTS == 2 ]]; then
  distinct_ok() { ! grep -Fxf <(srcs "$WORK/page-shop.html") <(srcs "$WORK/page-shortcode.html") >/dev/null; }
  check "[igfeed account=\"shop\" limit=5] renders the second account's 5 posts" grid_ok shop 5 '' "$WORK/feed-shop.json"
  check "… none of which is the default account's" distinct_ok
fi

step "igfeed unreachable: the last good copy"
cp "$WORK/page-shortcode.html" "$WORK/page-shortcode-before.html"
kill "$IG_PID" && wait "$IG_PID" 2>/dev/null || true
# The fresh copy expires (dropped here, as the cache lifetime would).
wpeval "Igfeed_Client::drop( 'default' );"
down_ok() {
  curl -fs "$SITE/igfeed-shortcode/" >"$WORK/page-down.html" || return 1
  [[ $(srcs "$WORK/page-down.html" | wc -l) == 9 && "$(srcs "$WORK/page-down.html")" == "$(srcs "$WORK/page-shortcode-before.html")" ]] &&
    grep -q 'igfeed--stale' "$WORK/page-down.html"
}
check "with igfeed stopped, the page still shows the same 9 posts (marked stale)" down_ok
check "the block page too" grid_ok block 3
start_igfeed webhook
settle "$IG$FEED_PATH" $PHOTOS

step "webhook"
key=$(wpeval "echo Igfeed_Client::cache_key( 'default', '' );")
wpeval "Igfeed_Client::get_feed( 'default' );"  # warm the cache again
# sign BODY: sha256=<hex HMAC-SHA256 of BODY with the secret>.
sign() { python3 -c 'import hmac,hashlib,sys; print("sha256=" + hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$SECRET" "$1"; }
BODY='{"event":"feed.updated","account":"default","added":["1790000000000026"],"removed":[],"fetched_at":"2026-11-30T12:00:00Z"}'
hook() { # hook SIGNATURE_HEADER_OR_EMPTY: prints the status
  local args=(-s -o "$WORK/hook.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H 'X-Igfeed-Event: feed.updated' --data-binary "$BODY")
  [[ -n $1 ]] && args+=(-H "X-Igfeed-Signature: $1")
  curl "${args[@]}" "$SITE/wp-json/igfeed/v1/webhook"
}
cached() { [[ $(wpeval "echo get_transient( '$key' ) ? 'yes' : 'no';") == yes ]]; }
not_cached() { ! cached; }
# hook_gives STATUS SIGNATURE: the webhook answers STATUS, and a refusal
# leaves the cache alone.
hook_gives() {
  [[ $(hook "$2") == "$1" ]] || { cat "$WORK/hook.out"; echo; return 1; }
  [[ $1 == 200 ]] || cached
}
other_sig=sha256=$(python3 -c 'import hmac,hashlib,sys; print(hmac.new(b"other", sys.argv[1].encode(), hashlib.sha256).hexdigest())' "$BODY")
updated_ok() {
  [[ $(wpeval "echo wp_json_encode( get_option( 'igfeed_test_updated' ) );") == '[{"account":"default","added":["1790000000000026"]}]' ]]
}
check "the feed is cached before the webhook" cached
check "webhook without signature: 401, cache kept" hook_gives 401 ''
check "webhook with a malformed signature: 401, cache kept" hook_gives 401 'sha1=abc'
check "webhook with a wrong signature: 401, cache kept" hook_gives 401 "sha256=$(printf '0%.0s' {1..64})"
check "webhook signed with another secret: 401, cache kept" hook_gives 401 "$other_sig"
check "webhook with a good signature: 200" hook_gives 200 "$(sign "$BODY")"
check "… dropped the cached copy" not_cached
check "… and fired igfeed_feed_updated('default') with the event" updated_ok
# The first read after the drop may bring a new feed (igfeed refetched it
# when it restarted); once that copy is stored, the next read after a drop
# must be a 304.
revalidated_ok() {
  [[ $(wpeval "Igfeed_Client::get_feed( 'default' ); Igfeed_Client::drop( 'default' ); echo Igfeed_Client::get_feed( 'default' )['igfeed_source'];") == not-modified ]]
}
check "a read after a drop revalidates with If-None-Match and igfeed answers 304" revalidated_ok
check "the next page view reads igfeed again and renders" grid_ok shortcode 9
if [[ $ACCOUNTS == 2 ]]; then
  key_shop=$(wpeval "echo Igfeed_Client::cache_key( 'shop', '' );")
  wpeval "Igfeed_Client::get_feed( 'shop' );"
  shop_hook_ok() {
    local body='{"event":"feed.updated","account":"shop","added":[],"removed":[],"fetched_at":"2026-11-30T12:00:00Z"}'
    [[ $(curl -s -o "$WORK/hook.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      -H "X-Igfeed-Signature: $(sign "$body")" --data-binary "$body" "$SITE/wp-json/igfeed/v1/webhook") == 200 ]] &&
      [[ $(wpeval "echo ( get_transient( '$key_shop' ) ? 'kept' : 'dropped' ) . ' ' . ( get_transient( '$key' ) ? 'kept' : 'dropped' );") == 'dropped kept' ]] &&
      [[ $(wpeval "\$u = get_option( 'igfeed_test_updated' ); echo end( \$u )['account'];") == shop ]]
  }
  check "a webhook for 'shop' drops shop's copy only and fires the action for 'shop'" shop_hook_ok
  if [[ $HAS_FEED_WEBHOOK == 1 ]]; then
    # igfeed itself: removing 'shop' and adding it again makes its next good
    # feed a first one, which igfeed announces (signed) to WordPress.
    igfeed_hook_ok() {
      wpeval "Igfeed_Client::get_feed( 'shop' ); delete_option( 'igfeed_test_updated' );"
      curl -fs -o /dev/null -X DELETE -H "Authorization: Bearer $ADMIN_KEY" "$IG/admin/accounts/shop" || return 1
      curl -fs -o /dev/null -X PUT -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
        --data "{\"access_token\":\"$TOKEN2\"}" "$IG/admin/accounts/shop" || return 1
      # igfeed fetches a feed when it is asked for it.
      curl -fs -o /dev/null "$IG/feeds/shop" || return 1
      local i seen=''
      for ((i = 0; i < 60; i++)); do
        seen=$(wpeval "\$u = get_option( 'igfeed_test_updated' ); echo \$u ? wp_json_encode( \$u ) : '';")
        [[ -n $seen ]] && break
        sleep 0.2
      done
      [[ -n $seen ]] || { echo "  no feed.updated reached WordPress in 30 s"; grep -i webhook "$WORK/igfeed.log" | tail -3; return 1; }
      python3 - "$seen" "$IG/feeds/shop" <<'PY' || return 1
import json, sys, urllib.request
seen = json.loads(sys.argv[1])
ids = [p["id"] for p in json.load(urllib.request.urlopen(sys.argv[2]))["data"]]
ok = len(seen) == 1 and seen[0]["account"] == "shop" and sorted(seen[0]["added"]) == sorted(ids)
print(f"  igfeed announced {len(seen[0]['added'])} added posts of @{seen[0]['account']}")
sys.exit(0 if ok else 1)
PY
      [[ $(wpeval "echo get_transient( '$key_shop' ) ? 'kept' : 'dropped';") == dropped ]]
    }
    check "igfeed's own signed feed.updated (account re-added) is accepted and drops shop's copy" igfeed_hook_ok
  fi
fi

step "graph.instagram.com stand-in (Bricks' Instagram element)"
check "GET /me/media, /me, /{id}/children, refresh_access_token with the placeholder token answer Graph-shaped JSON with igfeed media URLs" \
  php "$TESTENV/eval.php" "$WP/wp-load.php" "
    \$ig = '$IG';
    \$fail = function ( \$m ) { fwrite( STDERR, \"  \$m\n\" ); exit( 1 ); };
    \$get = function ( \$url ) use ( \$fail ) {
      \$r = wp_remote_get( \$url );
      if ( is_wp_error( \$r ) || 200 !== wp_remote_retrieve_response_code( \$r ) ) { \$fail( 'not answered: ' . \$url ); }
      return json_decode( wp_remote_retrieve_body( \$r ), true );
    };
    \$media = \$get( 'https://graph.instagram.com/me/media?fields=id,caption,media_type,media_url,thumbnail_url,permalink,timestamp&access_token=igfeed-placeholder&limit=9' );
    if ( 9 !== count( \$media['data'] ) ) { \$fail( 'not 9 posts' ); }
    foreach ( \$media['data'] as \$p ) {
      foreach ( array( 'media_url', 'thumbnail_url' ) as \$f ) {
        if ( isset( \$p[ \$f ] ) && 0 !== strpos( \$p[ \$f ], \$ig . '/media/' ) ) { \$fail( \"\$f not igfeed's: \" . \$p[ \$f ] ); }
      }
      if ( 'VIDEO' === \$p['media_type'] && isset( \$p['media_url'] ) && ! isset( \$p['thumbnail_url'] ) ) { \$fail( 'video without thumbnail' ); }
      if ( empty( \$p['permalink'] ) || empty( \$p['id'] ) ) { \$fail( 'no id or permalink' ); }
    }
    \$me = \$get( 'https://graph.instagram.com/me?fields=username&access_token=igfeed-placeholder' );
    if ( 'example' !== ( \$me['username'] ?? null ) ) { \$fail( 'me: ' . wp_json_encode( \$me ) ); }
    \$album = null;
    foreach ( \$media['data'] as \$p ) { if ( 'CAROUSEL_ALBUM' === \$p['media_type'] ) { \$album = \$p['id']; break; } }
    \$children = \$get( \"https://graph.instagram.com/\$album/children?fields=id,media_type,media_url,thumbnail_url&access_token=igfeed-placeholder\" );
    if ( count( \$children['data'] ) < 1 || 0 !== strpos( \$children['data'][0]['media_url'] ?? \$children['data'][0]['thumbnail_url'], \$ig . '/media/' ) ) { \$fail( 'children: ' . wp_json_encode( \$children ) ); }
    \$refresh = \$get( 'https://graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token=igfeed-placeholder' );
    if ( 'igfeed-placeholder' !== \$refresh['access_token'] || \$refresh['expires_in'] < 86400 ) { \$fail( 'refresh: ' . wp_json_encode( \$refresh ) ); }
    \$next = \$get( 'https://graph.instagram.com/v25.0/me/media?fields=id&limit=5&access_token=igfeed-placeholder' );
    \$page2 = \$get( \$next['paging']['next'] );
    if ( \$page2['data'][0]['id'] !== \$media['data'][5]['id'] ) { \$fail( 'paging' ); }
    echo '  ' . count( \$media['data'] ) . ' posts, @' . \$me['username'] . ', album ' . \$album . ' with ' . count( \$children['data'] ) . ' children, refresh kept the placeholder' . PHP_EOL;
  "
if [[ $ACCOUNTS == 2 ]]; then
  check "igfeed-placeholder.shop answers from the 'shop' account" \
    php "$TESTENV/eval.php" "$WP/wp-load.php" "
      \$r = wp_remote_get( 'https://graph.instagram.com/me?fields=username&access_token=igfeed-placeholder.shop' );
      \$u = json_decode( wp_remote_retrieve_body( \$r ), true )['username'] ?? '';
      \$shop = json_decode( file_get_contents( '$WORK/feed-shop.json' ), true )['user']['username'];
      echo '  @' . \$u . PHP_EOL;
      exit( \$u === \$shop && 'example' !== \$u ? 0 : 1 );"
fi
check "a call with any other token is left alone (and blocked here by WP_HTTP_BLOCK_EXTERNAL)" \
  php "$TESTENV/eval.php" "$WP/wp-load.php" "
    \$r = wp_remote_get( 'https://graph.instagram.com/me/media?fields=id&access_token=IGQVJrealtoken' );
    exit( is_wp_error( \$r ) && 'http_request_not_executed' === \$r->get_error_code() ? 0 : 1 );"

step "Bricks query loop hooks (called as Bricks calls them)"
check "query type, loop, tags and tag values from the live feed" \
  php "$TESTENV/eval.php" "$WP/wp-load.php" "
    \$fail = function ( \$m ) { fwrite( STDERR, \"  \$m\n\" ); exit( 1 ); };
    \$options = apply_filters( 'bricks/setup/control_options', array( 'queryTypes' => array( 'post' => 'Posts' ) ) );
    if ( 'Instagram (igfeed)' !== ( \$options['queryTypes']['igfeed'] ?? null ) ) { \$fail( 'query type' ); }
    \$query = new stdClass();
    \$query->object_type = 'igfeed';
    \$query->settings = array( 'hasLoop' => true, 'query' => array(), 'igfeedAccount' => 'default', 'igfeedLimit' => 4 );
    \$items = apply_filters( 'bricks/query/run', array(), \$query );
    if ( 4 !== count( \$items ) ) { \$fail( 'run gave ' . count( \$items ) ); }
    \$names = wp_list_pluck( apply_filters( 'bricks/dynamic_tags_list', array() ), 'name' );
    foreach ( array( 'image', 'caption', 'permalink', 'timestamp', 'media_type', 'alt', 'width', 'height' ) as \$t ) {
      if ( ! in_array( '{igfeed_' . \$t . '}', \$names, true ) ) { \$fail( 'missing tag ' . \$t ); }
    }
    foreach ( \$items as \$key => \$item ) {
      apply_filters( 'bricks/query/loop_object', \$item, \$key, \$query );
      \$img = apply_filters( 'bricks/dynamic_data/render_tag', 'igfeed_image', null, 'image' );
      \$link = apply_filters( 'bricks/dynamic_data/render_tag', '{igfeed_permalink}', null, 'link' );
      \$html = apply_filters( 'bricks/dynamic_data/render_content', '<a href=\"{igfeed_permalink}\">{igfeed_media_type} {igfeed_timestamp:iso}</a>', null, 'text' );
      if ( \$link !== \$item['permalink'] ) { \$fail( 'permalink ' . \$link ); }
      if ( 'VIDEO' !== \$item['media_type'] || ! empty( \$item['thumbnail_url'] ) ) {
        if ( ! is_array( \$img ) || 0 !== strpos( \$img[0] ?? '', '$IG/media/' ) ) { \$fail( 'image ' . wp_json_encode( \$img ) ); }
      }
      if ( false !== strpos( \$html, '{igfeed_' ) || false === strpos( \$html, \$item['media_type'] ) ) { \$fail( 'content ' . \$html ); }
    }
    do_action( 'bricks/query/after_loop', \$query, array() );
    if ( '' !== apply_filters( 'bricks/dynamic_data/render_tag', 'igfeed_caption', null, 'text' ) ) { \$fail( 'tag outside the loop' ); }
    if ( 'post_title' !== apply_filters( 'bricks/dynamic_data/render_tag', 'post_title', null, 'text' ) ) { \$fail( 'other tags touched' ); }
    echo '  4 loop items, 8 tags' . PHP_EOL;
  "

step "settings page (Settings API, nonce, capability) over HTTP"
# login USER JAR: a logged-in cookie jar.
login() {
  curl -s -c "$2" -o /dev/null --data-urlencode "log=$1" --data-urlencode "pwd=$WP_ADMIN_PASS" \
    -d 'wp-submit=Log+In' "$SITE/wp-login.php"
}
setting() { wpeval "echo Igfeed_Settings::get( '$1' );"; }
# save JAR NONCE TTL: posts the settings form; prints the status.
save() {
  curl -s -b "$1" -o "$WORK/options.out" -w '%{http_code}' --data-urlencode "_wpnonce=$2" \
    -d 'option_page=igfeed&action=update&_wp_http_referer=%2Fwp-admin%2Foptions-general.php%3Fpage%3Digfeed' \
    -d "igfeed_settings%5Bcache_ttl%5D=$3" -d 'igfeed_settings%5Btimeout%5D=5' -d 'igfeed_settings%5Bbricks_account%5D=Bad%20Name' \
    "$SITE/wp-admin/options.php"
}
settings_ok() {
  login admin "$WORK/admin.jar"
  curl -fs -b "$WORK/admin.jar" "$SITE/wp-admin/options-general.php?page=igfeed" >"$WORK/settings.html" || return 1
  local nonce
  nonce=$(python3 -c 'import re,sys; print(re.search(r"name=\"_wpnonce\" value=\"([0-9a-f]+)\"", open(sys.argv[1]).read()).group(1))' "$WORK/settings.html") || return 1
  grep -q 'Set by the IGFEED_URL constant' "$WORK/settings.html" || return 1
  [[ $(save "$WORK/admin.jar" "$nonce" 600) == 302 ]] || { echo "  save answered $(head -c 300 "$WORK/options.out")"; return 1; }
  [[ $(setting cache_ttl) == 600 && $(setting timeout) == 5 && $(setting bricks_account) == default ]] || { echo "  not saved as expected"; return 1; }
  [[ $(save "$WORK/admin.jar" 0123456789 900) == 403 && $(setting cache_ttl) == 600 ]] || { echo "  a bad nonce was accepted"; return 1; }
  login reader "$WORK/reader.jar"
  [[ $(curl -s -b "$WORK/reader.jar" -o /dev/null -w '%{http_code}' "$SITE/wp-admin/options-general.php?page=igfeed") == 403 ]] || { echo "  an editor opened the page"; return 1; }
  [[ $(save "$WORK/reader.jar" "$nonce" 900) == 403 && $(setting cache_ttl) == 600 ]] || { echo "  an editor saved"; return 1; }
  ! grep -qi "$TOKEN" "$WORK/settings.html"
}
check "admin saves through options.php (bad account refused); bad nonce and an editor get 403; no token on the page" settings_ok
wpeval "delete_option( 'igfeed_settings' );"

step "PHPUnit (inside this WordPress)"
PHPUNIT_LOG=$WORK/phpunit.log
phpunit_ok() {
  local rc=0
  WP_LOAD=$WP/wp-load.php phpunit -c "$PLUGIN/tests/phpunit.xml.dist" --colors=never >"$PHPUNIT_LOG" 2>&1 || rc=$?
  tail -n 30 "$PHPUNIT_LOG" | sed 's/^/  /'
  return $rc
}
check "PHPUnit tests of the plugin" phpunit_ok

if [[ $BROWSER == 1 ]]; then
  step "headless Chromium (WordPress reading igfeed --demo, whose pictures are real)"
  # The fake Instagram's pictures are random bytes behind a JPEG header, so
  # the browser check reads an igfeed in demo mode instead.
  DEMO_PORT=$(free_port)
  DEMO=http://127.0.0.1:$DEMO_PORT
  IGFEED_LISTEN=127.0.0.1:$DEMO_PORT IGFEED_DATA_DIR=$WORK/demo-data RUST_LOG=warn "$BIN" --demo >"$WORK/igfeed-demo.log" 2>&1 &
  PIDS+=($!)
  wait_up "$DEMO/feed" 150 || { echo "igfeed --demo did not start"; cat "$WORK/igfeed-demo.log"; exit 1; }
  wpeval "update_option( 'igfeed_test_base_url', '$DEMO' );"
  settle "$DEMO/feeds/default" all || settle "$DEMO/feed" all
  curl -fs "$DEMO$FEED_PATH" >"$WORK/feed-demo.json"
  check "reading igfeed --demo: 9 posts with width/height, srcset/sizes and the average colour" \
    grid_ok shortcode 9 '' "$WORK/feed-demo.json" "$DEMO"
  colour_ok() { [[ $(grep -o 'style="background-color:#[0-9a-f]\{6\}"' "$WORK/page-shortcode.html" | wc -l) == 9 ]]; }
  check "… each image with its dominant colour as background" colour_ok
  browser_ok() {
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$WORK/chromium-profile" --window-size=1200,5000 --virtual-time-budget=20000 \
      --dump-dom "$SITE/igfeed-shortcode/?igfeed-browser-check=1" 2>"$WORK/chromium.err" >"$WORK/dom.html" || true
    local body
    body=$(grep -o '<body[^>]*>' "$WORK/dom.html" || true)
    python3 - "$body" "$DEMO" <<'PY'
import re, sys
body, ig = sys.argv[1], sys.argv[2]
a = dict(re.findall(r'data-([a-z]+)="([^"]*)"', body))
total, loaded, failed = int(a.get("total", 0)), int(a.get("loaded", 0)), int(a.get("failed", -1))
srcs = a.get("srcs", "").split()
ok = a.get("done") == "true" and total == 9 and loaded == total and failed == 0 and len(srcs) == 9 and all(s.startswith(ig + "/media/") for s in srcs)
print(f"  {loaded}/{total} images rendered (naturalWidth > 0) from igfeed, {failed} failed, {a.get('lazy')} with loading=lazy")
sys.exit(0 if ok else 1)
PY
  }
  check "the shortcode page's 9 images load in Chromium from igfeed" browser_ok
  # The block editor: log in (test-only mu-plugin), insert igfeed/feed into
  # a new page and wait for its server-side preview.
  editor_ok() {
    timeout 150 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$WORK/chromium-editor" --window-size=1400,1200 --virtual-time-budget=60000 \
      --dump-dom "$SITE/?igfeed-test-login=$LOGIN_SECRET" 2>"$WORK/chromium-editor.err" >"$WORK/dom-editor.html" || true
    local body
    body=$(grep -o '<body[^>]*>' "$WORK/dom-editor.html" || true)
    python3 - "$body" <<'PY'
import re, sys
a = dict(re.findall(r'data-([a-z]+)="([^"]*)"', sys.argv[1]))
ok = a.get("done") == "true" and a.get("registered") == "igfeed/feed" and a.get("items") == "2" and "error" not in a
print(f"  block {a.get('registered')!r} ({a.get('title')!r}) in the editor, preview shows {a.get('items')} posts" + (f", error {a['error']}" if "error" in a else ""))
sys.exit(0 if ok else 1)
PY
  }
  check "the block editor offers igfeed/feed and previews it (server-side render)" editor_ok
  if [[ -n ${WP_TEST_ARTIFACTS:-} ]]; then
    mkdir -p "$WP_TEST_ARTIFACTS"
    timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$WORK/chromium-profile" \
      --window-size=1000,1400 --virtual-time-budget=10000 --screenshot="$WP_TEST_ARTIFACTS/shortcode.png" \
      "$SITE/igfeed-captions/" >/dev/null 2>&1 || true
    timeout 150 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$WORK/chromium-editor-shot" \
      --window-size=1400,1000 --virtual-time-budget=60000 --screenshot="$WP_TEST_ARTIFACTS/editor.png" \
      "$SITE/?igfeed-test-login=$LOGIN_SECRET" >/dev/null 2>&1 || true
    timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$WORK/chromium-settings-shot" \
      --window-size=1200,1300 --virtual-time-budget=10000 --screenshot="$WP_TEST_ARTIFACTS/settings.png" \
      "$SITE/?igfeed-test-login=$LOGIN_SECRET&to=settings" >/dev/null 2>&1 || true
  fi
fi

if [[ -s $WORK/wp-debug.log ]] && grep -qi 'igfeed' "$WORK/wp-debug.log"; then
  echo "PHP notices mentioning igfeed:"
  grep -i igfeed "$WORK/wp-debug.log" | head -20
  fail=$((fail + 1))
fi
echo
echo "WordPress $(wpeval 'echo get_bloginfo( "version" );'), PHP $(php -r 'echo PHP_VERSION;'), $((SECONDS - START))s"
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
