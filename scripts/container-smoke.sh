#!/usr/bin/env bash
# Container smoke test: builds the image from the real Dockerfile with podman
# (set up by ../shared/tools/container-sandbox), runs it in demo mode, checks
# /healthz, /feed and a /media item from the host and that demo mode leaves
# the data volume alone; then runs it against `igfeed fake-upstream` (a second
# container of the same image, sharing its network namespace) and checks that
# the data volume holds the state and survives a container restart; then demo
# mode with docker-compose.yml through podman-compose; then the compose
# `replicas` profile: three igfeed replicas scaled with podman-compose, sharing
# a Redis built from Debian's redis-server, against the fake Instagram as a
# compose service (one token put, one walk for the three replicas, a purge).
# Removes only what it created. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SANDBOX=${CONTAINER_SANDBOX:-$ROOT/../shared/tools/container-sandbox}
echo "==> container sandbox ($SANDBOX)"
bash "$SANDBOX"
COMPOSE=${PODMAN_COMPOSE:-/opt/container-sandbox/podman-compose/bin/podman-compose}
command -v "$COMPOSE" >/dev/null 2>&1 || COMPOSE=podman-compose

ID=$$
TAG=localhost/igfeed:smoke-$ID
NAME=igfeed-smoke-$ID
VOL=igfeed-smoke-data-$ID
PROJECT=igfeedsmoke$ID
REDIS_TAG=localhost/igfeed-redis:smoke-$ID
RPROJECT=igfeedreplicas$ID
# The replicas project: docker-compose.yml with the `replicas` profile and
# $WORK/replicas.yml. podman refuses a host port range for one container port
# (`-p 8080-8082:8080`: "host and container port ranges have different
# lengths: 3 vs 1"), and podman-compose gives every replica the same `-p`, so
# each replica gets an ephemeral loopback port (`127.0.0.1::8080`) instead.
replicas_compose() {
  IGFEED_PORT=127.0.0.1: IGFEED_REDIS_IMAGE=$REDIS_TAG \
    "$COMPOSE" -p "$RPROJECT" -f "$ROOT/docker-compose.yml" -f "$WORK/replicas.yml" --profile replicas "$@"
}
# replicas_of SERVICE: the project's containers of SERVICE, by replica number.
replicas_of() {
  podman ps -a --filter "label=io.podman.compose.project=$RPROJECT" --filter "label=com.docker.compose.service=$1" \
    --format '{{index .Labels "com.docker.compose.container-number"}} {{.Names}}' | sort -n | awk '{print $2}'
}
# podman-compose's down knows only replica 1 of a scaled service (the others
# go with --remove-orphans, one at a time, after Redis has gone): stop the
# replicas first, together, while Redis still answers.
replicas_down() {
  local names
  mapfile -t names < <(replicas_of igfeed)
  ((${#names[@]} == 0)) || podman stop "${names[@]}" >/dev/null 2>&1
  replicas_compose down -v --remove-orphans
}
smoke_cleanup() {
  podman rm -f "$NAME" >/dev/null 2>&1
  podman rm -fv "$NAME-fake" >/dev/null 2>&1
  podman volume rm -f "$VOL" >/dev/null 2>&1
  if [[ -f $WORK/override.yml ]]; then
    IGFEED_PORT=0 "$COMPOSE" -p "$PROJECT" -f "$ROOT/docker-compose.yml" -f "$WORK/override.yml" down -v >/dev/null 2>&1
  fi
  [[ -f $WORK/replicas.yml ]] && replicas_down >/dev/null 2>&1
  podman rmi -f "$REDIS_TAG" >/dev/null 2>&1
  podman rmi -f "$TAG" >/dev/null 2>&1
  podman image prune -f --filter "label=org.igfeed.build=smoke-$ID" >/dev/null 2>&1
}
EXTRA_CLEANUP=smoke_cleanup
source scripts/lib.sh

pass=0
fail=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; pass=$((pass + 1)); else echo "FAILED: $what"; fail=$((fail + 1)); fi
}
wait_healthy() { wait_up "http://127.0.0.1:$1/healthz" 300; }  # wait_healthy PORT
feed_ok() {  # feed_ok PORT: a non-stale feed of 25 posts whose first media is served as an image
  local feed media
  feed=$(curl -fs "http://127.0.0.1:$1/feed") || return 1
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d["data"]) == 25 and not d["stale"]' "$feed" || return 1
  media=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["data"][0]["media_url"])' "$feed")
  [[ $media == http://127.0.0.1:$1/media/* ]] || return 1
  curl -fs -o "$WORK/media" -D "$WORK/media.h" "$media" || return 1
  grep -qi '^content-type: image/' "$WORK/media.h" && grep -qi '^cross-origin-resource-policy: cross-origin' "$WORK/media.h" \
    && [[ -s $WORK/media ]]
}

echo "==> podman build"
start=$SECONDS
podman build --format docker --pull=never --network=host --build-arg "BUILD_ID=smoke-$ID" -t "$TAG" . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
echo "built $TAG in $((SECONDS - start))s; image size: $(podman image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.1f MB", $1/1e6}')"

echo "==> podman run (demo mode)"
PORT=$(free_port)
podman run -d --name "$NAME" -p "127.0.0.1:$PORT:8080" -v "$VOL:/data" -e IGFEED_DEMO=true "$TAG" >/dev/null
check "container answers /healthz" wait_healthy "$PORT"
check "/feed and /media from the host" feed_ok "$PORT"
check "HEALTHCHECK (igfeed healthcheck) reports healthy" bash -c "podman healthcheck run $NAME >/dev/null 2>&1 && [[ \$(podman inspect -f '{{.State.Health.Status}}' $NAME) == healthy ]]"
check "runs as the non-root user 65532" bash -c "[[ \$(podman inspect -f '{{.Config.User}}' $NAME) == 65532:65532 ]]"
MNT=$(podman volume inspect -f '{{.Mountpoint}}' "$VOL")
check "demo mode leaves the data volume empty" bash -c "[[ -z \$(ls -A $MNT) ]]"
podman rm -f "$NAME" >/dev/null

echo "==> podman run against igfeed fake-upstream (the data volume)"
# Demo mode keeps its state in a temporary directory, so the volume is
# checked with a normal run: the fake Instagram runs in a second container
# of the same image, and the service joins its network namespace to reach
# it on loopback (the fake listens on loopback only).
FAKE_PORT=9000
podman run -d --name "$NAME-fake" -p "127.0.0.1:$PORT:8080" "$TAG" fake-upstream --addr "127.0.0.1:$FAKE_PORT" >/dev/null
for ((i = 0; i < 100; i++)); do podman logs "$NAME-fake" 2>/dev/null | grep -q '"token"' && break; sleep 0.1; done
TOKEN=$(podman logs "$NAME-fake" 2>/dev/null | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["token"])')
podman run -d --name "$NAME" --network "container:$NAME-fake" -v "$VOL:/data" \
  -e "IGFEED_GRAPH_URL=http://127.0.0.1:$FAKE_PORT" -e IGFEED_MEDIA_HOSTS=127.0.0.1 -e "IGFEED_ACCESS_TOKEN=$TOKEN" \
  "$TAG" >/dev/null
check "container answers /healthz" wait_healthy "$PORT"
check "/feed and /media from the host" feed_ok "$PORT"
# The account default's state (see README, Accounts).
ACCT=$MNT/accounts/default
check "the data volume holds the default account's feed.json and token.json (0600)" bash -c "[[ -s $ACCT/feed.json && \$(stat -c %a $ACCT/token.json) == 600 ]]"
before=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fetched_at"])' "$ACCT/feed.json")
podman restart "$NAME" >/dev/null
check "the data volume survives a restart" bash -c "[[ \$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"fetched_at\"])' $ACCT/feed.json) == '$before' ]]"
check "serves again after the restart" bash -c "$(declare -f wait_up wait_healthy feed_ok); WORK=$WORK; wait_healthy $PORT && feed_ok $PORT"
podman rm -f "$NAME" >/dev/null
podman rm -fv "$NAME-fake" >/dev/null  # -v: its anonymous /data volume (the image's VOLUME) too

echo "==> podman-compose up -d / down"
CPORT=$(free_port)
cat >"$WORK/override.yml" <<YAML
services:
  igfeed:
    image: $TAG
    environment:
      IGFEED_DEMO: "true"
YAML
export IGFEED_PORT=$CPORT
"$COMPOSE" -p "$PROJECT" -f docker-compose.yml -f "$WORK/override.yml" up -d --no-build >"$WORK/compose.log" 2>&1 \
  || { cat "$WORK/compose.log"; exit 1; }
check "compose service answers /healthz" wait_healthy "$CPORT"
check "compose /feed and /media" feed_ok "$CPORT"
"$COMPOSE" -p "$PROJECT" -f docker-compose.yml -f "$WORK/override.yml" down -v >>"$WORK/compose.log" 2>&1
check "compose down removed the service" bash -c "! curl -fs http://127.0.0.1:$CPORT/healthz >/dev/null 2>&1"

echo "==> podman-compose --profile replicas up -d --scale igfeed=3 (Redis, fake Instagram)"
# The public redis:7-alpine cannot be pulled here: a Redis image from
# Debian's redis-server instead, like the official one for the compose
# service's `command` (redis-server --appendonly yes --save ""): listening on
# every interface with protected mode off, its files in /data, as `redis`.
# redis-server on PATH is a wrapper that puts a config file with those
# defaults before arguments that are options only. socat is there for the
# fake's gateway below.
rstart=$SECONDS
rfail=$fail
mkdir -p "$WORK/redis"
cat >"$WORK/redis/Containerfile" <<'EOF'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server socat >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
 && mkdir -p /data && chown redis:redis /data
COPY redis.conf /usr/local/etc/redis/redis.conf
COPY redis-server /usr/local/bin/redis-server
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server"]
EOF
printf '%s\n' 'bind * -::*' 'protected-mode no' 'port 6379' 'daemonize no' 'supervised no' 'dir /data' 'logfile ""' \
  >"$WORK/redis/redis.conf"
cat >"$WORK/redis/redis-server" <<'EOF'
#!/bin/sh
# No config file given (no arguments, or options only): this image's.
case "$1" in ""|-*) set -- /usr/local/etc/redis/redis.conf "$@" ;; esac
exec /usr/bin/redis-server "$@"
EOF
chmod 755 "$WORK/redis/redis-server"
podman build --pull=never --network=host -t "$REDIS_TAG" "$WORK/redis" >"$WORK/redis-build.log" 2>&1 \
  || { tail -40 "$WORK/redis-build.log"; exit 1; }
