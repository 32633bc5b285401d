# shellcheck shell=bash
# The Invest appliance installer: the versioned venv, config, wrappers and the kept installer.
# Sourced by installer/lib.sh; nothing here runs on its own.

# ---------------------------------------------------------------------------- install

# Print the version of the source tree: --version, else pyproject's [project] version.
inv_tree_version() {
  local line version=""
  if [[ -n $INV_VERSION ]]; then
    version=$INV_VERSION
  elif [[ -f $INV_TREE/pyproject.toml ]]; then
    while IFS= read -r line; do
      if [[ $line =~ ^version[[:space:]]*=[[:space:]]*\"([^\"]+)\" ]]; then
        version=${BASH_REMATCH[1]}
        break
      fi
    done <"$INV_TREE/pyproject.toml"
  fi
  version=${version//[^A-Za-z0-9._+-]/_}
  printf '%s' "${version:-unknown}"
}

inv_make_dirs() {
  inv_say "creating the layout under ${INV_PREFIX:-/}"
  inv_mkdir 0755 root "$INV_ROOT" "$INV_ROOT/venvs" "$INV_ROOT/bin" "$INV_BIN"
  inv_mkdir 0750 group "$INV_ETC"
  inv_mkdir 0750 user "$INV_HOME" "$INV_HOME/packs" "$INV_HOME/cache" "$INV_LOG"
}

# pip builds a local tree in place. Build from a clean copy instead, so that a checkout
# gets no root-owned build/ or *.egg-info, and a stale build/lib never leaks into the wheel.
# Sets INV_BUILD_TREE.
inv_stage_tree() {
  INV_BUILD_TREE=$INV_TREE
  ((INV_DRY_RUN)) && return 0
  INV_BUILD_TREE=$(mktemp -d "${TMPDIR:-/tmp}/invest-build.XXXXXX")
  INVEST_CLEANUP+=("$INV_BUILD_TREE")
  tar -C "$INV_TREE" -cf - --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache \
    --exclude=.pytest_cache . | tar -C "$INV_BUILD_TREE" -xf -
}

# Create the versioned venv, pip-install the tree into it and smoke-test it. Sets INV_VENV.
inv_build_venv() {
  local python version stamp name target pip_args=()
  [[ -f $INV_TREE/pyproject.toml ]] || inv_die "$INV_TREE has no pyproject.toml: nothing to install"
  python=$(inv_find_python) || inv_die "no Python >= 3.11 with the venv module (apt-get install python3-venv, or --python PATH)"
  version=$(inv_tree_version)
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  name=$version-$stamp
  while [[ -e $INV_ROOT/venvs/$name ]]; do name=$name.1; done
  INV_VENV=$INV_ROOT/venvs/$name
  INV_VENV_NAME=$name
  # INVEST_PIP_ARGS is split on spaces on purpose (e.g. "--cache-dir /var/cache/pip").
  read -r -a pip_args <<<"${INVEST_PIP_ARGS-"--no-cache-dir"}"
  inv_say "creating venv $INV_VENV with $python"
  inv_run "$python" -m venv "$INV_VENV"
  inv_stage_tree
  # [reports]: matplotlib, for the backtest tearsheet and the alert charts (README
  # "Reports"): about 100 MB, so INVEST_REPORTS=0 leaves it out on a small card.
  target="${INV_BUILD_TREE}[reports]"
  if [[ ${INVEST_REPORTS:-1} == 0 ]]; then
    target=$INV_BUILD_TREE
    inv_say "installing $INV_TREE into it (base install without charts, no torch)"
  else
    inv_say "installing $INV_TREE into it (base install and the reports extra, no torch)"
  fi
  inv_venv_step "pip install failed" \
    "$INV_VENV/bin/python" -m pip install --disable-pip-version-check "${pip_args[@]}" "$target"
  if [[ ${INVEST_SLIM:-1} != 0 ]]; then
    inv_venv_step "slimming the new venv failed (INVEST_SLIM=0 skips it)" \
      bash "$INV_LIB_DIR/slim-venv.sh" "$INV_VENV"
  fi
  inv_venv_step "the new venv does not run \`invest --version\`" "$INV_VENV/bin/invest" --version
  # The bundled model pack opened with onnxruntime: inference works in this venv.
  inv_venv_step "the new venv cannot open the bundled model pack" \
    "$INV_VENV/bin/invest" models verify default
  INV_PYTHON_USED=$python
}

# Run one step of building $INV_VENV; when it fails, remove the new venv and stop.
inv_venv_step() {
  local why=$1
  shift
  inv_run "$@" && return 0
  inv_run rm -rf "$INV_VENV"
  inv_die "$why; the current install is untouched"
}

# Make the new venv current and the old current previous; prune old venvs.
inv_switch_venv() {
  local old="" keep=${INVEST_KEEP_VENVS:-3} venvs dir base
  if [[ -L $INV_ROOT/current ]]; then
    old=$(readlink "$INV_ROOT/current")
  fi
  if [[ -n $old ]]; then
    inv_link "$INV_ROOT/previous" "$old"
  fi
  inv_link "$INV_ROOT/current" "venvs/$INV_VENV_NAME"
  inv_say "current -> venvs/$INV_VENV_NAME${old:+ (previous -> $old)}"
  ((INV_DRY_RUN)) && return 0
  # Newest first; keep current, previous and up to $keep in all.
  mapfile -t venvs < <(find "$INV_ROOT/venvs" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %f\n' | sort -rn | cut -d' ' -f2-)
  for dir in "${venvs[@]:$keep}"; do
    base=venvs/$dir
    [[ $base == "$old" || $base == "venvs/$INV_VENV_NAME" ]] && continue
    inv_note "removing old venv $dir"
    rm -rf -- "${INV_ROOT:?}/venvs/$dir"
  done
}

inv_write_config() {
  local example=$INV_TREE/runtime/examples/config.toml packaged
  if [[ -e $INV_CONFIG ]]; then
    inv_note "keeping $INV_CONFIG (never overwritten)"
    return 0
  fi
  if [[ ! -f $example ]]; then
    packaged=("$INV_VENV"/lib/python3*/site-packages/invest/runtime/examples/config.toml)
    example=${packaged[0]}
  fi
  [[ -n $example && -f $example ]] || inv_die "no example config in $INV_TREE/runtime/examples"
  inv_say "writing $INV_CONFIG from the example"
  inv_put 0640 group "$example" "$INV_CONFIG"
}

inv_write_wrappers() {
  inv_say "installing $INV_BIN/invest and $INV_ROOT/bin/invest-engine"
  inv_put_rendered "$INV_TREE/appliance/bin/invest" "$INV_BIN/invest" 0755 root
  inv_put_rendered "$INV_TREE/appliance/bin/invest-engine" "$INV_ROOT/bin/invest-engine" 0755 root
}

# Keep a copy of the installer so `invest update` and `--uninstall` work later.
inv_keep_installer() {
  local stage=$INV_ROOT/.installer.new
  inv_run rm -rf "$stage" "$INV_ROOT/.installer.old"
  inv_run mkdir -p "$stage/installer"
  inv_run cp "$INV_TREE/install.sh" "$stage/install.sh"
  inv_run cp "$INV_TREE"/installer/*.sh "$stage/installer/"
  inv_run cp -R "$INV_TREE/appliance" "$stage/appliance"
  if [[ -d $INV_ROOT/installer ]]; then
    inv_run mv -T "$INV_ROOT/installer" "$INV_ROOT/.installer.old"
  fi
  inv_run mv -T "$stage" "$INV_ROOT/installer"
  inv_run rm -rf "$INV_ROOT/.installer.old"
}

# Record how this install was made: read by `invest update` and `invest doctor`.
inv_write_state() {
  local source=$INV_SOURCE
  [[ -d $source ]] && source=$(cd "$source" && pwd)
  if ((INV_DRY_RUN)); then
    inv_note "would write $INV_ROOT/install.env"
    return 0
  fi
  {
    printf '%s\n' "# Written by install.sh; read by \`invest update\` and \`invest doctor\`."
    printf 'INVEST_INSTALL_PREFIX=%s\n' "$INV_PREFIX"
    printf 'INVEST_INSTALL_NO_SYSTEM=%s\n' "$INV_NO_SYSTEM"
    printf 'INVEST_INSTALL_SERVICE=%s\n' "$INV_SERVICE"
    printf 'INVEST_INSTALL_USER=%s\n' "$INV_USER"
    printf 'INVEST_INSTALL_SOURCE=%s\n' "$source"
    printf 'INVEST_INSTALL_REPO=%s\n' "${INVEST_REPO:-}"
    printf 'INVEST_INSTALL_VERSION=%s\n' "$(inv_tree_version)"
    printf 'INVEST_INSTALL_PYTHON=%s\n' "${INV_PYTHON_USED:-}"
    printf 'INVEST_INSTALL_ARCH=%s\n' "$INV_ARCH"
    printf 'INVEST_INSTALL_DATE=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$INV_ROOT/install.env"
}

