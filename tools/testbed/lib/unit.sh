# shellcheck shell=bash
# Running a packaged systemd unit without systemd (PID 1 here is not
# systemd): its ExecStart= line, expanded as systemd expands it, in a staging
# root. Sourced by the test bed's tools and by deploy/ansible/site.yml's
# cascade_start=exec (tests/deploy/ansible_test.sh).
#   source tools/testbed/lib/unit.sh
#   unit_command UNIT_FILE INSTANCE ROOT BIN_ROOT   one argument a line
#   unit_exec UNIT_FILE INSTANCE ROOT BIN_ROOT PID_FILE
# ROOT holds the host's /etc/cascade and /var/lib/cascade, BIN_ROOT the
# packages' files (/usr/bin); both "" for the real paths.

# unit_command: the unit's ExecStart= as systemd expands it for INSTANCE (%i;
# ${VAR} within a word; $VAR alone split at spaces, nothing when empty), from
# its EnvironmentFile=, installed paths mapped into ROOT and BIN_ROOT. Prints
# nothing and returns 1 (a message on stderr) when a file is missing.
unit_command() {
  local unit=$1 instance=$2 root=$3 bin_root=$4
  [ -f "$unit" ] || { echo "unit: no $unit" >&2; return 1; }
  local line env_file word name value
  line=$(sed -n 's/^ExecStart=//p' "$unit")
  [ -n "$line" ] || { echo "unit: no ExecStart= in $unit" >&2; return 1; }
  env_file=$(sed -n 's/^EnvironmentFile=//p' "$unit")
  env_file=$root${env_file//%i/$instance}
  [ -f "$env_file" ] || { echo "unit: no environment file $env_file" >&2; return 1; }
  local -A env=()
  while IFS= read -r word; do
    [[ "$word" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] && env[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  done <"$env_file"
  local -a words args=()
  read -ra words <<<"${line//%i/$instance}"
  for word in "${words[@]}"; do
    if [[ "$word" =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
      local -a split=()
      read -ra split <<<"${env[${BASH_REMATCH[1]}]:-}"
      args+=("${split[@]}")
      continue
    fi
    while [[ "$word" =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
      name=${BASH_REMATCH[1]}
      value=${env[$name]:-}
      word=${word//"\${$name}"/$value}
    done
    args+=("$word")
  done
  args[0]=$bin_root${args[0]}
  for word in "${args[@]}"; do
    word=${word//\/etc\/cascade/$root/etc/cascade}
    echo "${word//\/var\/lib\/cascade/$root/var/lib/cascade}"
  done
}

# unit_exec: makes the unit's StateDirectory= as systemd does, writes this
# shell's pid to PID_FILE and becomes the unit's command (same pid).
unit_exec() {
  local unit=$1 instance=$2 root=$3 bin_root=$4 pid_file=$5 dir
  local -a cmd dirs
  mapfile -t cmd < <(unit_command "$unit" "$instance" "$root" "$bin_root")
  [ ${#cmd[@]} -gt 0 ] || return 1
  [ -x "${cmd[0]}" ] || { echo "unit: no executable ${cmd[0]}" >&2; return 1; }
  read -ra dirs < <(sed -n 's/^StateDirectory=//p' "$unit")
  for dir in "${dirs[@]}"; do
    mkdir -p "$root/var/lib/$dir"
    chmod 0700 "$root/var/lib/$dir"
  done
  echo $$ >"$pid_file"
  exec "${cmd[@]}"
}
