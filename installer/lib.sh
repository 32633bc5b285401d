# shellcheck shell=bash
# The Invest appliance installer's logic. install.sh finds a source tree, sources this file
# from it and calls `invest_main TREE ARGS...`. Nothing here runs on its own.
#
# Conventions:
# - inv_run prints the command (with --dry-run) or runs it. Secrets never pass through it,
#   nor through any command line: they are written with the printf builtin only.
# - Every path derives from INV_PREFIX ("" for a system install), so `--prefix DIR`
#   relocates /opt, /etc, /var and /usr/local under DIR.

# shellcheck disable=SC2016  # the help text shows `$VARS` literally on purpose
INV_USAGE='Usage: install.sh [options]

Install or upgrade the Invest appliance (a new versioned venv each run; the previous
one is kept for `invest update --rollback`).

Source:
  --source PATH|URL     a local checkout, a .tar.gz, a git URL or a tarball URL
                        (default: this checkout, else the release tarball from $INVEST_REPO)
  --version TAG         the release to install (a git tag of $INVEST_REPO)
Layout:
  --prefix DIR          relocate /opt, /etc, /var and /usr/local under DIR
  --no-system           skip apt, the system user and the service manager (test installs)
  --service NAME        supervisor (default), systemd or none
  --python PATH         the Python (>= 3.11) that creates the venv
Settings (written to secrets.env; secrets come from the environment or --secrets-file only;
on a terminal the install ends with `invest setup`, which asks for them and tests each):
  --non-interactive     never ask (also when no terminal is present): no `invest setup`
  --secrets-file FILE   merge KEY=VALUE lines from FILE into secrets.env
  --llm-url URL         base URL of an OpenAI-compatible LLM server (probed at /v1/models)
  --telegram-chat-id ID the Telegram chat allowed to steer the engine
  environment: ALPACA_API_KEY ALPACA_SECRET_KEY TELEGRAM_BOT_TOKEN TELEGRAM_CHAT_ID INVEST_LLM_URL
Actions:
  --dry-run             print what would be done, change nothing
  --rollback            point `current` back at the previous venv
  --uninstall           remove the program; keep config, secrets, data and logs
  --purge               with --uninstall: delete config, secrets, data, logs and the user too
  --force               install on an unsupported OS or architecture
  -h, --help            this help
Environment: INVEST_REPO (release source), INVEST_PIP_ARGS (pip options, default
--no-cache-dir), INVEST_KEEP_VENVS (venvs kept, default 3), INVEST_SLIM=0 (keep pip,
setuptools and the numpy/pandas test suites in the venv; see installer/slim-venv.sh),
INVEST_REPORTS=0 (no charts: leave out the reports extra, matplotlib, about 100 MB).'

INV_SECRET_KEYS=(ALPACA_API_KEY ALPACA_SECRET_KEY ALPACA_PAPER TELEGRAM_BOT_TOKEN TELEGRAM_CHAT_ID INVEST_LLM_URL)

# ---------------------------------------------------------------------------- output

inv_say() { printf '==> %s\n' "$*"; }
inv_note() { printf '    %s\n' "$*"; }
inv_warn() { printf 'WARNING: %s\n' "$*" >&2; }
inv_die() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}

# Run a command, or print it with --dry-run. Never pass a secret to it.
inv_run() {
  if ((INV_DRY_RUN)); then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    return 0
  fi
  "$@" </dev/null
}

# ---------------------------------------------------------------------------- options

inv_defaults() {
  INV_TREE=""
  INV_ACTION=install
  INV_SOURCE=""
  INV_VERSION=""
  INV_PREFIX=""
  INV_NO_SYSTEM=0
  INV_SERVICE=supervisor
  INV_PYTHON=""
  INV_NONINTERACTIVE=0
  INV_SECRETS_FILE=""
  INV_LLM_URL=${INVEST_LLM_URL:-}
  INV_CHAT_ID=${TELEGRAM_CHAT_ID:-}
  INV_DRY_RUN=0
  INV_PURGE=0
  INV_FORCE=0
  INV_USER=invest
}

