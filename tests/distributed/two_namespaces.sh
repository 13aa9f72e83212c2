#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Two hosts on one machine: two network namespaces joined by a veth pair (10.77.0.1 and
# 10.77.0.2), one rank in each, launched by mpirun through an rsh agent that runs
# `ip netns exec`, over Open MPI's TCP transport (shared memory cannot cross them: btl tcp,self).
# The equivalence test again: 2 ranks x batch 8 == one process x batch 8 x iter_size 2.
# Skipped, with the reason, where namespaces cannot be made (not root, no iproute2, a container
# without CAP_SYS_ADMIN).   usage: two_namespaces.sh CREMA_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
command -v ip > /dev/null || skip "ip (iproute2) is not installed"
tag="crema$$"
a="${tag}a" b="${tag}b"
cleanup() {
  ip netns del "$a" 2> /dev/null
  ip netns del "$b" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
why=$(ip netns add "$a" 2>&1) || skip "cannot create a network namespace: $why"
ip netns add "$b" || skip "cannot create a second network namespace"
ip link add "v${tag}a" type veth peer name "v${tag}b" 2> /dev/null ||
  skip "cannot create a veth pair"
ip link set "v${tag}a" netns "$a" && ip link set "v${tag}b" netns "$b" || fail "moving the veth ends"
ip -n "$a" addr add 10.77.0.1/24 dev "v${tag}a" && ip -n "$b" addr add 10.77.0.2/24 dev "v${tag}b"
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up && ip -n "$ns" link set "v${tag}${ns: -1}" up || fail "links up in $ns"
done

# The rsh agent: mpirun calls it as `agent [ssh options] HOST COMMAND...`.
cat > "$work/netns_rsh" <<AGENT
#!/usr/bin/env bash
while [ \$# -gt 0 ] && [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1; shift
case \$host in
  10.77.0.1) ns=$a ;;
  10.77.0.2) ns=$b ;;
  *) echo "netns_rsh: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
AGENT
chmod +x "$work/netns_rsh"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > "$work/hosts"

cd "$work" || exit 1
write_net bn.prototxt 8 1
write_solver ranks.prototxt bn.prototxt "$work/out/ranks" SGD 1
write_solver iter_size.prototxt bn.prototxt "$work/out/iter_size" SGD 2
# mpirun itself runs in the first namespace, so that every daemon reaches it over the veth.
timeout 120 ip netns exec "$a" mpirun --hostfile "$work/hosts" -np 2 --map-by node \
  --mca plm_rsh_agent "$work/netns_rsh" --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 \
  --mca oob_tcp_if_include 10.77.0.0/24 -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
  -x CREMA_NUM_THREADS -x PATH --wdir "$work" \
  "$crema" train -solver ranks.prototxt > ranks.log 2>&1 ||
  { cat ranks.log; fail "mpirun across two namespaces"; }
"$crema" train -solver iter_size.prototxt > iter_size.log 2>&1 ||
  { cat iter_size.log; fail "the one-process run"; }
echo "2 namespaces over TCP, 2 ranks x batch 8 vs 1 process x batch 8 x iter_size 2:"
compare out/ranks_iter_20.caffemodel out/iter_size_iter_20.caffemodel --skip-type BatchNorm ||
  fail "the ranks in two namespaces trained other weights"
echo "PASS"
