# Horus — the two commands a user needs:
#   make run    build and start Horus with embedded storage in ./data
#   make test   vet, format check, lint and every test (installs what tests need)

GO              ?= go
BIN             := bin/horus
GOLANGCI_LINT_VERSION := v2.15.0
GOBIN           := $(shell $(GO) env GOPATH)/bin
VERSION         ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
REVISION        := $(shell git rev-parse HEAD 2>/dev/null)
BRANCH          := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
PKG             := github.com/horus-obs/horus/internal/buildinfo
LDFLAGS         := -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) -X $(PKG).Branch=$(BRANCH) \
                   -X $(PKG).BuildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# Packages whose tests run again under the race detector: the ones with
# concurrency of their own.
RACE_PKGS       := ./internal/ingest/... ./internal/pipeline/... ./internal/server/... ./internal/store/... ./internal/query/...

.PHONY: all build run test vet fmt-check lint unit race test-deps bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/horus

# ARGS passes extra flags, e.g. make run ARGS="--retention-time 2d".
run: build
	./$(BIN) serve --config horus.example.yml $(ARGS)

test: test-deps vet fmt-check lint unit race

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
	@for m in $(MODULES); do echo "golangci-lint ($$m)"; (cd $$m && $(GOBIN)/golangci-lint run ./...) || exit 1; done

unit:
	@for m in $(MODULES); do echo "go test ($$m)"; (cd $$m && $(GO) test -count=1 -timeout 20m ./...) || exit 1; done

race:
	$(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)
	cd sdk && $(GO) test -count=1 -race -timeout 20m ./...

# Debian packages the integration tests run for real: Prometheus and promtool.
test-deps:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then \
		echo "installing Debian package prometheus (for the compatibility tests)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	fi

bench:
	@for m in $(MODULES); do (cd $$m && $(GO) test -run '^$$' -bench . -benchmem ./...) || exit 1; done

clean:
	rm -rf bin
