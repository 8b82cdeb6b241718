#!/usr/bin/env bash
# Packs the built cldiff (and optionally the test binaries) with the shared libraries it needs,
# for a machine that has an OpenCL driver but no package access (how the H100 figures in the
# README were taken). Usage: tools/bundle.sh OUTDIR [--tests]
#   OUTDIR/cldiff.sh ARGS... runs the binary with the bundled libraries; when the machine has
#   NVIDIA's libnvidia-opencl.so.1 but no ICD file for it, the wrapper points the bundled ICD
#   loader at it. glibc, libstdc++ and libgcc_s are left to the target (it must be as new as this
#   machine's: Debian 12's glibc 2.36 or later). The reference BLAS/LAPACK are bundled instead of
#   OpenBLAS (the FID's matrix square root only; 35 MB smaller).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: tools/bundle.sh OUTDIR [--tests]}
[ -x build/cldiff ] || { echo "bundle: build/cldiff not built (cmake --build build)" >&2; exit 1; }
bins=(build/cldiff)
[ "${2:-}" = --tests ] && bins+=(build/tests/test_*)
mkdir -p "$out/lib" "$out/bin"
cp "${bins[@]}" "$out/bin/"
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
export LD_LIBRARY_PATH=/usr/lib/$multiarch/blas:/usr/lib/$multiarch/lapack
ldd "${bins[@]}" | awk '/=> \//{print $3}' | sort -u |
  grep -v -E '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+)\.so|ld-linux' |
  while read -r f; do cp -L "$f" "$out/lib/"; done
cat >"$out/cldiff.sh" <<'WRAP'
#!/usr/bin/env bash
# runs a bundled binary (default cldiff) with the bundled libraries: cldiff.sh [--bin NAME] ARGS...,
# or any command in that environment (ctest over the bundled tests): cldiff.sh --exec CMD ARGS...
here=$(cd "$(dirname "$0")" && pwd)
bin=cldiff run=
[ "${1:-}" = --bin ] && { bin=$2; shift 2; }
[ "${1:-}" = --exec ] && { run=1; shift; }
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "${OCL_ICD_VENDORS:-}" ] && ! ls /etc/OpenCL/vendors/*nvidia* >/dev/null 2>&1; then
  nv=$(ls /usr/lib/libnvidia-opencl.so.1 /usr/lib/*/libnvidia-opencl.so.1 /usr/local/nvidia/lib64/libnvidia-opencl.so.1 2>/dev/null | head -1)
  if [ -n "$nv" ]; then
    mkdir -p "$here/icd" && echo "$nv" >"$here/icd/nvidia.icd"
    export OCL_ICD_VENDORS="$here/icd"
  fi
fi
[ -n "$run" ] && exec "$@"
exec "$here/bin/$bin" "$@"
WRAP
chmod +x "$out/cldiff.sh"
echo "bundle: $out ($(du -sh "$out" | cut -f1); $(ls "$out/lib" | wc -l) libraries); run $out/cldiff.sh devices"
