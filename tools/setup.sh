#!/usr/bin/env bash
# Install what is missing: the Rasa environment (.venv-rasa) and the project's (.venv), each
# from its committed lock. Skipped when the lock has not changed since the last install.
# With --test, also the system tools the tests need (docker-compose, Chromium, PostgreSQL,
# Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

ensure_venv() {
  local dir=$1 lock=$2; shift 2
  local stamp="$dir/.installed" want
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return 0; fi
  echo "installing $dir from $lock ..." >&2
  [[ -x $dir/bin/python ]] || "$PYTHON" -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check --upgrade pip >&2
  "$dir/bin/pip" install -q --disable-pip-version-check --no-deps "$@" -r "$lock" >&2
  echo "$want" >"$stamp"
}

install_apt() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing system packages (install them as root): $*" >&2
    return 1
  fi
  echo "installing system packages: $* ..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_venv .venv-rasa requirements/rasa.lock --ignore-requires-python
ensure_venv .venv requirements/project.lock
if [[ ${1:-} == --test ]]; then
  command -v docker-compose >/dev/null 2>&1 || install_apt docker-compose
  command -v chromium >/dev/null 2>&1 || install_apt chromium
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || install_apt postgresql
  command -v redis-server >/dev/null 2>&1 || install_apt redis-server
fi
