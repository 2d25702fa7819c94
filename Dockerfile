# syntax=docker/dockerfile:1
# Sluice: one image for the node agent (sluice-agent), the control plane (sluice-controlplane) and
# the inspection CLI (sluice). Build from the repo root:  docker build -t sluice:dev .
# Stages: build (clang for the BPF object, tsc for the TypeScript) -> deps (production
# node_modules only) -> runtime (Node 24, libbpf, bpftool, iproute2; no compiler, no TypeScript).
# TypeScript ships compiled, not type-stripped at run time: the build type-checks what ships and
# fails on a type error, and the runtime needs no TypeScript tooling. The JS keeps the repo's
# layout (/opt/sluice/agent/main.js next to /opt/sluice/build/bpf/), so paths the code resolves
# from import.meta.url are the same as in a checkout. test/integration/deploy-entrypoints.test.ts
# builds this layout with the same script and runs the manifests' commands against it.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
# clang/llvm + libbpf-dev + linux-libc-dev: what `make build` needs for build/bpf/*.o;
# libbpf1 comes with libbpf-dev and lets assemble.sh's --help checks load the agent.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev linux-libc-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# assemble.sh compiles and lays out /opt/sluice; then each entrypoint must start and print its help
# (catches a missing file or a broken import here rather than in the cluster).
RUN make build \
 && bash deploy/image/assemble.sh /src /opt/sluice \
 && ln -s /src/node_modules /opt/sluice/node_modules \
 && for b in sluice-agent sluice-controlplane sluice; do \
      SLUICE_HOME=/opt/sluice sh deploy/image/bin/$b --help >/dev/null || exit 1; \
    done \
 && rm /opt/sluice/node_modules

FROM ${NODE_IMAGE} AS deps
WORKDIR /opt/sluice
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# libbpf1: libbpf.so.1, loaded by the agent through koffi. bpftool: `bpftool map dump pinned ...`
# in the agent pod. iproute2: `tc filter show` / `ip link` to look at the attachments.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 bpftool iproute2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=deps /opt/sluice/node_modules /opt/sluice/node_modules
COPY --from=build /opt/sluice /opt/sluice
COPY deploy/image/bin/ /usr/local/bin/
ENV SLUICE_HOME=/opt/sluice NODE_ENV=production
WORKDIR /opt/sluice
# Least privilege by default: the control plane and the CLI run as this unprivileged user. The
# agent alone needs uid 0 with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (and nothing else); its
# DaemonSet asks for exactly that (deploy/base/agent-daemonset.yaml).
USER 65532:65532
# No ENTRYPOINT: the manifests name the binary as their command (sluice-agent,
# sluice-controlplane); `docker run sluice:dev` prints the CLI's help.
CMD ["sluice", "--help"]
