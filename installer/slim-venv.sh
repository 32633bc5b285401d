#!/usr/bin/env bash
# Remove from an appliance venv what the appliance never runs:
# - pip and setuptools: every install or update builds a fresh venv (install.sh,
#   the Docker build), so nothing is ever pip-installed into a finished one;
# - the test suites numpy, pandas and matplotlib ship (about 72 MB, a fifth of the venv);
# - onnxruntime's C API library (libonnxruntime.so, about 29 MB): the wheel ships it for
#   C programs beside the Python binding, which is self-contained and never loads it.
#   It is removed only when the binding does not name it; the installer then proves
#   inference still works with `invest models verify default` (onnxruntime sessions).
# - fontTools' Cython leftovers (about 24 MB; fontTools comes with matplotlib, the
#   reports extra): the .c sources, never run, and each compiled accelerator whose
#   pure-Python twin (.py) sits beside it, which Python then imports instead.
#   matplotlib's SVG and PNG paths load none of them (fontTools.misc, agl only).
# An SD card on a Pi is small and slow; these were a quarter of the base install.
# install.sh runs this unless INVEST_SLIM=0; docker/Dockerfile runs it in its build stage.
#
#   installer/slim-venv.sh VENV
set -euo pipefail

venv=${1:?usage: slim-venv.sh VENV}
[[ -x $venv/bin/python ]] || {
  printf 'slim-venv.sh: error: %s is not a venv (no bin/python)\n' "$venv" >&2
  exit 1
}

shopt -s nullglob
suites=() clibs=() ft=()
for site in "$venv"/lib/python3*/site-packages; do
  suites+=("$site"/numpy/tests "$site"/numpy/*/tests "$site"/pandas/tests "$site"/matplotlib/tests)
  if [[ -d $site/fontTools ]]; then
    while IFS= read -r -d '' f; do
      case $f in
        *.c) ft+=("$f") ;;
        *.so) [[ -f ${f%%.cpython-*}.py ]] && ft+=("$f") ;;
      esac
    done < <(find "$site/fontTools" -type f \( -name '*.c' -o -name '*.so' \) -print0)
  fi
  for binding in "$site"/onnxruntime/capi/onnxruntime_pybind11_state*.so; do
    grep -q 'libonnxruntime\.so' "$binding" || clibs+=("$site"/onnxruntime/capi/libonnxruntime.so*)
  done
done
before=$(du -sm "$venv" | cut -f1)
# pip uninstalls itself last: it stays importable for the length of this call.
"$venv/bin/python" -m pip uninstall --yes --quiet setuptools pip
rm -rf -- "${suites[@]}" "${clibs[@]}" "${ft[@]}"
after=$(du -sm "$venv" | cut -f1)
printf '    slimmed %s: %s MB -> %s MB (pip, setuptools, %d test suites, %d unused C libraries, %d fontTools build leftovers removed)\n' \
  "$venv" "$before" "$after" "${#suites[@]}" "${#clibs[@]}" "${#ft[@]}"
