#!/bin/bash
# Install every Debian package kvirt needs to build, test and run.
# Idempotent: when everything is present it only checks and exits (well under
# a second).  Says what it installs.  Must run as root (or through sudo).
set -euo pipefail

# libclang-rt-14-dev: the ASan/UBSan/libFuzzer runtimes for the sanitizer build and fuzzers.
build_pkgs=(gcc clang libclang-rt-14-dev clang-format meson ninja-build pkg-config liburing-dev libseccomp-dev
	libcap-ng-dev libjansson-dev libyaml-dev libcurl4-openssl-dev libmnl-dev zlib1g-dev)
# Test tools: QEMU for the nested KVM host and the reference runs, busybox for
# guest initramfs images, kmod to resolve kernel module dependencies,
# filesystem and ISO tools, network tools, fio for guest benchmarks, etcd for
# the test control plane, acpica-tools to disassemble our ACPI tables.
test_pkgs=(qemu-system-x86 qemu-utils busybox-static cpio kmod e2fsprogs dosfstools xorriso
	iproute2 nftables fio etcd-server acpica-tools procps psmisc util-linux curl ca-certificates
	openssl jq)

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
	# dpkg-query is fast and does not need the apt lists.
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#build_pkgs[@]} build and ${#test_pkgs[@]} test packages present"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run this script as root (sudo $0) to install them" >&2
	exit 1
fi

echo "deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
