#!/usr/bin/env bash
# `make image`: build the project's Dockerfile, unchanged, without a registry image, and run each of
# its entrypoints from the built image in the simulated cluster.
#
#   1. setup: podman, buildah and debootstrap from apt (when missing);
#   2. the base: a debootstrapped Debian 12 plus Node 24 from the npm registry
#      (deploy/image/local-base.sh), standing in for node:24-bookworm-slim, reused when present
#      (SLUICE_BASE_REBUILD=1 makes it again);
#   3. the image: `buildah bud` of the Dockerfile with NODE_IMAGE set to that base and the build's
#      network the host's (apt and npm downloads in RUN steps), tagged localhost/sluice:dev;
#   4. the entrypoints: test/integration/deploy-entrypoints.test.ts with SLUICE_IMAGE set, so the
#      agent, the control plane and the CLI run from the image (deploy/image/run.ts) in a simulated
#      node's network namespace: the agent serving a Service, the control plane against the fake API
#      server, the CLI reading the agent's pins.
#
# Containers only ever get --network=host (the caller's namespace: the root one for the build, a
# sluice- node's for the entrypoints) or none: no engine-made bridge, veth or firewall rule. The
# root namespace's links and nftables/iptables rules are compared before and after; any difference
# fails the run. Bounded (every step has a timeout), cleans up its containers and scratch space,
# exits non-zero on any failure, and ends with a summary (also in build/image/summary.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
export PATH="$REPO/.tools/node/bin:$PATH"
BASE=${SLUICE_BASE_IMAGE:-localhost/sluice-base:bookworm-node24}
IMAGE=${SLUICE_IMAGE:-localhost/sluice:dev}
OUT=$REPO/build/image
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/sluice-image.XXXXXX)
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
log() { printf '[image] %s\n' "$*" | tee -a "$SUMMARY"; }
step_start=0
begin() { step_start=$SECONDS; log "$*"; }
done_in() { log "  done in $((SECONDS - step_start)) s${1:+: $1}"; }

# What the root network namespace looks like: links, nftables and iptables rules.
root_netns_state() {
  ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort
  echo '--- nft'
  nft list ruleset 2>/dev/null || true
  echo '--- iptables'
  iptables-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//' || true
}

cleanup() {
  local rc=$?
  podman ps -a -q --filter label=io.sluice.make-image 2>/dev/null | xargs -r podman rm -f -t 2 >/dev/null 2>&1 || true
  buildah rm --all >/dev/null 2>&1 || true
  rm -rf "$WORK"
  if [ -f "$OUT/root-netns.before" ]; then
    root_netns_state > "$OUT/root-netns.after"
    if ! diff -u "$OUT/root-netns.before" "$OUT/root-netns.after" > "$OUT/root-netns.diff"; then
      log "FAIL: the root network namespace changed (links or firewall rules):"
      tee -a "$SUMMARY" < "$OUT/root-netns.diff"
      rc=1
    else
      log "root network namespace unchanged (links, nftables, iptables): checked before and after"
    fi
  fi
  log "result: $([ "$rc" = 0 ] && echo OK || echo "FAILED ($rc)")"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

begin "setup: podman, buildah, debootstrap, runc"
missing=()
for p in podman buildah debootstrap runc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
done_in "$(podman --version), $(buildah --version | cut -d' ' -f1-3)"

root_netns_state > "$OUT/root-netns.before"

if [ -n "${SLUICE_BASE_REBUILD:-}" ] || ! podman image exists "$BASE"; then
  begin "base: $BASE (debootstrap bookworm + Node 24 from the npm registry)"
  timeout 1200 bash deploy/image/local-base.sh "$BASE" "$WORK/base"
  done_in
else
  log "base: $BASE already built (SLUICE_BASE_REBUILD=1 to make it again)"
fi

begin "build: the Dockerfile with NODE_IMAGE=$BASE, network host -> $IMAGE"
if ! timeout 2400 buildah bud --isolation chroot --network host --layers \
     --build-arg "NODE_IMAGE=$BASE" -t "$IMAGE" -f Dockerfile . > "$OUT/build.log" 2>&1; then
  tail -30 "$OUT/build.log" | tee -a "$SUMMARY"
  exit 1
fi
done_in "$(podman image inspect --format '{{.Id}}' "$IMAGE" | cut -c1-12), $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }') (log: build/image/build.log)"

begin "entrypoints from the image in the simulated cluster (test/integration/deploy-entrypoints.test.ts)"
if ! SLUICE_IMAGE="$IMAGE" timeout 900 node node_modules/vitest/vitest.mjs run test/integration/deploy-entrypoints.test.ts \
     > "$OUT/entrypoints.log" 2>&1; then
  grep -E '✓|×|FAIL|Error' "$OUT/entrypoints.log" | head -40 | tee -a "$SUMMARY"
  exit 1
fi
grep -E '✓|Tests ' "$OUT/entrypoints.log" | sed 's/\x1b\[[0-9;]*m//g' | tee -a "$SUMMARY" > /dev/null
done_in "$(grep -E 'Tests ' "$OUT/entrypoints.log" | sed 's/\x1b\[[0-9;]*m//g' | xargs)"
