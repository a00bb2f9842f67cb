#!/usr/bin/env bash
# Installs petrel's build dependencies (Debian 12 / Ubuntu 24.04, apt-get as root or with sudo)
# and builds petrel in ./build (or $PET_BUILD_DIR). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS="build-essential cmake pkg-config git libopenmpi-dev openmpi-bin libhdf5-openmpi-dev
      libcjson-dev libcmocka-dev libnifti2-dev libniftiio-dev zlib1g-dev libpng-dev libcairo2-dev
      python3-dev python3-numpy python3-pytest"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# CUDA is used when nvcc is found (here or in /usr/local/cuda); without it petrel builds for CPUs.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
BUILD=${PET_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
