#!/bin/sh
# Installs every Debian package nncc needs to build, test and run its demo.
# A no-op (no apt call at all) when everything is already present.
# NVRTC (libnvrtc11.2, the cuda target's compiler) is in Debian's non-free
# component: when it is missing, an apt sources entry for the same mirror
# with components `contrib non-free` is added first (once). OpenMPI is for
# data-parallel training (libnncc_dist, docs/distributed.md).
set -eu

PKGS="build-essential cmake pkg-config
llvm-19-dev
libprotobuf-c-dev protobuf-c-compiler
libopenblas-dev
libcmocka-dev
zlib1g-dev
openmpi-bin libopenmpi-dev
python3 python3-numpy python3-onnx python3-torch python3-torchvision python3-matplotlib
dataset-fashion-mnist
libnvrtc11.2"

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
case " $missing " in
*" libnvrtc11.2 "*)
	if ! grep -rqsE "^[^#]*non-free($|[^-])" /etc/apt/sources.list /etc/apt/sources.list.d/; then
		. /etc/os-release
		mirror=$( (sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null
			sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\).*/\2/p' /etc/apt/sources.list 2>/dev/null) |
			grep -v security | head -n 1)
		[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
		echo "install-deps: enabling Debian's contrib and non-free components (for libnvrtc11.2)"
		printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			"$mirror" "$VERSION_CODENAME" "$VERSION_CODENAME" | $SUDO tee /etc/apt/sources.list.d/nncc-non-free.sources >/dev/null
	fi
	;;
esac
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
