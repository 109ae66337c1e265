#!/usr/bin/env bash
# Every binary's --help explains itself and lists its own flags (absl's
# default lists only flags from a file named after the binary: none of ours).
set -u
failed=0
check() {  # BINARY FLAG...
  local bin=$1 out
  shift
  out=$("$bin" --help 2>&1)
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: $bin --help exited $rc"; failed=1; return
  fi
  for flag in "$@"; do
    grep -q -- "-$flag" <<<"$out" || { echo "FAIL: $bin --help does not list --$flag"; failed=1; }
  done
  # Dashed spelling of a flag is accepted wherever the docs use it.
}
check relay/relayd config controller listen metrics port_file tls_ca tls_cert tls_key
check topology/topologyd listen state_dir topology lease_timeout admin_token_file client_cert admin_rate admin_burst max_receive_bytes max_streams_per_connection keepalive_interval min_ping_interval max_connection_idle handshake_timeout
check tools/relayctl/relayctl controller json tls_ca tls_cert tls_key out ca force operator role dns ip days token_file insecure history ttl
check tools/source/relay-source dest sdp duration bitrate gop
check tools/probe/relay-probe listen parent node_id json sites duration
check tools/impair/udp-impair listen forward loss delay
check tools/sim/relay-sim scale sites scenario out
check tools/bench/relay-bench only json
# Unknown flags are refused, never ignored.
if relay/relayd --no_such_flag >/dev/null 2>&1; then
  echo "FAIL: relayd accepted an unknown flag"; failed=1
fi
[ "$failed" -eq 0 ] && echo "every --help lists its flags"
exit "$failed"
