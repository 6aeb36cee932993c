#!/usr/bin/env bash
# Host setup for migtest on Debian bookworm. Idempotent: safe to run again.
# Installs QEMU 10.0 (bookworm-backports) as the default, the tools the harness drives,
# the npm dependencies and the default guest images, then places Debian's QEMU 5.2
# (bullseye), 7.2 (bookworm), 10.0 (trixie) and 11.1 (sid) beside the default, each with
# its own libraries, and checks that each boots the default image and migrates to itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "ci/setup.sh installs Debian packages and must run as root. Run:" >&2
  echo "  sudo bash $(pwd)/ci/setup.sh" >&2
  exit 1
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "migtest needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "Install it (e.g. from NodeSource: nodejs 20.x), then run this script again." >&2
  exit 1
fi

if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "setup: adding bookworm-backports to apt sources"
  cat > /etc/apt/sources.list.d/migtest-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q -t bookworm-backports qemu-system-x86 qemu-system-arm qemu-utils
apt-get install -y -q socat mmdebstrap e2fsprogs cpio busybox-static kmod nftables iproute2 \
  openssh-server openssh-client python3 openssl chromium
# UEFI firmware (--firmware uefi, uefi-secure) and the tool that signs the guest's kernel for Secure Boot.
apt-get install -y -q ovmf qemu-efi-aarch64 sbsigntool
# The system image's disk (GRUB images, the ESP, the partition table), built without loop devices.
apt-get install -y -q grub-common mtools dosfstools fdisk

npm ci --no-audit --no-fund
node bin/migtest.mjs images build
node bin/migtest.mjs images build --profile system
node bin/migtest.mjs qemu fetch 5.2 7.2 10.0 11.1
node bin/migtest.mjs doctor
