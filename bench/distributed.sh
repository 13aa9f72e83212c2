#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Data-parallel training speed on this machine (BENCHMARKS.md, "Data-parallel training"):
#   images/s of ResNet-20 (Fashion-MNIST, 128 images a step) and ResNet-50 (8 synthetic
#   224x224 images a rank), one process with 1 or 2 threads against 2 ranks of 1 thread;
#   the gradient allreduce with overlap on and off, over shared memory and between two network
#   namespaces joined by a veth pair shaped to RATE (tc tbf; default 1gbit), over TCP.
# ResNet-20's 1.1 MB of gradients go in buckets of 0.25 MB (in one 4 MB bucket nothing could
# start before the backward pass ends); ResNet-50's 98 MB in the default 4 MB.
# From the closing line of each 2-rank run: the wait for the allreduce after the backward pass
# (overlap off: the whole allreduce; on: the part the backward pass did not hide), and the time
# the MPI calls between layers took from the backward pass (overlap on).
#   usage: bench/distributed.sh [BUILD_DIR] [ITERATIONS] [RATE]      (as root for the namespaces)
set -uo pipefail
build=$(realpath "${1:-build}")
iters=${2:-8}
rate=${3:-1gbit}
src=$(realpath "$(dirname "$0")/..")
crema=$build/bin/crema
work=$(mktemp -d)
tag="cb$$"
cleanup() {
  ip netns del "${tag}a" 2> /dev/null
  ip netns del "${tag}b" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
cd "$work" || exit 1

# The nets: ResNet-20 at a rank's batch; ResNet-50 b8 with DummyData in place of Input.
sed "s/batch_size: 128/batch_size: 64/" "$src/net_defs/fashion_mnist/resnet20.prototxt" > r20_b64.prototxt
cp "$src/net_defs/fashion_mnist/resnet20.prototxt" r20_b128.prototxt
sed 's/type: "Input"/type: "DummyData"/; s/input_param/dummy_data_param/' \
  "$src/net_defs/bench/resnet50_b8.prototxt" > r50_b8.prototxt
solver() {  # solver NAME NET
  cat > "$1.solver" <<SOLVER
net: "$2"
base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" max_iter: $iters display: 2 test_interval: 0
snapshot: 0 snapshot_after_train: false metrics_file: "$1.jsonl" random_seed: 1
SOLVER
}
# Mean images/s of the displays after the first (warm-up excluded).
rate_of() {
  python3 -c "import json,sys; r=[json.loads(l)['images_per_s'] for l in open(sys.argv[1]) if 'images_per_s' in l][1:]; r=[x for x in r if x>0]; print(f'{sum(r)/len(r):.1f}' if r else 'n/a')" "$1"
}
waited() { grep -o "waited [0-9.e+-]* ms a step" "$1" | awk '{print $2}'; }
during() { grep -o "included) [0-9.e+-]* ms" "$1" | awk '{print $2}'; }

ns_ready=0
if ip netns add "${tag}a" 2> /dev/null && ip netns add "${tag}b" &&
  ip link add "v${tag}a" type veth peer name "v${tag}b"; then
  ip link set "v${tag}a" netns "${tag}a" && ip link set "v${tag}b" netns "${tag}b"
  ip -n "${tag}a" addr add 10.78.0.1/24 dev "v${tag}a"
  ip -n "${tag}b" addr add 10.78.0.2/24 dev "v${tag}b"
  for s in a b; do
    ip -n "${tag}$s" link set lo up && ip -n "${tag}$s" link set "v${tag}$s" up
    ip netns exec "${tag}$s" tc qdisc add dev "v${tag}$s" root tbf rate "$rate" burst 256kb latency 50ms
  done
  cat > rsh <<AGENT
#!/usr/bin/env bash
while [ \$# -gt 0 ] && [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1; shift
case \$host in 10.78.0.1) ns=${tag}a ;; *) ns=${tag}b ;; esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
AGENT
  chmod +x rsh
  printf '10.78.0.1 slots=1\n10.78.0.2 slots=1\n' > hosts
  ns_ready=1
fi

one() {  # one NAME NET THREADS
  solver "$1" "$2"
  "$crema" train -solver "$1.solver" -threads "$3" > "$1.log" 2>&1 || { tail "$1.log"; return; }
  echo "| $1 | 1 process x $3 thread(s) | $(rate_of "$1.jsonl") | |"
}
ranks() {  # ranks NAME NET OVERLAP WHERE BUCKET_MB
  solver "$1" "$2"
  local launch=(mpirun --oversubscribe --bind-to none -np 2)
  if [ "$4" = veth ]; then
    [ "$ns_ready" = 1 ] || return
    launch=(ip netns exec "${tag}a" mpirun --hostfile hosts -np 2 --map-by node
      --mca plm_rsh_agent "$work/rsh" --mca btl tcp,self --mca btl_tcp_if_include 10.78.0.0/24
      --mca oob_tcp_if_include 10.78.0.0/24 -x OMPI_ALLOW_RUN_AS_ROOT
      -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM --wdir "$work")
  fi
  "${launch[@]}" "$crema" train -solver "$1.solver" -threads 1 -allreduce_overlap "$3" -bucket_mb "$5" \
    > "$1.log" 2>&1 || { tail "$1.log"; return; }
  echo "| $1 | 2 ranks x 1 thread, $4, overlap $3, buckets of $5 MB | $(rate_of "$1.jsonl") | $(waited "$1.log") | $(during "$1.log") |"
}

echo "crema $(git -C "$src" rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(nproc) cores:" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| run | how | images/s | allreduce wait after backward (ms a step) | MPI calls during backward (ms a step) |"
echo "|---|---|---|---|---|"
one r20_1p1t r20_b128.prototxt 1
one r20_1p2t r20_b128.prototxt 2
ranks r20_2r_shm_on r20_b64.prototxt true shared-memory 0.25
ranks r20_2r_shm_off r20_b64.prototxt false shared-memory 0.25
ranks r20_2r_veth_on r20_b64.prototxt true veth 0.25
ranks r20_2r_veth_off r20_b64.prototxt false veth 0.25
one r50_1p1t r50_b8.prototxt 1
one r50_1p2t r50_b8.prototxt 2
ranks r50_2r_shm_on r50_b8.prototxt true shared-memory 4
ranks r50_2r_shm_off r50_b8.prototxt false shared-memory 4
ranks r50_2r_veth_on r50_b8.prototxt true veth 4
ranks r50_2r_veth_off r50_b8.prototxt false veth 4
