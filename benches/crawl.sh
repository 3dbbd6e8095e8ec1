#!/usr/bin/env bash
# Crawl throughput and politeness, side by side with peers, on the shared referee
# harness (../shared/bench: a synthetic news site served by nginx on 127.0.0.x).
#
#   benches/crawl.sh [SIZE] [PEERS...]
#
# SIZE: medium (50 hosts x 2,000 pages, unthrottled; the default), small, tiny, or
# polite (200 hosts, 0.5 s gap, 60 s). Runs newscrawl twice in throughput sizes
# (`--parser links`, links only; `--parser article`, full extraction) and once in
# polite mode, then each PEER named (spider, wget, scrapy) through the harness.
# Prints the harness's RESULT lines (pages/s, CPU s, CPU ms per page, peak RSS, and
# for polite runs the rate ratio and violations) plus newscrawl's store size on disk.
# Data goes to $BENCH_DATA (default ../bench-data beside the repository); each run's
# store and records are deleted once measured unless KEEP_CRAWL=1.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-medium}
shift || true
harness=../shared/bench
export BENCH_DATA=${BENCH_DATA:-$(cd .. && pwd)/bench-data}
cargo build --release --quiet
bin=$PWD/target/release/newscrawl

run_newscrawl() { # label parser
  PEER_NAME="newscrawl-$1" "$harness/run_peer.sh" custom "$size" -- \
    "$bin" --log-format text crawl --seeds {seeds} --parser "$2" \
    --min-delay {delay_ms}ms --max-time {timeout}s --state {out}/state --out {out}/records.jsonl
  local out
  out=$(ls -dt "$BENCH_DATA"/results/*-newscrawl-"$1"-* | head -1)
  echo "store on disk: $(du -sh "$out/crawl/state/db" | cut -f1) ($out/crawl/state/db)"
  # A full-mode run leaves gigabytes of store and records: keep them only on request.
  if [ -z "${KEEP_CRAWL:-}" ]; then
    rm -rf "$out/crawl"
  fi
}

if [ "$size" = polite ]; then
  run_newscrawl full article
else
  run_newscrawl links links
  run_newscrawl full article
fi
for peer in "$@"; do
  "$harness/run_peer.sh" "$peer" "$size"
done
