# shellcheck shell=bash
# Shared setup of the vm-suite scripts that run kvirt-vmm cases inside
# tests/kvmhost: checks, TAP helpers and the common kernel command line.
# Usage: . vmm-cases.sh [CASE[,CASE...]] — only those cases run when given.
. "$(dirname "${BASH_SOURCE[0]}")/vmrun.sh"
: "${KVIRT_GUEST_KERNEL:?}" "${KVIRT_GUEST_INITRD:?}"
vmm=$(command -v kvirt-vmm) || { echo "1..0 # SKIP kvirt-vmm not built"; exit 77; }
[ -c /dev/kvm ] || { echo "Bail out! no /dev/kvm inside kvmhost"; exit 1; }
only=${1:-}
n=0 failed=0
base="console=ttyS0 quiet panic=-1"
logdir=${KVMHOST_RESULTS:-/tmp}

ok() { n=$((n + 1)); echo "ok $n - $1"; }
# not_ok WHAT WHY [LOG]: a failed case, with the end of its console log.
not_ok() {
	n=$((n + 1)) failed=$((failed + 1))
	echo "not ok $n - $1"
	echo "# $2"
	[ -f "${3:-}" ] && tail -n 30 "$3" | sed 's/^/#   /'
}
want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
