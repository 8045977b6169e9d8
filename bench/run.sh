#!/usr/bin/env bash
# Benchmarks igfeed's cached paths against nginx serving the same bytes as
# static files, side by side in one run (alternating, same machine, same
# wrk settings), plus a cold-cache burst, memory and file-descriptor figures.
# Both servers run as in production: igfeed at its default log level (an
# INFO line per request, RUST_LOG not set) and nginx with its access log on
# (combined format), each logging to a file. Loopback only; bounded in time.
# Usage: [IGFEED_BIN=path] bench/run.sh [seconds-per-run (default 10)]
# (IGFEED_BIN: a prebuilt binary to measure; without it the release binary
# is built here first.)
#
# Targets: cached /feed >= 0.9x nginx req/s; /feed gzip >= 0.9x; cached
# /media/{id} (a ~150 KB JPEG) >= 0.8x; a cached resized variant,
# /media/{id}?w=320 as WebP (Accept: image/webp), >= 0.8x nginx serving the
# same bytes; igfeed p99 < 10 ms at 64 connections in each of these cases
# (worst round); a 1,000-request cold burst = all 200
# and exactly one upstream walk; RSS idle < 20 MB; RSS after a media sweep
# 3x the cache budget <= budget + 40 MB; open file descriptors do not grow
# with the number of cached objects (growth over the sweep <= 16); 1,200
# /feed requests with made-up Host headers (each a render and a brotli) cost
# <= 5 ms of igfeed CPU each, grow RSS by <= 40 MB and leave /healthz fast.
# It is a report, not a test: it ends with "all targets met" or
# "MISSED: <list>" and exits 0 either way.
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

if [[ -z ${IGFEED_BIN:-} ]]; then
  echo "building the release binary"
  cargo build --release --locked --quiet
fi
BIN=${IGFEED_BIN:-$PWD/target/release/igfeed}
[[ -x $BIN ]] || { echo "no igfeed binary at $BIN"; exit 1; }
echo "binary: $BIN"
stop_nginx() { [[ -f $WORK/nginx.pid ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; }
# shellcheck disable=SC2034 # read by scripts/lib.sh's clean-up
EXTRA_CLEANUP=stop_nginx
# shellcheck source=../scripts/lib.sh disable=SC1091
source scripts/lib.sh
chmod 755 "$WORK"
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# Open file descriptors of a process, and how many of them are memfds.
fd_count() { { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null || true; } | wc -l; }
memfd_count() { { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -lname '/memfd:*' 2>/dev/null || true; } | wc -l; }
metric() {  # metric URL REGEX: the value of the first sample line matching REGEX
  # awk reads to the end: exiting early would fail curl (and pipefail).
  curl -fs -m 10 "$1/metrics" | awk -v re="$2" '$0 ~ re && !found {print $NF; found = 1}'
}

# A fake Instagram with 200 posts of ~150 KB images (videos 4x); the images
# real 1080x1350 JPEGs (padded to 150 KB), which igfeed can resize and measure.
start_fake_upstream --posts 200 --image-size 150KB --photos
GRAPH=$GRAPH_URL

start_igfeed() {  # start_igfeed NAME PORT [VAR=VALUE...]
  local name=$1 port=$2; shift 2
  mkdir -p "$WORK/$name"
  # Default log level: RUST_LOG is not set (nor inherited from the caller).
  # The allocator setting of the container image (see Dockerfile).
  env -u RUST_LOG MALLOC_MMAP_THRESHOLD_=131072 IGFEED_LISTEN="127.0.0.1:$port" IGFEED_GRAPH_URL="$GRAPH" IGFEED_ACCESS_TOKEN="$TOKEN" \
    IGFEED_DATA_DIR="$WORK/$name" IGFEED_MEDIA_HOSTS=127.0.0.1 "$@" "$BIN" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
  wait_up "http://127.0.0.1:$port/healthz" || { echo "igfeed ($name) did not start"; cat "$WORK/$name.log"; exit 1; }
}

# --- 1. cold burst: 1,000 concurrent /feed on a cold cache -----------------
P=$(free_port)
start_igfeed burst "$P"
IDLE_RSS=$(rss_mb "$LAST_PID")
echo "idle RSS (started, nothing served): $IDLE_RSS MB"
for _ in $(seq 1000); do echo "url = \"http://127.0.0.1:$P/feed\""; echo "output = \"/dev/null\""; done >"$WORK/burst.cfg"
curl -s --no-progress-meter --max-time 60 --parallel --parallel-immediate --parallel-max 1000 -K "$WORK/burst.cfg" -w '%{http_code}\n' >"$WORK/burst.codes" || true
OK=$(grep -c '^200$' "$WORK/burst.codes" || true)
WALKS=$(metric "http://127.0.0.1:$P" '^igfeed_feed_cache_lookups_total\{result="miss"\}')
PAGES=$(metric "http://127.0.0.1:$P" '^igfeed_upstream_requests_total\{call="media",outcome="ok"')
echo "cold burst: $OK x 200 of 1000, upstream walks: ${WALKS:-?}, media pages fetched: ${PAGES:-?}"

# --- 2. throughput: cached /feed, /feed gzip, /media, a variant vs nginx -----
P=$(free_port)
start_igfeed main "$P"
IG=$LAST_PID
IGURL="http://127.0.0.1:$P"
mkdir -p "$WORK/www"
# The first feed fetch starts the media warm-up; measure the steady state
# after it, not the two competing (poll until the cache stops growing and
# every picture is measured: each is decoded once for the feed's width,
# height and dominant_color, which change the feed's body).
curl -fs "$IGURL/feed" -o "$WORK/first.json"
settled() { metric "$IGURL" '^igfeed_media_cache_bytes '; }
unmeasured() {  # unmeasured URL: how many of the feed's pictures have no width yet
  curl -fs "$1/feed" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for p in d["data"] for x in [p] + (p.get("children") or []) if x["display_url"] and x["width"] is None))'
}
last=-1
for ((i = 0; i < 120; i++)); do
  now=$(settled)
  [[ $now == "$last" && $(unmeasured "$IGURL") == 0 ]] && break
  last=$now
  sleep 0.5
