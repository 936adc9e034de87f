#!/bin/bash
# The upstream Kubernetes binaries build from the Go module proxy (or come
# from the cache) and a second build reuses the cache.  Runs first in the
# cluster suite, so the one-off build time is spent (and printed) here.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
require_tools

t0=$(date +%s)
out=$("$cluster/build" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
echo "# build step took $(($(date +%s) - t0))s"
ok "$rc" "tests/cluster/build succeeds"
bin=$(printf '%s\n' "$out" | sed -n 's/^K8S_BIN=//p' | tail -n 1)
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet; do
	check_output "$b is the pinned version" 'v1\.34\.4' "$bin/$b" --version
done

t0=$(date +%s)
check_output "second build reuses the cache" 'cached in .*\(build skipped\)' "$cluster/build"
took=$(($(date +%s) - t0))
[ "$took" -le 10 ]
ok $? "cached build returns quickly (${took}s)"
tap_done