echo "built $REDIS_TAG in $((SECONDS - rstart))s"
# The fake Instagram listens on loopback only (fake-upstream refuses any
# other --addr), so it is a service of its own whose network namespace a
# socat gateway shares: the replicas reach it as fake:9001, the host through
# the published $SPORT (GET /_fake/stats). Its media URLs stay
# http://127.0.0.1:9000/…, which the replicas cannot reach: /media is not
# checked here. tmpfs /data: no anonymous volume left behind for the image's
# VOLUME.
SPORT=$(free_port)
KEY=smoke-$ID-$(python3 -c 'import secrets; print(secrets.token_hex(16))')
cat >"$WORK/replicas.yml" <<YAML
services:
  igfeed:
    image: $TAG
    environment:
      IGFEED_REDIS_URL: redis://redis:6379
      IGFEED_GRAPH_URL: http://fake:9001
      IGFEED_MEDIA_HOSTS: fake
      IGFEED_ADMIN_KEY: $KEY
  fake:
    image: $TAG
    command: ["fake-upstream", "--addr", "127.0.0.1:9000"]
    tmpfs: ["/data"]
    ports:
      - "127.0.0.1:$SPORT:9001"
  fake-gw:
    image: $REDIS_TAG
    network_mode: "service:fake"
    depends_on: [fake]
    command: ["socat", "TCP-LISTEN:9001,fork,reuseaddr", "TCP:127.0.0.1:9000"]
