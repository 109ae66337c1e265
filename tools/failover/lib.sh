# Shared by the failover scripts (sourced, not run). They talk to the
# controller only through `relayctl --json` and its exit codes:
#   0 done, 1 failed, 2 usage, 3 not found, 4 refused, 5 timed out,
#   6 permission denied (the token's or certificate's role may not).
#
# Which relayctl, and how it reaches the controller:
#   RELAYCTL        the relayctl binary (default: relayctl on PATH)
#   RELAYCTL_FLAGS  flags for every call, split on spaces, e.g.
#                   "--controller=10.0.0.1:7700 --tls-ca=/etc/cascade/ca.pem
#                   --token-file=/etc/cascade/failover.token" (an operator's
#                   token, from relayctl token issue --role=operator)
# Each script also takes --controller=HOST:PORT, added to those flags.

RELAYCTL=${RELAYCTL:-relayctl}
RELAYCTL_FLAGS=${RELAYCTL_FLAGS:-}

# The script's name, for messages.
SCRIPT=$(basename "$0")

die() {  # CODE MESSAGE
  code=$1
  shift
  echo "$SCRIPT: $*" >&2
  exit "$code"
}

need_tools() {
  command -v jq >/dev/null 2>&1 || die 1 "jq is not installed (apt-get install jq)"
  command -v "$RELAYCTL" >/dev/null 2>&1 ||
    die 1 "relayctl not found (set RELAYCTL=/path/to/relayctl): $RELAYCTL"
}

# relayctl --json ARGS...: its output on stdout; its exit code is returned.
# shellcheck disable=SC2086  # RELAYCTL_FLAGS is split on purpose
ctl() {
  "$RELAYCTL" $RELAYCTL_FLAGS --json "$@"
}

log() {
  echo "$(date -u +%H:%M:%S) $*"
}
