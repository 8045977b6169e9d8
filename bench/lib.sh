# Shared by the benchmark scripts (source it after scripts/lib.sh):
# installing tools, the binary to measure, and reading a process's memory
# and igfeed's metrics.

# need COMMAND PACKAGE: installs the Debian PACKAGE when COMMAND is missing.
need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }

# Sets BIN: $IGFEED_BIN, or the release binary built here first.
release_binary() {
  if [[ -z ${IGFEED_BIN:-} ]]; then
    echo "building the release binary"
    cargo build --release --locked --quiet
  fi
  BIN=${IGFEED_BIN:-$PWD/target/release/igfeed}
  [[ -x $BIN ]] || { echo "no igfeed binary at $BIN"; exit 1; }
  echo "binary: $BIN"
}

# rss_mb PID: resident memory in MB.
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# metric URL REGEX: the value of the first sample line of URL/metrics
# matching REGEX (awk reads to the end: exiting early would fail curl).
metric() {
  curl -fs -m 10 "$1/metrics" | awk -v re="$2" '$0 ~ re && !found {print $NF; found = 1}'
}
