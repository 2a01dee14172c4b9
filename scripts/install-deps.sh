#!/bin/sh
# Installs every Debian package nncc needs to build, test and run its demo.
# A no-op (no apt call at all) when everything is already present.
set -eu

PKGS="build-essential cmake pkg-config
llvm-19-dev
libprotobuf-c-dev protobuf-c-compiler
libopenblas-dev
libcmocka-dev
zlib1g-dev
python3 python3-numpy python3-onnx python3-torch python3-torchvision python3-matplotlib
dataset-fashion-mnist"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
