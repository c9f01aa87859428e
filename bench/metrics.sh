#!/usr/bin/env bash
# Metrics-pillar load run: the same remote_write load into Horus and into a
# real Prometheus (Debian's), one after the other on this machine, then the
# figures of docs/benchmarks.md. Results go to bench/results/.
#
#   bench/metrics.sh                      # defaults below (~45 min)
#   SERIES=100000 BACKFILL=4h STEADY=3m bench/metrics.sh
#   QUERY_SERIES=10000 QUERY_BACKFILL=24h bench/metrics.sh   # the 24 h query dataset
#   RECEIVERS=horus QUERY_PHASE=0 bench/metrics.sh           # Horus alone, ingest only
#   PROTO=otlp RECEIVERS=horus bench/metrics.sh               # the same series by OTLP/HTTP
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES=${SERIES:-100000}
BACKFILL=${BACKFILL:-4h}
STEADY=${STEADY:-3m}
QUERY_SERIES=${QUERY_SERIES:-10000}
QUERY_BACKFILL=${QUERY_BACKFILL:-24h}
PROTO=${PROTO:-remote_write}
RECEIVERS=${RECEIVERS:-horus prometheus}   # e.g. RECEIVERS=horus
QUERY_PHASE=${QUERY_PHASE:-1}              # 0 skips the 24 h query dataset
STEADY_ONLY=${STEADY_ONLY:-5m}             # fresh receiver, real-time load only: RSS per series; 0 skips
OUT=bench/results
mkdir -p "$OUT"
command -v prometheus >/dev/null || { echo "needs Debian's prometheus package (make test-deps)"; exit 1; }

go build -o bin/horus ./cmd/horus
go build -o bin/loadgen ./bench/loadgen
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

start_receiver() { # name dir -> sets PID URL
  case $1 in
  horus)
    ./bin/horus serve --data-dir "$2" --http-addr 127.0.0.1:3300 --otlp-grpc-addr "" --otlp-http-addr "" --log-level warn --web.enable-pprof >"$work/$1.log" 2>&1 &
    PID=$!; URL=http://127.0.0.1:3300 ;;
  prometheus)
    printf 'global: {}\n' >"$work/prom.yml"
    prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$2" --web.listen-address=127.0.0.1:9090 \
      --web.enable-remote-write-receiver --log.level=warn >"$work/$1.log" 2>&1 &
    PID=$!; URL=http://127.0.0.1:9090 ;;
  esac
  for _ in $(seq 100); do curl -sf "$URL/-/ready" >/dev/null && return; sleep 0.2; done
  echo "$1 did not start"; cat "$work/$1.log"; exit 1
}

for r in $RECEIVERS; do
  [ "$r" = prometheus ] && [ "$PROTO" = otlp ] && continue
  echo "== $r: $SERIES series, backfill $BACKFILL, steady $STEADY"
  start_receiver $r "$work/$r-data"
  if [ $r = horus ]; then # CPU profile of 20 s in the middle of the backfill
    (sleep 10; curl -s "$URL/debug/pprof/profile?seconds=20" -o "$OUT/horus-ingest.pprof") &
  fi
  ./bin/loadgen -url "$URL" -proto "$PROTO" -series "$SERIES" -backfill "$BACKFILL" -steady "$STEADY" -pid $PID -label $r | tee "$OUT/$r-ingest.json"
  ./bin/loadgen -url "$URL" -queries -range 1h -label $r | tee "$OUT/$r-query-1h.json"
  kill -TERM $PID; wait $PID || true
  dir="$work/$r-data"; [ $r = horus ] && dir="$dir/metrics"
  ./bin/loadgen -blocks-dir "$dir" -label $r | tee "$OUT/$r-blocks.json"
  rm -rf "$work/$r-data"

  if [ "$STEADY_ONLY" != 0 ]; then
    echo "== $r: fresh start, $SERIES series in real time for $STEADY_ONLY"
    start_receiver $r "$work/$r-s"
    ./bin/loadgen -url "$URL" -proto "$PROTO" -series "$SERIES" -steady "$STEADY_ONLY" -pid $PID -label $r | tee "$OUT/$r-steady-only.json"
    kill -TERM $PID; wait $PID || true
    rm -rf "$work/$r-s"
  fi

  [ "$QUERY_PHASE" = 1 ] || continue
  echo "== $r: 24 h query dataset, $QUERY_SERIES series"
  start_receiver $r "$work/$r-q"
  ./bin/loadgen -url "$URL" -series "$QUERY_SERIES" -backfill "$QUERY_BACKFILL" -pid $PID -label $r >"$OUT/$r-ingest-24h.json"
  ./bin/loadgen -url "$URL" -queries -range 1h -label $r | tee "$OUT/$r-query-1h-small.json"
  ./bin/loadgen -url "$URL" -queries -range 24h -label $r | tee "$OUT/$r-query-24h.json"
  kill -TERM $PID; wait $PID || true
  rm -rf "$work/$r-q"
done

if [ -f "$OUT/horus-ingest.pprof" ]; then
  echo "== Horus CPU by part during ingest (cumulative %)"
  go tool pprof -top -cum -nodecount=400 bin/horus "$OUT/horus-ingest.pprof" 2>/dev/null >"$OUT/horus-ingest-top.txt"
  grep -E 'net/http.\(\*conn\).serve$|remotewrite.\(\*Handler\).Store$|ingest.ReadBody$|prompb.\(\*WriteRequest\).Unmarshal$|prompb.TimeSeries.ToLabels$|GuardAppender\).Append$|GuardAppender\).Commit$|runtime.gcBgMarkWorker$|tsdb.\(\*DB\).run|tsdb.\(\*DB\).Compact$' "$OUT/horus-ingest-top.txt" | tee "$OUT/horus-ingest-parts.txt"
fi
