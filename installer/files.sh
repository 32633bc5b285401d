# shellcheck shell=bash
# The Invest appliance installer: owners, folders, templates and atomic links.
# Sourced by installer/lib.sh; nothing here runs on its own.

# ---------------------------------------------------------------------------- files

# Owner options for `install`: the service user on a system install, nobody on --no-system.
inv_owner() {
  local who=$1
  ((INV_NO_SYSTEM)) && return 0
  case $who in
    user) printf '%s\n' -o "$INV_USER" -g "$INV_USER" ;;
    group) printf '%s\n' -o root -g "$INV_USER" ;;
    root) printf '%s\n' -o root -g root ;;
  esac
}

inv_mkdir() {
  local mode=$1 who=$2 owner
  shift 2
  mapfile -t owner < <(inv_owner "$who")
  inv_run install -d -m "$mode" "${owner[@]}" "$@"
}

inv_put() {
  local mode=$1 who=$2 src=$3 dest=$4 owner
  mapfile -t owner < <(inv_owner "$who")
  inv_run install -m "$mode" "${owner[@]}" "$src" "$dest"
}

# Render a template from appliance/ to stdout: @PREFIX@ and @USER@ are replaced.
inv_render() {
  local template=$1 line
  [[ -f $template ]] || inv_die "template missing: $template"
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line//@PREFIX@/$INV_PREFIX}
    line=${line//@USER@/$INV_USER}
    printf '%s\n' "$line"
  done <"$template"
}

# Render template $1 to $2 with mode $3 and owner class $4.
inv_put_rendered() {
  local template=$1 dest=$2 mode=$3 who=$4 tmp
  tmp=$(mktemp "${TMPDIR:-/tmp}/invest-render.XXXXXX")
  INVEST_CLEANUP+=("$tmp")
  inv_render "$template" >"$tmp"
  inv_put "$mode" "$who" "$tmp" "$dest"
}

# Point symlink $1 at $2 atomically (a new link renamed over the old one).
inv_link() {
  local link=$1 target=$2
  inv_run ln -sfn "$target" "$link.new"
  inv_run mv -Tf "$link.new" "$link"
}

