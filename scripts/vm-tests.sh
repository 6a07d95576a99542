#!/usr/bin/env bash
# The pure cgroup v2 lane: boots a throw-away VM whose only cgroup hierarchy
# is cgroup v2 (../shared/tools/vm/cgroup2-vm.sh), with this checkout shared
# at the same path, and runs the rootful runtime test binaries there in one
# boot. Expects `cargo test --workspace --no-run` and `cargo build --bins`
# to have run (scripts/test.sh does both). Rootless tests stay on the host:
# the VM has no unprivileged test user.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
vm=${HUSK_CGROUP2_VM:-$repo/../shared/tools/vm/cgroup2-vm.sh}
[ -f "$vm" ] || { echo "vm-tests.sh: $vm not found" >&2; exit 1; }
target=${CARGO_TARGET_DIR:-$repo/target}/debug

bins=()
for t in runtime_cgroup runtime_lifecycle runtime_errors runtime_hooks runtime_timens runtime_seccomp runtime_process runtime_limits shim_exit spec_run spec_options; do
  b=$(ls -t "$target"/deps/"$t"-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
  [ -n "$b" ] || { echo "vm-tests.sh: no test binary for $t (run cargo test --no-run)" >&2; exit 1; }
  bins+=("$b")
done

script="set -e; echo \"cgroup: \$(stat -f -c %T /sys/fs/cgroup)\";"
for b in "${bins[@]}"; do
  script+=" echo \"== $(basename "$b") (pure cgroup v2)\"; $b --test-threads=2 --skip rootless;"
done
# Every kernel message reaches the console (VM_DEBUG=1), so that a soft
# lockup or a hung task seen in the guest comes with its stack; the boot's
# own messages, up to the first test binary, are dropped.
VM_TIMEOUT=${VM_TIMEOUT:-600} VM_SHARE_USR=1 VM_DEBUG=1 \
VM_ENV="HUSK_TARGET_DIR=$target HUSK_BUSYBOX=/bin/busybox TMPDIR=/tmp RUST_BACKTRACE=1 HUSK_TEST_TIMEOUT=60" \
  bash "$vm" "$repo" sh -c "$script" 2>&1 |
  awk '/^== / { tests = 1 } tests || !/^\[ *[0-9]+\.[0-9]+\]/ { print; fflush() }'