done
echo "media warm-up settled: $(awk -v b="$last" 'BEGIN {printf "%.1f", b/1e6}') MB cached, $(unmeasured "$IGURL") pictures left unmeasured"
# nginx's copies of the very bytes igfeed serves now.
curl -fs "$IGURL/feed" -o "$WORK/www/feed.json"
curl -fs -H 'Accept-Encoding: gzip' "$IGURL/feed" -o "$WORK/www/feed.json.gz"
MEDIA_ID=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next(p["id"] for p in d["data"] if p["media_type"]=="IMAGE"))' "$WORK/www/feed.json")
curl -fs "$IGURL/media/$MEDIA_ID" -o "$WORK/www/media.jpg"
# The 320 px WebP variant, made by this first request and cached from then
# on.
VARIANT_ACCEPT='Accept: image/webp'
VARIANT_TYPE=$(curl -fs -H "$VARIANT_ACCEPT" "$IGURL/media/$MEDIA_ID?w=320" -o "$WORK/www/variant.webp" -w '%{content_type}') ||
  { echo "igfeed did not make the variant /media/$MEDIA_ID?w=320"; exit 1; }
[[ $VARIANT_TYPE == image/webp ]] || { echo "the variant is $VARIANT_TYPE, not image/webp"; exit 1; }
chmod -R a+rX "$WORK/www"
NP=$(free_port)
cat >"$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log $WORK/nginx.access.log;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  types { application/json json; image/jpeg jpg; image/webp webp; }
  server {
    listen 127.0.0.1:$NP;
    root $WORK/www;
    location = /feed { gzip_static on; default_type application/json; try_files /feed.json =404; }
    location = /media { try_files /media.jpg =404; }
    location = /variant { try_files /variant.webp =404; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK"
wait_up "http://127.0.0.1:$NP/feed" || { echo "nginx did not start"; cat "$WORK/nginx.err"; exit 1; }
NGURL="http://127.0.0.1:$NP"
echo "feed body: $(stat -c %s "$WORK/www/feed.json") bytes ($(stat -c %s "$WORK/www/feed.json.gz") gzipped); media: $(stat -c %s "$WORK/www/media.jpg") bytes; variant (320 px WebP): $(stat -c %s "$WORK/www/variant.webp") bytes"
IG_LOG_BEFORE=$(wc -l <"$WORK/main.log")

run_wrk() {  # run_wrk URL [header] -> "rps p50ms p99ms errors"
  local out
  if [[ -n ${2:-} ]]; then out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -H "$2" "$1"); else out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "$1"); fi
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
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
bad = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {bad}")'
}

