#!/usr/bin/env bash
# Builds crema for a GPU machine that has the NVIDIA driver, CUDA (cuBLAS) and cuDNN but not
# crema's Debian libraries, and packs it: build-gpu (sm_90, CUDA on, tests on), then .gpu/ with
# the build's executables and plugins (stripped), every shared library they need except glibc,
# libstdc++ and the CUDA libraries (.gpu/syslib), .gpu/run.sh to run them, Fashion-MNIST, and
# .gpu.tar.xz of it all. Copy the repository with .gpu.tar.xz to the GPU machine and run
# scripts/gpu_check.sh there (docs/GPU.md).
#   usage: bash scripts/gpu_bundle.sh        (on the build machine: nvcc, Debian's packages)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/cuda/bin:$PATH
# Lean: a device call carries at most 64 MiB, and the GPU work needs neither oneDNN (the CPU's
# bf16), MPI (ranks across machines) nor the Python module.
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCREMA_WITH_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DCREMA_NATIVE=OFF -DCREMA_WITH_ONEDNN=OFF -DCREMA_WITH_MPI=OFF \
  -DCREMA_WITH_PYTHON=OFF > build-gpu-configure.log
cmake --build build-gpu -j"$(nproc)"

# pack BUILD_DIR DEST: the build's ELF files under DEST/<build dir name>, their libraries in
# DEST/syslib, DEST/run.sh (LD_LIBRARY_PATH there, then the GPU machine's CUDA libraries).
pack() {
  local build dest base f rel name path
  build=$(cd "$1" && pwd)
  dest=$2
  rm -rf "$dest"
  mkdir -p "$dest/syslib"
  dest=$(cd "$dest" && pwd)
  base=$(basename "$build")
  # Libraries the GPU machine provides itself (or that must come from its driver).
  local skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libgcc_s\.so|libstdc\+\+\.so|libcuda\.so|libnvidia-|libcublas|libcublasLt|libcudnn|libcufft|libcurand|libcusparse|libcusolver|libnccl|libnvrtc|libnvJitLink)'
  while IFS= read -r f; do
    if head -c 4 "$f" | grep -q $'\x7fELF'; then
      rel=${f#"$build"/}
      mkdir -p "$dest/$base/$(dirname "$rel")"
      cp -p "$f" "$dest/$base/$rel"
      strip --strip-unneeded "$dest/$base/$rel" 2> /dev/null || true
    fi
  done < <(find "$build" -type f \( -perm -u+x -o -name '*.so' -o -name '*.so.*' \) \
             -not -path '*/CMakeFiles/*')
  find "$dest/$base" -type f | while IFS= read -r f; do
    ldd "$f" 2> /dev/null | awk '/=> \//{print $1, $3}'
  done | sort -u | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    [ -e "$dest/syslib/$name" ] || cp -L "$path" "$dest/syslib/$name"
  done
  cat > "$dest/run.sh" << 'RUN'
#!/usr/bin/env bash
# Runs a command with the bundle's libraries first, then the machine's CUDA libraries (the CUDA
# toolkit's, or those of a pip-installed PyTorch).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lib="$here/syslib"
# PyTorch's wheels keep cuDNN, NCCL and (CUDA 13) cuBLAS under site-packages/nvidia/*/lib:
# the usual places, and wherever a python3 on the PATH has its site-packages.
sites=$(python3 -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2> /dev/null)
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib \
         /usr/local/lib/python3*/dist-packages/nvidia/*/lib \
         $(for s in $sites; do echo "$s"/nvidia/*/lib; done); do
  [ -d "$d" ] && [[ ":$lib:" != *":$d:"* ]] && lib="$lib:$d"
done
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$@"
RUN
  chmod +x "$dest/run.sh"
}

pack build-gpu .gpu
# Fashion-MNIST for the experiments' GPU timing (the GPU machine has no Debian packages).
mkdir -p .gpu/fashion-mnist
cp /usr/share/datasets/fashion-mnist/*-ubyte.gz .gpu/fashion-mnist/
tar -C . -cJf .gpu.tar.xz .gpu
du -sh .gpu .gpu.tar.xz
