#!/usr/bin/env bash
# Benchmarks igfeed's image variants (src/media/variant.rs, timed through
# examples/variant_bench.rs) against libvips' vipsthumbnail on the same
# machine, on generated Instagram-like photos: 1080x1350 JPEGs at quality
# 90 (ImageMagick plasma fractals with grain), nine different ones.
# Usage: bench/variants.sh [iterations per round (default 30)]
#
# Targets: a 320 px WebP of a 1080x1350 JPEG made by `make()` in <= 1.5x
# the time `vipsthumbnail in.jpg -s 320x -o out.webp[Q=80]` takes (median
# of many runs, each a process as a command-line tool is; also shown: its
# cost per picture inside one process, start-up amortised); the nine 320 px
# WebP variants <= 15% of the nine originals' bytes.
# The two sides alternate over rounds, so load on the machine hits both.
# It is a report, not a test: it ends with "all targets met" or
# "MISSED: <list>" and exits 0 either way (non-zero only if it cannot run).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
ITER=${1:-30}
ROUNDS=3

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  }
}
command -v vipsthumbnail >/dev/null 2>&1 || apt_install libvips-tools
# A real ImageMagick (a `convert` early in PATH may be something else).
imagemagick() {
  local c
  for c in magick convert-im6.q16 convert; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -version 2>/dev/null | grep -q ImageMagick; then
      echo "$c"
      return 0
    fi
  done
  return 1
}
IM=$(imagemagick) || { apt_install imagemagick && IM=$(imagemagick); }

# shellcheck source=../scripts/lib.sh disable=SC1091
source scripts/lib.sh

echo "building examples/variant_bench (release)"
cargo build --release --locked --quiet --example variant_bench
BENCH=${CARGO_TARGET_DIR:-target}/release/examples/variant_bench
[[ -x $BENCH ]] || { echo "no variant_bench binary at $BENCH"; exit 1; }
echo "vips: $(vipsthumbnail --version 2>&1 | head -1); ImageMagick: $IM"

# Nine different photos, two at a time.
echo "generating nine 1080x1350 JPEGs (quality 90)"
for i in $(seq 1 9); do
  "$IM" -size 1080x1350 -seed "$i" plasma:fractal -blur 0x1 -attenuate 0.2 +noise Gaussian \
    -sampling-factor 4:2:0 -quality 90 -strip "$WORK/photo$i.jpg" &
  if ((i % 2 == 0)); then wait; fi
