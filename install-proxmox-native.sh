#!/usr/bin/env bash
# Create an unprivileged Debian 12 LXC container on a Proxmox VE host and install the
# Invest appliance in it with install.sh.
#
#   ./install-proxmox-native.sh                   # defaults: 1 core, 512 MB, 4 GB, vmbr0
#   ./install-proxmox-native.sh --dry-run         # print every pct/pveam command, run none
#   ./install-proxmox-native.sh --ctid 150 --memory 1024 --disk 8 --bridge vmbr1
#
# Idempotent: a container with the same hostname is reused (no second create), a template
# already in storage is not downloaded again, and install.sh upgrades an existing install.
# Run `install-proxmox-native.sh --help` for every option.
set -euo pipefail

INVEST_INSTALL_URL="${INVEST_INSTALL_URL:-https://raw.githubusercontent.com/invest-appliance/invest-appliance/main/install.sh}"

PX_USAGE="Usage: install-proxmox-native.sh [options]

Container:
  --ctid ID              container id (default: pvesh get /cluster/nextid)
  --hostname NAME        hostname, also how an existing container is found (default: invest)
  --cores N              CPU cores (default: 1)
  --memory MB            memory (default: 512)
  --swap MB              swap (default: 512)
  --disk GB              root disk size (default: 4)
  --storage NAME         storage for the root disk (default: local-lvm)
  --template-storage S   storage for templates (default: local)
  --template NAME        template file name (default: newest Debian 12 from pveam)
  --bridge NAME          network bridge (default: vmbr0 if present, else the first vmbr*)
  --ip CIDR|dhcp         IPv4 address (default: dhcp); --gateway IP with a static address
  --arch amd64|arm64     container architecture (default: this host's)
  --ssh-public-keys FILE authorized keys for root in the container
Install:
  --source PATH|URL      what install.sh installs (a local checkout is packed and pushed)
  --version TAG          the release to install
  --secrets-file FILE    KEY=VALUE settings pushed (mode 0600) for install.sh, then removed
  --non-interactive      no prompts inside the container
  --install-arg ARG      one more argument for install.sh (repeatable)
Other:
  --dry-run              print every pct, pveam and pvesh command that would run
  -h, --help             this help"

px_say() { printf '==> %s\n' "$*"; }
px_note() { printf '    %s\n' "$*"; }
px_die() {
  printf 'install-proxmox-native.sh: error: %s\n' "$*" >&2
  exit 1
}

# Run a command that changes something, or print it with --dry-run.
px_run() {
  if ((DRY_RUN)); then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    return 0
  fi
  "$@"
}

# Run a read-only query (also in a dry run; it is shown on stderr then). Fails when the
# tool is absent, so that a dry run works on any machine with the defaults.
px_query() {
  if ((DRY_RUN)); then
    {
      printf '+'
      printf ' %q' "$@"
      printf '\n'
    } >&2
  fi
  command -v "$1" >/dev/null 2>&1 || return 1
  "$@" 2>/dev/null
}

px_defaults() {
  DRY_RUN=0
  CTID=""
  CT_HOSTNAME=invest
  CORES=1
  MEMORY=512
  SWAP=512
  DISK=4
  STORAGE=local-lvm
  TEMPLATE_STORAGE=local
  TEMPLATE=""
  BRIDGE=""
  IP=dhcp
  GATEWAY=""
  ARCH=""
  SSH_KEYS=""
  SOURCE=""
  VERSION=""
  SECRETS_FILE=""
  NONINTERACTIVE=0
  INSTALL_ARGS=()
  TMP_FILES=()
}

px_cleanup() {
  local path
  for path in "${TMP_FILES[@]}"; do
    rm -f -- "$path"
  done
}

px_set_option() {
  case $1 in
    --ctid) CTID=$2 ;;
    --hostname) CT_HOSTNAME=$2 ;;
    --cores) CORES=$2 ;;
    --memory) MEMORY=$2 ;;
    --swap) SWAP=$2 ;;
    --disk) DISK=$2 ;;
    --storage) STORAGE=$2 ;;
    --template-storage) TEMPLATE_STORAGE=$2 ;;
    --template) TEMPLATE=$2 ;;
    --bridge) BRIDGE=$2 ;;
    --ip) IP=$2 ;;
    --gateway) GATEWAY=$2 ;;
    --arch) ARCH=$2 ;;
    --ssh-public-keys) SSH_KEYS=$2 ;;
    --source) SOURCE=$2 ;;
    --version) VERSION=$2 ;;
    --secrets-file) SECRETS_FILE=$2 ;;
    --install-arg) INSTALL_ARGS+=("$2") ;;
  esac
}

