#!/usr/bin/env bash
# Fault runs, longer than CI's: the event store's kill -9 test, the whole
# binary's kill -9 test, the corruption tests and, as root, the disk-full
# tests (the event store's, and the whole binary's with metrics, logs and
# traces together on a small tmpfs), with many crash rounds each. CI runs
# the same tests with 6 rounds, and the binary's disk-full test once.
#
#   bench/faults.sh                  # 50 rounds
#   ROUNDS=200 bench/faults.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-50}
export HORUS_CRASH_ROUNDS=$ROUNDS
echo "== event store: kill -9 ($ROUNDS rounds), corrupt blocks, disk full (root only)"
go test -count=1 -v -timeout 60m -run 'TestStoreKill9|TestCorruptBlock|TestStoreDiskFull' ./internal/store/events/ | grep -E '^(=== RUN|--- |\s+faults_test|ok|FAIL)'
echo "== metrics TSDB and the whole binary: kill -9 ($ROUNDS rounds)"
go test -count=1 -v -timeout 60m -run 'Kill9' ./test/e2e/ | grep -E '^(=== RUN|--- |\s+crash_test|ok|FAIL)'
DISKFULL=$(( (ROUNDS + 9) / 10 ))
echo "== the whole binary: disk full with every signal, then kill -9 ($DISKFULL runs, root only)"
go test -count=$DISKFULL -v -timeout 60m -run 'TestDiskFullAllSignals' ./test/e2e/ | grep -E '^(=== RUN|--- |\s+diskfull_test|ok|FAIL)'
