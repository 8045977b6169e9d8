#!/usr/bin/env bash
# Benchmarks igfeed's cached paths against nginx serving the same bytes as
# static files, side by side in one run (alternating, same machine, same
# wrk settings), plus a cold-cache burst and memory figures. Loopback only;
# bounded in time. Usage: bench/run.sh [seconds-per-run (default 10)]
#
# Targets (issues 4 and 7): cached /feed >= 1.2x nginx req/s with p99 < 5 ms
# at 64 connections; cached /media >= 1.0x nginx; a 1,000-request cold burst
# = exactly one upstream walk, all 200; RSS idle < 20 MB; RSS after a media
# sweep 3x the cache budget <= budget + 40 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
CONNS=64
ROUNDS=2

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need nginx nginx
need curl curl
ulimit -n 65536 2>/dev/null || true

echo "building the release binary"
cargo build --release --locked --quiet
BIN=$PWD/target/release/igfeed
stop_nginx() { [[ -f $WORK/nginx.pid ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; }
EXTRA_CLEANUP=stop_nginx
source scripts/lib.sh
chmod 755 "$WORK"
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# A fake Instagram with 200 posts of ~150 KB images (videos 4x).
start_fake_upstream --posts 200 --image-size 150KB
GRAPH=$GRAPH_URL

start_igfeed() {  # start_igfeed NAME PORT [VAR=VALUE...]
  local name=$1 port=$2; shift 2
  mkdir -p "$WORK/$name"
  env IGFEED_LISTEN="127.0.0.1:$port" IGFEED_GRAPH_URL="$GRAPH" IGFEED_ACCESS_TOKEN="$TOKEN" \
    IGFEED_DATA_DIR="$WORK/$name" IGFEED_MEDIA_HOSTS=127.0.0.1 RUST_LOG=warn "$@" "$BIN" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
  wait_up "http://127.0.0.1:$port/healthz" || { echo "igfeed ($name) did not start"; exit 1; }
}

# --- 1. cold burst: 1,000 concurrent /feed on a cold cache -----------------
P=$(free_port)
start_igfeed burst "$P"
echo "idle RSS (started, nothing served): $(rss_mb "$LAST_PID") MB" | tee "$WORK/idle"
IDLE_RSS=$(rss_mb "$LAST_PID")
for i in $(seq 1000); do echo "url = \"http://127.0.0.1:$P/feed\""; echo "output = \"/dev/null\""; done >"$WORK/burst.cfg"
curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max 1000 -K "$WORK/burst.cfg" -w '%{http_code}\n' >"$WORK/burst.codes"
OK=$(grep -c '^200$' "$WORK/burst.codes" || true)
WALKS=$(curl -fs "http://127.0.0.1:$P/metrics" | awk -F' ' '/^igfeed_feed_cache_lookups_total\{result="miss"\}/ {print $2}')
PAGES=$(curl -fs "http://127.0.0.1:$P/metrics" | awk -F' ' '/^igfeed_upstream_requests_total\{call="media",outcome="ok"/ {print $2}')

# --- 2. throughput: cached /feed, /feed gzip, /media vs nginx ----------------
P=$(free_port)
start_igfeed main "$P"
IG=$LAST_PID
IGURL="http://127.0.0.1:$P"
mkdir -p "$WORK/www"
curl -fs "$IGURL/feed" -o "$WORK/www/feed.json"
curl -fs -H 'Accept-Encoding: gzip' "$IGURL/feed" -o "$WORK/www/feed.json.gz"
MEDIA_ID=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next(p["id"] for p in d["data"] if p["media_type"]=="IMAGE"))' "$WORK/www/feed.json")
curl -fs "$IGURL/media/$MEDIA_ID" -o "$WORK/www/media.jpg"
chmod -R a+rX "$WORK/www"
# The feed fetch started the media warm-up; measure the steady state
# after it, not the two competing (poll until the cache stops growing).
settled() { curl -fs "$IGURL/metrics" | awk '/^igfeed_media_cache_bytes / {print $2}'; }
last=-1
for ((i = 0; i < 120; i++)); do
  now=$(settled)
  [[ $now == "$last" ]] && break
  last=$now
  sleep 0.5
done
echo "media warm-up settled: $(awk -v b="$last" 'BEGIN {printf "%.1f", b/1e6}') MB cached"
NP=$(free_port)
cat >"$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  types { application/json json; image/jpeg jpg; }
  server {
    listen 127.0.0.1:$NP;
    root $WORK/www;
    location = /feed { gzip_static on; default_type application/json; try_files /feed.json =404; }
    location = /media { try_files /media.jpg =404; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK"
wait_up "http://127.0.0.1:$NP/feed" || { echo "nginx did not start"; cat "$WORK/nginx.err"; exit 1; }
NGURL="http://127.0.0.1:$NP"
echo "feed body: $(stat -c %s "$WORK/www/feed.json") bytes ($(stat -c %s "$WORK/www/feed.json.gz") gzipped); media: $(stat -c %s "$WORK/www/media.jpg") bytes"

run_wrk() {  # run_wrk URL [header] -> "rps p50ms p99ms"
  local out
  if [[ -n ${2:-} ]]; then out=$(wrk -t2 -c$CONNS -d${DUR}s --latency -H "$2" "$1"); else out=$(wrk -t2 -c$CONNS -d${DUR}s --latency "$1"); fi
  echo "$out" >>"$WORK/wrk.raw"
  echo "$out" | python3 -c '
import re, sys
t = sys.stdin.read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        sys.exit(f"cannot read latency {v!r} in:\n{t}")
    n, u = m.groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1)); p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {non2xx.group(1) if non2xx else 0}")'
}

RESULTS=$WORK/results
: >"$RESULTS"
for round in $(seq $ROUNDS); do
  for case in "feed||/feed|/feed" "feed-gzip|Accept-Encoding: gzip|/feed|/feed" "media||/media/$MEDIA_ID|/media"; do
    IFS='|' read -r name header igpath ngpath <<<"$case"
    for who in igfeed nginx; do
      if [[ $who == igfeed ]]; then url=$IGURL$igpath; else url=$NGURL$ngpath; fi
      line="$name $who $(run_wrk "$url" "$header")"
      echo "$line" >>"$RESULTS"
      echo "round $round: $line  (req/s p50 p99 non-2xx)"
    done
  done
done
RSS_AFTER_LOAD=$(rss_mb "$IG")

# --- 3. memory: a media sweep 3x the cache budget ---------------------------
P=$(free_port)
BUDGET_MB=16
start_igfeed sweep "$P" IGFEED_MEDIA_CACHE_SIZE=${BUDGET_MB}MB IGFEED_FEED_SIZE=200
SW=$LAST_PID
curl -fs "http://127.0.0.1:$P/feed" -o "$WORK/sweep.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["data"]:
    for x in [p] + (p.get("children") or []):
        for k in ("media_url", "thumbnail_url"):
            if x.get(k): print(x[k])' "$WORK/sweep.json" >"$WORK/sweep.urls"
SWEEP_BYTES=0
for pass in 1 2; do
  while read -r u; do curl -fs -o /dev/null -w '%{size_download}\n' "$u"; done <"$WORK/sweep.urls" >"$WORK/sweep.sizes"
done
SWEEP_BYTES=$(awk '{s+=$1} END {print s}' "$WORK/sweep.sizes")
SWEEP_RSS=$(rss_mb "$SW")
CACHED=$(curl -fs "http://127.0.0.1:$P/metrics" | awk '/^igfeed_media_cache_bytes / {printf "%.1f", $2/1e6}')

python3 - "$RESULTS" <<PY
import collections, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, who, rps, p50, p99, bad = line.split()
    rows[(name, who)].append((float(rps), float(p50), float(p99), int(bad)))
def avg(xs, i): return sum(x[i] for x in xs) / len(xs)
print()
print(f"wrk -t2 -c$CONNS -d${DUR}s, {$ROUNDS} alternating rounds each, same machine (2 cores shared with wrk)")
print(f"{'case':<10} {'igfeed req/s':>13} {'nginx req/s':>12} {'ratio':>6} {'igfeed p50/p99 ms':>18} {'nginx p50/p99 ms':>17} {'errors':>7}")
for name, target in (("feed", 1.2), ("feed-gzip", 1.2), ("media", 1.0)):
    ig, ng = rows[(name, "igfeed")], rows[(name, "nginx")]
    ratio = avg(ig, 0) / avg(ng, 0)
    verdict = "ok" if ratio >= target else "MISSED"
    print(f"{name:<10} {avg(ig,0):>13.0f} {avg(ng,0):>12.0f} {ratio:>5.2f}x {avg(ig,1):>8.2f}/{avg(ig,2):<8.2f} {avg(ng,1):>8.2f}/{avg(ng,2):<8.2f} {sum(x[3] for x in ig+ng):>6}  target >= {target}x: {verdict}")
print()
print("cold burst: 1000 concurrent GET /feed -> $OK x 200, feed cache misses (upstream walks): $WALKS, media pages fetched: $PAGES  (target: 1000, 1)")
print("RSS idle: $IDLE_RSS MB (target < 20 MB); after the throughput runs: $RSS_AFTER_LOAD MB")
budget = $BUDGET_MB
print(f"media sweep: {int($SWEEP_BYTES)/1e6:.0f} MB distinct media requested twice vs a {budget} MB cache ({int($SWEEP_BYTES)/1e6/budget:.1f}x); cache holds $CACHED MB; RSS $SWEEP_RSS MB (target <= {budget + 40} MB)")
PY