px_parse_args() {
  local opt
  while (($#)); do
    opt=$1
    if [[ $opt == --*=* ]]; then
      set -- "${opt%%=*}" "${opt#*=}" "${@:2}"
      opt=$1
    fi
    case $opt in
      --dry-run) DRY_RUN=1 ;;
      --non-interactive) NONINTERACTIVE=1 ;;
      -h | --help)
        printf '%s\n' "$PX_USAGE"
        exit 0
        ;;
      --ctid | --hostname | --cores | --memory | --swap | --disk | --storage | --template-storage | \
        --template | --bridge | --ip | --gateway | --arch | --ssh-public-keys | --source | --version | \
        --secrets-file | --install-arg)
        [[ $# -ge 2 && -n $2 ]] || px_die "$opt needs a value (see --help)"
        px_set_option "$opt" "$2"
        shift
        ;;
      *) px_die "unknown option: $opt (see --help)" ;;
    esac
    shift
  done
  local number
  for number in "$CORES" "$MEMORY" "$SWAP" "$DISK" ${CTID:+"$CTID"}; do
    [[ $number =~ ^[0-9]+$ ]] || px_die "not a whole number: $number"
  done
  [[ -z $ARCH || $ARCH == amd64 || $ARCH == arm64 ]] || px_die "--arch must be amd64 or arm64"
}

px_detect_arch() {
  local machine
  if [[ -z $ARCH ]]; then
    machine=$(dpkg --print-architecture 2>/dev/null || uname -m)
    case $machine in
      x86_64 | amd64) ARCH=amd64 ;;
      aarch64 | arm64) ARCH=arm64 ;;
      *) px_die "unsupported host architecture $machine (use --arch amd64|arm64)" ;;
    esac
  fi
  px_note "architecture: $ARCH"
}

