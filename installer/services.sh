# shellcheck shell=bash
# The Invest appliance installer: the Supervisor program or the systemd unit.
# Sourced by installer/lib.sh; nothing here runs on its own.

# ---------------------------------------------------------------------------- services

inv_supervisorctl() {
  if ((INV_NO_SYSTEM)); then
    inv_run supervisorctl -c "$INV_SUPERVISOR/supervisord.conf" "$@"
  else
    inv_run supervisorctl "$@"
  fi
}

inv_install_supervisor() {
  local upgrade=$1
  inv_say "installing the Supervisor program invest-engine"
  inv_mkdir 0755 root "$INV_SUPERVISOR" "$INV_SUPERVISOR/conf.d"
  inv_put_rendered "$INV_TREE/appliance/supervisor/invest-engine.conf" "$INV_SUPERVISOR/conf.d/invest.conf" 0644 root
  if ((INV_NO_SYSTEM)); then
    # A self-contained supervisord.conf, so the prefix can be run and tested on its own.
    inv_mkdir 0755 root "$INV_PREFIX/run"
    inv_put_rendered "$INV_TREE/appliance/supervisor/supervisord.conf" "$INV_SUPERVISOR/supervisord.conf" 0644 root
    inv_note "start it with: supervisord -c $INV_SUPERVISOR/supervisord.conf"
    return 0
  fi
  [[ -z $INV_PREFIX ]] || inv_warn "the system's supervisord does not read $INV_SUPERVISOR; use --no-system with --prefix"
  if inv_systemd_running; then
    inv_run systemctl enable --now supervisor
  else
    inv_run service supervisor start
  fi
  # The install is complete at this point: a service manager hiccup is a warning.
  inv_supervisorctl reread || inv_warn "supervisorctl reread failed: run \`supervisorctl update\` later"
  inv_supervisorctl update || inv_warn "supervisorctl update failed: run it later"
  if ((upgrade)); then
    inv_supervisorctl restart invest-engine || inv_warn "could not restart invest-engine: run \`invest restart\`"
  fi
}

inv_install_systemd() {
  local upgrade=$1
  inv_say "installing the systemd unit invest-engine.service"
  inv_mkdir 0755 root "$INV_SYSTEMD" "$INV_PREFIX/etc/logrotate.d"
  inv_put_rendered "$INV_TREE/appliance/systemd/invest-engine.service" "$INV_SYSTEMD/invest-engine.service" 0644 root
  inv_put_rendered "$INV_TREE/appliance/logrotate/invest" "$INV_PREFIX/etc/logrotate.d/invest" 0644 root
  ((INV_NO_SYSTEM)) && return 0
  inv_systemd_running || inv_die "--service systemd needs a running systemd"
  inv_run systemctl daemon-reload
  inv_run systemctl enable --now invest-engine.service || inv_warn "could not start invest-engine.service"
  if ((upgrade)); then
    inv_run systemctl restart invest-engine.service || inv_warn "could not restart invest-engine.service"
  fi
}

inv_restart_engine() {
  ((INV_NO_SYSTEM)) && return 0
  case $INV_SERVICE in
    supervisor) inv_supervisorctl restart invest-engine || inv_warn "supervisorctl restart failed" ;;
    systemd) inv_run systemctl restart invest-engine.service || inv_warn "systemctl restart failed" ;;
  esac
}

