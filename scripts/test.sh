#!/usr/bin/env bash
# The README's test command: sets up the host (idempotent), then checks
# formatting and lints and runs the whole test suite, rootful and rootless.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: run as root (rootless tests switch to the unprivileged test user themselves)" >&2
  exit 1
fi

# The build and the tests need a few GB; say so plainly when the disk is short.
echo "== disk"
df -h . "${TMPDIR:-/tmp}" | sed 's/^/  /'
avail_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ "${avail_kb:-0}" -lt 3000000 ]; then
  echo "test.sh: warning: only $((avail_kb / 1024)) MiB free here; the build needs about 3 GiB" >&2
fi

bash scripts/setup-host.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo build"
cargo build --workspace --bins

echo "== benchmark smoke run (numbers live in docs/performance.md, not here)"
"${CARGO_TARGET_DIR:-$PWD/target}/debug/husk-bench" runtime-lifecycle -n 3

echo "== cargo test"
# Binaries the end-to-end tests drive are found through this variable.
export HUSK_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/debug"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-targets --no-fail-fast -- --test-threads="${HUSK_TEST_THREADS:-4}" 2>&1 | tee "$log"

echo "== pure cgroup v2 lane (VM)"
bash scripts/vm-tests.sh 2>&1 | tee -a "$log"

# One closing line over every test binary, host and VM.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i; exit (p == 0 || f > 0) }' "$log"
