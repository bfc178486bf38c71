#!/usr/bin/env bash
# Tensor parallelism across two "hosts": rank 0 in this network namespace, rank 1 in a new one
# joined to it by a veth pair, MPI over TCP between them (mpirun reaches the other namespace
# through an rsh agent that runs `ip netns exec` where ssh would log in). Collects the greedy
# outputs of tp_outputs.py from rank 0's server, checks that rank 1 ran in the other namespace,
# stops the server with SIGTERM and checks rank 0's exit status.
# Needs root (namespaces) and iproute2. Usage: tp_netns.sh SWIFTLET MAX_TOKENS OUT.json SERVE_ARGS...
set -euo pipefail
swiftlet=$1 max_tokens=$2 out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)

ns=swtp$$
veth_a=swtp$$a
veth_b=swtp$$b
subnet=10.77.$(($$ % 250 + 1))
work=$(mktemp -d)
server=""
# Descriptors the caller left open (its output pipe among them) must not outlive this script in
# mpirun or the ranks, or the caller waits for ever.
for fd in $(ls /proc/$$/fd); do
    [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
done

cleanup() {
    if [ -n "$server" ]; then
        # mpirun under --enable-recovery may outlive its ranks: it gets 10 s, then SIGKILL.
        kill "$server" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server" 2>/dev/null || true
    fi
    for f in "$work"/run/rank*.pid; do
        [ -f "$f" ] && kill -9 "$(cut -d' ' -f1 "$f")" 2>/dev/null || true
    done
    ip link del "$veth_a" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip link add "$veth_a" type veth peer name "$veth_b"
ip link set "$veth_b" netns "$ns"
ip addr add "$subnet.1/24" dev "$veth_a"
ip link set "$veth_a" up
ip netns exec "$ns" ip addr add "$subnet.2/24" dev "$veth_b"
ip netns exec "$ns" ip link set "$veth_b" up
ip netns exec "$ns" ip link set lo up

cat > "$work/agent" <<AGENT
#!/bin/sh
host=\$1; shift
case "\$host" in
  $subnet.2) exec ip netns exec $ns sh -c "\$*" ;;
  *) exec sh -c "\$*" ;;
esac
AGENT
chmod +x "$work/agent"
printf '%s slots=1\n%s slots=1\n' "$subnet.1" "$subnet.2" > "$work/hosts"
mkdir "$work/run"

export SWIFTLET_TP_RUN_DIR="$work/run" SWIFTLET_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun -n 2 --hostfile "$work/hosts" --enable-recovery --mca plm_rsh_agent "$work/agent" \
    --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" \
    --mca btl_base_warn_component_unused 0 \
    -x SWIFTLET_TP_RUN_DIR -x SWIFTLET_THREADS -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
    "$swiftlet" serve --port 0 --tensor-parallel-size 2 "$@" > "$work/log" 2>&1 &
server=$!

# Serving once rank 0 says so (no fixed wait: loading takes what it takes).
port=""
for _ in $(seq 1 3000); do
    port=$(grep -oE 'on http://127\.0\.0\.1:[0-9]+' "$work/log" | head -1 | sed 's/.*://') || true
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/log"; echo "mpirun ended before serving"; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/log"; echo "not serving after 300 s"; exit 1; }

python3 "$here/tp_outputs.py" collect 127.0.0.1 "$port" "$max_tokens" "$out"

rank0=$(cut -d' ' -f1 "$work/run/rank0.pid")
rank1=$(cut -d' ' -f1 "$work/run/rank1.pid")
where0=$(ip netns identify "$rank0" || true)
where1=$(ip netns identify "$rank1" || true)
echo "rank 0 (pid $rank0) in namespace '${where0}', rank 1 (pid $rank1) in namespace '${where1}'"
kill -TERM "$rank0"
wait "$server" || true
server=""
status=$(cat "$work/run/status" 2>/dev/null || echo missing)
if [ "$where0" != "" ] || [ "$where1" != "$ns" ]; then cat "$work/log"; echo "the ranks did not run in the two namespaces"; exit 1; fi
if [ "$status" != 0 ]; then cat "$work/log"; echo "rank 0 exited with status $status"; exit 1; fi
echo ok
