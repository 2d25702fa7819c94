#!/usr/bin/env bash
# Lays out what the image ships, under DEST, from a checkout SRC whose `npm ci` and `make build`
# have run: the agent (with the sluice CLI) and the control plane compiled to JS in the repo's own
# layout, the BPF object, the proto files and package.json ("type": "module"). node_modules is
# not copied: the image takes a production-only install (npm ci --omit=dev) from its own stage.
# The Dockerfile runs this, and test/integration/deploy-entrypoints.test.ts runs the same script
# into a temporary directory and starts the binaries from there.
set -euo pipefail
SRC=$(cd "${1:?usage: assemble.sh SRC DEST}" && pwd)
DEST=${2:?usage: assemble.sh SRC DEST}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)

# Compiled, not type-stripped at run time: tsc type-checks what ships (the build fails on a type
# error), the image needs no TypeScript tooling, and startup skips the per-file stripping pass.
# rewriteRelativeImportExtensions (tsconfig.json) turns the sources' ./x.ts imports into ./x.js.
(cd "$SRC" && node node_modules/typescript/bin/tsc -p deploy/tsconfig.image.json --outDir "$DEST")

# Already JavaScript (protobufjs static code): tsc reads its .d.ts and does not copy the .js.
mkdir -p "$DEST/proto/gen"
cp "$SRC"/proto/gen/*.js "$DEST/proto/gen/"
# agent/bpf/objects.ts resolves the datapath objects in ../../build/bpf/ from agent/bpf/.
mkdir -p "$DEST/build/bpf"
cp "$SRC"/build/bpf/*.o "$DEST/build/bpf/"
cp -r "$SRC/proto/sluice" "$DEST/proto/"
cp "$SRC/package.json" "$DEST/"

# Every compiled relative import must point at a file that is there.
missing=0
while IFS= read -r -d '' f; do
  dir=$(dirname "$f")
  for spec in $(grep -oE "(from|import\\() *['\"]\\.{1,2}/[^'\"]+['\"]" "$f" | grep -oE "\\.{1,2}/[^'\"]+"); do
    if [ ! -e "$dir/$spec" ]; then echo "assemble: $f imports $spec, which is not in the image" >&2; missing=1; fi
  done
done < <(find "$DEST/agent" "$DEST/controlplane" "$DEST/proto" "$DEST/common" -name '*.js' -print0)
[ "$missing" = 0 ]
for obj in sluice_pod.o sluice_ext.o; do
  [ -f "$DEST/build/bpf/$obj" ] || { echo "assemble: build/bpf/$obj missing (make build)" >&2; exit 1; }
done
echo "assemble: $DEST ready"
