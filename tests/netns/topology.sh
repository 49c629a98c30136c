#!/bin/sh
# Network-namespace topology for lbd's packet-mode tests (nat, dr, tun).
#
#   topology.sh up PREFIX MODE N    MODE: nat | dr | tun; N real servers (1..3)
#   topology.sh down PREFIX         removes everything PREFIX names (idempotent)
#
# One L2 segment (a bridge in its own namespace PREFIXsw) joins:
#   PREFIXc   client    10.201.1.10/24, default via 10.201.1.2
#   PREFIXd   director  10.201.0.2/24 + 10.201.1.2/24, ip_forward=1
#   PREFIXrI  real servers 10.201.0.1I/24 (I = 1..N)
#     nat: default via the director (replies go back through it)
#     dr:  VIP 10.201.100.1/32 on lo, arp_ignore=1, arp_announce=2, and the
#          client's subnet on-link (replies go straight to the client)
#     tun: the client's subnet on-link; the test runs lbd-tunnel there
# Every device and address lives inside these namespaces; nothing is added to
# the caller's namespace. rp_filter is off everywhere: the director receives
# packets from its tun device carrying other hosts' addresses.
set -u
VIP=10.201.100.1

ns_exec() { ns=$1; shift; ip netns exec "$ns" "$@"; }

sysctls() {
  ns_exec "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    >/dev/null
}

add_node() {  # add_node PREFIX NS PORT
  ip netns add "$2" || return 1
  ip -n "$2" link set lo up
  sysctls "$2"
  ip -n "$1sw" link add "$3" type veth peer name eth0 netns "$2" || return 1
  ip -n "$1sw" link set "$3" master br0 up
  ip -n "$2" link set eth0 up
  ns_exec "$2" sysctl -qw net.ipv4.conf.eth0.rp_filter=0 >/dev/null
}

up() {
  p=$1 mode=$2 n=$3
  ip netns add "${p}sw" || return 1
  ip -n "${p}sw" link set lo up
  ip -n "${p}sw" link add br0 type bridge || return 1
  ip -n "${p}sw" link set br0 up
  add_node "$p" "${p}c" pc || return 1
  ip -n "${p}c" addr add 10.201.1.10/24 dev eth0
  ip -n "${p}c" route add default via 10.201.1.2
  add_node "$p" "${p}d" pd || return 1
  ip -n "${p}d" addr add 10.201.0.2/24 dev eth0
  ip -n "${p}d" addr add 10.201.1.2/24 dev eth0
  ns_exec "${p}d" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
  # The director would otherwise redirect the client to the real servers.
  ns_exec "${p}d" sysctl -qw net.ipv4.conf.all.send_redirects=0 \
    net.ipv4.conf.eth0.send_redirects=0 >/dev/null
  i=1
  while [ "$i" -le "$n" ]; do
    r="${p}r$i"
    add_node "$p" "$r" "pr$i" || return 1
    ip -n "$r" addr add "10.201.0.1$i/24" dev eth0
    case "$mode" in
      nat) ip -n "$r" route add default via 10.201.0.2 ;;
      dr)
        ip -n "$r" addr add "$VIP/32" dev lo
        ns_exec "$r" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
          net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 >/dev/null
        ip -n "$r" route add 10.201.1.0/24 dev eth0
        ;;
      tun) ip -n "$r" route add 10.201.1.0/24 dev eth0 ;;
      *) echo "unknown mode $mode" >&2; return 1 ;;
    esac
    i=$((i + 1))
  done
}

down() {
  p=$1
  for ns in $(ip netns list | awk '{print $1}'); do
    case "$ns" in
      "$p"*) ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
             ip netns del "$ns" ;;
    esac
  done
  return 0
}

case "${1:-}" in
  up)
    [ $# -eq 4 ] || { echo "usage: $0 up PREFIX MODE N" >&2; exit 2; }
    if ! up "$2" "$3" "$4"; then down "$2"; exit 1; fi ;;
  down)
    [ $# -eq 2 ] || { echo "usage: $0 down PREFIX" >&2; exit 2; }
    down "$2" ;;
  *) echo "usage: $0 up PREFIX MODE N | down PREFIX" >&2; exit 2 ;;
esac
