#!/usr/bin/env bash
# Installs the ONNX models and the ONNX Runtime shared library into models/,
# from npm packages only, and verifies every file against models/SHA256SUMS.
# Safe to run again: it does nothing when every file is present and verified.
set -euo pipefail
cd "$(dirname "$0")/../models"

FACE_PKG="faceplugin-face-recognition-js@0.0.1"   # MIT; package/model/*.onnx
ORT_PKG="onnxruntime-node@1.30.0"                  # MIT; package/bin/napi-v6/linux/x64/libonnxruntime.so.1

if sha256sum --quiet --check SHA256SUMS >/dev/null 2>&1; then
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching models and ONNX Runtime from npm (no install scripts are run)..."
# npm pack downloads the tarball and checks it against the registry's integrity
# hash; no lifecycle script of either package runs.
(cd "$tmp" && npm pack --silent "$FACE_PKG" "$ORT_PKG" >/dev/null)
mkdir -p "$tmp/face" "$tmp/ort"
tar -xzf "$tmp"/faceplugin-face-recognition-js-*.tgz -C "$tmp/face" package/model
tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp/ort" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
while read -r _ name; do
  case "$name" in
    libonnxruntime.so.1) src="$tmp/ort/package/bin/napi-v6/linux/x64/$name" ;;
    *) src="$tmp/face/package/model/$name" ;;
  esac
  cp "$src" "$name.tmp" && mv "$name.tmp" "$name"
done < SHA256SUMS
sha256sum --check SHA256SUMS
