#!/usr/bin/env bash
# Install, upgrade, roll back or remove the Invest appliance.
#
#   curl -fsSL https://raw.githubusercontent.com/invest-appliance/invest-appliance/main/install.sh | sudo bash
#   sudo ./install.sh                       # from a checkout: installs that checkout
#   sudo ./install.sh --version v0.2.0      # a release (fetched as a tarball from INVEST_REPO)
#   ./install.sh --non-interactive --no-system --prefix /tmp/inv --source .   # a test install
#
# Run `install.sh --help` for every option.
#
# How it works standalone: this file is only a bootstrap. It finds a source tree of the
# project (the checkout it sits in, the tree named by --source, or the release tarball
# fetched from INVEST_REPO), sources installer/lib.sh from that tree and runs it. The same
# tree is what pip installs, so the installer logic and the package always come from one
# version, and no hand-kept list of files is ever downloaded.
set -euo pipefail

INVEST_REPO="${INVEST_REPO:-https://github.com/invest-appliance/invest-appliance}"
INVEST_CLEANUP=()
BOOT_TREE=""

_boot_die() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}

_boot_cleanup() {
  local path
  for path in "${INVEST_CLEANUP[@]}"; do
    rm -rf -- "$path"
  done
}

# Print the value of option $1 (as `--opt VALUE` or `--opt=VALUE`) from the remaining arguments.
_boot_option() {
  local name=$1
  shift
  while (($#)); do
    case $1 in
      "$name")
        printf '%s' "${2-}"
        return 0
        ;;
      "$name"=*)
        printf '%s' "${1#*=}"
        return 0
        ;;
    esac
    shift
  done
  return 1
}

_boot_flag() {
  local name=$1 arg
  shift
  for arg in "$@"; do
    [[ $arg == "$name" ]] && return 0
  done
  return 1
}

# Unpack a tarball into a new directory and set BOOT_TREE to the project root inside it.
_boot_untar() {
  local tarball=$1 dest=$2 entries
  mkdir -p "$dest"
  tar -xzf "$tarball" -C "$dest"
  if [[ -f $dest/installer/lib.sh ]]; then
    BOOT_TREE=$dest
    return 0
  fi
  # GitHub archives hold one top-level folder (name-version/).
  entries=("$dest"/*)
  if ((${#entries[@]} == 1)) && [[ -f ${entries[0]}/installer/lib.sh ]]; then
    BOOT_TREE=${entries[0]}
    return 0
  fi
  _boot_die "no installer/lib.sh in $tarball: is it a source tarball of this project?"
}

# Fetch a git URL or a tarball URL into a temporary directory and set BOOT_TREE to it.
_boot_fetch() {
  local url=$1 version=$2 tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/invest-src.XXXXXX")
  INVEST_CLEANUP+=("$tmp")
  case $url in
    git+* | *.git | git@* | ssh://*)
      command -v git >/dev/null || _boot_die "git is needed to fetch $url (apt-get install git)"
      printf '==> fetching %s%s\n' "${url#git+}" "${version:+ at $version}" >&2
      git clone --quiet --depth 1 ${version:+--branch "$version"} "${url#git+}" "$tmp/src" </dev/null
      BOOT_TREE=$tmp/src
      ;;
    http://* | https://* | file://*)
      command -v curl >/dev/null || _boot_die "curl is needed to fetch $url (apt-get install curl)"
      printf '==> fetching %s\n' "$url" >&2
      curl -fsSL --retry 3 --connect-timeout 15 -o "$tmp/src.tar.gz" "$url" </dev/null ||
        _boot_die "cannot download $url"
      _boot_untar "$tmp/src.tar.gz" "$tmp/src"
      ;;
    *) _boot_die "--source must be a directory, a .tar.gz file, a git URL or a tarball URL: $url" ;;
  esac
}

# Set BOOT_TREE to the source tree that holds installer/lib.sh (and, to install, pyproject.toml).
_boot_tree() {
  local here=$1 source=$2 version=$3 needs_package=$4 prefix=$5 url tmp
  if [[ -n $source ]]; then
    if [[ -d $source ]]; then
      [[ -f $source/installer/lib.sh ]] || _boot_die "$source has no installer/lib.sh"
      BOOT_TREE=$(cd "$source" && pwd)
    elif [[ -f $source ]]; then
      tmp=$(mktemp -d "${TMPDIR:-/tmp}/invest-src.XXXXXX")
      INVEST_CLEANUP+=("$tmp")
      _boot_untar "$source" "$tmp/src"
    else
      _boot_fetch "$source" "$version"
    fi
    return 0
  fi
  # A checkout installs itself unless a release was asked for.
  if [[ -n $here && -f $here/installer/lib.sh ]] && { [[ -f $here/pyproject.toml && -z $version ]] || ((!needs_package)); }; then
    BOOT_TREE=$here
    return 0
  fi
  # Uninstall and rollback work from the copy that the last install left behind.
  if ((!needs_package)) && [[ -f $prefix/opt/invest/installer/installer/lib.sh ]]; then
    BOOT_TREE=$prefix/opt/invest/installer
    return 0
  fi
  if [[ -n $version ]]; then
    url="$INVEST_REPO/archive/refs/tags/$version.tar.gz"
  else
    url="$INVEST_REPO/archive/refs/heads/main.tar.gz"
  fi
  _boot_fetch "$url" ""
}

# With a person at a terminal, an install goes on to the guided first run (`invest setup`).
_boot_setup() {
  local invest=${INV_ROOT:-}/current/bin/invest
  if [[ ${INV_ACTION:-} != install ]] || ! inv_interactive || [[ ! -x $invest ]]; then
    return 0
  fi
  inv_say "guided setup: invest setup (Ctrl-C skips it; run it again any time)"
  if ! INVEST_HOME=$INV_HOME INVEST_SECRETS=$INV_SECRETS "$invest" setup --config "$INV_CONFIG" </dev/tty; then
    inv_warn "invest setup did not finish; run it again: invest setup --config $INV_CONFIG"
  fi
  return 0
}

_boot_main() {
  local here="" src_opt version prefix needs_package=1
  trap _boot_cleanup EXIT
  if [[ -n ${BASH_SOURCE[0]:-} && -f ${BASH_SOURCE[0]} ]]; then
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  fi
  src_opt=$(_boot_option --source "$@") || src_opt=""
  version=$(_boot_option --version "$@") || version=""
  prefix=$(_boot_option --prefix "$@") || prefix=""
  if _boot_flag --help "$@" || _boot_flag -h "$@" || _boot_flag --uninstall "$@" || _boot_flag --rollback "$@"; then
    needs_package=0
  fi
  _boot_tree "$here" "$src_opt" "$version" "$needs_package" "${prefix%/}"
  # shellcheck source=installer/lib.sh
  source "$BOOT_TREE/installer/lib.sh"
  invest_main "$BOOT_TREE" "$@"
  _boot_setup
}

# INVEST_BOOT_SOURCED=1 loads the functions without running (the installer's tests).
[[ -n ${INVEST_BOOT_SOURCED:-} ]] || _boot_main "$@"
