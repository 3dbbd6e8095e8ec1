#!/usr/bin/env bash
# N workers of one shared crawl and their own redis-server, as one command for the
# referee harness (run by benches/shared.sh; not meant to be run by hand).
#
#   benches/shared_workers.sh BIN N SEEDS OUT TIMEOUT_S DELAY_MS PARSER
#
# Starts redis-server on a free loopback port with the settings README.md recommends
# (append-only file, fsync every second, no eviction, an AOF rewrite only once the
# file has grown by 1 GB; data under OUT), N workers with the same seeds, waits for
# them, and writes the workers' and redis-server's CPU seconds and peak memory to
# OUT/shared.txt. REDIS_APPENDONLY=no turns the append-only file off;
# REDIS_EXTRA_ARGS adds or overrides settings (e.g. "--auto-aof-rewrite-min-size
# 64mb", Redis's default).
set -euo pipefail
bin=$1 n=$2 seeds=$3 out=$4 timeout_s=$5 delay_ms=$6 parser=$7
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$out/redis"
redis-server --bind 127.0.0.1 --port "$port" --dir "$out/redis" --save "" \
  --appendonly "${REDIS_APPENDONLY:-yes}" --appendfsync everysec --maxmemory-policy noeviction \
  --auto-aof-rewrite-min-size 1gb \
  --logfile "$out/redis/redis.log" ${REDIS_EXTRA_ARGS:-} &
redis_pid=$!
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
pids=()
for i in $(seq "$n"); do
  /usr/bin/time -f "%U %S %M" -o "$out/w$i.time" \
    "$bin" --log-format text crawl --seeds "$seeds" --parser "$parser" \
    --min-delay "${delay_ms}ms" --max-time "${timeout_s}s" \
    --store "redis://127.0.0.1:$port/0" --worker "w$i" \
    --state "$out/w$i" --out "$out/w$i.jsonl" 2> "$out/w$i.log" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
{
  for i in $(seq "$n"); do
    read -r user sys rss_kb < "$out/w$i.time"
    echo "worker w$i: cpu_s $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}') peak_rss_mb $((rss_kb / 1024)) $(grep -o '[0-9]* pages requested' "$out/w$i.log" || true)"
  done
  cpu=$(redis-cli -p "$port" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {t += $2} END {print t}')
  mem=$(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '/^used_memory_peak:/ {print int($2 / 1048576)}')
  rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$redis_pid/status")
  echo "redis-server: cpu_s $cpu used_memory_peak_mb $mem peak_rss_mb $rss"
  found=0
  for key in $(redis-cli -p "$port" --scan --pattern '*:seen:*'); do
    found=$((found + $(redis-cli -p "$port" scard "$key")))
  done
  echo "redis-server urls_found: $found"
  echo "redis-server keys: $(redis-cli -p "$port" dbsize) used_memory_mb $(redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print int($2 / 1048576)}')"
  # Where redis-server's time went, by command (scripts show as evalsha).
  redis-cli -p "$port" info commandstats | tr -d '\r' | grep '^cmdstat' \
    | awk -F'[:=,]' '{printf "  %s calls %s usec %s usec_per_call %s\n", $1, $3, $5, $7}' | sort -k5 -n -r | head -8
} > "$out/shared.txt"
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait "$redis_pid" || true
