#!/bin/bash
# Throughput (iperf3, one TCP stream, client->server "up" and -R "down") and connection rate through the director
# for lbd-packet's nat, dr and tun modes, against the kernel in the same run:
#   route     plain IP forwarding by the director (client -> real server)
#   nft-dnat  nftables DNAT of VIP:5201 to the real server (the in-kernel peer
#             of nat; replies un-NATed by conntrack)
# Topology: tests/netns/topology.sh (veth + bridge, one real server), names
# lbdb-<pid>-*, addresses only inside those namespaces, removed at exit.
#
#   [PATHS="route lbd-tun"] bench/packet/compare.sh [BUILD_DIR] [SECONDS]
# Default BUILD_DIR build-packet (lbd-packet and lbd-tunnel built there),
# SECONDS 5, PATHS all five (route nft-dnat lbd-nat lbd-dr lbd-tun; ratios
# need route and nft-dnat in the run). Needs root. Installs iperf3 and
# nftables with apt-get if missing.
# Second table: CPU (percent of one core) that lbd-packet and lbd-tunnel used
# during the upload run, and Gbit/s per core of lbd-packet.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-packet}
SECS=${2:-5}
PATHS=${PATHS:-route nft-dnat lbd-nat lbd-dr lbd-tun}
TOPO=$ROOT/tests/netns/topology.sh
LBD=$BUILD/lb/packet/lbd-packet
TUNNEL=$BUILD/lb/packet/lbd-tunnel
RATE=$ROOT/bench/packet/conn_rate.py
VIP=10.201.100.1
VIP2=10.201.100.2  # the connection-rate service (lbd-packet: one service per VIP)
RS=10.201.0.11
PORT=5201
CPORT=5202
P="lbdb-$$-"
DIR=$(mktemp -d /tmp/lbdb.XXXXXX)
PIDS=()
LBD_PID= TUNNEL_PID=

for tool in iperf3 nft; do
  command -v $tool >/dev/null || apt-get install -y "$([ $tool = nft ] && echo nftables || echo $tool)" >/dev/null
done
[ -x "$LBD" ] && [ -x "$TUNNEL" ] || { echo "build lbd-packet and lbd-tunnel in $BUILD first" >&2; exit 1; }

stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  PIDS=()
  LBD_PID= TUNNEL_PID=
  "$TOPO" down "$P"
}
trap 'stop_all; rm -rf "$DIR"' EXIT
trap 'exit 1' INT TERM

ns() { n=$1; shift; ip netns exec "$P$n" "$@"; }
spawn() { n=$1; shift; ip netns exec "$P$n" "$@" >"$DIR/log.$n.$RANDOM" 2>&1 & PIDS+=($!); }
wait_port() {  # wait_port NODE IP PORT
  for _ in $(seq 30); do
    ns "$1" timeout 0.5 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# run NAME TOPOMODE TARGET_IP: one line of results
run() {
  name=$1 mode=$2 target=$3
  "$TOPO" up "$P" "$mode" 1 || { echo "$name: topology failed" >&2; return 1; }
  spawn r1 iperf3 -s -p $PORT
  spawn r1 python3 "$RATE" server $CPORT
  case $name in
    nft-dnat)
      ns d nft -f - <<NFT
table ip lbdb {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr $VIP tcp dport $PORT dnat to $RS
    ip daddr $VIP2 tcp dport $CPORT dnat to $RS
  }
}
NFT
      ;;
    lbd-*)
      if [ "$mode" = tun ]; then
        spawn r1 "$TUNNEL" --vip $VIP,$VIP2
        TUNNEL_PID=$!
      fi
      [ "$mode" = dr ] && ns r1 ip addr add $VIP2/32 dev lo
      cat >"$DIR/lbd.yaml" <<YAML
global: {workers: 2}
virtual_services:
  - {name: iperf, listen: "$VIP:$PORT", scheduler: rr, forwarding: $mode,
     real_servers: [{address: "$RS:$PORT"}]}
  - {name: conn, listen: "$VIP2:$CPORT", scheduler: rr, forwarding: $mode,
     real_servers: [{address: "$RS:$CPORT"}]}
