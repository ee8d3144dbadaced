# labform's build. `make demo` and `make test` are the README's two commands.
GO      ?= go
export PATH := $(PATH):/usr/local/go/bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# The Debian packages of the tools the providers drive.
DEB_PACKAGES = qemu-system-x86 qemu-utils runc iptables nftables iproute2 busybox-static
# What the tests need besides (.ci/run installs both): tmux drives console
# and exec as a person would, chromium renders the topology page, sshd
# runs the simulated hosts.
TEST_PACKAGES = tmux chromium openssh-server
RACE ?= -race

.PHONY: build test bench lint fuzz chaos demo deps clean docs

build:
	$(GO) build -ldflags "-X main.Version=$(VERSION)" -o bin/labform ./cmd/labform
	$(GO) build -o bin/labform-graphviz ./cmd/labform-graphviz

test:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "not gofmt-formatted:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) test $(RACE) -count=1 ./...

# docs/providers/<name>.md from the providers' schemas; a test fails when
# they are stale.
docs:
	$(GO) generate ./internal/docgen/

# Speed and memory targets live here, never in timed unit tests.
# The unrolled lab (one block per resource, 10,500 resources, and 42,000
# for the linearity check) runs one benchmark per process.
bench:
	$(GO) test -run '^$$' -bench '^Benchmark[^U]' -benchtime 3x ./planner/ ./state/
	$(GO) test -run '^$$' -bench '^BenchmarkUnrolledValidate$$' -benchtime 3x ./planner/
	$(GO) test -run '^$$' -bench '^BenchmarkUnrolledPlan$$' -benchtime 3x ./planner/

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The long chaos run: kill -9 at random moments of a real lab's applies,
# restarts and destroys, counting what is left on the host (as root).
chaos: deps
	$(GO) test ./cmd/labform -run TestChaos -count=1 -v -timeout 30m -chaos.rounds=$(or $(ROUNDS),50)

fuzz:
	$(GO) test ./config -run '^$$' -fuzz FuzzLoad -fuzztime 60s
	$(GO) test ./state -run '^$$' -fuzz FuzzStateCorruption -fuzztime 60s
	$(GO) test ./config -run '^$$' -fuzz FuzzNesting -fuzztime 60s
	$(GO) test ./config -run '^$$' -fuzz FuzzFastParse -fuzztime 60s

# Installs the providers' tools when run as root on Debian (what apply will
# need); validate and plan work without them.
deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi; \
	else echo "not root on Debian: skipping the install of$(DEB_PACKAGES)"; fi

demo: deps build
	./scripts/demo.sh

clean:
	rm -rf bin examples/*/.labform
