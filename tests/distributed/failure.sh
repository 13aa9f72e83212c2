#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# When one rank dies or fails, every rank stops, with a message naming the rank and the cause,
# and the last complete snapshot loads:
#   kill -9 of rank 1 mid-run: mpirun exits non-zero within seconds; the newest snapshot loads;
#   a rank whose solver differs (mpirun's MPMD form): refused at start, naming the rank;
#   a rank that throws mid-run (rank 0 cannot write a snapshot): all stop, naming it and why.
#   usage: failure.sh CREMA_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
cd "$work" || exit 1
write_net bn.prototxt 8 1
write_solver long.prototxt bn.prototxt out/long SGD 1 100000
sed -i 's/snapshot: 10/snapshot: 5/; s/test_interval: 10/test_interval: 0/' long.prototxt

# 1. kill -9 one rank.
# The solver's full path tells this test's ranks from any other run's.
mpi -np 2 "$crema" train -solver "$work/long.prototxt" > kill.log 2>&1 &
launcher=$!
for _ in $(seq 300); do
  [ -f out/long_iter_10.solverstate ] && break
  sleep 0.1
done
[ -f out/long_iter_10.solverstate ] || { kill "$launcher"; cat kill.log; fail "no snapshot within 30 s"; }
ranks=$(pgrep -f "crema train -solver $work/long.prototxt" | grep -v "^$launcher$")
victim=$(for p in $ranks; do [ "$(tr '\0' '\n' < /proc/"$p"/environ 2> /dev/null |
  grep -c '^OMPI_COMM_WORLD_RANK=1$')" = 1 ] && echo "$p"; done | head -1)
[ -n "$victim" ] || { kill "$launcher"; fail "rank 1's process not found"; }
start=$(date +%s%N)
kill -9 "$victim"
timeout 20 tail --pid="$launcher" -f /dev/null
wait "$launcher"
rc=$?
took_ms=$((($(date +%s%N) - start) / 1000000))
echo "killed rank 1; mpirun exited with $rc after ${took_ms} ms"
[ "$rc" -ne 0 ] || fail "mpirun exited 0 after a rank was killed"
[ "$took_ms" -lt 10000 ] || fail "the other rank ran on for ${took_ms} ms"
grep -q "rank 1 .*exited on signal 9" kill.log || { cat kill.log; fail "the message does not name rank 1 and the signal"; }
for _ in $(seq 50); do
  pgrep -f "crema train -solver $work/long.prototxt" > /dev/null || break
  sleep 0.1
done
pgrep -f "crema train -solver $work/long.prototxt" > /dev/null && fail "a rank is still running"
newest=$(ls out/long_iter_*.caffemodel | sed 's/.*_iter_\([0-9]*\)\.caffemodel/\1/' | sort -n | tail -1)
"$crema" test -model bn.prototxt -weights "out/long_iter_$newest.caffemodel" -iterations 2 \
  > test.log 2>&1 || { cat test.log; fail "the newest snapshot (iteration $newest) does not load"; }
"$crema" train -solver long.prototxt -snapshot "out/long_iter_$newest.solverstate" \
  -iterations $((newest + 2)) > resume.log 2>&1 || { cat resume.log; fail "it does not resume"; }
echo "the newest snapshot (iteration $newest) loads and resumes"

# 2. Ranks with different solvers are refused at start, naming the rank.
write_solver a.prototxt bn.prototxt out/a SGD 1
write_solver b.prototxt bn.prototxt out/b SGD 1
sed -i 's/base_lr: 0.05/base_lr: 0.04/' b.prototxt
sed -i 's|out/b|out/a|' b.prototxt
timeout 60 mpirun --oversubscribe --bind-to none -np 1 "$crema" train -solver a.prototxt : \
  -np 1 "$crema" train -solver b.prototxt > mismatch.log 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "ranks with different solvers trained"
[ "$rc" -ne 124 ] || fail "ranks with different solvers hung"
grep -q "the solver of rank(s) 1 differs from rank 0's" mismatch.log ||
  { cat mismatch.log; fail "the mismatch is not named"; }
grep -q "crema train: rank [01] of 2 failed" mismatch.log || fail "the failing rank is not named"
echo "mismatched solvers: refused, naming rank 1"

# 3. A rank that throws mid-run stops every rank: rank 0 alone writes snapshots, and its second
# one cannot be written (a directory stands where the file goes); the first stays and loads.
write_solver c.prototxt bn.prototxt out/c SGD 1 40
sed -i 's/snapshot: 10/snapshot: 5/; s/test_interval: 10/test_interval: 0/' c.prototxt
mkdir -p out/c_iter_10.caffemodel
timeout 60 mpirun --oversubscribe --bind-to none -np 2 "$crema" train -solver c.prototxt -overwrite \
  > throw.log 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { cat throw.log; fail "exit status $rc after rank 0 failed"; }
grep -q "crema train: rank 0 of 2 failed: .*c_iter_10.caffemodel.*; stopping every rank" throw.log ||
  { cat throw.log; fail "the message does not name rank 0 and the cause"; }
"$crema" test -model bn.prototxt -weights out/c_iter_5.caffemodel -iterations 2 > test5.log 2>&1 ||
  { cat test5.log; fail "the last complete snapshot does not load"; }
echo "rank 0 failed writing a snapshot: every rank stopped, naming it; iteration 5 loads"

# 4. A GPU list is one process driving several GPUs: under mpirun it is refused, saying what to
# give instead (before any GPU is looked for, so it is checked here without one).
timeout 60 mpirun --oversubscribe --bind-to none -np 1 "$crema" train -solver c.prototxt \
  -overwrite -gpu 0,1 > list.log 2>&1
rc=$?
[ "$rc" -eq 1 ] || { cat list.log; fail "-gpu 0,1 under mpirun: exit status $rc, want 1"; }
grep -q -- "-gpu 0,1: under mpirun every process is one rank on one GPU: give -gpu all" list.log ||
  { cat list.log; fail "-gpu 0,1 under mpirun: no clear refusal"; }
echo "-gpu 0,1 under mpirun: refused, pointing to -gpu all"
echo "PASS"
