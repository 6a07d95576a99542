#!/usr/bin/env bash
# Prepares a Debian 12 host for building, running and testing husk. Idempotent:
# every step checks before it acts, so running it again changes nothing.
#   - installs the Debian packages husk's tests and benchmarks use (peers, clients,
#     the local registry, the cgroup v2 VM's kernel and qemu);
#   - creates the unprivileged test user (HUSK_TEST_USER, default "husktest") with
#     /etc/subuid and /etc/subgid ranges so rootless tests run as a real user.
set -euo pipefail

TEST_USER=${HUSK_TEST_USER:-husktest}
SUBID_START=${HUSK_SUBID_START:-200000}
SUBID_COUNT=${HUSK_SUBID_COUNT:-65536}

PACKAGES=(
  busybox-static uidmap passt slirp4netns docker-registry skopeo umoci
  crun runc podman criu qemu-system-x86 linux-image-amd64 cpio gzip
  iproute2 procps psmisc util-linux attr file time openssl apache2-utils
  strace librsvg2-bin
)

log() { printf 'setup-host: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs packages and creates a user)"
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The packaged registry starts a system service on install; the test harness
# runs its own instances on free ports, so the packaged one is not needed.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

if ! id "$TEST_USER" >/dev/null 2>&1; then
  log "creating test user $TEST_USER"
  useradd --create-home --shell /bin/bash "$TEST_USER"
fi
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  if ! grep -q "^$TEST_USER:" "$f"; then
    echo "$TEST_USER:$SUBID_START:$SUBID_COUNT" >>"$f"
  fi
  # Rootful --userns=auto takes its ranges from the user "containers", as
  # podman's does; well clear of the test user's range.
  if ! grep -q "^containers:" "$f"; then
    echo "containers:1000000:1000000" >>"$f"
  fi
done

# Rootless runtime dir for the test user (what a login session would give it).
uid=$(id -u "$TEST_USER")
install -d -m 0700 -o "$TEST_USER" -g "$TEST_USER" "/run/user/$uid"

# Rust toolchain components the test command needs.
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
log "host ready (test user $TEST_USER uid $uid)"
