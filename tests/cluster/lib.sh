# Shared helpers for the cluster-suite tests (sourced, not executed).
# TAP output for meson (`protocol: 'tap'`), and one private control plane per
# test script: its own run directory and free ports, stopped on exit.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cluster=$repo/tests/cluster
tap_n=0
tap_failed=0

ok() { # ok COND-EXIT-STATUS DESCRIPTION
	tap_n=$((tap_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $tap_n - $2"
	else
		tap_failed=$((tap_failed + 1))
		echo "not ok $tap_n - $2"
	fi
}

# check DESCRIPTION CMD...: CMD must succeed.
check() {
	local d=$1
	shift
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	ok "$rc" "$d"
	[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
	return 0
}

# check_output DESCRIPTION REGEX CMD...: CMD's combined output matches REGEX
# (extended).  The exit status is ignored: used for expected failures too.
check_output() {
	local d=$1 re=$2
	shift 2
	local out
	out=$("$@" 2>&1) || true
	# A here-string, not a pipe: with pipefail, grep -q exiting early gets
	# printf killed by SIGPIPE and a match reads as a failure.
	if grep -Eq -- "$re" <<<"$out"; then
		ok 0 "$d"
	else
		ok 1 "$d"
		echo "# expected /$re/ in:"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

# check_fails DESCRIPTION REGEX CMD...: CMD fails and its output matches REGEX.
check_fails() {
	local d=$1 re=$2
	shift 2
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" != 0 ] && grep -Eq -- "$re" <<<"$out"; then
		ok 0 "$d"
	else
		ok 1 "$d"
		echo "# expected failure matching /$re/, got exit $rc:"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

# wait_until SECONDS CMD...: poll CMD (every 0.5 s) until it succeeds.
wait_until() {
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.5
	done
}

tap_done() {
	echo "1..$tap_n"
	[ "$tap_failed" = 0 ]
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 77
}

require_tools() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (CI runs the cluster suite as root)"
	for t in etcd openssl curl kubectl ss; do
		command -v "$t" >/dev/null || skip_all "missing $t (run scripts/deps.sh)"
	done
	if [ ! -x /usr/local/go/bin/go ] && ! command -v go >/dev/null; then
		skip_all "no Go toolchain to build the Kubernetes binaries"
	fi
}

# Start a private control plane; exports KUBECONFIG and KVIRT_CLUSTER_DIR and
# stops it when the script exits.
start_cluster() {
	# Developer shortcut: run against an already running cluster (not in CI).
	if [ -n "${KVIRT_TEST_KUBECONFIG:-}" ]; then
		export KUBECONFIG=$KVIRT_TEST_KUBECONFIG
		return 0
	fi
	KVIRT_CLUSTER_DIR=$(mktemp -d /run/kvirt-test-cluster.XXXXXX)
	export KVIRT_CLUSTER_DIR
	# A random free port rather than 6443: test runs from several worktrees
	# may overlap on one machine.
	export KVIRT_APISERVER_PORT=auto
	trap stop_cluster EXIT
	local out
	if ! out=$("$cluster/up" 2>"$KVIRT_CLUSTER_DIR.up.log"); then
		echo "# tests/cluster/up failed:"
		sed 's/^/#   /' "$KVIRT_CLUSTER_DIR.up.log"
		echo "1..0 # cluster did not start"
		exit 1
	fi
	sed 's/^/# /' "$KVIRT_CLUSTER_DIR.up.log"
	export "${out##*$'\n'}"
}

stop_cluster() {
	local rc=$?
	if [ -n "${KVIRT_CLUSTER_DIR:-}" ] && [ -d "$KVIRT_CLUSTER_DIR" ]; then
		"$cluster/down" 2>&1 | sed 's/^/# /'
	fi
	rm -f "${KVIRT_CLUSTER_DIR:-/nonexistent}.up.log"
	exit "$rc"
}
