#!/usr/bin/env bash
# A new user's first hour with the crema command, without data sets or a GPU: help on stdout with
# exit 0 (an unknown verb is an error), --version, every bad flag value refused with a message
# before anything runs, validate catching the solvers train would refuse or run silently wrong,
# time/summary on a net whose data is not installed, draw without Graphviz, and the main job's
# build target.
#   usage: cli_test.sh CREMA_BINARY [SOURCE_DIR BUILD_DIR]
set -uo pipefail
crema=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=${2:-}
build=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }  # every check runs; exit 1 at the end
cd "$work" || exit 1

# run ARGS...: the exit status in $rc, stdout in $work/out, stderr in $work/err.
run() { "$crema" "$@" > "$work/out" 2> "$work/err"; rc=$?; }
out_has() { grep -qiE -- "$1" "$work/out"; }
err_has() { grep -qiE -- "$1" "$work/err"; }
show() { echo "--- stdout"; head -8 "$work/out"; echo "--- stderr"; head -8 "$work/err"; }
expect() {  # WANT_RC WHAT: the last run's exit status
  [ "$rc" -eq "$1" ] || { show; fail "$2: exit status $rc, want $1"; }
}
refused() {  # PATTERN ARGS...: exit 1, the message on stderr matches PATTERN, nothing ran
  local pattern=$1; shift
  run "$@"
  [ "$rc" -eq 1 ] || { show; fail "crema $*: exit status $rc, want 1"; return; }
  err_has "$pattern" || { show; fail "crema $*: no message matching '$pattern'"; return; }
  ! grep -qE "stoi|Solving|Optimization|Average|terminate" "$work/out" "$work/err" ||
    { show; fail "crema $*: ran, or a bare library message"; }
}

cat > net.prototxt <<'NET'
name: "tiny"
layer { name: "data" type: "DummyData" top: "x" top: "label"
  dummy_data_param { shape { dim: 8 dim: 6 } shape { dim: 8 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "uniform" min: 0 max: 2.99 } } }
layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
NET
solver() {  # FILE LINES...: a solver for net.prototxt
  local f=$1; shift
  { echo 'net: "net.prototxt"'; echo 'max_iter: 2 display: 0 snapshot_after_train: false solver_mode: CPU'
    printf '%s\n' "$@"; } > "$f"
}
solver good.prototxt 'base_lr: 0.01' 'lr_policy: "fixed"' 'momentum: 0.9'

# 1. Help is on stdout with exit status 0; an unknown verb is an error on stderr, exit 2.
for args in "" "--help" "-help" "-h" "help"; do
  run $args
  expect 0 "crema $args"
  out_has "^usage: crema" || { show; fail "crema $args: no usage on stdout"; }
  out_has "^  train " || { show; fail "crema $args: the verbs are not listed"; }
  [ ! -s "$work/err" ] || { show; fail "crema $args: wrote to stderr"; }
done
verbs="train test time validate plugins check-plugin summary draw convert device_query"
for v in $verbs; do
  for args in "help $v" "$v --help" "$v -help" "$v -h"; do
    run $args
    expect 0 "crema $args"
    out_has "^usage: crema $v" || { show; fail "crema $args: no usage line"; }
    out_has "^examples:" || { show; fail "crema $args: no examples"; }
    out_has "^  -threads N " || { show; fail "crema $args: the common flags are not listed as -flag VALUE"; }
    ! out_has "--[a-z_]+ arg" || { show; fail "crema $args: a raw option dump"; }
  done
done
run train -help
out_has "^  -solver FILE" || { show; fail "train -help: no -solver FILE"; }
out_has "\(default: stop\)" || { show; fail "train -help: defaults are not shown"; }
out_has "^  crema train -solver " || { show; fail "train -help: no example command"; }
run time -help
out_has "-iterations N .*\(default: 20\)" || { show; fail "time -help: -iterations' default is not shown"; }
run nosuchverb
expect 2 "crema nosuchverb"
err_has "unknown verb 'nosuchverb'" || { show; fail "unknown verb: no message"; }
[ ! -s "$work/out" ] || { show; fail "unknown verb: wrote to stdout"; }
run help nosuchverb
expect 2 "crema help nosuchverb"
err_has "unknown verb" || { show; fail "help for an unknown verb: no message"; }
for args in "--version" "-version" "version"; do
  run $args
  expect 0 "crema $args"
  out_has "^crema [0-9]+\.[0-9]+\.[0-9]+" || { show; fail "crema $args: no version"; }
  out_has "plugin ABI [0-9]+\.[0-9]+" || { show; fail "crema $args: no plugin ABI version"; }
  out_has "CUDA" || { show; fail "crema $args: does not say whether CUDA was built"; }
