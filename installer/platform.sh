# shellcheck shell=bash
# The Invest appliance installer: OS and architecture checks, system packages, the user, Python.
# Sourced by installer/lib.sh; nothing here runs on its own.

# ---------------------------------------------------------------------------- platform

# Read KEY=VALUE pairs of os-release without executing it.
inv_os_release() {
  local file=${INVEST_OS_RELEASE:-/etc/os-release} key value
  OS_ID="" OS_VERSION_ID="" OS_PRETTY=""
  [[ -r $file ]] || return 0
  while IFS='=' read -r key value; do
    value=${value#\"}
    value=${value%\"}
    case $key in
      ID) OS_ID=$value ;;
      VERSION_ID) OS_VERSION_ID=$value ;;
      PRETTY_NAME) OS_PRETTY=$value ;;
    esac
  done <"$file"
}

# Print amd64 or arm64 for this machine, or its raw name when it is neither.
inv_arch() {
  local machine=${INVEST_ARCH:-}
  if [[ -z $machine ]]; then
    # dpkg tells the userland: a 32-bit Raspberry Pi OS on a 64-bit kernel says armhf.
    machine=$(dpkg --print-architecture 2>/dev/null || uname -m)
  fi
  case $machine in
    x86_64 | amd64) printf 'amd64' ;;
    aarch64 | arm64) printf 'arm64' ;;
    *) printf '%s' "$machine" ;;
  esac
}

# Succeed when the OS is one we support: Debian 12/13, Ubuntu >= 22.04, Raspberry Pi OS.
inv_os_supported() {
  local major minor
  case $OS_ID in
    debian | raspbian) [[ $OS_VERSION_ID == 12 || $OS_VERSION_ID == 13 ]] ;;
    ubuntu)
      major=${OS_VERSION_ID%%.*}
      minor=${OS_VERSION_ID#*.}
      [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
      ((major > 22 || (major == 22 && minor >= 4)))
      ;;
    *) return 1 ;;
  esac
}

inv_check_platform() {
  local arch problem=""
  inv_os_release
  arch=$(inv_arch)
  # shellcheck disable=SC2034  # recorded in install.env by venv.sh
  INV_ARCH=$arch
  if ! inv_os_supported; then
    problem="unsupported OS: ${OS_PRETTY:-${OS_ID:-unknown}} (supported: Debian 12/13, Ubuntu 22.04+, Raspberry Pi OS)"
  elif [[ $arch != amd64 && $arch != arm64 ]]; then
    problem="unsupported architecture: $arch (supported: amd64, arm64; a 32-bit OS has no onnxruntime wheels)"
  fi
  [[ -z $problem ]] && return 0
  if ((INV_FORCE)); then
    inv_warn "$problem; going on because of --force"
  elif ((INV_NO_SYSTEM)); then
    inv_warn "$problem; going on because --no-system touches nothing outside the prefix"
  else
    inv_die "$problem. Use --force to try anyway."
  fi
}

# ---------------------------------------------------------------------------- system

inv_systemd_running() { [[ -d /run/systemd/system ]]; }

inv_apt_packages() {
  local pkgs=(python3 python3-venv ca-certificates curl)
  [[ $INV_SERVICE == supervisor ]] && pkgs+=(supervisor)
  # Ubuntu 22.04 ships Python 3.10; the project needs 3.11 (in jammy's universe).
  [[ $OS_ID == ubuntu && ${OS_VERSION_ID%%.*} == 22 ]] && pkgs+=(python3.11 python3.11-venv)
  [[ $INV_SOURCE == git+* || $INV_SOURCE == *.git || $INV_SOURCE == git@* ]] && pkgs+=(git)
  printf '%s\n' "${pkgs[@]}"
}

inv_install_packages() {
  local pkgs
  mapfile -t pkgs < <(inv_apt_packages)
  inv_say "installing system packages: ${pkgs[*]}"
  command -v apt-get >/dev/null || ((INV_DRY_RUN)) || inv_die "apt-get not found: this installer needs a Debian-family OS"
  inv_run env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  inv_run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
}

inv_create_user() {
  if id "$INV_USER" >/dev/null 2>&1; then
    inv_note "system user $INV_USER exists already"
    return 0
  fi
  inv_say "creating system user $INV_USER"
  inv_run useradd --system --user-group --home-dir "$INV_HOME" --no-create-home \
    --shell /usr/sbin/nologin --comment "Invest appliance" "$INV_USER"
}

# Print the first Python >= 3.11 found, or nothing. A system install prefers the
# distribution's Python: one under a person's home (pyenv) is unreadable to the user invest.
inv_find_python() {
  local candidate candidates=(python3 python3.13 python3.12 python3.11)
  if ((!INV_NO_SYSTEM)); then
    candidates=(/usr/bin/python3 /usr/bin/python3.13 /usr/bin/python3.12 /usr/bin/python3.11 "${candidates[@]}")
  fi
  for candidate in ${INV_PYTHON:+"$INV_PYTHON"} "${candidates[@]}"; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

