#!/usr/bin/env bash
# Container smoke test: builds the image from the real Dockerfile with podman
# (set up by ../shared/tools/container-sandbox), runs it in demo mode, checks
# /healthz, /feed and a /media item from the host and that demo mode leaves
# the data volume alone; then runs it against `igfeed fake-upstream` (a second
# container of the same image, sharing its network namespace) and checks that
# the data volume holds the state and survives a container restart; then demo
# mode with docker-compose.yml through podman-compose. Removes only what it
# created. Loopback only.
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
smoke_cleanup() {
  podman rm -f "$NAME" >/dev/null 2>&1
  podman rm -f "$NAME-fake" >/dev/null 2>&1
  podman volume rm -f "$VOL" >/dev/null 2>&1
  if [[ -f $WORK/override.yml ]]; then
    IGFEED_PORT=0 "$COMPOSE" -p "$PROJECT" -f "$ROOT/docker-compose.yml" -f "$WORK/override.yml" down -v >/dev/null 2>&1
  fi
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
podman rm -f "$NAME-fake" >/dev/null

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

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
