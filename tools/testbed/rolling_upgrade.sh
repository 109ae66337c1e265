# shellcheck shell=bash
# rolling-upgrade, sourced by testbed.sh (its variables and functions): what
# docs/deploy.md "Upgrades" tells an operator. While the meeting runs, every
# relay in turn, districts first and the national ones last, is drained
# (relayctl drain waits until its children receive from their next parents),
# upgraded (the next version's cascade-relayd unpacked into its host's root
# while the old one runs), restarted (SIGTERM, then that package's unit's
# ExecStart=), and restored (revertive) once it receives again. The next starts
# when its children are back and every probe has reported for 2 s since. A
# relay's window runs from its drain to the next one's (the last one's to the
# end of its own, not the meeting's), in four phases: drain
# (its children move away), restart (install, stop, start), restore (they
# move back), settle (the 2 s). A phase's gap is the longest stall any site
# saw in it (the probes' interval_gap_ms, from the kernel's receive times,
# reported every probe_interval), for the sites below the relay and for the
# others apart. A gap over MAX_GAP_MS is the upgrade's when the sites below
# the relay saw it and the others in the same phase did not (or saw one
# shorter by more than a frame interval); one the others saw as well is the
# machine's (every relay or the source stalled at once), printed and counted
# but not a failure. nat1 has no other sites: any gap in its window over
# MAX_GAP_MS is the upgrade's.
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

# build_upgrade: the package to upgrade to, cascade-relayd repacked with
# the next version (its files as they are: what the upgrade tests is the
# procedure, not a code change; no Bazel output, which other work moves);
# sets upgrade_deb.
build_upgrade() {
  local current next dir=$out/upgrade/root
  current=$(dpkg-deb -f "${deb_of[cascade-relayd]}" Version)
  next=$(next_version "$current")
  dpkg --compare-versions "$next" gt "$current" || fail "$next does not sort after $current"
  mkdir -p "$out/upgrade"
  dpkg-deb -R "${deb_of[cascade-relayd]}" "$dir"
  sed -i "s/^Version: .*/Version: $next/" "$dir/DEBIAN/control"
  upgrade_deb=$out/upgrade/cascade-relayd_${next}_$(dpkg --print-architecture).deb
  dpkg-deb --root-owner-group -Zxz --build "$dir" "$upgrade_deb" >"$out/logs/upgrade-build.log" ||
    fail "dpkg-deb --build of $upgrade_deb failed (logs/upgrade-build.log)"
  [ "$(dpkg-deb -f "$upgrade_deb" Version)" = "$next" ] || fail "$upgrade_deb is not version $next"
  log "made $(basename "$upgrade_deb") to upgrade to (the installed one with the next version)"
}

# probe_lines: the lines each probe has printed, in the order of groups.
probe_lines() {
  local group
  for group in "${groups[@]}"; do
    printf '%s ' "$(wc -l <"$out/logs/relay-probe-$group.log")"
  done
}
# reported_for COUNTS: every probe printed 2 s of reports more than COUNTS.
reported_for() {
  local -a since now
  read -ra since <<<"$1"
  read -ra now <<<"$(probe_lines)"
  local i n
  n=$(awk -v i="$probe_interval" 'BEGIN { print int(2 / i + 0.5) }')
  for i in "${!since[@]}"; do [ "${now[i]}" -ge $((since[i] + n)) ] || return 1; done
}
# mark RELAY PHASE: where PHASE of RELAY's window begins in every probe's log.
mark() { upgrade_marks+=("$1 $2 $(probe_lines)"); }
receiving() { [ "$(metric "$1" relay_stream_packets_in_total)" -gt 0 ] 2>/dev/null; }

now_ms() { date +%s%3N; }

upgrade_relay() {
  local relay=$1 old=${pid[$1]} code=0 since waited
  local -A at=([begun]=$(now_ms))
  mark "$relay" drain
  waited=$(relayctl_as upgrader --json --timeout=30s drain "$relay" 2>>"$out/logs/upgrade.log" |
    tee -a "$out/logs/upgrade.log" | jq -r .waited_ms) ||
    fail "relayctl drain $relay failed (logs/upgrade.log)"
  at[drained]=$(now_ms)
  mark "$relay" restart
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
  mark "$relay" restore
  relayctl_as upgrader --policy=revertive restore "$relay" >>"$out/logs/upgrade.log" 2>&1 ||
    fail "relayctl restore $relay failed (logs/upgrade.log)"
  wait_until 30 "$relay serving its children again" serves "$relay"
  at[serving]=$(now_ms)
  mark "$relay" settle
  since=$(probe_lines)
  wait_until 10 "2 s of reports of every probe" reported_for "$since"
  log "$relay: drained in $((at[drained] - at[begun])) ms (relayctl waited $waited)," \
    "installed in $((at[installed] - at[drained])), stopped in $((at[stopped] - at[installed]))," \
    "started and receiving in $((at[receiving] - at[stopped])), restored and serving in" \
    "$((at[serving] - at[receiving]))"
}

rolling_upgrade() {
  local relay
  for relay in $(echo "$relays" | tac); do upgrade_relay "$relay"; done
  # The last window ends here, not with the meeting.
  mark - end
}

# below RELAY GROUP: the sites of district GROUP have RELAY on their path.
below() {
  local province
  province=$(node_field "$2" parent)
  [ "$1" = "$2" ] || [ "$1" = "$province" ] || [ "$1" = "$(node_field "$province" parent)" ]
}

