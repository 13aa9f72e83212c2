#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# `cmake --install` puts the crema package where docs/PYTHON.md says, and it works from there
# alone: no PYTHONPATH into the build tree, the installed plugins, a Python layer from the
# installed `crema train` and from the installed package.
#   usage: check_install.sh BUILD_DIR PYTHON
set -euo pipefail
build=$1
python=$2
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
package=$prefix/lib/python3/dist-packages
[ -f "$package/crema/__init__.py" ] || { echo "no crema package in $package"; exit 1; }
[ -f "$package/caffe/__init__.py" ] || { echo "no caffe package in $package"; exit 1; }

work=$prefix/work
mkdir -p "$work"
cp "$here/pylayers/pydata.py" "$work/"
cat >"$work/net.prototxt" <<'NET'
layer { name: "data" type: "Python" top: "x" top: "label"
  python_param { module: "pydata" layer: "SeparableData" param_str: "8" } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 2 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
NET
printf 'net: "%s/net.prototxt"\nbase_lr: 0.1\nlr_policy: "fixed"\nmax_iter: 20\nsnapshot_prefix: "%s/run"\n' \
  "$work" "$work" >"$work/solver.prototxt"

cd "$work"
env -u PYTHONPATH -u CREMA_PLUGIN_PATH -u CREMA_TEST_PLUGIN_DIR \
  "$prefix/bin/crema" train -solver "$work/solver.prototxt" -threads 1 2>"$work/train.log" ||
  { cat "$work/train.log"; exit 1; }
[ -f "$work/run_iter_20.caffemodel" ] || { echo "crema train left no snapshot"; exit 1; }

env -u CREMA_PLUGIN_PATH -u CREMA_TEST_PLUGIN_DIR PYTHONPATH="$package" "$python" - "$prefix" "$work" <<'PY'
import sys

import crema

prefix, work = sys.argv[1], sys.argv[2]
assert crema.__file__.startswith(prefix), crema.__file__
assert crema.plugin_dirs()[0].startswith(prefix), crema.plugin_dirs()
net = crema.Net(f"{work}/net.prototxt", f"{work}/run_iter_20.caffemodel", crema.TRAIN)
out = net.forward()
assert out["loss"] < 0.5, out  # the trained weights, on the layer's data
print("installed package and plugins work:", crema.__file__, "loss", float(out["loss"]))
PY
