#!/usr/bin/env bash
# Installs crema's SDK from BUILD_DIR into a fresh prefix, builds the example plugin from the
# install's own copy (share/crema/examples/scaled_tanh) against it, runs its tests, `crema check-plugin` on it, and a net that uses its typed
# parameter block.   usage: out_of_tree.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
# The installed crema loads the OpenBLAS it was built against (the OpenMP build when it exists).
if [ -d /usr/lib/x86_64-linux-gnu/openblas-openmp ] && ldd "$work/prefix/bin/crema" | grep -q "libopenblas"; then
  ldd "$work/prefix/bin/crema" | grep "libopenblas" | grep -q "openblas-openmp" ||
    { echo "installed crema loads another OpenBLAS:"; ldd "$work/prefix/bin/crema" | grep openblas; exit 1; }
fi
# Everything an author needs is in the install: the headers the docs name and the example.
example="$work/prefix/share/crema/examples/scaled_tanh"
for f in include/crema/plugin_abi.h include/crema/layer.hpp include/crema/cuda.hpp \
         include/crema/testing/harness.hpp share/crema/examples/scaled_tanh/CMakeLists.txt; do
  [ -f "$work/prefix/$f" ] || { echo "the install lacks $f"; exit 1; }
done
cmake -S "$example" -B "$work/scaled_tanh" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/scaled_tanh" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
ctest --test-dir "$work/scaled_tanh" --output-on-failure
# Outside CTest (no CREMA_TEST_PLUGIN_DIR) the test binary fails saying where it looked and what to set.
if (unset CREMA_TEST_PLUGIN_DIR; "$work/scaled_tanh/scaled_tanh_test") > "$work/direct.log" 2>&1; then
  echo "scaled_tanh_test passed without finding its plugin"; exit 1
fi
grep -q "CREMA_TEST_PLUGIN_DIR=" "$work/direct.log" || { cat "$work/direct.log"; exit 1; }
"$work/prefix/bin/crema" check-plugin "$work/scaled_tanh/scaled_tanh.so" | tee "$work/check.log"
grep -q "inputs: gaussian N(0, 1) on every bottom; checker: step 0.01" "$work/check.log" ||
  { echo "check-plugin does not say what it draws and how it checks"; exit 1; }
# Configured without a build type, the plugin still builds with crema's Release flags, and says so.
cmake -S "$src/plugins/example/scaled_tanh" -B "$work/no_type" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/no_type.log" || { cat "$work/no_type.log"; exit 1; }
grep -q "no CMAKE_BUILD_TYPE" "$work/no_type.log" || { cat "$work/no_type.log"; exit 1; }
ninja -C "$work/no_type" -t commands scaled_tanh.so | grep "scaled_tanh.cpp" | grep -q -- "-O3" ||
  { echo "scaled_tanh.cpp is not compiled with -O3 without a build type"; exit 1; }
# Without GoogleTest the plugin builds and the configure step says its tests were skipped.
cmake -S "$src/plugins/example/scaled_tanh" -B "$work/no_gtest" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/no_gtest.log" 2>&1 ||
  { cat "$work/no_gtest.log"; exit 1; }
grep -q "scaled_tanh_test.cpp.*not built" "$work/no_gtest.log" || { cat "$work/no_gtest.log"; exit 1; }
grep -q "GTest" "$work/no_gtest.log" || { cat "$work/no_gtest.log"; exit 1; }
cat > "$work/net.prototxt" <<'NET'
name: "scaled_tanh_net"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
layer { name: "act" type: "ScaledTanh" bottom: "x" top: "y" scaled_tanh_param { a: 1.5 } }
NET
CREMA_PLUGIN_PATH="$work/scaled_tanh" "$work/prefix/bin/crema" validate "$work/net.prototxt"
CREMA_PLUGIN_PATH="$work/scaled_tanh" "$work/prefix/bin/crema" time -model "$work/net.prototxt" -iterations 2 > /dev/null
# The example's ONNX export hook (ABI 1.3): crema export writes its Mul -> Tanh -> Mul, with a
# and b as two initializers (docs/ONNX.md; tests/onnx checks such a hook against ONNX Runtime).
CREMA_PLUGIN_PATH="$work/scaled_tanh" "$work/prefix/bin/crema" export -model "$work/net.prototxt" \
  -out "$work/net.onnx" > "$work/export.log"
{ grep -q "3 nodes, 2 initializers" "$work/export.log" && grep -q "Tanh" "$work/net.onnx"; } ||
  { echo "crema export did not use the example plugin's ONNX export hook:"; cat "$work/export.log"; exit 1; }
# An unknown field inside the plugin's block is a file:line:column error.
sed -i 's/a: 1.5/c: 1.5/' "$work/net.prototxt"
if CREMA_PLUGIN_PATH="$work/scaled_tanh" "$work/prefix/bin/crema" validate "$work/net.prototxt" 2> "$work/err"; then
  echo "a bad field in scaled_tanh_param was accepted"; exit 1
fi
grep -q "net.prototxt:3:.*\"c\"" "$work/err" || { cat "$work/err"; exit 1; }
# A few training steps of a net that uses the plugin.
cat > "$work/train_net.prototxt" <<'NET'
name: "scaled_tanh_train"
layer { name: "data" type: "DummyData" top: "x" top: "label"
  dummy_data_param { shape { dim: 16 dim: 8 } shape { dim: 16 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "uniform" min: 0 max: 3.99 } } }
layer { name: "fc1" type: "InnerProduct" bottom: "x" top: "h" inner_product_param { num_output: 12 weight_filler { type: "xavier" } } }
layer { name: "act" type: "ScaledTanh" bottom: "h" top: "h" scaled_tanh_param { a: 1.5 b: 0.8 } }
layer { name: "fc2" type: "InnerProduct" bottom: "h" top: "y" inner_product_param { num_output: 4 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
NET
cat > "$work/solver.prototxt" <<SOLVER
net: "train_net.prototxt"
base_lr: 0.1
lr_policy: "fixed"
momentum: 0.9
max_iter: 5
display: 1
snapshot_prefix: "$work/snap/st"
solver_mode: CPU
SOLVER
CREMA_PLUGIN_PATH="$work/scaled_tanh" "$work/prefix/bin/crema" train -solver "$work/solver.prototxt" 2> "$work/train.log" \
  || { cat "$work/train.log"; exit 1; }
grep -q "Iteration 4 (" "$work/train.log" || { cat "$work/train.log"; exit 1; }
[ -f "$work/snap/st_iter_5.caffemodel" ] || { echo "no snapshot"; exit 1; }
echo "out-of-tree plugin: OK"