# gap_lines: per group, logs/gaps-GROUP.txt with a line for each line of its
# probe's log: the interval report's interval_gap_ms, or "-".
gap_lines() {
  local group
  for group in "${groups[@]}"; do
    jq -rR '(fromjson? // {}) | if .type == "interval" then .interval_gap_ms else "-" end' \
      "$out/logs/relay-probe-$group.log" >"$out/logs/gaps-$group.txt"
  done
}

# window_max FROM TO GROUPS: the longest gap the probes reported in a window
# (line counts FROM and TO, one per group; TO empty: to the end) over the
# groups listed by index; "-" without a report.
window_max() {
  local -a from to files=()
  read -ra from <<<"$1"
  read -ra to <<<"$2"
  local j a='' b=''
  for j in $3; do
    files+=("$out/logs/gaps-${groups[j]}.txt")
    a+="${from[j]} " b+="${to[j]:--1} "
  done
  [ ${#files[@]} -gt 0 ] || { echo -; return; }
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, A, " "); split(b, B, " ") }
    FNR == 1 { f++ }
    FNR > A[f] && (B[f] < 0 || FNR <= B[f]) && $1 != "-" { if (!n++ || $1 > m) m = $1 }
    END { print (n ? m : "-") }' "${files[@]}"
}

# larger A B: the larger of two gaps, "-" for none.
larger() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a == "-") print b; else if (b == "-") print a; else print (b > a ? b : a) }'
}

# gap_verdict BELOW OTHERS: whose a gap over MAX_GAP_MS is (the header).
gap_verdict() {
  awk -v b="$1" -v o="$2" -v m=$MAX_GAP_MS -v f="$(frame_interval_ms)" 'BEGIN {
    if (b != "-" && b > m && (o == "-" || o <= m || b > o + f)) print "UPGRADE"
    else if ((b != "-" && b > m) || (o != "-" && o > m)) print "machine"
    else print "ok" }'
}

# upgrade_report: per relay its version, the longest stall of the sites below
# it and of the others in its window with the phase of the worse, and whose a
# gap over MAX_GAP_MS is (the worst phase's verdict); the upgrade's are
# problems (bad). First, as a yardstick, the meeting before the upgrade.
upgrade_report() {
  local i j relay phase counts worst=0 machine=0 verdict below others upgrades=0 side
  local -a marks next
  local -A gap win
  marks=("before - $(printf '0 %.0s' "${groups[@]}")" "${upgrade_marks[@]}")
  gap_lines
  echo "A gap over $MAX_GAP_MS ms is the upgrade's only if the sites below the relay saw it and the"
  echo "others in the same phase did not, or saw one over a frame ($(frame_interval_ms) ms) shorter:"
  echo "relay    cascade-relayd now                longest gap ms: below  others  worst in  over $MAX_GAP_MS ms"
  for i in "${!marks[@]}"; do
    read -r relay phase counts <<<"${marks[i]}"
    next=()
    ((i + 1 >= ${#marks[@]})) || read -ra next <<<"${marks[i + 1]}"
    below='' others=''
    for j in "${!groups[@]}"; do
      if [ "$relay" != before ] && below "$relay" "${groups[j]}"; then below+=" $j"; else others+=" $j"; fi
    done
    gap[below]=$(window_max "$counts" "${next[*]:2}" "$below")
    gap[others]=$(window_max "$counts" "${next[*]:2}" "$others")
    [ "$phase" != end ] || continue
    if [ "$relay" = before ]; then
      printf '%-56s %7s ms (all sites)\n' "(the meeting before the upgrade)" "${gap[others]}"
      continue
    fi
    # A relay's window: the worst of its phases.
    if [ "$phase" = drain ]; then win=([below]=- [others]=- [phase]=- [verdict]=ok); fi
    verdict=$(gap_verdict "${gap[below]}" "${gap[others]}")
    side=others
    [ -z "$below" ] || side=below
    if [ "${win[$side]}" = - ] || awk -v a="${gap[$side]}" -v b="${win[$side]}" 'BEGIN { exit !(a > b) }'; then
      win[phase]=$phase
    fi
    for side in below others; do win[$side]=$(larger "${win[$side]}" "${gap[$side]}"); done
    case "$verdict/${win[verdict]}" in
      UPGRADE/*|machine/ok) win[verdict]=$verdict ;;
    esac
    if [ "$verdict" = UPGRADE ]; then
      echo "testbed: the sites below $relay saw a ${gap[below]} ms gap in its $phase phase" \
        "(over $MAX_GAP_MS ms; the others ${gap[others]} ms)" >&2
      upgrades=$((upgrades + 1))
    fi
    # The window's line, after its last phase.
    [ "$phase" = settle ] || continue
    printf '%-8s %-32s %15s %7s  %8s  %s\n' "$relay" "${upgraded_to[$relay]}" "${win[below]}" \
      "${win[others]}" "${win[phase]}" "${win[verdict]}"
    [ "${win[verdict]}" != machine ] || machine=$((machine + 1))
    worst=$(larger "$(larger "$worst" "${win[below]}")" "${win[others]}")
  done
  bad=$((bad + upgrades))
  log "rolling upgrade: $((${#upgrade_marks[@]} - 1)) phases of $((${#upgrade_marks[@]} / 4)) relays," \
    "the longest site gap $worst ms; $machine windows over $MAX_GAP_MS ms at the other sites too" \
    "(the machine's), $upgrades phases over it at the sites below the relay alone (the upgrade's)"
}