done
wait
for i in $(seq 1 9); do [[ -s $WORK/photo$i.jpg ]] || { echo "photo$i.jpg was not made"; exit 1; }; done
SRC=$WORK/photo1.jpg
# Copies under other names, for vipsthumbnail's in-process figure (libvips
# caches operations by file name).
mkdir -p "$WORK/copies" "$WORK/vt"
for k in $(seq 1 10); do cp "$SRC" "$WORK/copies/c$k.jpg"; done

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
field() { tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f\n", (b - a) * 1000}'; }

: >"$WORK/vips.ms"
: >"$WORK/vips_inproc.ms"
: >"$WORK/igfeed.ms"
: >"$WORK/igfeed_first.ms"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS"
  for _ in $(seq 1 "$ITER"); do
    t0=$EPOCHREALTIME
    vipsthumbnail "$SRC" -s 320x -o "$WORK/vips.webp[Q=80]"
    ms_since "$t0" >>"$WORK/vips.ms"
  done
  out=$("$BENCH" "$SRC" "$ITER" --width 320 --format webp)
  echo "$out" >"$WORK/last.out"
  field median_ms <<<"$out" >>"$WORK/igfeed.ms"
  field first_ms <<<"$out" >>"$WORK/igfeed_first.ms"
  # In one process: ten pictures minus one, over nine.
  t0=$EPOCHREALTIME
  vipsthumbnail "$WORK/copies/c1.jpg" -s 320x -o "$WORK/vt/%s.webp[Q=80]"
  one=$(ms_since "$t0")
  t0=$EPOCHREALTIME
  vipsthumbnail "$WORK"/copies/c*.jpg -s 320x -o "$WORK/vt/%s.webp[Q=80]"
  ten=$(ms_since "$t0")
  awk -v a="$one" -v b="$ten" 'BEGIN {printf "%.3f\n", (b - a) / 9}' >>"$WORK/vips_inproc.ms"
done

VIPS=$(median <"$WORK/vips.ms")
VIPS_IN=$(median <"$WORK/vips_inproc.ms")
IG=$(median <"$WORK/igfeed.ms")
IG_FIRST=$(median <"$WORK/igfeed_first.ms")
RATIO=$(awk -v a="$IG" -v b="$VIPS" 'BEGIN {printf "%.2f", a / b}')
RATIO_IN=$(awk -v a="$IG" -v b="$VIPS_IN" 'BEGIN {printf "%.2f", a / b}')
out=$("$BENCH" "$SRC" 0 --width 320 --format webp --out "$WORK/igfeed.webp")
IG_DIMS="$(field width <<<"$out")x$(field height <<<"$out")"
VIPS_BYTES=$(wc -c <"$WORK/vips.webp")

echo
printf 'variant 320 webp: igfeed %.1f ms, vipsthumbnail %.1f ms, ratio %.2fx (target <= 1.5x)\n' "$IG" "$VIPS" "$RATIO"
printf '  (vipsthumbnail: median of %d runs, each a process; igfeed: median of %d round medians of %d make() calls, one thread)\n' \
  "$((ROUNDS * ITER))" "$ROUNDS" "$ITER"
printf '  vipsthumbnail in one process, start-up amortised over 10 pictures: %.1f ms/picture; igfeed ratio %.2fx\n' "$VIPS_IN" "$RATIO_IN"
printf '  igfeed first make() in a fresh process: %.1f ms; output %s, %d bytes (vipsthumbnail: %d bytes)\n' \
  "$IG_FIRST" "$IG_DIMS" "$(field bytes <<<"$out")" "$VIPS_BYTES"

printf '  igfeed probe() (size and average colour, a full decode): %.1f ms\n' "$(field probe_ms <"$WORK/last.out")"

# Every width and format, for the record (fewer iterations).
for fmt in webp jpeg; do
  line="  igfeed $fmt:"
  for w in 320 640 1080; do
    o=$("$BENCH" "$SRC" 10 --width "$w" --format "$fmt")
    line+=$(printf ' %s px %.1f ms (%.1f KB),' "$w" "$(field median_ms <<<"$o")" "$(awk -v b="$(field bytes <<<"$o")" 'BEGIN {print b / 1000}')")
  done
  echo "${line%,}"
done

# Bytes: nine originals vs their 320 px WebP variants (igfeed's, and
# vipsthumbnail's for comparison).
ORIG=0 OURS=0 THEIRS=0
for i in $(seq 1 9); do
  "$BENCH" "$WORK/photo$i.jpg" 0 --width 320 --format webp --out "$WORK/ig$i.webp" >/dev/null
  vipsthumbnail "$WORK/photo$i.jpg" -s 320x -o "$WORK/vips$i.webp[Q=80]"
  ORIG=$((ORIG + $(wc -c <"$WORK/photo$i.jpg")))
  OURS=$((OURS + $(wc -c <"$WORK/ig$i.webp")))
  THEIRS=$((THEIRS + $(wc -c <"$WORK/vips$i.webp")))
done
BYTES_PCT=$(awk -v a="$OURS" -v b="$ORIG" 'BEGIN {printf "%.1f", 100 * a / b}')
printf 'bytes: nine 320 px WebP %.1f KB = %s%% of the nine originals %.1f KB (target <= 15%%); vipsthumbnail'"'"'s: %.1f KB\n' \
  "$(awk -v b="$OURS" 'BEGIN {print b / 1000}')" "$BYTES_PCT" "$(awk -v b="$ORIG" 'BEGIN {print b / 1000}')" \
  "$(awk -v b="$THEIRS" 'BEGIN {print b / 1000}')"

MISSED=()
awk -v r="$RATIO" 'BEGIN {exit !(r <= 1.5)}' || MISSED+=("320 px WebP time ${RATIO}x > 1.5x")
awk -v p="$BYTES_PCT" 'BEGIN {exit !(p <= 15)}' || MISSED+=("bytes ${BYTES_PCT}% > 15%")
echo
if ((${#MISSED[@]})); then
  echo "MISSED: ${MISSED[*]}"
else
  echo "all targets met"
fi
