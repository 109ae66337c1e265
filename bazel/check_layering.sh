#!/usr/bin/env bash
# The package rules of docs/ARCHITECTURE.md, checked with bazel query: each
# rule names what may not be reached, and a violation prints the path that
# reaches it. Exit 0 when every rule holds. Run by ./dev test.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=0
# rule NAME FROM FORBIDDEN: nothing in FROM may depend on FORBIDDEN.
rule() {
  local name=$1 from=$2 forbidden=$3 reached
  reached=$(bazel query --noshow_progress --keep_going \
    "deps($from) intersect ($forbidden)" 2>/dev/null | grep '^//' || true)
  if [ -z "$reached" ]; then
    echo "layering: $name: ok"
    return
  fi
  failed=1
  echo "layering: $name: VIOLATED, reaches:"
  printf '  %s\n' $reached | head -5
  local first
  first=$(echo "$reached" | head -1)
  echo "  path:"
  bazel query --noshow_progress "somepath($from, $first)" 2>/dev/null | sed 's/^/    /'
}

rule "the data plane never reaches the controller" \
  "//relay/... + //child/... + //control/..." "//topology/..."
rule "nothing but tools/ and tests/ reaches tools/" \
  "//... - //tools/... - //tests/..." "//tools/..."
rule "shared packages reach no relayd code" \
  "//base/... + //control/... + //child/... + //media/... + //webrtc/..." \
  "//relay/..."
rule "the WebRTC edge reaches neither the controller nor the PKI" \
  "//webrtc/..." "//topology/... + //security/..."
rule "the data plane links no PKI code" \
  "//relay/... + //child/... + //control/... + //media/... + //base/..." \
  "//security/..."
# An edge relay decrypts for its plain endpoints; the forwarding core (the
# core, its state, the fan-out, the settings) forwards ciphertext unread.
rule "the forwarding core links no stream-key SRTP" \
  "//relay:relay_core + //relay:stream_state + //relay:packet_pool + \
   //relay:fanout_loops + //relay:batch_sender + //relay:udp_socket + \
   //relay:config + //relay:assignment + //child/..." \
  "//media/srtp/... - //media/srtp:library"

# only NAME WITHIN ALLOWED TARGET: in WITHIN, only ALLOWED depend on TARGET
# directly (others may reach it through them).
only() {
  local name=$1 within=$2 allowed=$3 target=$4 direct
  direct=$(bazel query --noshow_progress --keep_going \
    "rdeps($within, $target, 1) intersect ($within) - ($allowed)" \
    2>/dev/null | grep '^//' || true)
  if [ -z "$direct" ]; then
    echo "layering: $name: ok"
    return
  fi
  failed=1
  echo "layering: $name: VIOLATED, linked directly by:"
  printf '  %s\n' $direct | head -5
}

only "in relayd only the stream decryptor links stream-key SRTP" \
  "//relay/... + //child/..." \
  "//relay:stream_decryptor + //relay:stream_decryptor_test" \
  "//media/srtp/... - //media/srtp:library"
exit $failed
