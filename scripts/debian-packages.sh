# Sourced by scripts/start.sh and scripts/test.sh: ensure_debian_packages PACKAGE... installs the
# Debian packages that are missing (as root, or through sudo), and fails with a clear message when it
# cannot.
ensure_debian_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  printf '\n==> installing Debian packages: %s\n' "${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "$(basename "$0"): missing Debian packages ${missing[*]} and not root: install them first" >&2
      exit 1
    fi
  fi
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}
