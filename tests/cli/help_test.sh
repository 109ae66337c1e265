#!/usr/bin/env bash
# Every binary's --help explains itself and lists its own flags (absl's
# default lists only flags from a file named after the binary: none of ours),
# and the control plane runs in plaintext only when --insecure says so.
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
check relay/relayd config controller listen metrics port_file tls_ca tls_cert tls_key insecure edge edge_max_viewers edge_posts_per_second edge_post_burst
check topology/topologyd listen state_dir topology lease_timeout admin_token_file insecure client_cert admin_rate admin_burst max_receive_bytes max_streams_per_connection keepalive_interval min_ping_interval max_connection_idle handshake_timeout stream_key_rotation stream_key_overlap
check tools/relayctl/relayctl controller json tls_ca tls_cert tls_key out ca force operator role dns ip days token_file insecure history ttl topology all certs_dir
check tools/source/relay-source dest sdp duration bitrate gop srtp_key_file controller node stream tls_ca tls_cert tls_key insecure
check tools/probe/relay-probe listen parent node_id json sites duration srtp_key_file controller tls_ca tls_cert tls_key insecure
check tools/impair/udp-impair listen forward loss delay
check tools/sim/relay-sim scale sites scenario out
check tools/bench/relay-bench only json
# Unknown flags are refused, never ignored.
if relay/relayd --no_such_flag >/dev/null 2>&1; then
  echo "FAIL: relayd accepted an unknown flag"; failed=1
fi
# Plaintext control only when asked for (--insecure): otherwise exit 2 and
# one line saying what to give.
refuses() {  # MESSAGE COMMAND...
  local message=$1 err rc
  shift
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 2 ] || [ "$err" != "$message" ]; then
    echo "FAIL: $* exited $rc, not 2 with \"$message\": $err"; failed=1
  fi
}
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/help_test.XXXXXX")
refuses "topologyd: refusing to serve without TLS: give --tls-cert and --tls-key (and --tls-client-ca for mutual TLS), or --insecure for a test bed" \
  topology/topologyd --state-dir="$tmp/state" --listen=127.0.0.1:0
[ -e "$tmp/state" ] && { echo "FAIL: topologyd refused yet made its state dir"; failed=1; }
refuses "topologyd: --insecure serves plaintext: it does not go with --tls-cert" \
  topology/topologyd --insecure --tls-cert="$tmp/x.pem" --tls-key="$tmp/x.key" --state-dir="$tmp/state"
refuses "topologyd: refusing to reach etcd in plaintext: give --etcd-ca (and --etcd-cert/--etcd-key for etcd's --client-cert-auth), or --insecure for a test bed" \
  topology/topologyd --store=etcd://127.0.0.1:1 --tls-cert="$tmp/x.pem" --tls-key="$tmp/x.key" --listen=127.0.0.1:0
refuses "relayd: refusing to talk to topologyd in plaintext: give --tls-ca (and --tls-cert/--tls-key for mutual TLS), or --insecure for a test bed" \
  relay/relayd --controller=127.0.0.1:1 --id=r1 --listen=127.0.0.1:0
refuses "relayd: --insecure talks plaintext: it does not go with --tls-ca" \
  relay/relayd --controller=127.0.0.1:1 --id=r1 --listen=127.0.0.1:0 --insecure --tls-ca="$tmp/ca.pem"
# The edge's per-address POST limit takes sane values only.
printf 'node_id: "r1"\n' >"$tmp/r1.textproto"
refuses "relayd: --edge_post_burst: must be between 1 and 1000000" \
  relay/relayd --config="$tmp/r1.textproto" --listen=127.0.0.1:0 --edge=127.0.0.1:0 --edge_post_burst=0
refuses "relayd: --edge_posts_per_second: must be above 0 and at most 1000000" \
  relay/relayd --config="$tmp/r1.textproto" --listen=127.0.0.1:0 --edge=127.0.0.1:0 --edge_posts_per_second=nan
refuses "relayctl: refusing to talk to the controller in plaintext: give --tls-ca (and --tls-cert/--tls-key for mutual TLS), or --insecure for a test bed" \
  tools/relayctl/relayctl --controller=127.0.0.1:1 stats
refuses "relayctl: refusing to talk to the controller in plaintext: give --tls-ca (and --tls-cert/--tls-key for mutual TLS), or --insecure for a test bed" \
  tools/relayctl/relayctl --controller=127.0.0.1:1 token revoke 3f1c9a0e5b7d4c2a8e6f1b3d5a7c9e0f
# The stream keys come from topologyd over mutual TLS only, and from one
# place: topologyd or a key file.
refuses "relay-source: --controller: refusing to ask topologyd for stream keys in plaintext: give --tls-ca and --tls-cert/--tls-key (mutual TLS), or --insecure for a test bed" \
  tools/source/relay-source --controller=127.0.0.1:1 --node=cc --dest=127.0.0.1:9
printf '01 000102030405060708090a0b0c0d0e0f101112131415161718191a1b\n' >"$tmp/stream.key"
refuses "relay-source: --srtp_key_file: not with --controller: the stream keys come from topologyd" \
  tools/source/relay-source --controller=127.0.0.1:1 --node=cc --dest=127.0.0.1:9 --insecure --srtp-key-file="$tmp/stream.key"
printf '127.0.0.1:0 127.0.0.1:9 s1 00\n' >"$tmp/s1.sites"
refuses "relay-probe: --controller: refusing to ask topologyd for stream keys in plaintext: give --tls-ca and --tls-cert/--tls-key (mutual TLS), or --insecure for a test bed" \
  tools/probe/relay-probe --controller=127.0.0.1:1 --sites-file="$tmp/s1.sites"
refuses "topologyd: --stream-key-overlap must be at least 4s" \
  topology/topologyd --insecure --state-dir="$tmp/state" --stream-key-overlap=1s
refuses "topologyd: --stream-key-rotation must be 0 or longer than --stream-key-overlap" \
  topology/topologyd --insecure --state-dir="$tmp/state" --stream-key-rotation=1m
# A missing command is still that, whatever the TLS flags.
refuses "relayctl: no command (relayctl --help lists them)" tools/relayctl/relayctl
# A token over plaintext keeps its own refusal.
echo token >"$tmp/token"
refuses "relayctl: --token-file: refusing to send a token over plaintext: give --tls-ca (TLS), or --insecure to send it in clear" \
  tools/relayctl/relayctl --controller=127.0.0.1:1 --token-file="$tmp/token" stats
[ "$failed" -eq 0 ] && echo "every --help lists its flags; plaintext control is refused"
exit "$failed"
