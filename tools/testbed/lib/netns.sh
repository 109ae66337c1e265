# shellcheck shell=bash
# Hosts as network namespaces on one bridged segment (the test bed's
# network, without its impairments). Sourced; needs root and iproute2.
#   source tools/testbed/lib/netns.sh
#   netns_segment PREFIX            namespace PREFIXbb with the bridge br0
#   netns_host PREFIX HOST ADDR...  namespace PREFIXHOST, eth0 on br0 with
#                                   each ADDR (/16 unless given), lo up
#   netns_delete PREFIX HOST...     removes them and PREFIXbb (no error if
#                                   absent); their veths go with them
#   netns_exists PREFIX HOST        whether namespace PREFIXHOST exists

netns_segment() {
  ip netns add "${1}bb"
  ip -n "${1}bb" link add br0 type bridge
  ip -n "${1}bb" link set br0 up
}

netns_host() {
  local prefix=$1 host=$2 addr port
  shift 2
  ip netns add "$prefix$host"
  # The bridge's end is named by a counter: a host name may be longer than
  # an interface name (15 characters).
  port=v$(ip -n "${prefix}bb" -o link show master br0 | wc -l)
  ip -n "${prefix}bb" link add "$port" type veth peer name eth0 netns "$prefix$host"
  ip -n "${prefix}bb" link set "$port" master br0 up
  ip -n "$prefix$host" link set lo up
  for addr in "$@"; do
    [[ "$addr" == */* ]] || addr=$addr/16
    ip -n "$prefix$host" addr add "$addr" dev eth0
  done
  ip -n "$prefix$host" link set eth0 up
}

netns_exists() {
  # grep without -q reads it all: awk is never cut off by SIGPIPE (pipefail).
  ip netns list | awk '{print $1}' | grep -xF "$1$2" >/dev/null
}

netns_delete() {
  local prefix=$1 host
  shift
  for host in "$@" bb; do ip netns del "$prefix$host" 2>/dev/null || true; done
}
