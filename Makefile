# bgctl: blue-green deployments on a plain Docker host.
#   make demo   - install what is missing, build, bring up the demo stack, send traffic, switch, show status
#   make test   - install what is missing, start dockerd, build images, run unit, exposition and end-to-end tests
#   make fuzz   - the spec, parser and message fuzz tests, long (BGCTL_FUZZ_ITERATIONS, BGCTL_FUZZ_SEED)

SWIFT       ?= swift
BGCTL_DEBUG := .build/debug/bgctl
BGCTL_REL   := .build/release/bgctl
DEMO_SPEC   := examples/demo/bgctl.yaml

.PHONY: all setup build release images test unit e2e fuzz demo demo-down bench bench-switch bench-watch clean

all: build

setup:
	@./.ci/host-setup.sh

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --static-swift-stdlib

templates:
	python3 templates/embed.py

images: setup
	@./examples/images/build.sh

unit: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test
	BGCTL_BIN=$(CURDIR)/$(BGCTL_DEBUG) python3 -m pytest -q -p no:cacheprovider Tests/exposition

FUZZ_ITERATIONS ?= 200000

fuzz:
	$(SWIFT) build --build-tests
	BGCTL_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) $(SWIFT) test --skip-build --filter 'ParserFuzzTests|RenderFuzzTests|SpecFuzzTests'

e2e: setup images build
	BGCTL_BIN=$(CURDIR)/$(BGCTL_DEBUG) python3 -m pytest -q -p no:cacheprovider Tests/e2e

test: setup images
	$(SWIFT) build --build-tests
	$(SWIFT) test
	BGCTL_BIN=$(CURDIR)/$(BGCTL_DEBUG) python3 -m pytest -q -p no:cacheprovider Tests/exposition
	BGCTL_BIN=$(CURDIR)/$(BGCTL_DEBUG) python3 -m pytest -q -p no:cacheprovider Tests/e2e

demo: setup images build
	@BGCTL=$(CURDIR)/$(BGCTL_DEBUG) ./examples/demo/run.sh

demo-down: build
	$(BGCTL_DEBUG) -f $(DEMO_SPEC) down

bench: bench-switch bench-watch

bench-switch: setup images release
	BGCTL_BIN=$(CURDIR)/$(BGCTL_REL) python3 bench/switch.py

bench-watch: setup release
	BGCTL_BIN=$(CURDIR)/$(BGCTL_REL) BGCTL_BENCH_BIN=$(CURDIR)/.build/release/bgctl-bench python3 bench/watch.py

clean:
	rm -rf .build
