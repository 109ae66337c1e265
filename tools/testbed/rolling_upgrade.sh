# shellcheck shell=bash
# rolling-upgrade, sourced by testbed.sh (its variables and functions): what
# docs/deploy.md "Upgrades" tells an operator. While the meeting runs, every
# relay in turn, districts first and the national ones last, is drained
# (relayctl drain waits until its children receive from their next parents),
# upgraded (the second build's cascade-relayd unpacked into its host's root
# while the old one runs), restarted (SIGTERM, then that package's unit's
# ExecStart=), and restored (revertive) once it receives again. The next starts
# when its children are back and every probe has reported twice since. A
# relay's window runs from its drain to the next one's; its gap is the
# longest stall any site saw in it (the probes' interval_gap_ms), printed for
# the sites below the relay and for the others apart: a stall of the others
# too is the machine's (the probes, two shared cores), not the upgrade's.
readonly MAX_GAP_MS=100
upgrade_marks=() upgrade_deb=''
declare -A upgraded_to=()

# next_version V: V with the last number of its X.Y.Z raised by one
# (0.1.0+git... -> 0.1.1+git...).
next_version() {
  local base=${1%%+*} rest=''
  [[ "$1" != *+* ]] || rest=+${1#*+}
  [[ "$base" =~ ^(.*[^0-9])?([0-9]+)$ ]] || fail "version $1 does not end in a number"
  echo "${BASH_REMATCH[1]}$((BASH_REMATCH[2] + 1))$rest"
}

# build_upgrade: the packages again, packaging/build.sh on Bazel's binaries
# with the next version (./dev testbed has just built them); sets upgrade_deb.
build_upgrade() {
  local current next
  current=$(dpkg-deb -f "${deb_of[cascade-relayd]}" Version)
  next=$(next_version "$current")
  dpkg --compare-versions "$next" gt "$current" || fail "$next does not sort after $current"
  SOURCE_DATE_EPOCH=$(date +%s) TZ=UTC bash "$here/../../packaging/build.sh" \
    --bin-root="$bin_root" --out="$out/upgrade" --version="$next" \
    >"$out/logs/upgrade-build.log" 2>&1 ||
    fail "packaging/build.sh --version=$next failed (logs/upgrade-build.log)"
  upgrade_deb=$out/upgrade/cascade-relayd_${next}_$(dpkg --print-architecture).deb
  [ -f "$upgrade_deb" ] || fail "packaging/build.sh made no $upgrade_deb"
  log "built $(basename "$upgrade_deb") to upgrade to (packaging/build.sh on $bin_root)"
}

# probe_lines: the lines each probe has printed, in the order of groups.
probe_lines() {
  local group
  for group in "${groups[@]}"; do
    printf '%s ' "$(wc -l <"$out/logs/relay-probe-$group.log")"
  done
}
# reported_twice COUNTS: every probe printed two lines more than COUNTS.
reported_twice() {
  local -a since now
  read -ra since <<<"$1"
  read -ra now <<<"$(probe_lines)"
  local i
  for i in "${!since[@]}"; do [ "${now[i]}" -ge $((since[i] + 2)) ] || return 1; done
}
receiving() { [ "$(metric "$1" relay_stream_packets_in_total)" -gt 0 ] 2>/dev/null; }

now_ms() { date +%s%3N; }

upgrade_relay() {
  local relay=$1 old=${pid[$1]} code=0 since waited
  local -A at=([begun]=$(now_ms))
  upgrade_marks+=("$relay $(probe_lines)")
  waited=$(relayctl_as upgrader --json --timeout=30s drain "$relay" 2>>"$out/logs/upgrade.log" |
    tee -a "$out/logs/upgrade.log" | jq -r .waited_ms) ||
    fail "relayctl drain $relay failed (logs/upgrade.log)"
  at[drained]=$(now_ms)
  dpkg-deb -x "$upgrade_deb" "$out/hosts/$relay"
  installed[$relay]=$out/hosts/$relay
  upgraded_to[$relay]=$(dpkg-deb -f "$upgrade_deb" Version)
  at[installed]=$(now_ms)
  kill -TERM "$old"
  wait_until 15 "$relay to stop" bash -c "! kill -0 $old 2>/dev/null"
  wait "$old" || code=$?
  [ $code -eq 0 ] || log "warning: $relay exited $code on SIGTERM (logs/$relay.log.old)"
  sed -i "/^$old\$/d" "$pids_file"
  at[stopped]=$(now_ms)
  mv "$out/logs/$relay.log" "$out/logs/$relay.log.old"
  start_unit cascade-relayd@.service "$relay" "$relay"
  wait_until 30 "$relay receiving after its restart" receiving "$relay"
  at[receiving]=$(now_ms)
  relayctl_as upgrader --policy=revertive restore "$relay" >>"$out/logs/upgrade.log" 2>&1 ||
    fail "relayctl restore $relay failed (logs/upgrade.log)"
  wait_until 30 "$relay serving its children again" serves "$relay"
  at[serving]=$(now_ms)
  since=$(probe_lines)
  wait_until 10 "two reports of every probe" reported_twice "$since"
  log "$relay: drained in $((at[drained] - at[begun])) ms (relayctl waited $waited)," \
    "installed in $((at[installed] - at[drained])), stopped in $((at[stopped] - at[installed]))," \
    "started and receiving in $((at[receiving] - at[stopped])), restored and serving in" \
    "$((at[serving] - at[receiving]))"
}

rolling_upgrade() {
  local relay
  for relay in $(echo "$relays" | tac); do upgrade_relay "$relay"; done
}

# below RELAY GROUP: the sites of district GROUP have RELAY on their path.
below() {
  local province
  province=$(node_field "$2" parent)
  [ "$1" = "$2" ] || [ "$1" = "$province" ] || [ "$1" = "$(node_field "$province" parent)" ]
}

# upgrade_report: per relay its version and the longest stall of the sites
# below it and of the others in its window; a problem (bad) over MAX_GAP_MS.
# First, as a yardstick, the meeting before the upgrade.
upgrade_report() {
  local i j relay counts gap worst=0 side
  local -a from to next marks
  local -A gaps
  marks=("before $(printf '0 %.0s' "${groups[@]}")" "${upgrade_marks[@]}")
  echo "relay    cascade-relayd now                    max gap: sites below it  others"
  for i in "${!marks[@]}"; do
    read -r relay counts <<<"${marks[i]}"
    read -ra from <<<"$counts"
    to=()
    if ((i + 1 < ${#marks[@]})); then
      read -ra next <<<"${marks[i + 1]}"
      to=("${next[@]:1}")
    fi
    gaps=([below]=- [others]=-)
    for j in "${!groups[@]}"; do
      side=others
      ! below "$relay" "${groups[j]}" || side=below
      gaps[$side]=$(awk -v a="${from[j]}" -v b="${to[j]:-}" 'NR > a && (b == "" || NR <= b)' \
        "$out/logs/relay-probe-${groups[j]}.log" | jq -s --arg g "${gaps[$side]}" \
        '[.[] | select(.type == "interval") | .interval_gap_ms] + [$g | tonumber? // empty] | max')
    done
    if [ "$relay" = before ]; then
      printf '%-45s %13s ms (all sites)\n' "(the meeting before the upgrade)" "${gaps[others]}"
      continue
    fi
    gap=$(printf '%s\n' "${gaps[below]}" "${gaps[others]}" | grep -v -- - | sort -g | tail -1)
    printf '%-8s %-36s %13s ms %8s ms\n' "$relay" "${upgraded_to[$relay]}" "${gaps[below]}" \
      "${gaps[others]}"
    if awk -v g="$gap" -v m=$MAX_GAP_MS 'BEGIN { exit !(g > m) }'; then
      echo "testbed: a site saw a ${gap} ms gap while $relay was upgraded (over $MAX_GAP_MS ms)" >&2
      bad=$((bad + 1))
    fi
    worst=$(awk -v a="$worst" -v b="$gap" 'BEGIN { print (b > a ? b : a) }')
  done
  log "rolling upgrade: ${#upgrade_marks[@]} relays upgraded, the longest site gap $worst ms"
}
