# shellcheck shell=bash
# Shared by tests/guest/build and tests/kvmhost/run: fetch a Debian kernel
# package into the cache and resolve kernel-module dependency closures.
# Everything comes from Debian's archive through apt; nothing else is fetched.

kv_cache_root() {
	echo "${KVIRT_CACHE:-/var/cache/kvirt}"
}

kv_log() {
	echo "${KV_LOG_PREFIX:-kvirt}: $*" >&2
}

kv_fail() {
	kv_log "error: $*"
	exit "${KV_FAIL_CODE:-1}"
}

# The versioned image package a meta package (linux-image-cloud-amd64,
# linux-image-amd64) points at, e.g. linux-image-6.1.0-56-cloud-amd64.
kv_kernel_pkg() {
	local meta=$1 pkg
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	fi
	[ -n "$pkg" ] || return 1
	echo "$pkg"
}

# kv_kernel_fetch META -> prints the directory holding the extracted package
# (boot/vmlinuz-*, lib/modules/<ver>/ with modules.dep).  Cached by the exact
# package name and version; reused offline when apt cannot answer.
kv_kernel_fetch() {
	local meta=$1 cache pkg ver dir tmp
	cache=$(kv_cache_root)
	if ! pkg=$(kv_kernel_pkg "$meta"); then
		# Offline or no apt lists: fall back to the newest cached copy.
		dir=$(ls -d "$cache"/kernel-"$meta"-* 2>/dev/null | sort -V | tail -n1)
		[ -n "$dir" ] || kv_fail "cannot resolve $meta through apt and nothing is cached in $cache"
		echo "$dir"
		return 0
	fi
	ver=$(apt-cache policy "$pkg" | awk '/Candidate:/{print $2}')
	dir="$cache/kernel-$meta-$pkg-$ver"
	if [ -f "$dir/.complete" ]; then
		echo "$dir"
		return 0
	fi
	kv_cache_lock "$dir"
	if [ -f "$dir/.complete" ]; then
		echo "$dir"
		return 0
	fi
	tmp=$(mktemp -d "$cache/.kernel-XXXXXX")
	kv_log "fetching $pkg $ver (for $meta) into $dir"
	(cd "$tmp" && apt-get download -qq "$pkg=$ver" >/dev/null 2>&1) ||
		{ rm -rf "$tmp"; kv_fail "apt-get download $pkg=$ver failed"; }
	dpkg-deb -x "$tmp"/*.deb "$tmp/x" || { rm -rf "$tmp"; kv_fail "cannot unpack $pkg"; }
	local kver
	kver=$(ls "$tmp/x/lib/modules")
	# The package's postinst would run depmod; we never install it, so do it here.
	depmod -b "$tmp/x" "$kver" || { rm -rf "$tmp"; kv_fail "depmod failed for $kver"; }
	rm -rf "$dir"
	mv "$tmp/x" "$dir"
	rm -rf "$tmp"
	touch "$dir/.complete"
	echo "$dir"
}

# kv_kernel_version DIR -> the kernel release (directory name under lib/modules)
kv_kernel_version() {
	ls "$1/lib/modules"
}

kv_kernel_image() {
	ls "$1"/boot/vmlinuz-* | head -n1
}

# kv_modules_closure DIR MODULE... -> prints the .ko paths (relative to DIR)
# needed to load every named module, dependencies first, each once.  Modules
# that are built into the kernel print nothing; unknown ones are an error.
kv_modules_closure() {
	local dir=$1 kver m out
	shift
	kver=$(kv_kernel_version "$dir")
	for m in "$@"; do
		if ! out=$(modprobe -d "$dir" -S "$kver" --show-depends "$m" 2>&1); then
			kv_fail "kernel module $m: $out"
		fi
		printf '%s\n' "$out"
	done | awk -v root="$dir/" '$1 == "insmod" { p = $2; sub(root, "", p); if (!seen[p]++) print p }'
}

# kv_initramfs_add_modules DIR STAGE MODULE... : copy the closure into
# STAGE/lib/modules/<ver>/ and append the load order to STAGE/etc/modules.load
kv_initramfs_add_modules() {
	local dir=$1 stage=$2 p
	shift 2
	mkdir -p "$stage/etc"
	kv_modules_closure "$dir" "$@" >"$stage/etc/.closure" || exit 1
	while read -r p; do
		mkdir -p "$stage/$(dirname "$p")"
		cp "$dir/$p" "$stage/$p"
		grep -qxF "/$p" "$stage/etc/modules.load" 2>/dev/null || echo "/$p" >>"$stage/etc/modules.load"
	done <"$stage/etc/.closure"
	rm -f "$stage/etc/.closure"
}

# kv_cache_lock PATH : wait for and hold (until this shell exits) the lock
# on PATH.lock, so parallel runs (several checkouts, CI next to a developer)
# never build the same cache entry into the same temporary directory.  Call
# it, then check PATH/.complete again: another process may have finished it.
kv_cache_lock() {
	local fd
	mkdir -p "$(dirname "$1")"
	exec {fd}>"$1.lock"
	flock "$fd"
}

# kv_cpio_gz STAGE OUT : pack STAGE as a newc cpio (root-owned), gzip -1.
kv_cpio_gz() {
	local stage=$1 out=$2
	(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) |
		gzip -1 >"$out.tmp" && mv "$out.tmp" "$out"
}

# kv_hash FILE... : one sha256 over the names and contents of the inputs.
kv_hash() {
	local f
	for f in "$@"; do
		echo "== ${f##*/}"
		if [ -d "$f" ]; then
			(cd "$f" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
		else
			sha256sum <"$f"
		fi
	done | sha256sum | cut -c1-16
}
