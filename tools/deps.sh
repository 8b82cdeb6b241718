#!/usr/bin/env bash
# Installs cldiff's build and run dependencies from Debian packages when any is missing.
set -euo pipefail
pkgs="build-essential cmake pkg-config ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
      libclblast-dev libpng-dev zlib1g-dev libcjson-dev libcmocka-dev liblapacke-dev libblas-dev
      libopenblas0-pthread libdnnl-dev libgd-dev dataset-fashion-mnist clang libclang-rt-14-dev openmpi-bin libopenmpi-dev libjpeg62-turbo-dev"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