YAML
replicas_compose up -d --no-build --scale igfeed=3 >"$WORK/replicas.log" 2>&1 || { cat "$WORK/replicas.log"; exit 1; }
mapfile -t REPLICAS < <(replicas_of igfeed)
RPORTS=()
for r in "${REPLICAS[@]}"; do p=$(podman port "$r" 8080/tcp) && RPORTS+=("${p##*:}"); done
check "3 igfeed replicas, each on a host port of its own (${RPORTS[*]})" \
  bash -c "[[ ${#REPLICAS[@]} -eq 3 && \$(printf '%s\n' ${RPORTS[*]} | sort -u | wc -l) -eq 3 ]]"
for i in "${!RPORTS[@]}"; do check "replica $((i + 1)) answers /healthz" wait_healthy "${RPORTS[$i]}"; done
FAKE=$(replicas_of fake)
for ((i = 0; i < 100; i++)); do podman logs "$FAKE" 2>/dev/null | grep -q '"token"' && break; sleep 0.1; done
TOKEN=$(podman logs "$FAKE" 2>/dev/null | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["token"])' 2>/dev/null) || TOKEN=""
wait_up "http://127.0.0.1:$SPORT/_fake/stats" 100 || true
fake_calls() {  # fake_calls ME MEDIA_LIST: the fake's /me and /me/media call counts are these
  curl -fs "http://127.0.0.1:$SPORT/_fake/stats" >"$WORK/stats" || return 1
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["calls"]; sys.exit(not (c["me"], c["media_list"]) == (int(sys.argv[2]), int(sys.argv[3])))' \
    "$WORK/stats" "$1" "$2"
}
admin() {  # admin METHOD PORT PATH [JSON]: 2xx
  curl -fs -o /dev/null -X "$1" -H "Authorization: Bearer $KEY" ${4:+-H 'Content-Type: application/json' -d "$4"} \
    "http://127.0.0.1:$2$3"
}
feed_id() {  # feed_id PORT: data[0].id of a non-stale feed of 25 posts
  curl -fs "http://127.0.0.1:$1/feed" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["data"]) == 25 and not d["stale"]; print(d["data"][0]["id"])' 2>/dev/null
}
feeds_agree() {  # feeds_agree PORT...: every one serves a feed, all with the same data[0].id
  local p id ids=()
  for p in "$@"; do id=$(feed_id "$p") && [[ -n $id ]] || return 1; ids+=("$id"); done
  [[ $(printf '%s\n' "${ids[@]}" | sort -u | wc -l) -eq 1 ]]
}
within() {  # within SECONDS COMMAND...: COMMAND succeeds within SECONDS (tried every 0.2 s)
  local end=$((SECONDS + $1)); shift
  until "$@"; do ((SECONDS < end)) || return 1; sleep 0.2; done
}
check "PUT /admin/token on replica 1 (the fake's token)" admin PUT "${RPORTS[0]}" /admin/token "{\"access_token\":\"$TOKEN\"}"
check "within 10 s all three replicas serve /feed with the same data[0].id" within 10 feeds_agree "${RPORTS[@]}"
check "one walk for the three: the fake saw /me twice (the PUT's check, the walk) and /me/media once" fake_calls 2 1
check "POST /admin/cache/purge on replica 1" admin POST "${RPORTS[0]}" /admin/cache/purge
# Each try asks replica 2 for /feed once; a replica that missed the purge
# would serve its cached copy and leave the counts alone.
after_purge() { feed_id "${RPORTS[1]}" >/dev/null && fake_calls 3 2; }
check "then /feed on replica 2 walks again within 5 s (/me 3 times, /me/media twice)" within 5 after_purge
shared_again() { feeds_agree "${RPORTS[@]}" && fake_calls 3 2; }
check "and the three share that walk (same data[0].id, no further calls)" shared_again
RDATA=$(podman volume inspect -f '{{.Mountpoint}}' "${RPROJECT}_redis-data" 2>/dev/null) || RDATA=/nonexistent
check "Redis runs the compose service's command (append-only files in the redis-data volume)" \
  bash -c "compgen -G '$RDATA/appendonlydir/*.aof' >/dev/null"
if ((fail > rfail)); then
  for r in "${REPLICAS[@]}" "$FAKE" $(replicas_of redis); do echo "--- podman logs $r (last 15 lines)"; podman logs --tail 15 "$r" 2>&1; done
fi
((${#REPLICAS[@]} == 0)) || podman stop "${REPLICAS[@]}" >/dev/null 2>&1 || true
check "the replicas stop on SIGTERM (exit code 0)" \
  bash -c "[[ \$(podman inspect -f '{{.State.ExitCode}}' ${REPLICAS[*]} | sort -u) == 0 ]]"
replicas_compose down -v --remove-orphans >>"$WORK/replicas.log" 2>&1 || true
check "compose down -v left nothing of the project (containers, volumes, network)" \
  bash -c "[[ -z \$(podman ps -aq --filter label=io.podman.compose.project=$RPROJECT; podman volume ls -q --filter label=io.podman.compose.project=$RPROJECT; podman network ls -q --filter label=io.podman.compose.project=$RPROJECT) ]]"
podman rmi -f "$REDIS_TAG" >/dev/null 2>&1
echo "replicas phase: $((SECONDS - rstart))s"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
