# Meridian: see README.md. Every target works from a fresh clone.
GO        ?= go
BIN       := bin/meridian
FUZZTIME  ?= 60s

.PHONY: build run test check bench bench-go fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/meridian

# The embedded demo config: DNS on 127.0.0.1:5353 (udp+tcp), HTTP on 127.0.0.1:8053.
run: build
	./$(BIN) serve

# Unit tests (fuzz seeds included) and the end-to-end tests against the real binary.
test:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# Go micro-benchmarks, then dnsperf against Meridian and gdnsd side by side.
bench: bench-go
	bash test/bench/dns.sh

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./dns/...

# Coverage-guided fuzzing of the DNS request handler, bounded by FUZZTIME.
fuzz:
	$(GO) test ./dns -run '^$$' -fuzz FuzzRespond -fuzztime $(FUZZTIME) -timeout 0

clean:
	rm -rf bin
