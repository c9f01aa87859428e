# Horus — the two commands a user needs:
#   make run    build and start Horus with embedded storage in ./data, with the
#               demo shop, its load and its faults (docs/demo.md); DEMO=0 for
#               Horus alone
#   make test   vet, format check, lint and every test (installs what tests need)

GO              ?= go
BIN             := bin/horus
GOLANGCI_LINT_VERSION := v2.15.0
GOBIN           := $(shell $(GO) env GOPATH)/bin
# A semantic version: the tag's (v1.2.3 → 1.2.3) on a tagged commit, else
# internal/buildinfo/VERSION with -dev; the commit goes in REVISION.
VERSION         ?= $(shell v=$$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null) && echo $${v\#v} || echo $$(cat internal/buildinfo/VERSION)-dev)
REVISION        := $(shell git rev-parse HEAD 2>/dev/null)
BRANCH          := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
PKG             := github.com/horus-obs/horus/internal/buildinfo
LDFLAGS         := -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) -X $(PKG).Branch=$(BRANCH) \
                   -X $(PKG).BuildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# Packages whose tests run again under the race detector: the ones with
# concurrency of their own.
RACE_PKGS       := ./internal/ingest/... ./internal/pipeline/... ./internal/server/... ./internal/store/... ./internal/query/... \
                   ./internal/demo/... ./internal/changes/... ./internal/ruler/... ./internal/alertmanager/... \
                   ./internal/investigate/... ./internal/querycli/...

.PHONY: all build run test vet fmt-check lint unit race test-deps node-deps dist bench clean web web-check compat-loki bench-logs

all: build

# A first build on a machine is otherwise minutes of silence while the go
# command downloads Horus' modules and compiles them: say what is going on
# when the module cache lacks them (go list -m reports no directory for a
# module not downloaded) or bin/horus was never built. The times are
# docs/deploy.md's measurements on 2 cores.
build:
	@if [ -z "$$($(GO) list -m -f '{{.Dir}}' github.com/prometheus/prometheus 2>/dev/null)" ]; then \
		echo "First build on this machine: downloading Horus' Go modules into $$($(GO) env GOMODCACHE), then compiling them:"; \
		echo "many minutes on 2 cores, nothing printed while it compiles (docs/deploy.md has measurements); later builds take seconds."; \
	elif ! [ -x $(BIN) ]; then \
		echo "Compiling Horus: a first build on a machine takes a few minutes on 2 cores; later builds take seconds."; \
	fi
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/horus

# make run starts `horus demo`: Horus, the demo shop (a process per service
# instance) and its load, data in ./data/demo; make run DEMO=0 starts
# `horus serve` alone, data in ./data. ARGS passes extra flags, e.g.
# make run ARGS="--scenario 1" or make run DEMO=0 ARGS="--retention-time 2d".
DEMO            ?= 1
run: build
ifeq ($(DEMO),0)
	./$(BIN) serve --config horus.example.yml $(ARGS)
else
	./$(BIN) demo --config horus.example.yml $(ARGS)
endif

test: test-deps vet fmt-check lint web-check unit race

# The SDK is its own Go module (sdk/go.mod) so that an application importing
# it does not take the server's dependency tree; every check runs in both.
MODULES         := . sdk

vet:
	@for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...) || exit 1; done

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

lint:
	@if ! [ -x "$(GOBIN)/golangci-lint" ] || ! "$(GOBIN)/golangci-lint" version 2>/dev/null | grep -q "$(GOLANGCI_LINT_VERSION:v%=%)"; then \
		echo "installing golangci-lint $(GOLANGCI_LINT_VERSION)"; \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi
	@for m in $(MODULES); do echo "golangci-lint ($$m)"; (cd $$m && $(GOBIN)/golangci-lint run --allow-serial-runners ./...) || exit 1; done

unit:
	@for m in $(MODULES); do echo "go test ($$m)"; (cd $$m && $(GO) test -count=1 -timeout 20m ./...) || exit 1; done

race:
	$(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)
	cd sdk && $(GO) test -count=1 -race -timeout 20m ./...

# Debian packages the integration tests run for real: Prometheus and
# promtool; Alertmanager and amtool (prometheus-alertmanager, whose binary is
# /usr/bin/prometheus-alertmanager); Chromium for the web UI's browser test.
test-deps:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then \
		echo "installing Debian package prometheus (for the compatibility tests)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	fi
	@if ! command -v prometheus-alertmanager >/dev/null || ! command -v amtool >/dev/null; then \
		echo "installing Debian package prometheus-alertmanager (for the alerting tests)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; \
	fi
	@if ! [ -x /usr/bin/chromium ]; then \
		echo "installing Debian package chromium (for the web UI's browser tests)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	fi

