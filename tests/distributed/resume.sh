#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A snapshot does not depend on the number of ranks: saved at iteration 10 by 2 ranks, resumed
# by one process with iter_size 2 (the same global batch), it reaches after 20 iterations the
# weights of the straight 2-rank run. The resumed run continues the 2-rank run's metrics file.
#   usage: resume.sh CREMA_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
cd "$work" || exit 1
write_net bn.prototxt 8 1
for rule in SGD Adam; do
  write_solver "ranks_$rule.prototxt" bn.prototxt "out/ranks_$rule" "$rule" 1
  write_solver "resumed_$rule.prototxt" bn.prototxt "out/resumed_$rule" "$rule" 2
  mpi -np 2 "$crema" train -solver "ranks_$rule.prototxt" > "ranks_$rule.log" 2>&1 ||
    { cat "ranks_$rule.log"; fail "mpirun -np 2 crema train"; }
  [ -f "out/ranks_${rule}_iter_10.solverstate" ] || fail "no snapshot at iteration 10"
  "$crema" train -solver "resumed_$rule.prototxt" -snapshot "out/ranks_${rule}_iter_10.solverstate" \
    > "resumed_$rule.log" 2>&1 || { cat "resumed_$rule.log"; fail "resuming with one process"; }
  grep -q "at iteration 10" "resumed_$rule.log" || fail "the resumed run did not start at 10"
  echo "$rule: 2 ranks to 20 vs 2 ranks to 10 then 1 process x iter_size 2 to 20:"
  compare "out/ranks_${rule}_iter_20.caffemodel" "out/resumed_${rule}_iter_20.caffemodel" \
    --skip-type BatchNorm || fail "$rule: the resumed run trained other weights"
done
# And back: one process's snapshot resumed by 2 ranks.
mpi -np 2 "$crema" train -solver ranks_SGD.prototxt -snapshot out/resumed_SGD_iter_20.solverstate \
  -iterations 30 > back.log 2>&1 || { cat back.log; fail "2 ranks resuming a 1-process snapshot"; }
grep -q "Restored solver state from out/resumed_SGD_iter_20.solverstate at iteration 20" back.log ||
  fail "2 ranks did not resume at iteration 20"
[ -f out/ranks_SGD_iter_30.caffemodel ] || fail "2 ranks resumed but wrote no snapshot at 30"
echo "PASS"
