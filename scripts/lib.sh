# Shared by the scripts: say what is done, install Debian packages that are missing.
# shellcheck shell=bash

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# ensure_packages PKG...: installs those not yet installed, with apt-get (root, Debian).
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages present: $*"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: packages missing (${missing[*]}); run as root or install them: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  say "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    for d in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
      [ -x "$d/cargo" ] && export PATH="$d:$PATH"
    done
  fi
  command -v cargo >/dev/null 2>&1 || {
    echo "error: cargo not found; install the Rust toolchain (rustup) first" >&2
    exit 1
  }
}

# Packages the project's tests and lab use. Later parts of Weft add to this list.
PACKAGES=(iproute2 procps iputils-ping nftables containerd runc busybox-static frr bird2 gobgpd exabgp)
