#!/usr/bin/env bash
# Set up edge-rnn on a fresh Debian/Ubuntu machine with Python 3.10-3.12.
#   bash scripts/setup.sh          Python packages only (training, conversion, host C, validation)
#   bash scripts/setup.sh --dev    ... plus test tools (pytest, ruff; chromium for the report
#                                  page test, with apt-get: needs root or sudo)
#   bash scripts/setup.sh --arm    ... plus ARM and RISC-V cross compilers and QEMU (needs root
#                                  or sudo)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0; arm=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --arm) arm=1 ;;
    *) echo "setup.sh: unknown option '$arg' (use --dev and/or --arm)" >&2; exit 2 ;;
  esac
done
py=${PYTHON:-python3}
apt_packages=""
if [ "$arm" = 1 ]; then
  apt_packages="gcc g++ gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
    qemu-system-arm qemu-user
    gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc
    gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross
    valgrind clang"
fi
[ "$dev" = 1 ] && apt_packages="$apt_packages chromium"
if [ -n "$apt_packages" ]; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  # shellcheck disable=SC2086  # one word per package
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $apt_packages >/dev/null
fi
extras=""; [ "$dev" = 1 ] && extras="[dev]"
"$py" -m pip install -q --disable-pip-version-check -e ".${extras}"
# tf-keras provides the fused-LSTM export twins; --no-deps keeps tensorflow-cpu as the only TF.
"$py" -m pip install -q --disable-pip-version-check --no-deps "tf-keras==2.21.0"
# pyenv only exposes new console scripts (edge-rnn) after a rehash.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
if ! command -v edge-rnn >/dev/null 2>&1; then
  echo "setup.sh: installed, but 'edge-rnn' is not on PATH; add $("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))') to PATH" >&2
  exit 1
fi