# Print the value of an option that takes one, or die.
inv_need_value() {
  [[ $# -ge 2 && -n $2 ]] || inv_die "$1 needs a value"
}

inv_parse_args() {
  local opt value
  while (($#)); do
    opt=$1
    value=""
    if [[ $opt == --*=* ]]; then
      value=${opt#*=}
      opt=${opt%%=*}
      set -- "$opt" "$value" "${@:2}"
    fi
    case $opt in
      --source | --version | --prefix | --service | --python | --secrets-file | --llm-url | --telegram-chat-id)
        inv_need_value "$@"
        value=$2
        shift
        ;;
    esac
    case $opt in
      --source) INV_SOURCE=$value ;;
      --version) INV_VERSION=$value ;;
      --prefix) INV_PREFIX=$value ;;
      --service) INV_SERVICE=$value ;;
      --python) INV_PYTHON=$value ;;
      --secrets-file) INV_SECRETS_FILE=$value ;;
      --llm-url) INV_LLM_URL=$value ;;
      --telegram-chat-id) INV_CHAT_ID=$value ;;
      --non-interactive) INV_NONINTERACTIVE=1 ;;
      --no-system) INV_NO_SYSTEM=1 ;;
      --dry-run) INV_DRY_RUN=1 ;;
      --rollback) INV_ACTION=rollback ;;
      --uninstall) INV_ACTION=uninstall ;;
      --purge) INV_PURGE=1 ;;
      --force) INV_FORCE=1 ;;
      -h | --help) INV_ACTION=help ;;
      *) inv_die "unknown option: $opt (see --help)" ;;
    esac
    shift
  done
  case $INV_SERVICE in
    supervisor | systemd | none) ;;
    *) inv_die "--service must be supervisor, systemd or none, not $INV_SERVICE" ;;
  esac
  ((!INV_PURGE)) || [[ $INV_ACTION == uninstall ]] || inv_die "--purge goes with --uninstall"
}

# Set every path from the prefix.
inv_layout() {
  if [[ -n $INV_PREFIX ]]; then
    if ((!INV_DRY_RUN)) && [[ $INV_ACTION == install ]]; then
      mkdir -p "$INV_PREFIX" || inv_die "cannot create $INV_PREFIX"
    fi
    INV_PREFIX=$(realpath -m "$INV_PREFIX")
    [[ $INV_PREFIX == / ]] && INV_PREFIX=""
  fi
  INV_ROOT=$INV_PREFIX/opt/invest
  INV_ETC=$INV_PREFIX/etc/invest
  INV_HOME=$INV_PREFIX/var/lib/invest
  INV_LOG=$INV_PREFIX/var/log/invest
  INV_BIN=$INV_PREFIX/usr/local/bin
  INV_SUPERVISOR=$INV_PREFIX/etc/supervisor
  INV_SYSTEMD=$INV_PREFIX/etc/systemd/system
  INV_CONFIG=$INV_ETC/config.toml
  INV_SECRETS=$INV_ETC/secrets.env
  if ((INV_NO_SYSTEM)); then
    INV_USER=$(id -un)
  fi
}

