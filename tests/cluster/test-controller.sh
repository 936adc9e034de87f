#!/bin/bash
# kvirt-controller against a real control plane (no nodes: launcher pods stay
# Pending; pod outcomes are simulated by writing pod status through the API).
#   test-controller.sh PATH-TO-kvirt-controller
# Covers: the seed VM and its launcher pod's conventions, running true/false,
# run strategies (Always, Halted, RerunOnFailure + crash-loop backoff),
# VMIRS scale, an invalid VMI, metrics/health, an API-server restart plus a
# controller restart without duplicates or orphans, and leader election.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
require_tools
ctl_bin=${1:-$repo/build/controller/kvirt-controller}
[ -x "$ctl_bin" ] || skip_all "no kvirt-controller binary at $ctl_bin"

start_cluster
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ "$tap_failed" != 0 ]; then
		for f in "$tmp"/*.log; do
			echo "# ---- $f (last 30 lines)"
			tail -n 30 "$f" | sed 's/^/# /'
		done
	fi
	rm -rf "$tmp"
	stop_cluster
}
trap cleanup EXIT
m=$repo/manifests
kubectl apply -f "$m/00-namespace.yaml" -f "$m/10-crds.yaml" -f "$m/20-rbac.yaml" >/dev/null
kubectl wait --for=condition=Established --timeout=60s crd --all >/dev/null

# The controller runs as its own service account, so the RBAC in
# manifests/20-rbac.yaml is proven sufficient (and bearer tokens work).
token=$(kubectl -n kvirt create token kvirt-controller --duration=1h)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
cat >"$tmp/sa.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: sa, user: {token: "$token"}}]
contexts: [{name: c, context: {cluster: c, user: sa}}]
current-context: c
KC

free_port() { echo $((20000 + RANDOM % 10000)); }
# start_ctl NAME ARGS...: run a controller in the background; sets $ctl_pid.
start_ctl() {
	local name=$1
	shift
	"$ctl_bin" --kubeconfig "$tmp/sa.kubeconfig" "$@" >>"$tmp/$name.log" 2>&1 &
	ctl_pid=$!
	pids+=("$ctl_pid")
}
port=$(free_port)
start_ctl ctl --metrics-addr "127.0.0.1:$port"
main_pid=$ctl_pid

get() { kubectl get "$@" 2>/dev/null; }
vmi_uid() { get vmi "$1" -o jsonpath='{.metadata.uid}'; }
pod_of() { # pod_of VMI-UID: the launcher pod's name
	get pods -l "kubevirt.io/created-by=$1" -o jsonpath='{.items[*].metadata.name}'
}
has_pod() { [ -n "$(pod_of "$(vmi_uid "$1")")" ]; }
gone() { ! kubectl get "$@" >/dev/null 2>&1; }
# out_is WANT CMD...: CMD's output is WANT (re-evaluated on every poll of wait_until)
out_is() {
	local want=$1
	shift
	[ "$("$@" 2>/dev/null)" = "$want" ]
}
vmi_phase_is() { [ "$(get vmi "$1" -o jsonpath='{.status.phase}')" = "$2" ]; }
new_uid() { local u; u=$(vmi_uid "$1") && [ -n "$u" ] && [ "$u" != "$2" ]; }
printable_is() { [ "$(get vm "$1" -o jsonpath='{.status.printableStatus}')" = "$2" ]; }
set_pod_phase() { # set_pod_phase POD PHASE
	kubectl patch pod "$1" --subresource=status --type=merge \
		-p "{\"status\":{\"phase\":\"$2\"}}" >/dev/null
}

# ---- the seed VM -------------------------------------------------------------
check "preset and seed VM apply" kubectl apply -f "$m/examples/vmipreset.yaml" \
	-f "$m/examples/vm-testvm-v1alpha3.yaml"
check "running: false → Stopped" wait_until 20 printable_is testvm Stopped
check "running: false → no VMI" gone vmi testvm
check "patch running: true" kubectl patch vm testvm --type merge -p '{"spec":{"running":true}}'
check "the VMI appears" wait_until 20 has_pod testvm
uid=$(vmi_uid testvm)
pod=$(pod_of "$uid")
pj=$(get pod "$pod" -o json)
vj=$(get vmi testvm -o json)
ok "$([[ $pod =~ ^virt-launcher-testvm-[bcdfghjklmnpqrstvwxz2456789]{5}$ ]]; echo $?)" \
	"pod name virt-launcher-testvm-XXXXX ($pod)"
pq() { jq -r "$1" <<<"$pj"; }
check_eq() { # check_eq DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then ok 0 "$1"; else
		ok 1 "$1"
		echo "#   got '$2', want '$3'"
	fi
}
check_eq "label kubevirt.io=virt-launcher" "$(pq '.metadata.labels["kubevirt.io"]')" virt-launcher
check_eq "label created-by = VMI uid" "$(pq '.metadata.labels["kubevirt.io/created-by"]')" "$uid"
check_eq "label vm.kubevirt.io/name" "$(pq '.metadata.labels["vm.kubevirt.io/name"]')" testvm
check_eq "template labels carried" "$(pq '.metadata.labels["kubevirt.io/size"]')" small
check_eq "owner reference → the VMI, controller" \
	"$(pq '.metadata.ownerReferences[0] | "\(.kind)/\(.uid)/\(.controller)/\(.blockOwnerDeletion)"')" \
	"VirtualMachineInstance/$uid/true/true"
check_eq "annotation holds the VMI spec" \
	"$(pq '.metadata.annotations["kubevirt.io/vmi-spec"] | fromjson | .spec' | jq -S -c .)" \
	"$(jq -S -c .spec <<<"$vj")"
check_eq "annotation names the VMI (uid)" \
	"$(pq '.metadata.annotations["kubevirt.io/vmi-spec"] | fromjson | .metadata.uid')" "$uid"
check_eq "downward-API volume exposes the annotation" \
	"$(pq '.spec.volumes[] | select(.name=="vmi-spec") | .downwardAPI.items[0] | "\(.path) \(.fieldRef.fieldPath)"')" \
	"vmi.json metadata.annotations['kubevirt.io/vmi-spec']"
check_eq "mounted into compute at /var/run/kvirt/spec" \
	"$(pq '.spec.containers[0].volumeMounts[] | select(.name=="vmi-spec") | .mountPath')" \
	/var/run/kvirt/spec
check_eq "launcher command reads the downward file" "$(pq '.spec.containers[0].command | join(" ")')" \
	"/usr/bin/kvirt-launcher run --downward /var/run/kvirt/spec/vmi.json"
# guest 64M (the preset fills nothing the VM sets) + 32 MiB + guest/256
check_eq "memory request = guest + overhead" "$(pq '.spec.containers[0].resources.requests.memory')" \
	$((64000000 + 33554432 + 64000000 / 256))
check_eq "cpu request 100m per vCPU" "$(pq '.spec.containers[0].resources.requests.cpu')" 100m
check_eq "kvm and tun device resources" \
	"$(pq '.spec.containers[0].resources.limits | "\(.["devices.kubevirt.io/kvm"]) \(.["devices.kubevirt.io/tun"])"')" "1 1"
check_eq "restartPolicy Never" "$(pq .spec.restartPolicy)" Never
check_eq "grace = 30 + 15" "$(pq .spec.terminationGracePeriodSeconds)" 45
check_eq "no service-account token" "$(pq .spec.automountServiceAccountToken)" false
check_eq "not privileged, no escalation" \
	"$(pq '.spec.containers[0].securityContext | "\(.privileged) \(.allowPrivilegeEscalation)"')" "false false"
check_eq "capabilities: drop ALL, add NET_ADMIN NET_RAW NET_BIND_SERVICE" \
	"$(pq '.spec.containers[0].securityContext.capabilities | "\(.drop|join(",")) \(.add|sort|join(","))"')" \
	"ALL NET_ADMIN,NET_BIND_SERVICE,NET_RAW"
check_eq "VMI owned by the VM" "$(jq -r '.metadata.ownerReferences[0] | "\(.kind)/\(.name)/\(.controller)"' <<<"$vj")" \
	"VirtualMachine/testvm/true"
check_eq "VMI finalizer" "$(jq -r '.metadata.finalizers | join(",")' <<<"$vj")" \
	kubevirt.io/foregroundDeleteVirtualMachine
check_eq "preset recorded" "$(jq -r '.metadata.annotations["virtualmachinepreset.kubevirt.io/small"]' <<<"$vj")" \
	kubevirt.io/v1
check_eq "default interface model" "$(jq -r '.spec.domain.devices.interfaces[0].model' <<<"$vj")" virtio
check "VMI phase Scheduling (no nodes)" wait_until 10 vmi_phase_is testvm Scheduling
check "VM printableStatus ErrorUnschedulable" wait_until 10 printable_is testvm ErrorUnschedulable
check "VM status.created" wait_until 10 out_is true get vm testvm -o jsonpath='{.status.created}'
check_output "events: SuccessfulCreate for VM and VMI" "Created virtual machine pod $pod" \
	kubectl get events --field-selector involvedObject.name=testvm -o jsonpath='{.items[*].message}'
check "patch running: false" kubectl patch vm testvm --type merge -p '{"spec":{"running":false}}'
check "the VMI goes away" wait_until 30 gone vmi testvm
check "the launcher pod goes away" wait_until 30 gone pod "$pod"
check "VM Stopped again" wait_until 10 printable_is testvm Stopped

# ---- run strategies ----------------------------------------------------------
check "vm-cirros (runStrategy Always) applies" kubectl apply -f "$m/examples/vm-cirros-always.yaml"
check "Always: VMI and pod" wait_until 20 has_pod vm-cirros
u1=$(vmi_uid vm-cirros)
kubectl delete vmi vm-cirros --wait=false >/dev/null
check "Always: deleting the VMI brings a new one (new UID)" wait_until 30 new_uid vm-cirros "$u1"
check "Always: the new VMI has a pod" wait_until 20 has_pod vm-cirros
check "Halted" kubectl patch vm vm-cirros --type merge -p '{"spec":{"runStrategy":"Halted"}}'
check "Halted: VMI gone" wait_until 30 gone vmi vm-cirros
sleep 2
check "Halted: stays gone" gone vmi vm-cirros

sed -e 's/name: vm-cirros/name: vm-rerun/' -e 's/runStrategy: Always/runStrategy: RerunOnFailure/' \
	"$m/examples/vm-cirros-always.yaml" >"$tmp/rerun.yaml"
check "RerunOnFailure VM applies" kubectl apply -f "$tmp/rerun.yaml"
check "RerunOnFailure: VMI and pod" wait_until 20 has_pod vm-rerun
u1=$(vmi_uid vm-rerun)
set_pod_phase "$(pod_of "$u1")" Failed
# The failed VMI is deleted at once (as KubeVirt does) and recreated after the backoff.
failed_or_gone() { vmi_phase_is vm-rerun Failed || new_uid vm-rerun "$u1" || gone vmi vm-rerun; }
check "pod Failed → VMI Failed (then deleted)" wait_until 20 failed_or_gone
check "crash-loop: CrashLoopBackOff while waiting" wait_until 20 printable_is vm-rerun CrashLoopBackOff
check_eq "startFailure counted" "$(get vm vm-rerun -o jsonpath='{.status.startFailure.consecutiveFailCount}')" 1
check "RerunOnFailure: the failed VMI is recreated after the backoff (new UID)" \
	wait_until 40 new_uid vm-rerun "$u1"
check "the new VMI has a pod" wait_until 20 has_pod vm-rerun
u2=$(vmi_uid vm-rerun)
set_pod_phase "$(pod_of "$u2")" Succeeded
check "pod Succeeded → VMI Succeeded" wait_until 20 vmi_phase_is vm-rerun Succeeded
sleep 3
check_eq "RerunOnFailure: a Succeeded VMI is not recreated" "$(vmi_uid vm-rerun)/$(get vmi vm-rerun -o jsonpath='{.status.phase}')" "$u2/Succeeded"
check "VM printableStatus Stopped" wait_until 10 printable_is vm-rerun Stopped

# ---- VMIRS ---------------------------------------------------------------------
n_rs_vmis() { get vmi -l kubevirt.io/vmReplicaSet=vmirs-cirros -o name | grep -c . || true; }
check "VMIRS applies" kubectl apply -f "$m/examples/vmirs.yaml"
check "VMIRS: 3 VMIs" wait_until 30 out_is 3 n_rs_vmis
check "VMIRS: status.replicas 3" wait_until 10 out_is 3 get vmirs vmirs-cirros -o jsonpath='{.status.replicas}'
check "kubectl scale --replicas=1" kubectl scale vmirs vmirs-cirros --replicas=1
check "VMIRS: 1 VMI" wait_until 30 out_is 1 n_rs_vmis
check_output "VMIRS: labelSelector for the scale subresource" "kubevirt.io/vmReplicaSet=vmirs-cirros" \
	kubectl get vmirs vmirs-cirros -o jsonpath='{.status.labelSelector}'
check "VMIRS deleted" kubectl delete vmirs vmirs-cirros --wait=false

# ---- an invalid VMI --------------------------------------------------------------
cat >"$tmp/bad.yaml" <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: bad}
spec:
  domain:
    resources: {requests: {memory: 64Mi}}
    devices:
      disks: [{name: rootdisk, disk: {}}]
  volumes: [{name: otherdisk, emptyDisk: {capacity: 1Gi}}]
YAML
check "invalid VMI applies (the schema cannot see the mismatch)" kubectl apply -f "$tmp/bad.yaml"
check "invalid VMI → Failed" wait_until 20 vmi_phase_is bad Failed
check_output "condition Synchronized=False InvalidSpec says what to fix" \
	'False InvalidSpec .*no volume named "rootdisk"; add a volume' \
	kubectl get vmi bad -o jsonpath='{range .status.conditions[?(@.type=="Synchronized")]}{.status} {.reason} {.message}{end}'
check_output "Warning event InvalidSpec" 'Warning InvalidSpec .*no volume named' \
	kubectl get events --field-selector involvedObject.name=bad -o jsonpath='{range .items[*]}{.type} {.reason} {.message}{"\n"}{end}'
check "no pod for the invalid VMI" test -z "$(pod_of "$(vmi_uid bad)")"
check "the controller is still running" kill -0 "$main_pid"
check "and still handles a valid VM" kubectl patch vm testvm --type merge -p '{"spec":{"running":true}}'
check "testvm starts again" wait_until 20 has_pod testvm
cat >"$tmp/sata.yaml" <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: sata}
spec:
  domain:
    memory: {guest: 32Mi}
    devices:
      disks: [{name: d, disk: {bus: sata}}]
  volumes: [{name: d, emptyDisk: {capacity: 1Gi}}]
YAML
check "a bare VMI with a sata disk applies" kubectl apply -f "$tmp/sata.yaml"
check "bare VMI: defaults applied (bus virtio)" wait_until 20 out_is virtio get vmi sata -o jsonpath='{.spec.domain.devices.disks[0].disk.bus}'
check "bare VMI: default bridge interface on the pod network" test \
	"$(get vmi sata -o jsonpath='{.spec.domain.devices.interfaces[0].name}/{.spec.networks[0].pod}')" = "default/{}"
check_output "Warning event: bus served as virtio" 'the kvirt VMM has only virtio; bus sata served as virtio' \
	kubectl get events --field-selector involvedObject.name=sata -o jsonpath='{.items[*].message}'
check "bare VMI gets a pod" wait_until 20 has_pod sata

# ---- metrics and health --------------------------------------------------------------
check_output "/healthz" '^ok' curl -fsS "http://127.0.0.1:$port/healthz"
check_output "/readyz" '^ok' curl -fsS "http://127.0.0.1:$port/readyz"
check_output "/metrics: reconcile counts" 'kvirt_controller_reconcile_total\{controller="vm",result="ok"\} [1-9]' \
	curl -fsS "http://127.0.0.1:$port/metrics"
check_output "/metrics: queue depth, watch restarts" 'kvirt_controller_watch_restarts_total\{resource="pods"\}' \
	curl -fsS "http://127.0.0.1:$port/metrics"

# ---- robustness: API server restart + controller restart -----------------------------
for i in 1 2 3 4 5; do
	sed -e "s/name: vm-cirros/name: vm-r$i/" "$m/examples/vm-cirros-always.yaml"
	echo ---
done >"$tmp/r.yaml"
check "5 more VMs" kubectl apply -f "$tmp/r.yaml"
"$cluster/restart-apiserver" 3 2>&1 | sed 's/^/# /'
ok "${PIPESTATUS[0]}" "the API server restarted"
check "the controller survived the API server restart" kill -0 "$main_pid"
check_output "/metrics: watches restarted" 'kvirt_controller_watch_restarts_total\{resource="virtualmachines"\} [1-9]' \
	curl -fsS "http://127.0.0.1:$port/metrics"
kill "$main_pid"
wait "$main_pid" 2>/dev/null
ok "$?" "the controller exits 0 on SIGTERM"
kubectl delete vmi vm-r1 --wait=false >/dev/null 2>&1
kubectl patch vm vm-r2 --type merge -p '{"spec":{"runStrategy":"Halted"}}' >/dev/null
for i in 6 7; do sed -e "s/name: vm-cirros/name: vm-r$i/" "$m/examples/vm-cirros-always.yaml"; echo ---; done |
	kubectl apply -f - >/dev/null
start_ctl ctl2 --metrics-addr "127.0.0.1:$port"
main_pid=$ctl_pid
converged() {
	local vms vmis pods all live u
	# every running VM has exactly one live VMI; every live VMI exactly one pod;
	# no pod without its VMI
	vms=$(get vm -o json | jq -r '.items[] | select(.spec.runStrategy=="Always" or .spec.running==true) | .metadata.name' | sort)
	vmis=$(get vmi -o json | jq -r '.items[] | select(.metadata.deletionTimestamp==null and .status.phase!="Failed" and .status.phase!="Succeeded") | select(.metadata.ownerReferences[0].kind=="VirtualMachine") | .metadata.name' | sort)
	[ "$vms" = "$vmis" ] || return 1
	pods=$(get pods -o json | jq -r '.items[].metadata.labels["kubevirt.io/created-by"]' | sort)
	[ -z "$(uniq -d <<<"$pods")" ] || return 1
	all=$(get vmi -o json | jq -r '.items[].metadata.uid')
	live=$(get vmi -o json | jq -r '.items[] | select(.status.phase!="Failed" and .status.phase!="Succeeded") | .metadata.uid')
	for u in $live; do grep -qx "$u" <<<"$pods" || return 1; done
	for u in $pods; do grep -qx "$u" <<<"$all" || return 1; done
	! get vmi vm-r2 -o name
}
check "after both restarts every VM converges (one VMI per running VM, one pod per VMI, no orphans)" \
	wait_until 60 converged
converged || {
	echo "# vms:"; get vm | sed 's/^/#   /'
	echo "# vmis:"; get vmi | sed 's/^/#   /'
	echo "# pods:"; get pods -L kubevirt.io/created-by | sed 's/^/#   /'
}
check_eq "no VMI without a VM or replica set" \
	"$(get vmi -o json | jq -r '.items[] | select((.metadata.ownerReferences // []) | length == 0) | .metadata.name' | grep -v -x -e bad -e sata | wc -l)" 0

# ---- leader election -------------------------------------------------------------------
kill "$main_pid"
wait "$main_pid" 2>/dev/null
pa=$(free_port)
pb=$((pa + 1))
start_ctl la --leader-elect --lease-duration 6 --lease-namespace kvirt --identity ctl-a --metrics-addr "127.0.0.1:$pa"
a_pid=$ctl_pid
start_ctl lb --leader-elect --lease-duration 6 --lease-namespace kvirt --identity ctl-b --metrics-addr "127.0.0.1:$pb"
b_pid=$ctl_pid
holder() { get lease -n kvirt kvirt-controller -o jsonpath='{.spec.holderIdentity}'; }
holder_set() { [ -n "$(holder)" ]; }
check "a lease holder is elected" wait_until 20 holder_set
h=$(holder)
if [ "$h" = ctl-a ]; then lp=$pa; sp=$pb; lpid=$a_pid; other=ctl-b; else lp=$pb; sp=$pa; lpid=$b_pid; other=ctl-a; fi
metric() { curl -fsS "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1==k {print $2}'; }
reconciles() { curl -fsS "http://127.0.0.1:$1/metrics" | awk '/^kvirt_controller_reconcile_total/ {s+=$2} END {print s+0}'; }
check_eq "the holder says it leads" "$(metric "$lp" kvirt_controller_is_leader)" 1
check_eq "the standby does not" "$(metric "$sp" kvirt_controller_is_leader)" 0
sed -e "s/name: vm-cirros/name: vm-le1/" "$m/examples/vm-cirros-always.yaml" | kubectl apply -f - >/dev/null
check "the leader reconciles a new VM" wait_until 20 has_pod vm-le1
check_eq "the standby reconciled nothing" "$(reconciles "$sp")" 0
kill -KILL "$lpid"
t0=$(date +%s)
check "after killing the leader the standby takes the lease" wait_until 20 out_is "$other" holder
dt=$(($(date +%s) - t0))
ok "$([ "$dt" -le 10 ]; echo $?)" "hand-over within the 6 s lease + retry ($dt s)"
sed -e "s/name: vm-cirros/name: vm-le2/" "$m/examples/vm-cirros-always.yaml" | kubectl apply -f - >/dev/null
check "the new leader reconciles" wait_until 20 has_pod vm-le2
kill -TERM "$( [ "$lpid" = "$a_pid" ] && echo "$b_pid" || echo "$a_pid")"
check "a leader releases the lease on SIGTERM" wait_until 10 out_is "" holder

tap_done