YAML
      spawn d "$LBD" -c "$DIR/lbd.yaml" --stats "$DIR/stats"
      LBD_PID=$!
      for _ in $(seq 50); do [ -s "$DIR/stats" ] && break; sleep 0.1; done
      ;;
  esac
  ctarget=$target
  [ "$target" = $VIP ] && ctarget=$VIP2
  wait_port r1 127.0.0.1 $PORT && wait_port c "$target" $PORT || { echo "$name: not reachable" >&2; stop_all; return 1; }
  t0=$(cpu_ticks "$LBD_PID") u0=$(cpu_ticks "$TUNNEL_PID") w0=$(date +%s%N)
  gbps=$(ns c iperf3 -c "$target" -p $PORT -t "$SECS" -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null)
  t1=$(cpu_ticks "$LBD_PID") u1=$(cpu_ticks "$TUNNEL_PID") w1=$(date +%s%N)
  hz=$(getconf CLK_TCK)
  lcpu=$(awk -v a="$t0" -v b="$t1" -v w=$((w1 - w0)) -v hz="$hz" \
    'BEGIN{print (a == "-" ? "-" : sprintf("%.0f", 100 * (b - a) / hz / (w / 1e9)))}')
  tcpu=$(awk -v a="$u0" -v b="$u1" -v w=$((w1 - w0)) -v hz="$hz" \
    'BEGIN{print (a == "-" ? "-" : sprintf("%.0f", 100 * (b - a) / hz / (w / 1e9)))}')
  rev=$(ns c iperf3 -c "$target" -p $PORT -t "$SECS" -R -J 2>/dev/null |
    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' 2>/dev/null)
  cps=$(ns c python3 "$RATE" client "$ctarget" $CPORT "$SECS" 2)
  stop_all
  printf '%s %s %s %s %s %s\n' "$name" "${gbps:-0}" "${cps:-0}" "${rev:-0}" "$lcpu" "$tcpu"
}

# cpu_ticks PID: utime + stime of PID (proc(5) fields 14 and 15), "-" without one.
cpu_ticks() {
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo -; return; }
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

results=()
for path in $PATHS; do
  case $path in
    route) results+=("$(run route nat $RS)") ;;
    nft-dnat) results+=("$(run nft-dnat nat $VIP)") ;;
    lbd-nat | lbd-dr | lbd-tun) results+=("$(run "$path" "${path#lbd-}" $VIP)") ;;
    *) echo "unknown path $path" >&2 ;;
  esac
done
# The rows of route and nft-dnat (zeros when not run: ratios print "-").
base=(route 0 0 0)
nft=(nft-dnat 0 0 0)
for r in "${results[@]}"; do
  set -- $r
  [ "${1:-}" = route ] && base=($r)
  [ "${1:-}" = nft-dnat ] && nft=($r)
done

printf '%-10s %8s %7s %7s %8s %7s %7s %9s %7s %7s\n' path "up Gb/s" /route /nft \
  "down Gb/s" /route /nft conn/s /route /nft
for r in "${results[@]}"; do
  [ -n "$r" ] || continue
  set -- $r
  awk -v n="$1" -v g="$2" -v c="$3" -v d="$4" -v bg="${base[1]}" -v bc="${base[2]}" \
    -v bd="${base[3]}" -v ng="${nft[1]}" -v nc="${nft[2]}" -v nd="${nft[3]}" \
    'function q(a,b){return b>0 ? sprintf("%.2f", a/b) : "-"}
     BEGIN{printf "%-10s %8s %7s %7s %8s %7s %7s %9s %7s %7s\n", n, g, q(g,bg), q(g,ng),
           d, q(d,bd), q(d,nd), c, q(c,bc), q(c,nc)}'
done
printf '\n%-10s %8s %9s %9s %11s\n' path "up Gb/s" "lbd cpu%" "tunnel%" "Gb/s/core"
for r in "${results[@]}"; do
  set -- $r
  [ "${5:--}" = - ] && continue
  awk -v n="$1" -v g="$2" -v l="$5" -v t="$6" \
    'BEGIN{printf "%-10s %8s %9s %9s %11s\n", n, g, l, t, (l > 0 ? sprintf("%.1f", g / (l / 100)) : "-")}'
done
