# Sluice. `make demo` and `make test` set up whatever is missing first (as root, on Debian).
SHELL := /bin/bash
# Node 24 from the npm registry when the machine's Node is older (see scripts/setup.sh).
export PATH := $(CURDIR)/.tools/node/bin:$(PATH)

BPF_SRC := $(wildcard bpf/*.c)
BPF_HDR := $(wildcard bpf/*.h bpf/lib/*.h)
BPF_OBJ := $(patsubst bpf/%.c,build/bpf/%.o,$(BPF_SRC))
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -I/usr/include/$(shell uname -m)-linux-gnu -Ibpf

.PHONY: all setup build test unit demo demo-down bench typecheck clean image

all: build

setup:
	@bash scripts/setup.sh

build: $(BPF_OBJ)

build/bpf/%.o: bpf/%.c $(BPF_HDR)
	@mkdir -p $(dir $@)
	clang $(BPF_CFLAGS) -c $< -o $@

typecheck: setup
	npx tsc --noEmit -p tsconfig.json

# Every test: unit tests of the pure logic, and integration tests with real BPF, real packets
# between network namespaces, real gRPC and the real Kubernetes informers.
test: setup build typecheck
	npx vitest run

unit: setup
	npx vitest run test/unit

demo: setup build
	node sim/demo.ts

# Stops a cluster left running by DEMO_KEEP=1 make demo.
demo-down:
	node sim/demo.ts --down

# Each pod-side program's cost by kind of packet (BPF_PROG_TEST_RUN, a minute), east-west
# (ClusterIP), then north-south (NodePort, XDP packet rate; merged into latest.json), then the churn
# soak (SOAK_SECONDS, default 600: endpoint changes at 50/s under connection load): bench/results/.
bench: setup build
	node bench/pktcost.ts
	node bench/run.ts
	node bench/northsouth.ts
	node bench/soak.ts

# The Dockerfile, built here with podman/buildah on a debootstrapped base (no registry image needed),
# then each entrypoint run from the image in the simulated cluster. Slow (minutes, network for apt
# and npm), so not part of `make test`. See scripts/image.sh and docs/kind.md.
image: build
	bash scripts/image.sh

clean:
	rm -rf build dist
