# Shared by the test and bench scripts (source it): a work dir and background
# processes cleaned up on exit, free loopback ports, waiting for a URL.

WORK=$(mktemp -d)
PIDS=()
# Extra clean-up a script wants run first (a function name), if any.
EXTRA_CLEANUP=${EXTRA_CLEANUP:-}
cleanup() {
  set +e
  [[ -n $EXTRA_CLEANUP ]] && "$EXTRA_CLEANUP"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_up URL [tries]: polls every 0.1 s until URL answers 2xx (default 10 s).
wait_up() {
  local i
  for ((i = 0; i < ${2:-100}; i++)); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# start_fake_upstream ARGS...: runs `igfeed fake-upstream` with ARGS from
# $BIN and sets GRAPH_URL and TOKEN.
start_fake_upstream() {
  "$BIN" fake-upstream "$@" >"$WORK/fake.json" 2>"$WORK/fake.err" &
  PIDS+=($!)
  local i
  for ((i = 0; i < 100; i++)); do [[ -s $WORK/fake.json ]] && break; sleep 0.1; done
  GRAPH_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["graph_url"])' "$WORK/fake.json")
  TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$WORK/fake.json")
}