# The rest of the installer, beside this file.
INV_LIB_DIR=${BASH_SOURCE[0]%/*}
# shellcheck source=installer/platform.sh
source "$INV_LIB_DIR/platform.sh"
# shellcheck source=installer/files.sh
source "$INV_LIB_DIR/files.sh"
# shellcheck source=installer/settings.sh
source "$INV_LIB_DIR/settings.sh"
# shellcheck source=installer/venv.sh
source "$INV_LIB_DIR/venv.sh"
# shellcheck source=installer/services.sh
source "$INV_LIB_DIR/services.sh"

# ---------------------------------------------------------------------------- actions

inv_install() {
  local upgrade=0
  [[ -L $INV_ROOT/current ]] && upgrade=1
  if ((INV_DRY_RUN)); then
    inv_say "dry run: nothing below is carried out"
  fi
  if ((upgrade)); then
    inv_say "upgrading the install in $INV_ROOT (current: $(readlink "$INV_ROOT/current"))"
  else
    inv_say "installing the Invest appliance into ${INV_PREFIX:-/}"
  fi
  if ((!INV_NO_SYSTEM)); then
    [[ $EUID -eq 0 ]] || ((INV_DRY_RUN)) || inv_die "run as root (sudo), or use --no-system --prefix DIR"
    inv_install_packages
    inv_create_user
  fi
  inv_collect_settings
  inv_make_dirs
  inv_build_venv
  inv_switch_venv
  inv_write_config
  inv_write_secrets
  inv_probe_llm
  inv_write_wrappers
  inv_keep_installer
  inv_write_state
  case $INV_SERVICE in
    supervisor) inv_install_supervisor "$upgrade" ;;
    systemd) inv_install_systemd "$upgrade" ;;
    none) inv_note "no service manager configured (--service none)" ;;
  esac
  inv_say "done. Next: edit $INV_CONFIG, then run \`invest config check\` and \`invest doctor\`"
}

inv_rollback() {
  local current previous
  [[ -L $INV_ROOT/current && -L $INV_ROOT/previous ]] || inv_die "no previous venv in $INV_ROOT to roll back to"
  current=$(readlink "$INV_ROOT/current")
  previous=$(readlink "$INV_ROOT/previous")
  [[ -d $INV_ROOT/$previous ]] || inv_die "the previous venv $previous is gone"
  inv_say "rolling back: current -> $previous (previous -> $current)"
  inv_link "$INV_ROOT/current" "$previous"
  inv_link "$INV_ROOT/previous" "$current"
  inv_restart_engine
}

inv_uninstall() {
  inv_say "uninstalling from ${INV_PREFIX:-/}"
  if ((!INV_NO_SYSTEM)); then
    if [[ -f $INV_SUPERVISOR/conf.d/invest.conf ]] && command -v supervisorctl >/dev/null; then
      inv_supervisorctl stop invest-engine || true
    fi
    if [[ -f $INV_SYSTEMD/invest-engine.service ]] && inv_systemd_running; then
      inv_run systemctl disable --now invest-engine.service || true
    fi
  fi
  inv_run rm -f "$INV_SUPERVISOR/conf.d/invest.conf" "$INV_SYSTEMD/invest-engine.service" \
    "$INV_PREFIX/etc/logrotate.d/invest" "$INV_BIN/invest"
  ((INV_NO_SYSTEM)) && inv_run rm -f "$INV_SUPERVISOR/supervisord.conf"
  if ((!INV_NO_SYSTEM)) && command -v supervisorctl >/dev/null; then
    inv_supervisorctl update || true
  fi
  inv_run rm -rf "$INV_ROOT"
  if ((INV_PURGE)); then
    inv_say "purging config, secrets, data and logs"
    inv_run rm -rf "$INV_ETC" "$INV_HOME" "$INV_LOG"
    if ((!INV_NO_SYSTEM)) && id "$INV_USER" >/dev/null 2>&1; then
      inv_run userdel "$INV_USER"
    fi
  else
    inv_note "kept $INV_ETC, $INV_HOME and $INV_LOG (add --purge to delete them)"
  fi
}

# Entry point: invest_main TREE ARGS...
invest_main() {
  inv_defaults
  INV_TREE=$1
  shift
  inv_parse_args "$@"
  if [[ $INV_ACTION == help ]]; then
    printf '%s\n' "$INV_USAGE"
    return 0
  fi
  inv_layout
  inv_check_platform
  case $INV_ACTION in
    install) inv_install ;;
    rollback) inv_rollback ;;
    uninstall) inv_uninstall ;;
  esac
}
