#!/bin/sh
# Fails a relay over when an external health check keeps failing, and
# restores it when the check passes again. Worked example: copy and adapt
# (see README.md).
set -eu
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
usage: $SCRIPT [options] NODE -- CHECK_COMMAND [ARGS...]

Runs CHECK_COMMAND every --interval seconds (exit 0 = healthy). After
--failures consecutive failures: relayctl failover NODE (its children move to
their standbys and it gets none until restored). After --successes
consecutive passes of a node this script failed over (or found failed over
when it started): relayctl restore NODE. Runs until interrupted, or for
--rounds checks.

  --controller=HOST:PORT  topologyd (else RELAYCTL_FLAGS or relayctl's default)
  --interval=SECONDS      between checks (default 5; fractions allowed)
  --failures=K            consecutive failures before failing over (default 3)
  --successes=K           consecutive passes before restoring (default 3)
  --policy=revertive|non-revertive
                          restore policy (default: the controller's)
  --rounds=N              stop after N checks (default 0: never)

Exit: 0 stopped after --rounds, 1 relayctl failed, 2 usage, 3 no such node.
USAGE
}

interval=5
failures_needed=3
successes_needed=3
policy=
rounds=0
node=
while [ $# -gt 0 ]; do
  case $1 in
    --help | -h) usage; exit 0 ;;
    --controller=*) RELAYCTL_FLAGS="$RELAYCTL_FLAGS $1" ;;
    --interval=*) interval=${1#--interval=} ;;
    --failures=*) failures_needed=${1#--failures=} ;;
    --successes=*) successes_needed=${1#--successes=} ;;
    --policy=*) policy=${1#--policy=} ;;
    --rounds=*) rounds=${1#--rounds=} ;;
    --) shift; break ;;
    -*) die 2 "unknown option $1 (--help explains)" ;;
    *)
      [ -z "$node" ] || die 2 "one NODE only; the check follows -- (--help explains)"
      node=$1
      ;;
  esac
  shift
done
[ -n "$node" ] || die 2 "no NODE given (--help explains)"
[ $# -gt 0 ] || die 2 "no CHECK_COMMAND after -- (--help explains)"
for n in "$failures_needed" "$successes_needed" "$rounds"; do
  case $n in '' | *[!0-9]*) die 2 "--failures, --successes and --rounds take whole numbers, not \"$n\"" ;; esac
done
[ "$failures_needed" -ge 1 ] && [ "$successes_needed" -ge 1 ] ||
  die 2 "--failures and --successes must be at least 1"
case $interval in '' | *[!0-9.]*) die 2 "--interval takes seconds, not \"$interval\"" ;; esac
case $policy in '' | revertive | non-revertive) ;; *) die 2 "--policy must be revertive or non-revertive" ;; esac
need_tools

# Where the node stands now: a previous run may have failed it over.
set +e
shown=$(ctl show "$node")
code=$?
set -e
[ "$code" -eq 0 ] || die "$code" "relayctl show $node failed (exit $code)"
status=$(printf '%s\n' "$shown" | jq -r .status)
failed_over=false
[ "$status" != STATUS_FAILED ] || failed_over=true
log "watching $node (status $status): $*"

failures=0
successes=0
checks=0
while [ "$rounds" -eq 0 ] || [ "$checks" -lt "$rounds" ]; do
  checks=$((checks + 1))
  if "$@" >/dev/null 2>&1; then
    failures=0
    successes=$((successes + 1))
    if $failed_over && [ "$successes" -ge "$successes_needed" ]; then
      set +e
      ctl restore "$node" ${policy:+--policy=$policy} >/dev/null
      code=$?
      set -e
      [ "$code" -eq 0 ] || die "$code" "relayctl restore $node failed (exit $code)"
      failed_over=false
      log "$node healthy for $successes checks: restored"
    fi
  else
    successes=0
    failures=$((failures + 1))
    log "$node check failed ($failures in a row)"
    if ! $failed_over && [ "$failures" -ge "$failures_needed" ]; then
      set +e
      ctl failover "$node" >/dev/null
      code=$?
      set -e
      [ "$code" -eq 0 ] || die "$code" "relayctl failover $node failed (exit $code)"
      failed_over=true
      log "$node failed $failures checks: failed over"
    fi
  fi
  if [ "$rounds" -eq 0 ] || [ "$checks" -lt "$rounds" ]; then sleep "$interval"; fi
done
