#!/usr/bin/env bash
# Installs what the build and the tests need and is missing. Safe to run again.
#   system: Go toolchain check, gcc and libjpeg-turbo (cgo), Node.js + npm, Chromium (browser tests),
#           PostgreSQL's binaries (the store tests start a throwaway cluster: store/pgtest)
#   npm:    node_modules from package-lock.json (npm ci, no install scripts)
#   Go:     modules (go mod download)
#   models: ONNX models and ONNX Runtime library (scripts/fetch-models.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v sqlite3 >/dev/null || need+=(sqlite3)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null || need+=(postgresql)
[ -f /usr/include/jpeglib.h ] || need+=(libjpeg62-turbo-dev) # engine/jpeg.go (cgo)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "missing system packages: ${need[*]} (install them as root)" >&2
    exit 1
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "Go is required (https://go.dev/doc/install); /usr/local/go/bin must be on PATH" >&2; exit 1; }

# node_modules: reinstall when the lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.likeness-lock; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.likeness-lock
fi

go mod download
./scripts/fetch-models.sh