RESULTS=$WORK/results
: >"$RESULTS"
for round in $(seq "$ROUNDS"); do
  for case in "feed||/feed|/feed" "feed-gzip|Accept-Encoding: gzip|/feed|/feed" "media||/media/$MEDIA_ID|/media" \
    "variant|$VARIANT_ACCEPT|/media/$MEDIA_ID?w=320|/variant"; do
    IFS='|' read -r name header igpath ngpath <<<"$case"
    for who in igfeed nginx; do
      if [[ $who == igfeed ]]; then url=$IGURL$igpath; else url=$NGURL$ngpath; fi
      line="$name $who $(run_wrk "$url" "$header")"
      echo "$line" >>"$RESULTS"
      echo "round $round: $line  (req/s p50 p99 errors)"
    done
  done
done
RSS_AFTER_LOAD=$(rss_mb "$IG")
IG_LOG_LINES=$(($(wc -l <"$WORK/main.log") - IG_LOG_BEFORE))
IG_LOG_MB=$(awk -v b="$(stat -c %s "$WORK/main.log")" 'BEGIN {printf "%.0f", b/1e6}')
NG_LOG_LINES=$(wc -l <"$WORK/nginx.access.log")
NG_LOG_MB=$(awk -v b="$(stat -c %s "$WORK/nginx.access.log")" 'BEGIN {printf "%.0f", b/1e6}')
echo "logs during the runs: igfeed $IG_LOG_LINES lines ($IG_LOG_MB MB), nginx access log $NG_LOG_LINES lines ($NG_LOG_MB MB)"

# --- 3. memory and fds: a media sweep 3x the cache budget --------------------
P=$(free_port)
BUDGET_MB=16
start_igfeed sweep "$P" IGFEED_MEDIA_CACHE_SIZE=${BUDGET_MB}MB IGFEED_FEED_SIZE=200
SW=$LAST_PID
SWURL="http://127.0.0.1:$P"
curl -fs -m 30 "$SWURL/feed" -o "$WORK/sweep.json"
# Counted at once: the feed fetch has just started the media warm-up,
# which fills the cache within a second.
FD_BEFORE=$(fd_count "$SW")
MEMFD_BEFORE=$(memfd_count "$SW")
MISSES_BEFORE=$(metric "$SWURL" '^igfeed_media_cache_lookups_total\{result="miss"\}')
echo "open fds of the sweep instance after the feed fetch: $FD_BEFORE ($MEMFD_BEFORE memfds)"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["data"]:
    for x in [p] + (p.get("children") or []):
        for k in ("media_url", "thumbnail_url"):
            if x.get(k): print(x[k])' "$WORK/sweep.json" >"$WORK/sweep.urls"
for _ in 1 2; do
  while read -r u; do curl -fs -m 30 -o /dev/null -w '%{size_download}\n' "$u"; done <"$WORK/sweep.urls" >"$WORK/sweep.sizes"
done
SWEEP_BYTES=$(awk '{s+=$1} END {print s+0}' "$WORK/sweep.sizes")
SWEEP_RSS=$(rss_mb "$SW")
FD_AFTER=$(fd_count "$SW")
MEMFD_AFTER=$(memfd_count "$SW")
MISSES_AFTER=$(metric "$SWURL" '^igfeed_media_cache_lookups_total\{result="miss"\}')
CACHED=$(awk -v b="$(metric "$SWURL" '^igfeed_media_cache_bytes ')" 'BEGIN {printf "%.1f", b/1e6}')
echo "media sweep: $(wc -l <"$WORK/sweep.urls") URLs twice, $SWEEP_BYTES bytes distinct; RSS $SWEEP_RSS MB; open fds $FD_AFTER ($MEMFD_AFTER memfds)"

