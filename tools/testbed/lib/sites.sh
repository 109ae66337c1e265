# shellcheck shell=bash
# relay-probe's --sites_file from relayctl render's site files. Sourced.
#   source tools/testbed/lib/sites.sh
#   sites_file RENDER_DIR SITE...   prints one line a site: "LISTEN PARENT
#                                   NODE_ID KEY [PARENT KEY]..." (its parent,
#                                   then its standbys, each with its link key)
sites_file() {
  local render=$1 site env i
  shift
  for site in "$@"; do
    env=$render/sites/$site.env
    [ -f "$env" ] || { echo "sites: relayctl render wrote no $env" >&2; return 1; }
    local -a parents keys
    IFS=, read -ra parents <<<"$(sed -n 's/^PARENTS=//p' "$env")"
    IFS=, read -ra keys <<<"$(sed -n 's/^KEYS=//p' "$env")"
    local line
    line="$(sed -n 's/^LISTEN=//p' "$env") ${parents[0]} $(sed -n 's/^NODE_ID=//p' "$env") ${keys[0]}"
    for ((i = 1; i < ${#parents[@]}; i++)); do line+=" ${parents[i]} ${keys[i]}"; done
    echo "$line"
  done
}
