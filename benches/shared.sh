#!/usr/bin/env bash
# A crawl shared by 1, 2 and 4 workers through Redis, on the referee harness.
#
#   benches/shared.sh [SIZE] [PARSER] [WORKERS...]
#
# SIZE: medium (the default; unthrottled) or polite (200 hosts, 0.5 s gap, 60 s);
# PARSER: links (the default) or article; WORKERS: the worker counts to run (default
# 1 2 4). Each run starts its own redis-server; prints the harness's RESULT line
# (pages/s, CPU and peak RSS of the whole tree, politeness for polite runs), then each
# worker's and redis-server's CPU seconds and memory.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-medium}
parser=${2:-links}
shift 2 || shift $#
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 4)
harness=../shared/bench
export BENCH_DATA=${BENCH_DATA:-$(cd .. && pwd)/bench-data}
cargo build --release --quiet --features redis
bin=$PWD/target/release/newscrawl
for n in "${counts[@]}"; do
  PEER_NAME="newscrawl-shared-$n-$parser" "$harness/run_peer.sh" custom "$size" -- \
    "$PWD/benches/shared_workers.sh" "$bin" "$n" {seeds} {out} {timeout} {delay_ms} "$parser"
  out=$(ls -dt "$BENCH_DATA"/results/*-newscrawl-shared-"$n"-"$parser"-* | head -1)
  cat "$out/crawl/shared.txt"
  if [ -z "${KEEP_CRAWL:-}" ]; then
    rm -rf "$out/crawl"
  fi
done
