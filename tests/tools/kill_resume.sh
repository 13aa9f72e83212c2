#!/usr/bin/env bash
# kill -9 at random moments, many of them while a snapshot is being written (a snapshot every
# iteration of a net with 16 MB of weights): after every kill the newest snapshot pair loads and
# training resumes from it, no torn file is ever picked up, and the temporaries a killed writer
# left are removed by the next start.   usage: kill_resume.sh CREMA_BINARY
set -uo pipefail
crema=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$work/net.prototxt" <<'NET'
name: "kill_me"
layer { name: "data" type: "DummyData" top: "x" top: "label"
  dummy_data_param { shape { dim: 8 dim: 2000 } shape { dim: 8 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "uniform" min: 0 max: 9.99 } } }
layer { name: "fc1" type: "InnerProduct" bottom: "x" top: "h"
  inner_product_param { num_output: 2000 weight_filler { type: "xavier" } } }
layer { name: "relu" type: "ReLU" bottom: "h" top: "h" }
layer { name: "fc2" type: "InnerProduct" bottom: "h" top: "y"
  inner_product_param { num_output: 10 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "y" bottom: "label" top: "loss" }
NET
cat > "$work/solver.prototxt" <<SOLVER
net: "net.prototxt"
base_lr: 0.001
lr_policy: "fixed"
momentum: 0.9
max_iter: 100000
display: 0
snapshot: 1
snapshot_prefix: "$work/snap/k"
solver_mode: CPU
random_seed: 3
SOLVER
mkdir -p "$work/snap"

# The newest iteration whose .solverstate exists (its .caffemodel is written first).
newest_state() {
  ls "$work"/snap/k_iter_*.solverstate 2> /dev/null | sed 's/.*_iter_\([0-9]*\)\.solverstate/\1/' |
    sort -n | tail -1
}

resumes=0
before=0
for round in 1 2 3 4 5 6 7 8; do
  args=(train -solver "$work/solver.prototxt" -threads 1)
  n=$(newest_state)
  [ -n "$n" ] && args+=(-snapshot "$work/snap/k_iter_$n.solverstate")
  "$crema" "${args[@]}" > "$work/log.$round" 2>&1 &
  pid=$!
  # The first run must leave a snapshot to resume from, however long start-up takes on a loaded
  # machine (up to 60 s); the kill still falls at an arbitrary point after it.
  if [ "$round" = 1 ]; then
    for _ in $(seq 600); do [ -n "$(newest_state)" ] && break; sleep 0.1; done
  fi
  # 0.5-2 s: past start-up, then at an arbitrary point of the step/snapshot cycle (writing a
  # snapshot pair takes most of each iteration here).
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.5 + 1.5 * r / 32767 }')"
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  grep -q "^crema train:" "$work/log.$round" && fail "round $round: $(grep "^crema train:" "$work/log.$round")"
  grep -q "Restored solver state" "$work/log.$round" && resumes=$((resumes + 1))
  n=$(newest_state)
  [ -n "$n" ] || fail "round $round: no snapshot after $(tail -3 "$work/log.$round")"
  [ "$n" -ge "$before" ] || fail "round $round: the newest snapshot went back from $before to $n"
  [ -s "$work/snap/k_iter_$n.caffemodel" ] || fail "round $round: k_iter_$n.solverstate without its weights"
  before=$n
done
# A kill before the state was read is possible in a round; most rounds must have resumed.
[ "$resumes" -ge 4 ] || fail "only $resumes of 7 restarts reached the restore"

# Temporaries of a killed writer, if any, go at the next start; the newest pair trains on.
n=$(newest_state)
sed -i "s/^max_iter: .*/max_iter: $((n + 2))/" "$work/solver.prototxt"
"$crema" train -solver "$work/solver.prototxt" -threads 1 -snapshot "$work/snap/k_iter_$n.solverstate" \
  > "$work/log.final" 2>&1 || fail "final resume from iteration $n: $(tail -5 "$work/log.final")"
ls "$work"/snap/*.tmp.* > /dev/null 2>&1 && fail "temporaries left: $(ls "$work"/snap/*.tmp.*)"
[ -f "$work/snap/k_iter_$((n + 2)).caffemodel" ] || fail "the final run wrote no snapshot"
torn=$(cat "$work"/log.* | grep -c "left by an interrupted snapshot")
echo "kill -9 x8: every newest snapshot pair resumed ($resumes resumes, last from iteration $n;" \
  "$torn interrupted snapshot(s) cleaned up)"