done

# 2. Every flag value is checked, with a message, before anything runs.
refused "-gpu abc" train -solver good.prototxt -gpu abc
refused "-gpu -1" train -solver good.prototxt -gpu -1
# Caffe's -gpu 0,1: a list of distinct GPU numbers, checked before anything runs.
refused "-gpu 0,0: GPU 0 is listed twice" train -solver good.prototxt -gpu 0,0
refused "-gpu 0,x: give a GPU number .* a comma list" train -solver good.prototxt -gpu 0,x
refused "-gpu 0,: a comma list of GPU numbers" train -solver good.prototxt -gpu 0,
refused "-gpu 0,1: give a GPU number" device_query -gpu 0,1
# -ranks N: N CPU ranks in one process; not with -gpu (the list makes the ranks there).
refused "-ranks 0" train -solver good.prototxt -ranks 0
refused "-ranks 2 is for the CPU; on GPUs -gpu 0,1" train -solver good.prototxt -ranks 2 -gpu 0
refused "-gpu abc" test -model net.prototxt -gpu abc
refused "-gpu abc" time -model net.prototxt -gpu abc
refused "-gpu abc" device_query -gpu abc
refused "-iterations -5" train -solver good.prototxt -iterations -5
refused "-iterations 0" train -solver good.prototxt -iterations 0
refused "-iterations 0" test -model net.prototxt -iterations 0
refused "-iterations 0" time -model net.prototxt -iterations 0
refused "-iterations 2x" time -model net.prototxt -iterations 2x
refused "-threads -3" train -solver good.prototxt -threads -3
refused "-threads -3" summary -model net.prototxt -threads -3
refused "-phase test.*TRAIN.*TEST" time -model net.prototxt -phase test
refused "-rankdir" draw -model net.prototxt -rankdir XY
refused "-sigint_effect" train -solver good.prototxt -sigint_effect pause
refused "-max_images -1" convert -format mnist -max_images -1 -images a -labels b -output db
refused "no such file: nothere.prototxt" train -solver nothere.prototxt
refused "no such file: nope.caffemodel" train -solver good.prototxt -weights nope.caffemodel
refused "no such file: nope.caffemodel" train -solver good.prototxt -weights net.prototxt,nope.caffemodel
refused "no such file: nope.solverstate" train -solver good.prototxt -snapshot nope.solverstate
refused "no such file: nope.prototxt" test -model nope.prototxt
refused "no such file: nope.caffemodel" test -model net.prototxt -weights nope.caffemodel
refused "no such file: nope.prototxt" time -model nope.prototxt
refused "no such file: nope.prototxt" summary -model nope.prototxt
refused "no such file: nope.prototxt" draw -model nope.prototxt
run train -solver good.prototxt -iterations 1 -threads 1
expect 0 "train with good flags"

# 3. validate refuses what train would refuse or run at rate 0, and warns about fields that the
# chosen type or policy ignores, naming them.
run validate good.prototxt
expect 0 "validate good.prototxt"
! err_has "warning" || { show; fail "validate good.prototxt warned"; }
solver policy.prototxt 'base_lr: 0.01' 'lr_policy: "stepp"'
solver type.prototxt 'base_lr: 0.01' 'lr_policy: "fixed"' 'type: "Adamm"'
solver nolr.prototxt 'lr_policy: "fixed"'
for f in policy:lr_policy type:type nolr:base_lr; do
  run validate "${f%%:*}.prototxt"
  expect 1 "validate ${f%%:*}.prototxt"
  err_has "${f##*:}" || { show; fail "validate ${f%%:*}.prototxt does not name ${f##*:}"; }
done
solver ignored.prototxt 'base_lr: 0.01' 'lr_policy: "fixed"' 'stepsize: 100' 'gamma: 0.1' \
  'stepvalue: 50' 'momentum2: 0.99' 'delta: 1e-6'