# The OpenTelemetry JS SDK for test/node's end-to-end test (a real Node.js
# client exporting traces, metrics and logs to Horus), from the lockfile.
test-deps: node-deps
node-deps:
	cd test/node && $(NPM) ci --no-audit --no-fund --loglevel=error

# The web UI (web/, docs/ui.md). make web rebuilds the build committed in
# internal/ui/dist (commit it with the sources); web-check, in make test,
# installs web/'s packages from the lockfile, type-checks, runs Vitest,
# rebuilds into a temporary directory and fails if that differs from the
# committed build, and checks the first page's size budget. The browser
# test (test/ui) runs with the Go tests.
NPM             ?= npm
web:
	cd web && $(NPM) ci --no-audit --no-fund && $(NPM) run build

web-check:
	cd web && $(NPM) ci --no-audit --no-fund --loglevel=error && npx tsc --noEmit && npx vitest run
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	(cd web && HORUS_UI_OUT="$$out" npx vite build --logLevel warn) || exit 1; \
	if ! diff -r "$$out" internal/ui/dist >/dev/null; then \
		echo "internal/ui/dist is not the build of web/: run make web and commit internal/ui/dist"; \
		diff -r "$$out" internal/ui/dist | head -20; exit 1; \
	fi; \
	node web/scripts/size.mjs "$$out"

# make dist: a release's archives in dist/, one per platform of
# DIST_PLATFORMS, horus_<version>_<os>_<arch>.tar.gz holding a static binary
# (CGO_ENABLED=0, -trimpath, the version ldflags, the web UI embedded from
# internal/ui/dist), README.md, horus.example.yml and deploy/ (the systemd
# unit and the production sample config), and dist/SHA256SUMS
# (sha256sum -c SHA256SUMS checks them). Tag the commit (git tag v1.2.3)
# first for a release version; docs/deploy.md.
DIST_PLATFORMS  ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
dist:
	@test -f internal/ui/dist/index.html || { echo "internal/ui/dist has no UI build: run make web"; exit 1; }
	rm -rf dist && mkdir -p dist
	@set -e; for p in $(DIST_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; name=horus_$(VERSION)_$${os}_$${arch}; \
		echo "building $$name"; \
		mkdir -p dist/$$name/deploy; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/$$name/horus ./cmd/horus; \
		cp README.md horus.example.yml dist/$$name/; \
		cp deploy/horus.service deploy/horus.yml dist/$$name/deploy/; \
		if [ -f LICENSE ]; then cp LICENSE dist/$$name/; fi; \
		tar -C dist -czf dist/$$name.tar.gz $$name; \
		rm -rf dist/$$name; \
	done
	cd dist && { sha256sum *.tar.gz 2>/dev/null || shasum -a 256 *.tar.gz; } > SHA256SUMS
	@cat dist/SHA256SUMS

bench:
	@for m in $(MODULES); do (cd $$m && $(GO) test -run '^$$' -bench . -benchmem ./...) || exit 1; done

# The differential harness against a running Grafana Loki (not part of make
# test: it needs a Loki). make compat-loki LOKI_URL=http://127.0.0.1:3100
# [LOGCLI=/path/to/logcli]; see docs/loki.md and bench/compat/loki/loki.yaml.
LOKI_URL        ?=
LOGCLI          ?=
compat-loki:
	@if [ -z "$(LOKI_URL)" ]; then echo "set LOKI_URL to a running Loki 3.x (docs/loki.md)"; exit 2; fi
	$(GO) run ./bench/compat/loki -loki-url $(LOKI_URL) $(if $(LOGCLI),-logcli $(LOGCLI))

# Horus beside VictoriaLogs on the same 2,000,000 JSON lines, in one run
# (not part of make test: it takes about 10 minutes and installs
# VictoriaLogs into ~/.cache/horus-bench/bin when missing); see
# docs/benchmarks.md, "Logs side by side". ARGS passes flags, e.g.
# make bench-logs ARGS="-lines 200000 -runs 3".
bench-logs:
	$(GO) run ./bench/logscompare $(ARGS)

clean:
	rm -rf bin
