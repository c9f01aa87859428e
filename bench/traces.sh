#!/usr/bin/env bash
# Traces load run: the OpenTelemetry Collector's telemetrygen sends traces
# to a fresh Horus over OTLP (gRPC by default) as fast as it can; then the
# spans received per second, Horus' CPU and RSS, a trace read back by id
# and the span metrics derived from the load. telemetrygen runs on the
# same two cores, so the figure is a lower bound for Horus alone (the Go
# benchmark BenchmarkTracesEndToEnd measures Horus without the sender).
#
#   bench/traces.sh                          # 60 s, 2 workers, gRPC
#   DURATION=5m WORKERS=4 bench/traces.sh
#   PROTO=http CHILD_SPANS=9 bench/traces.sh # OTLP/HTTP, traces of 10 spans
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60s}
WORKERS=${WORKERS:-2}
CHILD_SPANS=${CHILD_SPANS:-4}
PROTO=${PROTO:-grpc}
TELEMETRYGEN_VERSION=v0.161.0

mkdir -p bin
if [ ! -x bin/telemetrygen ]; then
  echo "installing telemetrygen $TELEMETRYGEN_VERSION into bin/"
  GOBIN="$PWD/bin" go install "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION"
fi
go build -o bin/horus ./cmd/horus
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

./bin/horus serve --data-dir "$work/data" --http-addr 127.0.0.1:3300 --otlp-grpc-addr 127.0.0.1:4317 \
  --otlp-http-addr 127.0.0.1:4318 --log-level warn >"$work/horus.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:3300/-/ready >/dev/null && break; sleep 0.2; done

received() {
  curl -s http://127.0.0.1:3300/metrics | awk '/^horus_ingest_received_total\{.*signal="traces"/ {s += $2} END {printf "%d", s}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

args=(traces --otlp-insecure --workers "$WORKERS" --rate 0 --duration "$DURATION" --child-spans "$CHILD_SPANS"
  --service loadtest --telemetry-attributes 'http.route="/api/checkout"')
if [ "$PROTO" = http ]; then
  args+=(--otlp-http --otlp-endpoint 127.0.0.1:4318)
else
  args+=(--otlp-endpoint 127.0.0.1:4317)
fi
echo "== telemetrygen ${args[*]}"
n0=$(received); c0=$(cpu_ticks); t0=$(date +%s.%N)
( while kill -0 $PID 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status"); echo "$rss"; sleep 1
  done ) >"$work/rss" &
./bin/telemetrygen "${args[@]}" >"$work/telemetrygen.log" 2>&1 || { tail -20 "$work/telemetrygen.log"; exit 1; }
n1=$(received); c1=$(cpu_ticks); t1=$(date +%s.%N)
peak=$(sort -n "$work/rss" | tail -1)
hz=$(getconf CLK_TCK)
awk -v n="$((n1 - n0))" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v hz="$hz" -v rss="$peak" 'BEGIN {
  secs = t1 - t0; cpu = c / hz
  printf "spans received: %d in %.1f s = %.0f spans/s\n", n, secs, n / secs
  printf "Horus CPU: %.1f s (%.2f cores) = %.0f spans per CPU-second\n", cpu, cpu / secs, n / cpu
  printf "Horus peak RSS: %.0f MiB\n", rss / 1024
}'

# A trace of the load, read back whole, and the span metrics it made.
id=$(curl -s -G http://127.0.0.1:3300/api/search --data-urlencode 'q={ resource.service.name = "loadtest" }' --data-urlencode limit=1 |
  sed -n 's/.*"traceID":"\([0-9a-f]*\)".*/\1/p')
spans=$(curl -s -H 'Accept: application/json' "http://127.0.0.1:3300/api/traces/$id" | grep -o '"spanId"' | wc -l)
echo "trace $id read back: $spans spans (want $((CHILD_SPANS + 1)))"
sleep 16 # a span-metrics flush
curl -s -G http://127.0.0.1:3300/api/v1/query --data-urlencode 'query=sum(traces_spanmetrics_calls_total{service="loadtest"})' |
  sed -n 's/.*"value":\[[^,]*,"\([^"]*\)".*/span metrics: traces_spanmetrics_calls_total = \1/p'
kill -TERM $PID; wait $PID || true