run validate ignored.prototxt
expect 0 "validate ignored.prototxt (warnings only)"
for field in stepsize gamma stepvalue momentum2 delta; do
  err_has "warning: .*$field" || { show; fail "validate: no warning about $field"; }
done
run train -solver nolr.prototxt -threads 1
expect 0 "train without base_lr"
err_has "base_lr" || { show; fail "train without base_lr says nothing"; }
refused "lr_policy" train -solver policy.prototxt

# 4. A net whose data is not installed: time measures it with -input_shape as summary does, and
# both say how to get the data or measure without it.
cat > cifar.prototxt <<'NET'
name: "small_cifar"
layer { name: "data" type: "CIFARData" top: "data" top: "label"
  cifar_data_param { source: "no-cifar-here/cifar-10-batches-bin" batch_size: 4 } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "y" inner_product_param { num_output: 10 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
NET
for v in time summary; do
  run $v -model cifar.prototxt -iterations 1
  [ "$v" = summary ] && run $v -model cifar.prototxt
  expect 1 "$v without the data"
  err_has "get the data.*-input_shape 4,3,32,32" || { show; fail "$v without the data: no hint"; }
done
# -update builds a solver around the net: the same hint.
run time -model cifar.prototxt -iterations 1 -update
expect 1 "time -update without the data"
err_has "get the data.*-input_shape 4,3,32,32" || { show; fail "time -update without the data: no hint"; }
run time -model cifar.prototxt -input_shape 4,3,32,32 -iterations 1 -threads 1
expect 0 "time -input_shape"
out_has "Average Forward pass" || { show; fail "time -input_shape did not time"; }
refused "-input_shape" time -model cifar.prototxt -input_shape 4,x

# 5. draw: without Graphviz an SVG is refused with how to install it; DOT needs nothing.
run draw -model net.prototxt -out net.dot
expect 0 "draw -out net.dot"
grep -q "digraph" net.dot || fail "draw -out net.dot wrote no DOT"
PATH=/nonexistent "$crema" draw -model net.prototxt -out net.svg > "$work/out" 2> "$work/err"
rc=$?
expect 1 "draw -out net.svg without dot"
err_has "apt-get install graphviz" && err_has "\.dot" || { show; fail "draw without dot: no way out"; }

# 6. The build: install_deps.sh installs Graphviz, and the main job builds crema_runtime (the
# command and every plugin), not the tests.
if [ -n "$src" ]; then
  grep -qw graphviz "$src/scripts/install_deps.sh" || fail "install_deps.sh does not install graphviz"
  grep -q "crema_runtime" "$src/scripts/train_fashion_mnist.sh" || fail "the main job builds everything"
fi
if [ -n "$src" ] && [ -n "$build" ] && [ -f "$build/build.ninja" ] && command -v ninja > /dev/null; then
  if ninja -C "$build" -t query crema_runtime > "$work/runtime" 2>&1; then
    # The top-level name is an alias of the target in its folder (layers/crema_runtime).
    inner=$(grep -oE "^    [^ ]+/crema_runtime$" "$work/runtime" | tr -d ' ')
    [ -z "$inner" ] || ninja -C "$build" -t query "$inner" >> "$work/runtime" 2>&1
    grep -q "bin/crema$" "$work/runtime" || fail "crema_runtime does not build bin/crema"
    ninja -C "$build" -t targets all > "$work/targets"
    for d in "$src"/layers/*/; do  # the layer plugins (tests/plugins holds test plugins)
      t=crema_plugin_$(basename "$d")
      grep -q "^$t:" "$work/targets" || continue
      grep -q "^    $t$\|/$(basename "$d")\.so$" "$work/runtime" || fail "crema_runtime does not build $t"
    done
  else
    fail "no crema_runtime target"
  fi
  ! grep -qE "_test$" "$work/runtime" || fail "crema_runtime builds tests"
fi
# validate reports what a net needs against the memory limit, and refuses what train would refuse.
run validate net.prototxt
out_has "\(TRAIN\): needs .*may be used" || { show; fail "validate gives no memory figure"; }
refused "would refuse it" validate -max_memory 100 net.prototxt
refused "needs .* but 100 B may be used \(-max_memory\)" time -model net.prototxt -max_memory 100
refused "max_memory 12x: give a size" time -model net.prototxt -max_memory 12x

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "PASS"
