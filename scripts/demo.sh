#!/usr/bin/env bash
# The README's main job: set up the host (idempotent), build husk, build the
# busybox fixture image, and run a container from it with husk-runtime, first
# as root and then rootless as the unprivileged test user.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (it installs packages and then also runs a rootless container)" >&2
  exit 1
fi
bash scripts/setup-host.sh
cargo build --release --bins -q

work=$(mktemp -d /tmp/husk-demo.XXXXXX)
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
bin=target/release
install -m 0755 "$bin/husk-runtime" "$work/husk-runtime"

# A bundle made from the project's own busybox fixture image.
"$bin/husk-fixtures" bundle busybox "$work/bundle" -- \
  sh -c 'echo "hello from a husk container: $(hostname), uid $(id -u), pid $$"'
echo "== rootful"
"$work/husk-runtime" --root "$work/state" run --bundle "$work/bundle" "demo-$$"

user=${HUSK_TEST_USER:-husktest}
uid=$(id -u "$user")
"$bin/husk-fixtures" bundle --rootless "$(id -u "$user"):$(id -g "$user")" busybox "$work/rbundle" -- \
  sh -c 'echo "hello from a rootless husk container: $(hostname), uid $(id -u) in the container, pid $$"'
chown -R "$user:" "$work/rbundle"
install -d -o "$user" -g "$user" "$work/rstate"
echo "== rootless (as $user)"
setpriv --reuid="$user" --regid="$user" --init-groups \
  env HOME="/home/$user" XDG_RUNTIME_DIR="/run/user/$uid" \
  "$work/husk-runtime" --root "$work/rstate" run --bundle "$work/rbundle" "demo-$$"
