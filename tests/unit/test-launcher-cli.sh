#!/bin/bash
# kvirt-launcher rejects bad input with one error line naming the problem,
# exits 1, and leaves nothing behind: no run directory, no files in it, no
# process (a fake kvirt-vmm records whether it was ever started).
set -uo pipefail
launcher=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
# A kvirt-vmm stand-in that must never run for bad input.
printf '#!/bin/sh\ntouch %s/vmm-started\nexit 0\n' "$tmp" >"$tmp/vmm"
chmod +x "$tmp/vmm"
touch "$tmp/vmlinuz"
qemu-img create -q -f qcow2 "$tmp/good.qcow2" 16M 2>/dev/null || head -c 16M /dev/zero >"$tmp/good.qcow2"
# qcow2 magic, then a header whose cluster_bits is nonsense.
{ printf 'QFI\xfb\0\0\0\3'; head -c 12 /dev/zero; printf '\0\0\0\x63'; head -c 488 /dev/zero; } >"$tmp/bad.qcow2"

vmi() { # vmi CONTAINER-IMAGE DISK-NAME VOLUME-NAME
	cat <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: cli}
spec:
  domain:
    memory: {guest: 64Mi}
    firmware:
      kernelBoot:
        container: {image: $tmp, kernelPath: vmlinuz}
    devices:
      disks:
        - name: $2
          disk: {bus: virtio}
        - name: ci
          disk: {}
  volumes:
    - name: $3
      containerDisk: {image: $1}
    - name: ci
      cloudInitNoCloud: {userData: "#cloud-config\n"}
YAML
}

check() { # check WHAT EXPECTED-MESSAGE FILE
	local what=$1 want=$2 file=$3
	n=$((n + 1))
	rm -f "$tmp/vmm-started"
	local out rc
	out=$("$launcher" run --vmm "$tmp/vmm" --run-dir "$tmp/run" "$file" 2>&1 </dev/null)
	rc=$?
	local errs
	errs=$(grep -c 'error:' <<<"$out")
	if [ $rc != 1 ] || ! grep -qF -- "$want" <<<"$out" || [ "$errs" != 1 ] ||
		[ -e "$tmp/run" ] || [ -e "$tmp/vmm-started" ]; then
		failed=$((failed + 1))
		echo "not ok $n - $what"
		echo "#   exit $rc (want 1), $errs error lines (want 1) with: $want"
		[ -e "$tmp/run" ] && echo "#   left behind: $(find "$tmp/run" | tr '\n' ' ')"
		[ -e "$tmp/vmm-started" ] && echo "#   kvirt-vmm was started"
		sed 's/^/#   /' <<<"$out"
		rm -rf "$tmp/run"
	else
		echo "ok $n - $what: $(grep 'error:' <<<"$out")"
	fi
}

printf 'apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nspec: [\n' >"$tmp/malformed.yaml"
check "malformed YAML" "invalid YAML at line" "$tmp/malformed.yaml"
vmi good.qcow2 root other >"$tmp/unknown-volume.yaml"
check "unknown volume reference" 'no volume named "root"' "$tmp/unknown-volume.yaml"
vmi missing.qcow2 root root >"$tmp/missing-image.yaml"
check "missing image file" "spec.volumes[0].containerDisk.image: $tmp/missing.qcow2: No such file" "$tmp/missing-image.yaml"
vmi bad.qcow2 root root >"$tmp/bad-qcow2.yaml"
check "qcow2 with a bad header" "spec.volumes[0].containerDisk: $tmp/bad.qcow2: qcow2: cluster_bits" "$tmp/bad-qcow2.yaml"
vmi good.qcow2 root root | sed 's/guest: 64Mi/guest: lots/' >"$tmp/bad-memory.yaml"
check "bad memory quantity" "memory" "$tmp/bad-memory.yaml"
vmi good.qcow2 root root | sed 's/kernelPath: vmlinuz/kernelPath: nokernel/' >"$tmp/no-kernel.yaml"
check "missing kernel" "kernelPath: $tmp/nokernel" "$tmp/no-kernel.yaml"
vmi good.qcow2 root root | sed 's/kind: VirtualMachineInstance/kind: Pod/' >"$tmp/kind.yaml"
check "wrong kind" "kind is Pod" "$tmp/kind.yaml"
vmi good.qcow2 root root | sed 's/containerDisk: {image: good.qcow2}/persistentVolumeClaim: {claimName: x}/' >"$tmp/pvc.yaml"
check "unsupported volume type" "persistentVolumeClaim: volume type not supported" "$tmp/pvc.yaml"

# The good variant gets through preparation and starts the (fake) VMM, whose
# "exit 0" without ever opening its control socket is reported as a power-off;
# the run directory is gone afterwards.  This proves check() can pass for the
# right reason: the same files, one change.
n=$((n + 1))
vmi good.qcow2 root root >"$tmp/good.yaml"
rm -f "$tmp/vmm-started"
out=$("$launcher" run --vmm "$tmp/vmm" --run-dir "$tmp/run" "$tmp/good.yaml" 2>&1 </dev/null)
rc=$?
if [ $rc = 0 ] && [ -e "$tmp/vmm-started" ] && [ ! -e "$tmp/run" ]; then
	echo "ok $n - a good VMI starts the VMM and cleans up its run directory"
else
	failed=$((failed + 1))
	echo "not ok $n - good VMI: exit $rc, vmm started: $([ -e "$tmp/vmm-started" ] && echo yes || echo no)"
	sed 's/^/#   /' <<<"$out"
fi
echo "1..$n"
[ $failed = 0 ]
