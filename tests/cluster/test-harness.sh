#!/bin/bash
# tests/cluster/up starts a working control plane (API server, etcd,
# controller manager, scheduler) on loopback; tests/cluster/down leaves
# nothing behind; a second start reuses the cached build.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
require_tools

links() { ip -o link show | awk -F': ' '{print $2}' | sort; }
links_before=$(links)
start_cluster
dir=$KVIRT_CLUSTER_DIR
check "KUBECONFIG points at a file" test -s "$KUBECONFIG"
check_output "kubectl get ns lists the built-in namespaces" 'kube-system' kubectl get ns
check_output "the API server reports ready" '^ok$' kubectl get --raw /readyz
check_output "the API server runs the pinned version" '"gitVersion": "v1\.34\.4"' \
	kubectl get --raw /version

# Every listening socket of the control plane is on loopback.
pids=$(cat "$dir"/pids/*.pid)
listen=$(ss -Hltnp | grep -E "pid=($(echo "$pids" | paste -sd'|'))," || true)
nonlocal=$(printf '%s\n' "$listen" | awk 'NF && $4 !~ /^127\.0\.0\.1:/ && $4 !~ /^\[::1\]:/')
[ -n "$listen" ] && [ -z "$nonlocal" ]
ok $? "all control-plane listeners are on 127.0.0.1"
[ -z "$nonlocal" ] || printf '%s\n' "$nonlocal" | sed 's/^/#   /'

# The controller manager works: a Deployment gets a ReplicaSet and a Pod.
kubectl create deployment web --image=registry.invalid/web:1 >/dev/null 2>&1
has_web_pod() { kubectl get pod -l app=web -o name | grep -q '^pod/web-'; }
check "controller manager creates the deployment's pod" wait_until 60 has_web_pod
# The scheduler works: with no nodes it reports the pod unschedulable.
check "scheduler marks the pod unschedulable (there are no nodes)" \
	kubectl wait --for=condition=PodScheduled=false pod -l app=web --timeout=60s
check_output "the scheduler's reason is Unschedulable" '^Unschedulable$' kubectl get pod -l app=web \
	-o jsonpath='{.items[0].status.conditions[?(@.type=="PodScheduled")].reason}'

"$cluster/down" 2>&1 | sed 's/^/# /'
left=""
for p in /proc/[0-9]*; do
	tr "\0" " " 2>/dev/null <"$p/cmdline" | grep -qF -- "$dir/" && left+=" ${p#/proc/}"
done
[ -z "$left" ]
ok $? "down leaves no control-plane processes${left:+ (left:$left)}"
[ ! -e "$dir" ]
ok $? "down removes the run directory"
! grep -qF "$dir" /proc/self/mountinfo
ok $? "down leaves no mounts"
[ "$(links)" = "$links_before" ]
ok $? "no network interface was added or removed"
# (A zombie waiting for the init process to reap it has already exited.)
for p in $pids; do
	st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
	st=${st##*) }
	[ "${st%% *}" = Z ] || left+=" $p"
done
[ -z "$left" ]
ok $? "every recorded pid is gone"

# Second start: the build comes from the cache; startup time is printed.
mkdir -p "$dir"
out=$("$cluster/up" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
ok "$rc" "second start succeeds"
printf '%s\n' "$out" | grep -q '(build skipped)'
ok $? "second start reuses the cached build"
printf '%s\n' "$out" | grep -Eq 'control plane ready in [0-9.]+s'
ok $? "startup time is printed"
[ "$(printf '%s\n' "$out" | tail -n 1)" = "KUBECONFIG=$dir/kubeconfig" ]
ok $? "last line is KUBECONFIG=<path>"
check_output "second cluster answers" 'default' kubectl get ns

# A start that fails half-way (the scheduler dies at once) stops what it had
# started, keeps the logs for the post-mortem and exits non-zero.
bin=$(sed -n 's/^K8S_BIN=//p' "$dir/env")
fail=$(mktemp -d /run/kvirt-test-fail.XXXXXX)
mkdir "$fail/bin"
for b in kube-apiserver kube-controller-manager; do ln -s "$bin/$b" "$fail/bin/$b"; done
printf '#!/bin/sh\necho "scheduler: injected failure" >&2\nexit 3\n' >"$fail/bin/kube-scheduler"
chmod +x "$fail/bin/kube-scheduler"
out=$(KVIRT_CLUSTER_DIR=$fail/run KVIRT_K8S_BIN=$fail/bin KVIRT_APISERVER_PORT= "$cluster/up" 2>&1)
rc=$?
[ "$rc" != 0 ]
ok $? "up fails when a component fails (exit $rc)"
printf '%s\n' "$out" | grep -q 'injected failure'
ok $? "up shows the failing component's log"
left=""
for p in /proc/[0-9]*; do
	tr "\0" " " 2>/dev/null <"$p/cmdline" | grep -qF -- "$fail/run/" && left+=" ${p#/proc/}"
done
[ -z "$left" ]
ok $? "a failed up leaves no processes${left:+ (left:$left)}"
[ -s "$fail/run/logs/kube-apiserver.log" ] && [ ! -e "$fail/run/etcd" ]
ok $? "a failed up keeps the logs and removes the rest"
KVIRT_CLUSTER_DIR=$fail/run "$cluster/down" 2>&1 | sed 's/^/# /'
rm -rf "$fail"

tap_done
