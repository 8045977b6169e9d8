#!/usr/bin/env bash
# 1,000 accounts in one igfeed, against the fake Instagram (loopback only):
# - the peak number of upstream calls in flight (measured by the fake, Graph
#   API and CDN together) while all 1,000 cold feeds are requested at once;
#   target: never above IGFEED_UPSTREAM_CONCURRENCY (16);
# - RSS once every account's feed has been fetched once; target: under
#   150 MB without the media cache (its bytes, from /metrics, are subtracted);
# - start-up time with 1,000 stored accounts (exec to /healthz answering, and
#   the time igfeed logs for loading them);
# - /feeds/{account} throughput for a cached account against /feed, side by
#   side (wrk, 64 connections); target: the same (>= 0.9x).
# igfeed runs as in production: default log level, logging to a file.
# Usage: [IGFEED_BIN=path] bench/accounts.sh [seconds-per-run (default 10)]
# It is a report, not a test: it ends with "all targets met" or
# "MISSED: <list>" and exits 0 either way.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
ACCOUNTS=1000
BOUND=16

# shellcheck source=../scripts/lib.sh disable=SC1091
source scripts/lib.sh
# shellcheck source=lib.sh disable=SC1091
source bench/lib.sh
need wrk wrk
need curl curl
ulimit -n 65536 2>/dev/null || true
release_binary
MISSED=()

# 1,000 accounts of 25 posts each; every Graph and CDN answer takes 20 ms,
# as over a network, so that calls overlap as they would in production.
start_fake_upstream --accounts "$ACCOUNTS" --posts 25 --image-size 20KB --latency 20ms
python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["tokens"]]' "$WORK/fake.json" >"$WORK/tokens"
[[ $(wc -l <"$WORK/tokens") == "$ACCOUNTS" ]] || { echo "the fake gave no $ACCOUNTS tokens"; exit 1; }
KEY=bench-admin-key-0123456789
mkdir -p "$WORK/data"

start_igfeed() {  # start_igfeed PORT: sets IGFEED_PID
  env -u RUST_LOG MALLOC_MMAP_THRESHOLD_=131072 IGFEED_LISTEN="127.0.0.1:$1" IGFEED_GRAPH_URL="$GRAPH_URL" \
    IGFEED_DATA_DIR="$WORK/data" IGFEED_MEDIA_HOSTS=127.0.0.1 IGFEED_ADMIN_KEY="$KEY" \
    IGFEED_UPSTREAM_CONCURRENCY="$BOUND" "$BIN" >>"$WORK/igfeed.log" 2>&1 &
  IGFEED_PID=$!
  PIDS+=("$IGFEED_PID")
}

P=$(free_port)
start_igfeed "$P"
wait_up "http://127.0.0.1:$P/healthz" || { echo "igfeed did not start"; cat "$WORK/igfeed.log"; exit 1; }
URL="http://127.0.0.1:$P"

# --- 1. add 1,000 accounts (each PUT checks its token with the fake) ------
echo "adding $ACCOUNTS accounts"
T0=$(date +%s.%N)
nl -v0 -w1 -s' ' "$WORK/tokens" | xargs -P 32 -n 2 sh -c \
  'curl -fs -o /dev/null -X PUT -H "Authorization: Bearer '"$KEY"'" -H "Content-Type: application/json" \
     -d "{\"access_token\":\"$1\"}" "'"$URL"'/admin/accounts/acct$0"' || { echo "adding accounts failed"; exit 1; }
printf 'added %d accounts in %.1f s\n' "$ACCOUNTS" "$(echo "$(date +%s.%N) - $T0" | bc)"

# --- 2. all 1,000 cold feeds at once: the peak of upstream calls ----------
curl -fs -X POST "$GRAPH_URL/_fake/reset_peak" >/dev/null
for i in $(seq 0 $((ACCOUNTS - 1))); do echo "url = \"$URL/feeds/acct$i\""; echo "output = \"/dev/null\""; done >"$WORK/all.cfg"
T0=$(date +%s.%N)
curl -s --no-progress-meter --max-time 300 --parallel --parallel-immediate --parallel-max 1000 -K "$WORK/all.cfg" -w '%{http_code}\n' >"$WORK/all.codes" || true
ELAPSED=$(echo "$(date +%s.%N) - $T0" | bc)
OK=$(grep -c '^200$' "$WORK/all.codes" || true)
STATS=$(curl -fs "$GRAPH_URL/_fake/stats")
PEAK=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["peak_in_flight"])' "$STATS")
printf 'all %d feeds at once: %s answered 200 in %.1f s; upstream calls in flight at most: %s (bound %s)\n' \
  "$ACCOUNTS" "$OK" "$ELAPSED" "$PEAK" "$BOUND"
