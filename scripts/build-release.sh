#!/usr/bin/env bash
# Builds what a release ships and what the benchmarks measure: husk and
# husk-runtime fully static (glibc, no PIE), plus the benchmark suite.
#
# Non-PIE: a static-pie binary relocates its 300 KiB of .data.rel.ro at
# every start, so each shim would hold those pages as private memory; a
# fixed-address binary keeps them shared with the page cache (shim VmRSS
# 1380 KiB instead of 1640 KiB, docs/shim.md). The cost is that the binary
# image itself is not randomised (stack, heap and mmap still are).
#
# Output: target/static/x86_64-unknown-linux-gnu/release/{husk,husk-runtime}
#         target/release/husk-bench
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release --target x86_64-unknown-linux-gnu \
  -p husk-engine -p husk-runtime --bins --target-dir target/static
cargo build --release -p husk-benches --bins
out=target/static/x86_64-unknown-linux-gnu/release
echo "built: $out/husk $out/husk-runtime target/release/husk-bench"
echo "use:   export HUSK_BIN=$PWD/$out/husk HUSK_RUNTIME=$PWD/$out/husk-runtime"
