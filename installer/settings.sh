# shellcheck shell=bash
# The Invest appliance installer: settings from flags, the environment and --secrets-file; secrets.env.
# Sourced by installer/lib.sh; nothing here runs on its own.

# ---------------------------------------------------------------------------- settings

# True when a terminal can be prompted (also when the script itself arrives on a pipe).
inv_interactive() {
  ((!INV_NONINTERACTIVE && !INV_DRY_RUN)) || return 1
  [[ -z ${CI:-} ]] || return 1
  { : </dev/tty; } 2>/dev/null
}

# Merge KEY=VALUE lines of --secrets-file into the new settings.
inv_read_secrets_file() {
  local line key
  [[ -r $INV_SECRETS_FILE ]] || inv_die "cannot read --secrets-file $INV_SECRETS_FILE"
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == \#* ]] && continue
    line=${line#export }
    key=${line%%=*}
    [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    INV_NEW[$key]=${line#*=}
  done <"$INV_SECRETS_FILE"
}

# Collect settings from --secrets-file, the environment and flags. Nothing is asked here:
# on a terminal, install.sh goes on to `invest setup`, which asks for each key and tests it
# live (asking here too made a person type every key twice).
inv_collect_settings() {
  declare -gA INV_NEW=()
  [[ -n $INV_SECRETS_FILE ]] && inv_read_secrets_file
  local key
  for key in ALPACA_API_KEY ALPACA_SECRET_KEY TELEGRAM_BOT_TOKEN; do
    [[ -n ${!key:-} ]] && INV_NEW[$key]=${!key}
  done
  [[ -n $INV_CHAT_ID ]] && INV_NEW[TELEGRAM_CHAT_ID]=$INV_CHAT_ID
  [[ -n $INV_LLM_URL ]] && INV_NEW[INVEST_LLM_URL]=$INV_LLM_URL
  [[ -n ${INV_NEW[ALPACA_API_KEY]:-} ]] && INV_NEW[ALPACA_PAPER]=${INV_NEW[ALPACA_PAPER]:-true}
  for key in "${!INV_NEW[@]}"; do
    [[ ${INV_NEW[$key]} != *$'\n'* ]] || inv_die "the value of $key holds a newline"
  done
  return 0
}

# Probe the LLM server's model list: a warning, never a failure.
inv_probe_llm() {
  local url=${INV_NEW[INVEST_LLM_URL]:-} code
  [[ -n $url ]] || return 0
  url=${url%/}
  [[ $url == */v1 ]] || url=$url/v1
  if ((INV_DRY_RUN)); then
    inv_note "would probe $url/models"
    return 0
  fi
  code=$(curl -sS -o /dev/null -w '%{http_code}' --connect-timeout 3 --max-time 5 "$url/models" 2>/dev/null) || code=000
  if [[ $code == 200 ]]; then
    inv_note "LLM server answers at $url/models"
  else
    inv_warn "LLM server at $url/models did not answer 200 (got $code); the engine will follow the oracle's fail policy until it does"
  fi
}

# Write secrets.env: keep lines we have no new value for, replace the others. printf only.
inv_write_secrets() {
  local tmp line key count=${#INV_NEW[@]}
  if ((INV_DRY_RUN)); then
    inv_note "would write $INV_SECRETS (mode 0600; $count new value(s), not shown)"
    return 0
  fi
  if ((count == 0)) && [[ -f $INV_SECRETS ]]; then
    ((INV_NO_SYSTEM)) || chown "$INV_USER:$INV_USER" "$INV_SECRETS"
    chmod 0600 "$INV_SECRETS"
    inv_note "keeping $INV_SECRETS (no new values; mode 0600)"
    return 0
  fi
  tmp=$(umask 077 && mktemp "$INV_ETC/.secrets.env.XXXXXX")
  {
    if [[ -f $INV_SECRETS ]]; then
      while IFS= read -r line || [[ -n $line ]]; do
        key=${line%%=*}
        [[ $line == *=* && -n ${INV_NEW[$key]+set} ]] && continue
        printf '%s\n' "$line"
      done <"$INV_SECRETS"
    else
      printf '%s\n' "# Invest appliance secrets: KEY=VALUE lines, read by invest-engine at start." \
        "# Mode 0600, owned by the service user. Never commit or paste this file." \
        "# Keys: ${INV_SECRET_KEYS[*]}"
    fi
    for key in "${INV_SECRET_KEYS[@]}" "${!INV_NEW[@]}"; do
      [[ -n ${INV_NEW[$key]+set} ]] || continue
      printf '%s=%s\n' "$key" "${INV_NEW[$key]}"
      unset "INV_NEW[$key]"
    done
  } >"$tmp"
  if ((!INV_NO_SYSTEM)); then
    chown "$INV_USER:$INV_USER" "$tmp"
  fi
  chmod 0600 "$tmp"
  mv -f "$tmp" "$INV_SECRETS"
  inv_note "wrote $INV_SECRETS (mode 0600; $count new value(s))"
}