px_detect_bridge() {
  local bridges
  if [[ -n $BRIDGE ]]; then
    px_note "bridge: $BRIDGE"
    return 0
  fi
  mapfile -t bridges < <(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^vmbr' || true)
  BRIDGE=vmbr0
  if ((${#bridges[@]})) && ! printf '%s\n' "${bridges[@]}" | grep -qx vmbr0; then
    BRIDGE=${bridges[0]}
  fi
  px_note "bridge: $BRIDGE${bridges[*]:+ (found: ${bridges[*]})}"
}

# Set EXISTING_CTID when a container with our hostname exists.
px_find_existing() {
  local listing
  EXISTING_CTID=""
  listing=$(px_query pct list) || return 0
  EXISTING_CTID=$(printf '%s\n' "$listing" | awk -v name="$CT_HOSTNAME" 'NR > 1 && $NF == name {print $1; exit}')
}

px_detect_ctid() {
  if [[ -n $EXISTING_CTID ]]; then
    CTID=$EXISTING_CTID
  elif [[ -z $CTID ]]; then
    CTID=$(px_query pvesh get /cluster/nextid | tail -n 1) || CTID=""
    if [[ ! $CTID =~ ^[0-9]+$ ]]; then
      ((DRY_RUN)) || px_die "cannot get a free container id from pvesh (use --ctid)"
      CTID=100
      px_note "pvesh not found: assuming container id $CTID"
    fi
  fi
  px_note "container id: $CTID"
}

# The newest Debian 12 template name for $ARCH in the text on stdin.
px_pick_template() {
  local alts=$ARCH
  [[ $ARCH == arm64 ]] && alts='(arm64|aarch64)'
  grep -Eo "debian-12[^[:space:]/]*${alts}[^[:space:]/]*\.tar\.(zst|xz|gz)" | sort -V | tail -n 1
}

px_ensure_template() {
  local stored available
  if [[ -z $TEMPLATE ]]; then
    stored=$(px_query pveam list "$TEMPLATE_STORAGE" | px_pick_template) || stored=""
    if [[ -n $stored ]]; then
      TEMPLATE=$stored
      px_note "template $TEMPLATE is in $TEMPLATE_STORAGE already"
      return 0
    fi
    px_run pveam update
    available=$(px_query pveam available --section system | px_pick_template) || available=""
    if [[ -z $available ]]; then
      ((DRY_RUN)) || px_die "no Debian 12 $ARCH template in \`pveam available\` (arm64 ports ship their own index; or pass --template NAME)"
      available=debian-12-standard_12.7-1_${ARCH}.tar.zst
      px_note "pveam not found: assuming template $available"
    fi
    TEMPLATE=$available
  elif px_query pveam list "$TEMPLATE_STORAGE" | grep -qF "$TEMPLATE"; then
    px_note "template $TEMPLATE is in $TEMPLATE_STORAGE already"
    return 0
  fi
  px_run pveam download "$TEMPLATE_STORAGE" "$TEMPLATE"
}

px_create() {
  local net="name=eth0,bridge=$BRIDGE,ip=$IP,firewall=1" extra=()
  if [[ -n $EXISTING_CTID ]]; then
    px_say "container $CT_HOSTNAME exists already (id $EXISTING_CTID): skipping create"
    return 0
  fi
  [[ -n $GATEWAY ]] && net="$net,gw=$GATEWAY"
  [[ -n $SSH_KEYS ]] && extra+=(--ssh-public-keys "$SSH_KEYS")
  px_say "creating container $CTID ($CT_HOSTNAME)"
  px_run pct create "$CTID" "$TEMPLATE_STORAGE:vztmpl/$TEMPLATE" \
    --hostname "$CT_HOSTNAME" --arch "$ARCH" --ostype debian \
    --unprivileged 1 --features nesting=1 \
    --cores "$CORES" --memory "$MEMORY" --swap "$SWAP" \
    --rootfs "$STORAGE:$DISK" --net0 "$net" \
    --onboot 1 --description "Invest appliance" "${extra[@]}"
}

px_start() {
  local state
  state=$(px_query pct status "$CTID") || state=""
  if [[ $state == *running* ]]; then
    px_note "container $CTID is running already"
  else
    px_run pct start "$CTID"
  fi
  px_say "waiting for the container's network"
  # shellcheck disable=SC2016  # expanded by the container's shell, not here
  px_run pct exec "$CTID" -- sh -c 'i=0; until getent hosts deb.debian.org >/dev/null; do i=$((i+1)); [ "$i" -ge 60 ] && exit 1; sleep 2; done'
  px_run pct exec "$CTID" -- sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl ca-certificates'
}

px_is_checkout() { [[ -f $1/installer/lib.sh && -f $1/pyproject.toml && -f $1/install.sh ]]; }

# Put install.sh (and the source, settings) into the container; fill ARGS for install.sh.
px_push_installer() {
  local here=$1 tarball
  if [[ -n $here && -f $here/install.sh ]]; then
    px_run pct push "$CTID" "$here/install.sh" /root/invest-install.sh
  else
    px_run pct exec "$CTID" -- curl -fsSL -o /root/invest-install.sh "$INVEST_INSTALL_URL"
  fi
  local tree=""
  if [[ -n $SOURCE && -d $SOURCE ]]; then
    tree=$SOURCE
  elif [[ -z $SOURCE && -z $VERSION && -n $here ]] && px_is_checkout "$here"; then
    tree=$here
  fi
  if [[ -n $tree ]]; then
    tarball=$(mktemp "${TMPDIR:-/tmp}/invest-src.XXXXXX")
    TMP_FILES+=("$tarball")
    px_run tar -czf "$tarball" --exclude=.git --exclude=.venv --exclude=build --exclude='*.egg-info' \
      --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache -C "$tree" .
    px_run pct push "$CTID" "$tarball" /root/invest-src.tar.gz
    ARGS+=(--source /root/invest-src.tar.gz)
  elif [[ -n $SOURCE ]]; then
    ARGS+=(--source "$SOURCE")
  fi
  [[ -n $VERSION ]] && ARGS+=(--version "$VERSION")
  if [[ -n $SECRETS_FILE ]]; then
    [[ -r $SECRETS_FILE ]] || px_die "cannot read $SECRETS_FILE"
    px_run pct push "$CTID" "$SECRETS_FILE" /root/invest-secrets.env --perms 0600
    ARGS+=(--secrets-file /root/invest-secrets.env)
  fi
  return 0
}

px_main() {
  local here=""
  px_defaults
  px_parse_args "$@"
  trap px_cleanup EXIT
  if [[ -n ${BASH_SOURCE[0]:-} && -f ${BASH_SOURCE[0]} ]]; then
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  fi
  if ((DRY_RUN)); then
    px_say "dry run: commands that change something are printed, not run"
  else
    [[ $EUID -eq 0 ]] || px_die "run as root on the Proxmox VE host"
    command -v pct >/dev/null || px_die "pct not found: run this on a Proxmox VE host (or use --dry-run)"
  fi
  px_detect_arch
  px_detect_bridge
  px_find_existing
  px_detect_ctid
  [[ -n $EXISTING_CTID ]] || px_ensure_template
  px_create
  px_start
  ARGS=()
  if ((NONINTERACTIVE)) || [[ ! -t 0 ]]; then
    ARGS+=(--non-interactive)
  fi
  px_push_installer "$here"
  ARGS+=("${INSTALL_ARGS[@]}")
  px_say "running install.sh in container $CTID"
  px_run pct exec "$CTID" -- bash /root/invest-install.sh "${ARGS[@]}"
  px_run pct exec "$CTID" -- rm -f /root/invest-secrets.env /root/invest-src.tar.gz
  px_say "done. Next: pct enter $CTID, then run \`invest doctor\` (settings: /etc/invest/secrets.env)"
}

px_main "$@"
