#!/usr/bin/env bash
# Regenerates proto/gen/state.{js,d.ts} from proto/sluice/v1/state.proto.
# The output is committed: nothing is generated at test or run time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/node/bin:$PATH"
out=proto/gen
mkdir -p "$out"
npx --no-install pbjs -t static-module -w es6 --force-number -o "$out/state.js" proto/sluice/v1/state.proto
npx --no-install pbts -o "$out/state.d.ts" "$out/state.js"
# uint64 fields: even with --force-number the decoder returns Long objects when the `long`
# package is loadable. Turn Long support off in protobufjs/minimal before any generated code runs,
# so every uint64 (versions) is a plain JS number (safe up to 2^53, see docs/control-plane.md).
sed -i '0,/^import \$protobuf from "protobufjs\/minimal.js";$/s//import $protobuf from "protobufjs\/minimal.js";\n\/\/ Added by proto\/gen.sh: uint64 as plain numbers.\n$protobuf.util.Long = undefined;\n$protobuf.configure();/' "$out/state.js"
grep -q '^\$protobuf.util.Long = undefined;$' "$out/state.js" || { echo "gen.sh: failed to patch $out/state.js" >&2; exit 1; }
# The declarations then must not mention Long either.
sed -i -e '/^import Long = require("long");$/d' -e 's/number|Long/number/g' "$out/state.d.ts"
if grep -q 'Long' "$out/state.d.ts"; then echo "gen.sh: Long left in $out/state.d.ts" >&2; exit 1; fi
echo "generated $out/state.js $out/state.d.ts"
