#!/bin/bash
# The kubevirt.io API as the real API server serves it from manifests/: CRDs,
# RBAC and workloads apply; every example applies and is stored as written;
# kubectl prints KubeVirt's columns and explains fields; typos, wrong types
# and running+runStrategy are rejected with the field named; v1 and v1alpha3
# are the same objects; status and scale subresources work.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
require_tools

start_cluster
m=$repo/manifests
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; stop_cluster' EXIT

check "kubectl apply -f manifests/" kubectl apply -f "$m/"
check "the CRDs are established" kubectl wait --for=condition=Established --timeout=60s \
	crd/virtualmachines.kubevirt.io crd/virtualmachineinstances.kubevirt.io \
	crd/virtualmachineinstancereplicasets.kubevirt.io \
	crd/virtualmachineinstancepresets.kubevirt.io \
	crd/virtualmachineinstancemigrations.kubevirt.io
check "controller Deployment exists" kubectl -n kvirt get deployment kvirt-controller
check "handler DaemonSet exists" kubectl -n kvirt get daemonset kvirt-handler

# ---- examples -----------------------------------------------------------------
for f in "$m"/examples/*.yaml; do
	check "example $(basename "$f") applies (strict validation)" \
		kubectl apply --validate=strict -f "$f"
done
# Stored exactly as written: the schema neither rejects nor prunes any field
# of the examples or of a VM that uses nearly every KubeVirt field.  (The API
# server drops the `creationTimestamp: null` generated YAML carries in a
# template's metadata, as it does for KubeVirt's CRDs.)
same_spec() { # same_spec FILE KIND/NAME
	local want got
	want=$(kubectl create --dry-run=client -o json -f "$1" |
		jq -S '.spec | del(.template.metadata.creationTimestamp)') &&
		got=$(kubectl get "$2" -o json 2>/dev/null | jq -S .spec) && [ -n "$got" ] &&
		[ "$want" = "$got" ] || {
		diff <(echo "$want") <(echo "$got") | head -n 20 | sed 's/^/#   /'
		return 1
	}
}
check "every-field VM applies with strict validation" \
	kubectl apply --validate=strict -f "$cluster/testdata/vm-all-fields.yaml"
same_spec "$cluster/testdata/vm-all-fields.yaml" vm/all-fields
ok $? "every-field VM is stored unchanged"
for f in "$m"/examples/*.yaml; do
	name=$(kubectl create --dry-run=client -o jsonpath='{.kind}/{.metadata.name}' -f "$f")
	same_spec "$f" "$name"
	ok $? "example $(basename "$f") is stored unchanged"
done
check_output "v1alpha3 objects carry the deprecation warning" 'v1alpha3 is now deprecated' \
	kubectl apply -f "$m/examples/vm-testvm-v1alpha3.yaml"
check_output "seed VM stored with running: false" '^false$' \
	kubectl get vm testvm -o jsonpath='{.spec.running}'
check_output "seed VM keeps its containerDisk image" '^kubevirt/cirros-registry-disk-demo$' \
	kubectl get vm testvm -o jsonpath='{.spec.template.spec.volumes[0].containerDisk.image}'
check_output "seed VM keeps its template labels" '^small$' \
	kubectl get vm testvm -o jsonpath='{.spec.template.metadata.labels.kubevirt\.io/size}'
check_output "seed VM keeps its bridge interface" '^\{\}$' \
	kubectl get vm testvm -o jsonpath='{.spec.template.spec.domain.devices.interfaces[0].bridge}'
check_output "v1 VM stored with runStrategy Always" '^Always$' \
	kubectl get vm vm-cirros -o jsonpath='{.spec.runStrategy}'
check_output "VMI keeps its cloud-init user-data" '#cloud-config' \
	kubectl get vmi vmi-cloudinit -o jsonpath='{.spec.volumes[1].cloudInitNoCloud.userData}'
check_output "VMI keeps its kernelBoot container" '^kvirt/guest-kernel:dev$' \
	kubectl get vmi vmi-cloudinit -o jsonpath='{.spec.domain.firmware.kernelBoot.container.image}'
check_output "VMI keeps the memory quantity" '^256Mi$' \
	kubectl get vmi vmi-cloudinit -o jsonpath='{.spec.domain.resources.requests.memory}'
check_output "VMIRS stored with 3 replicas" '^3$' \
	kubectl get vmirs vmirs-cirros -o jsonpath='{.spec.replicas}'
check_output "preset stored with its selector" '^small$' \
	kubectl get vmipreset small -o jsonpath='{.spec.selector.matchLabels.kubevirt\.io/size}'

# ---- kubectl get / explain ------------------------------------------------------
check_output "kubectl get vm prints NAME AGE STATUS READY" '^NAME +AGE +STATUS +READY *$' \
	kubectl get vm
check_output "kubectl get vmi prints NAME AGE PHASE IP NODENAME READY" \
	'^NAME +AGE +PHASE +IP +NODENAME +READY *$' kubectl get vmi
check_output "kubectl get vmirs prints NAME DESIRED CURRENT READY AGE" \
	'^NAME +DESIRED +CURRENT +READY +AGE *$' kubectl get vmirs
out=$(kubectl get vm,vmi,vmirs 2>&1)
printf '%s\n' "$out" | sed 's/^/# /'
for re in 'virtualmachine.kubevirt.io/testvm' 'virtualmachineinstance.kubevirt.io/vmi-cloudinit' \
	'virtualmachineinstancereplicaset.kubevirt.io/vmirs-cirros +3 '; do
	printf '%s\n' "$out" | grep -Eq "$re"
	ok $? "kubectl get vm,vmi,vmirs shows $re"
done
check_output "short names and category all" 'virtualmachine.kubevirt.io/vm-cirros' \
	kubectl get all
check "short names vms,vmis,vmipreset,vmim resolve" kubectl get vms,vmis,vmipreset,vmim
check_output "kubectl explain vm.spec.runStrategy" 'RerunOnFailure' \
	kubectl explain vm.spec.runStrategy
check_output "kubectl explain vmi.spec.domain.devices.disks.disk.bus" 'virtio' \
	kubectl explain vmi.spec.domain.devices.disks.disk.bus

# Status written through the subresource shows in the printer columns.
check "VM status is writable through /status" kubectl patch vm testvm --subresource=status \
	--type=merge -p '{"status":{"printableStatus":"Stopped","conditions":[{"type":"Ready","status":"False"}]}}'
check_output "kubectl get vm shows Status and Ready from status" '^testvm +[0-9a-z]+ +Stopped +False *$' \
	kubectl get vm testvm
check "VMI status is writable through /status" kubectl patch vmi vmi-cloudinit \
	--subresource=status --type=merge -p '{"status":{"phase":"Running","nodeName":"node1",
	"interfaces":[{"name":"default","ipAddress":"10.244.0.7"}],
	"conditions":[{"type":"Ready","status":"True","lastProbeTime":null}]}}'
check_output "kubectl get vmi shows Phase, IP, NodeName, Ready" \
	'^vmi-cloudinit +[0-9a-z]+ +Running +10\.244\.0\.7 +node1 +True *$' kubectl get vmi vmi-cloudinit
kubectl patch vmi vmi-cloudinit --type=merge -p '{"status":{"phase":"Failed"}}' >/dev/null 2>&1
check_output "status changes through the main resource are ignored" '^Running$' \
	kubectl get vmi vmi-cloudinit -o jsonpath='{.status.phase}'

# ---- both versions, one object --------------------------------------------------
uid() { kubectl get "$1" testvm -o jsonpath='{.apiVersion} {.metadata.uid}' 2>/dev/null; }
a=$(uid vm.v1alpha3.kubevirt.io)
b=$(uid vm.v1.kubevirt.io)
c=$(uid virtualmachines.v1alpha3.kubevirt.io)
echo "# vm.v1alpha3.kubevirt.io:              $a"
echo "# vm.v1.kubevirt.io:                    $b"
echo "# virtualmachines.v1alpha3.kubevirt.io: $c"
[ -n "${b#* }" ] && [ "${a#* }" = "${b#* }" ] && [ "${b%% *}" = kubevirt.io/v1 ]
ok $? "kubectl get vm.v1alpha3.kubevirt.io and vm.v1.kubevirt.io return the same object"
# kubectl's short-name expansion drops the version (vm.v1alpha3 is served as
# v1); the full resource name really asks for v1alpha3.
[ "${c#* }" = "${b#* }" ] && [ "${c%% *}" = kubevirt.io/v1alpha3 ]
ok $? "the same object read as kubevirt.io/v1alpha3"
check_output "a v1 VM reads back as v1alpha3" '^Always$' \
	kubectl get virtualmachines.v1alpha3.kubevirt.io vm-cirros -o jsonpath='{.spec.runStrategy}'

# ---- scale subresource --------------------------------------------------------
check "kubectl scale vmirs" kubectl scale vmirs vmirs-cirros --replicas=1
check_output "scale changed spec.replicas" '^1$' \
	kubectl get vmirs vmirs-cirros -o jsonpath='{.spec.replicas}'

# ---- rejected input ----------------------------------------------------------
vm() { # vm NAME SPEC-LINES: a minimal valid VM with extra spec lines
	cat >"$tmp/$1.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: $1
spec:
$2
  template:
    spec:
      domain:
        cpu:
          cores: ${3:-1}
        devices:
          disks:
          - name: root
            disk:
              bus: ${4:-virtio}
      volumes:
      - name: root
        containerDisk:
          image: example/disk
YAML
	echo "$tmp/$1.yaml"
}
check "a minimal valid VM applies" kubectl apply --validate=strict -f "$(vm good '  runStrategy: Halted')"

f=$(vm typo '  runStrategy: Halted
  runStrategyy: Always')
check_fails "kubectl --validate=strict rejects a typo'd spec field, naming it" \
	'unknown field "spec.runStrategyy"' kubectl apply --validate=strict -f "$f"
sed -i 's/^              bus: virtio/              buss: virtio/; /runStrategyy/d' "$f"
check_fails "kubectl --validate=strict rejects a typo deep in the template, naming it" \
	'unknown field "spec.template.spec.domain.devices.disks\[0\].disk.buss"' \
	kubectl apply --validate=strict -f "$f"
kubectl create --dry-run=client -o json -f "$f" >"$tmp/typo.json" 2>/dev/null
check_fails "server-side strict field validation rejects the typo, naming it" \
	'unknown field \\?"spec.template.spec.domain.devices.disks\[0\].disk.buss' \
	kubectl create --raw '/apis/kubevirt.io/v1/namespaces/default/virtualmachines?fieldValidation=Strict' \
	-f "$tmp/typo.json"

f=$(vm wrongtype '  running: "yes"')
check_fails "the schema rejects running: \"yes\" even without field validation" \
	'spec.running: Invalid value: "string": spec.running in body must be of type boolean' \
	kubectl apply --validate=false -f "$f"
f=$(vm wrongcores '  runStrategy: Halted' two)
check_fails "the schema rejects cores: two, naming the field" \
	'spec.template.spec.domain.cpu.cores: Invalid value: "string": .* must be of type integer' \
	kubectl apply --validate=false -f "$f"
f=$(vm wrongbus '  runStrategy: Halted' 1 nvme)
check_fails "the schema rejects an unknown disk bus, naming the field" \
	'spec.template.spec.domain.devices.disks\[0\].disk.bus: Unsupported value: "nvme"' \
	kubectl apply --validate=false -f "$f"
f=$(vm wrongstrategy '  runStrategy: Sometimes')
check_fails "the schema rejects an unknown runStrategy" \
	'spec.runStrategy: Unsupported value: "Sometimes"' kubectl apply --validate=false -f "$f"
f=$(vm both '  running: true
  runStrategy: Always')
check_fails "running together with runStrategy is rejected" \
	'Running and RunStrategy are mutually exclusive' kubectl apply --validate=false -f "$f"
f=$(vm both2 '  running: false
  runStrategy: Halted')
check_fails "running: false together with runStrategy is rejected too" \
	'mutually exclusive' kubectl apply -f "$f"
f=$(vm dupdisk '  runStrategy: Halted')
sed -i 's/^      - name: root$/      - name: root\n        containerDisk:\n          image: example\/other\n      - name: root/' "$f"
check_fails "two volumes with one name are rejected, naming the field" \
	'spec.template.spec.volumes\[1\]: Duplicate value' kubectl apply -f "$f"
for n in dupdisk typo wrongtype wrongcores wrongbus wrongstrategy both both2; do
	check_fails "rejected VM $n was not stored" 'NotFound' kubectl get vm "$n"
done

# ---- RBAC ----------------------------------------------------------------------
can() { # can WHO VERB RESOURCE: prints yes/no
	kubectl auth can-i --as="system:serviceaccount:kvirt:kvirt-$1" "$2" "$3" -A 2>/dev/null
}
expect_can() { # expect_can yes|no WHO VERB RESOURCE
	local got
	got=$(can "$2" "$3" "$4")
	[ "$got" = "$1" ]
	ok $? "kvirt-$2 $3 $4: $1${got:+ (got $got)}"
}
expect_can yes controller create virtualmachineinstances.kubevirt.io
expect_can yes controller create pods
expect_can yes controller update virtualmachines.kubevirt.io/status
expect_can no controller get secrets
expect_can no controller delete nodes
expect_can no controller update virtualmachineinstancepresets.kubevirt.io
expect_can yes handler patch virtualmachineinstances.kubevirt.io/status
expect_can yes handler patch nodes
expect_can no handler delete virtualmachineinstances.kubevirt.io
expect_can no handler create pods
expect_can no handler get secrets

tap_done