echo "fake's calls: $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["calls"])' "$STATS")"
[[ $OK == "$ACCOUNTS" ]] || MISSED+=("all feeds 200 ($OK)")
((PEAK <= BOUND)) || MISSED+=("peak upstream calls <= $BOUND ($PEAK)")

# --- 3. RSS with every feed fetched once ----------------------------------
# Let the warm-up of 25,000 media finish: the fake then sees no more CDN
# calls (the media cache, bounded by its budget, stops changing).
cdn_calls() { curl -fs "$GRAPH_URL/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"]["cdn"])'; }
prev=-1
for _ in $(seq 300); do
  cur=$(cdn_calls)
  [[ $cur == "$prev" ]] && break
  prev=$cur
  sleep 2
done
echo "warm-up done: $(cdn_calls) CDN calls"
prev=$(metric "$URL" '^igfeed_media_cache_bytes')
RSS=$(rss_mb "$IGFEED_PID")
MEDIA_MB=$(awk -v b="$prev" 'BEGIN {printf "%.1f", b / 1048576}')
NET=$(awk -v r="$RSS" -v m="$MEDIA_MB" 'BEGIN {printf "%.1f", r - m}')
echo "RSS with $ACCOUNTS feeds fetched: $RSS MB, media cache $MEDIA_MB MB, without it: $NET MB (target < 150)"
awk -v n="$NET" 'BEGIN {exit !(n < 150)}' || MISSED+=("RSS without media < 150 MB ($NET)")

# --- 4. /feeds/{account} (cached) against /feed ---------------------------
# The account 'default' has no token here; serve acct0's feed as both: put
# acct0's token as default's too.
curl -fs -o /dev/null -X PUT -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d "{\"access_token\":\"$(head -1 "$WORK/tokens")\"}" "$URL/admin/token"
curl -fs -o /dev/null "$URL/feed" && curl -fs -o /dev/null "$URL/feeds/acct500"
rps() { wrk -t2 -c64 -d"${DUR}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
# Alternating rounds, so that the machine's noise falls on both sides.
FEED=() ACCT=()
for _ in 1 2 3; do
  FEED+=("$(rps "$URL/feed")")
  ACCT+=("$(rps "$URL/feeds/acct500")")
done
RATIO=$(awk -v a="${ACCT[*]}" -v f="${FEED[*]}" 'BEGIN {
  n = split(a, x, " "); split(f, y, " "); for (i = 1; i <= n; i++) { sa += x[i]; sf += y[i] }
  printf "%.2f", sa / sf }')
echo "cached req/s: /feed ${FEED[*]}; /feeds/acct500 ${ACCT[*]}; ratio ${RATIO}x (target >= 0.9x)"
awk -v r="$RATIO" 'BEGIN {exit !(r >= 0.9)}' || MISSED+=("/feeds/{account} >= 0.9x /feed ($RATIO)")

# --- 5. start-up with 1,000 stored accounts -------------------------------
kill "$IGFEED_PID"; wait "$IGFEED_PID" 2>/dev/null || true
N=$(find "$WORK/data/accounts" -mindepth 1 -maxdepth 1 -type d | wc -l)
: >"$WORK/igfeed.log"
T0=$(date +%s.%N)
start_igfeed "$P"
for _ in $(seq 600); do curl -fs "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.01; done
UP=$(echo "$(date +%s.%N) - $T0" | bc)
LOADED=$(grep -o 'elapsed_ms=[0-9]*' "$WORK/igfeed.log" | head -1 | cut -d= -f2)
printf 'start-up with %d stored accounts: /healthz answered after %.2f s (loading them: %s ms); RSS %s MB\n' \
  "$N" "$UP" "${LOADED:-?}" "$(rss_mb "$IGFEED_PID")"
[[ $(curl -fs "$URL/feeds/acct999" -o /dev/null -w '%{http_code}') == 200 ]] || MISSED+=("acct999 served after restart")

if ((${#MISSED[@]} == 0)); then echo "all targets met"; else echo "MISSED: ${MISSED[*]}"; fi