# --- 4. made-up hosts: every request a new Host, so every one misses the ---
# rendered-body cache (a render and a brotli compression each). CPU time of
# igfeed per request, RSS growth, and /healthz meanwhile.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HOSTS=1200
# Not counting the warm-up's last picture measurements (decodes) if any.
for ((i = 0; i < 100; i++)); do [[ $(unmeasured "$SWURL") == 0 ]] && break; sleep 0.2; done
HOST_RSS_BEFORE=$(rss_mb "$SW")
HOST_CPU_BEFORE=$(cpu_ticks "$SW")
python3 - "$P" "$HOSTS" >"$WORK/hosts.out" <<'PY' &
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
bad = 0
for i in range(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/feed", headers={"Host": f"site{i}.example", "Accept-Encoding": "br"})
    r = c.getresponse(); r.read()
    bad += r.status != 200
    c.close()
print(bad)
PY
HOSTS_PID=$!
HEALTH_WORST=0
while kill -0 "$HOSTS_PID" 2>/dev/null; do
  t=$(curl -fs -m 10 -o /dev/null -w '%{time_total}' "$SWURL/healthz" || echo 10)
  HEALTH_WORST=$(python3 -c "print(max($HEALTH_WORST, $t * 1000))")
  sleep 0.2
done
wait "$HOSTS_PID"
HOSTS_BAD=$(cat "$WORK/hosts.out")
HOST_CPU_MS=$(python3 -c "import os; print(($(cpu_ticks "$SW") - $HOST_CPU_BEFORE) * 1000 / os.sysconf('SC_CLK_TCK') / $HOSTS)")
HOST_RSS_AFTER=$(rss_mb "$SW")
echo "made-up hosts: $HOSTS requests, $HOSTS_BAD not 200; igfeed CPU $HOST_CPU_MS ms each; RSS $HOST_RSS_BEFORE -> $HOST_RSS_AFTER MB; /healthz worst ${HEALTH_WORST} ms"

RESULTS=$RESULTS CONNS=$CONNS DUR=$DUR ROUNDS=$ROUNDS OK=$OK WALKS=${WALKS:-nan} PAGES=${PAGES:-?} \
  IDLE_RSS=$IDLE_RSS RSS_AFTER_LOAD=$RSS_AFTER_LOAD BUDGET_MB=$BUDGET_MB SWEEP_BYTES=$SWEEP_BYTES \
  SWEEP_RSS=$SWEEP_RSS CACHED=$CACHED FD_BEFORE=$FD_BEFORE FD_AFTER=$FD_AFTER MEMFD_BEFORE=$MEMFD_BEFORE \
  MEMFD_AFTER=$MEMFD_AFTER MISSES_BEFORE=${MISSES_BEFORE:-0} MISSES_AFTER=${MISSES_AFTER:-0} \
  IG_LOG_LINES=$IG_LOG_LINES NG_LOG_LINES=$NG_LOG_LINES HOSTS=$HOSTS HOSTS_BAD=$HOSTS_BAD \
  HOST_CPU_MS=$HOST_CPU_MS HOST_RSS_BEFORE=$HOST_RSS_BEFORE HOST_RSS_AFTER=$HOST_RSS_AFTER \
  HEALTH_WORST=$HEALTH_WORST python3 - <<'PY'
import collections, os
e = os.environ
rows = collections.defaultdict(list)
for line in open(e["RESULTS"]):
    name, who, rps, p50, p99, bad = line.split()
    rows[(name, who)].append((float(rps), float(p50), float(p99), int(bad)))
def avg(xs, i): return sum(x[i] for x in xs) / len(xs)
missed = []
def verdict(ok, what):
    if not ok:
        missed.append(what)
    return "ok" if ok else "MISSED"
P99_MS = 10.0
print()
print(f"wrk -t2 -c{e['CONNS']} -d{e['DUR']}s, {e['ROUNDS']} alternating rounds each, same machine (2 cores shared with wrk);")
print(f"igfeed at its default log level ({e['IG_LOG_LINES']} log lines), nginx with access_log on ({e['NG_LOG_LINES']} lines)")
print(f"{'case':<10} {'igfeed req/s':>13} {'nginx req/s':>12} {'ratio':>6} {'target':>7}  {'':<6} {'igfeed p50/p99 ms':>18} {'nginx p50/p99 ms':>17} {'errors':>7}")
cases = (("feed", 0.9), ("feed-gzip", 0.9), ("media", 0.8), ("variant", 0.8))
for name, target in cases:
    ig, ng = rows[(name, "igfeed")], rows[(name, "nginx")]
    ratio = avg(ig, 0) / avg(ng, 0)
    v = verdict(ratio >= target, f"{name} {ratio:.2f}x < {target}x nginx")
    print(f"{name:<10} {avg(ig,0):>13.0f} {avg(ng,0):>12.0f} {ratio:>5.2f}x {'>=' + str(target) + 'x':>7}  {v:<6} {avg(ig,1):>8.2f}/{avg(ig,2):<8.2f} {avg(ng,1):>8.2f}/{avg(ng,2):<8.2f} {sum(x[3] for x in ig+ng):>6}")
print()
for name, _ in cases:
    ig = rows[(name, "igfeed")]
    worst = max(x[2] for x in ig)
    v = verdict(worst < P99_MS, f"{name} p99 {worst:.2f} ms")
    rounds = ", ".join(f"{x[2]:.2f}" for x in ig)
    print(f"igfeed p99 at {e['CONNS']} connections, {name:<9}: {rounds} ms by round, worst {worst:.2f} ms (target < {P99_MS:.0f} ms): {v}")
print()
ok, walks = int(e["OK"]), float(e["WALKS"])
v = verdict(ok == 1000 and walks == 1, f"cold burst ({ok} x 200, {e['WALKS']} walks)")
print(f"cold burst: 1000 concurrent GET /feed -> {ok} x 200, feed cache misses (upstream walks): {e['WALKS']}, media pages fetched: {e['PAGES']} (target: 1000, 1): {v}")
idle = float(e["IDLE_RSS"])
v = verdict(idle < 20, f"idle RSS {idle} MB")
print(f"RSS idle: {idle} MB (target < 20 MB): {v}; after the throughput runs: {e['RSS_AFTER_LOAD']} MB")
budget, sweep_mb, rss = int(e["BUDGET_MB"]), int(e["SWEEP_BYTES"]) / 1e6, float(e["SWEEP_RSS"])
v = verdict(rss <= budget + 40, f"sweep RSS {rss} MB")
print(f"media sweep: {sweep_mb:.0f} MB distinct media requested twice vs a {budget} MB cache ({sweep_mb/budget:.1f}x, needs >= 3x); cache holds {e['CACHED']} MB; RSS {rss} MB (target <= {budget + 40} MB): {v}")
before, after = int(e["FD_BEFORE"]), int(e["FD_AFTER"])
fetched = int(float(e["MISSES_AFTER"]) - float(e["MISSES_BEFORE"]))
v = verdict(after - before <= 16, f"fd growth {after - before}")
print(f"open fds (sweep instance): {before} before the sweep (after the feed fetch; {e['MEMFD_BEFORE']} memfds) -> {after} after it ({e['MEMFD_AFTER']} memfds); "
      f"growth {after - before} with {fetched} media objects fetched into the cache by the sweep (target <= 16): {v}")
cpu, grew = float(e["HOST_CPU_MS"]), float(e["HOST_RSS_AFTER"]) - float(e["HOST_RSS_BEFORE"])
health = float(e["HEALTH_WORST"])
v = verdict(cpu <= 5 and grew <= 40 and health < 100 and e["HOSTS_BAD"] == "0",
            f"made-up hosts ({cpu:.2f} ms CPU each, RSS +{grew:.1f} MB, /healthz {health:.0f} ms)")
print(f"made-up hosts (200-post feed, br): {e['HOSTS']} requests, each a rendered-cache miss: igfeed CPU {cpu:.2f} ms each (target <= 5), "
      f"RSS +{grew:.1f} MB (target <= 40: the 16 MB variant budget and slack), /healthz worst {health:.0f} ms (target < 100): {v}")
print()
print("all targets met" if not missed else "MISSED: " + "; ".join(missed))
PY
