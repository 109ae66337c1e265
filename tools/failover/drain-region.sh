#!/bin/sh
# Drains every relay of one region for maintenance, one at a time, each
# until relayctl reports it empty; then says what to restart and how to
# bring the relays back. Worked example: copy and adapt (see README.md).
set -eu
. "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
usage: $SCRIPT [--controller=HOST:PORT] [--timeout=DURATION] [--dry-run] REGION

Drains every relay (national, provincial or district node; sites are not
relays) whose "region" label is REGION, top tier first and active before
standby, so each site moves once. Each drain waits until the relay reports no
children and its children receive from their new parents (relayctl drain).
Stops at the first relay that does not empty; those already drained stay
drained.

  --controller=HOST:PORT  topologyd (else RELAYCTL_FLAGS or relayctl's default)
  --timeout=DURATION      how long each relay may take to empty (default 60s)
  --dry-run               list the relays, drain nothing

Exit: 0 all drained and empty, 1 a relay did not empty or relayctl failed,
2 usage, 3 no relay has that region.
USAGE
}

timeout=60s
dry_run=false
region=
for arg in "$@"; do
  case $arg in
    --help | -h) usage; exit 0 ;;
    --controller=*) RELAYCTL_FLAGS="$RELAYCTL_FLAGS $arg" ;;
    --timeout=*) timeout=${arg#--timeout=} ;;
    --dry-run) dry_run=true ;;
    -*) die 2 "unknown option $arg (--help explains)" ;;
    *)
      [ -z "$region" ] || die 2 "one REGION only (--help explains)"
      region=$arg
      ;;
  esac
done
[ -n "$region" ] || die 2 "no REGION given (--help explains)"
need_tools

nodes=$(ctl nodes) || die 1 "relayctl nodes failed (exit $?)"
relays=$(printf '%s\n' "$nodes" | jq -r --arg region "$region" '
  def tier_rank: {"TIER_NATIONAL": 1, "TIER_PROVINCIAL": 2, "TIER_DISTRICT": 3}[.tier] // 9;
  [.nodes[]
   | select((.labels.region // "") == $region and .tier != "TIER_SITE")]
  | sort_by(tier_rank, (.role == "ROLE_STANDBY"), .id)
  | .[].id')
[ -n "$relays" ] || die 3 "no relay has region=$region"

if $dry_run; then
  printf '%s\n' "$relays"
  exit 0
fi

drained=
for node in $relays; do
  log "draining $node"
  set +e
  result=$(ctl --timeout="$timeout" drain "$node")
  code=$?
  set -e
  if [ "$code" -ne 0 ]; then
    pending=$(printf '%s\n' "$result" |
      jq -r '[.children[]? | select(.confirmed | not) | "\(.id) (\(.note // ""))"] | join(", ")' 2>/dev/null || true)
    echo "$SCRIPT: $node did not empty (relayctl exit $code)${pending:+; unconfirmed children: $pending}" >&2
    [ -z "$drained" ] || echo "$SCRIPT: already drained, restore when done:$drained" >&2
    exit 1
  fi
  moved=$(printf '%s\n' "$result" |
    jq -r '[.children[] | "\(.id)->\(.parent)"] | join(" ")')
  log "$node is empty${moved:+ (moved: $moved)}"
  drained="$drained $node"
done

echo "every relay of region $region is drained and empty."
echo "restart them now:"
for node in $drained; do echo "  $node"; done
echo "then bring them back, top tier first:"
for node in $drained; do echo "  $RELAYCTL${RELAYCTL_FLAGS:+ $(echo $RELAYCTL_FLAGS)} restore $node"; done
