# Shared helpers for the .ci scripts: install what is missing, from the registries the
# project may use (rustup targets, Debian packages, PyPI, crates.io), and nothing else.

APT_UPDATED=${APT_UPDATED:-}

# need_apt CMD PACKAGE...: install the Debian packages unless CMD is already there.
need_apt() {
  local cmd=$1
  shift
  if command -v "$cmd" >/dev/null 2>&1 || [ -x "$cmd" ]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $cmd is missing; install $* with your package manager" >&2
    return 1
  fi
  if [ -z "$APT_UPDATED" ]; then
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  echo "installing (apt): $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# need_target TRIPLE...: add rustup targets that are not installed yet.
need_target() {
  local t missing=()
  for t in "$@"; do
    rustup target list --installed | grep -qx "$t" || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing (rustup): ${missing[*]}"
    rustup target add "${missing[@]}" >/dev/null
  fi
}

# need_pip CMD PACKAGE==VERSION...: pip-install unless CMD already runs.
need_pip() {
  local cmd=$1
  shift
  if command -v "$cmd" >/dev/null 2>&1; then
    return 0
  fi
  echo "installing (pip): $*"
  python3 -m pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
  command -v "$cmd" >/dev/null 2>&1
}

# elapsed LABEL: print seconds since the script started (SECONDS) with a label.
elapsed() {
  echo "-- $1: ${SECONDS}s"
}
