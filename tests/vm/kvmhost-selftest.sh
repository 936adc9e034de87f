#!/bin/bash
# vm suite: tests/kvmhost/run keeps its promises: exit status passes through,
# stdout and stderr are streamed separately, the CPU has svm and /dev/kvm is a
# working KVM, --with paths come back read-write, /tmp takes O_DIRECT, the
# build's executables are on PATH, and a hanging command is killed at the
# timeout with a message naming it, leaving no process behind.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
run=$repo/tests/kvmhost/run
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing (scripts/deps.sh)"; exit 77; }
n=0 failed=0
check() { n=$((n + 1)); if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=$((failed + 1)); fi; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/out err=$work/err share=$work/share
mkdir -p "$share"
"$run" --timeout 300 --with "$share" -- bash -c '
	echo to-stdout
	echo to-stderr >&2
	grep -qw svm /proc/cpuinfo && echo cpu-has-svm
	test -c /dev/kvm && echo has-dev-kvm
	grep -q "^kvm_amd " /proc/modules && echo kvm-amd-loaded
	dd if=/dev/zero of=/tmp/direct bs=4096 count=16 oflag=direct status=none && echo odirect-ok
	echo written-inside >"$0/result"
	echo "$KVMHOST" >"$0/mode"
	case ":$PATH:" in *":$KVIRT_BUILD_DIR/vmm:"*|*":$KVIRT_BUILD_DIR/"*) echo build-on-path ;; esac
	exit 3' "$share" >"$out" 2>"$err"
rc=$?
check "exit status 3 passes through (got $rc)" '[ $rc = 3 ]'
check "stdout streamed" 'grep -qx to-stdout "$out" && ! grep -q to-stderr "$out"'
check "stderr streamed separately" 'grep -qx to-stderr "$err"'
check "svm visible inside" 'grep -qx cpu-has-svm "$out"'
check "/dev/kvm present, kvm_amd loaded" 'grep -qx has-dev-kvm "$out" && grep -qx kvm-amd-loaded "$out"'
check "/tmp accepts O_DIRECT" 'grep -qx odirect-ok "$out"'
check "--with path written inside is visible outside" 'grep -qx written-inside "$share/result"'
check "KVMHOST says how it ran" 'grep -qxE "nested|direct" "$share/mode"'
check "build executables on PATH" 'grep -qx build-on-path "$out" || [ ! -d "${KVIRT_BUILD_DIR:-$repo/build}/vmm" ]'

t0=$(date +%s)
"$run" --timeout 15 --console "$work/timeout-console.log" -- sleep 1000 >"$out" 2>"$err"
rc=$?
t1=$(date +%s)
check "hanging command killed at the timeout with exit 124 (got $rc)" '[ $rc = 124 ]'
check "timeout message names the timeout" 'grep -q "did not finish within 15 s" "$err"'
check "killed promptly ($((t1 - t0)) s)" '[ $((t1 - t0)) -lt 60 ]'
# Other kvmhost runs may be going on: look for this run's QEMU by its console path.
check "no QEMU left behind" '! pgrep -f "$work/timeout-console.log" >/dev/null'

"$run" -- >"$out" 2>"$err"
rc=$?
check "missing command is a usage error (125)" '[ $rc = 125 ] && grep -q "no command given" "$err"'
"$run" --with /nonexistent/kvirt -- true >"$out" 2>"$err"
rc=$?
check "--with a missing path fails loudly" '[ $rc = 125 ] && grep -q "/nonexistent/kvirt" "$err"'
echo "1..$n"
[ $failed = 0 ]
