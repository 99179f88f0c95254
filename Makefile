# Pincer — single-binary OpenClaw-compatible gateway.
GO      ?= go
BIN     ?= bin/pincer
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/pincerhq/pincer/core/daemon.Version=$(VERSION)
ARGS    ?=

.PHONY: build run test race lint schema bench interop clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./macapp

# Runs the gateway on 127.0.0.1:18789 with the embedded SQLite default; no config needed.
run: build
	./$(BIN) gateway run $(ARGS)

# Unit, over-the-wire and interop tests (interop installs the official
# OpenClaw client from the npm registry into a cache on first use).
test:
	$(GO) test -count=1 -timeout 20m ./...

race:
	$(GO) test -race -count=1 -timeout 20m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) build ./...

# Regenerates assets/schema from the Go protocol types.
schema:
	$(GO) run ./core/protocol/schema/gen

bench: build
	$(GO) run ./core/bench/cmd/pincer-bench --gateway-bin ./$(BIN) $(ARGS)

interop:
	PINCER_INTEROP=$${PINCER_INTEROP:-required} $(GO) test -count=1 -v -timeout 15m ./interop/

clean:
	rm -rf bin
