#!/usr/bin/env bash
# Installs what libsampleattn needs on Debian 12, clang-format for `make lint` included (as root,
# or through sudo when run by a user; Swift is expected at /opt/swift).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
as_root=""
[ "$(id -u)" = 0 ] || as_root="sudo"
$as_root apt-get update -qq
$as_root apt-get install -y -qq libopenblas-dev libomp-dev cmake ninja-build pkg-config python3-venv make binutils g++ patch unzip clang-format > /dev/null
if ! command -v swift > /dev/null && [ ! -x /opt/swift/usr/bin/swift ]; then
    echo "Swift 6 is required (expected at /opt/swift)" >&2
    exit 1
fi
