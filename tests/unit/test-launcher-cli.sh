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
	out=$("${netwrap[@]}" "$launcher" run "${netopt[@]}" --vmm "$tmp/vmm" --run-dir "$tmp/run" "$file" 2>&1 </dev/null)
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

netwrap=() netopt=()
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

# Interfaces the launcher cannot serve are refused before the network
# namespace is touched.  --network pod, and (as root) in a fresh network
# namespace, so a regression can never take this machine's eth0.
netopt=(--network pod)
[ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null && netwrap=(unshare -n)
iface() { # iface INTERFACE-FLOW-MAPPING [NETWORK-MAPPING]
	vmi good.qcow2 root root | sed "/^    devices:/a\\      interfaces: [$1]"
	echo "  networks: [${2:-{name: default, pod: {\}\}}]"
}
iface '{name: default, slirp: {}}' >"$tmp/slirp.yaml"
check "unsupported binding" 'interfaces[0] "default": binding "slirp" is not supported' "$tmp/slirp.yaml"
iface '{name: default, bridge: {}, model: e1000}' >"$tmp/e1000.yaml"
check "unsupported NIC model" 'interfaces[0].model: "e1000" is not supported' "$tmp/e1000.yaml"
iface '{name: default, masquerade: {}, macAddress: "01:00:5e:00:00:01"}' >"$tmp/mac.yaml"
check "multicast macAddress" 'interfaces[0].macAddress: "01:00:5e:00:00:01" is not a unicast MAC' "$tmp/mac.yaml"
iface '{name: default, bridge: {}, ports: [{port: 80}]}' >"$tmp/ports.yaml"
check "ports on the bridge binding" 'ports: only the masquerade binding forwards ports' "$tmp/ports.yaml"
iface '{name: default, bridge: {}}' '{name: default, multus: {networkName: x}}' >"$tmp/multus.yaml"
check "multus network" 'spec.networks "default": only the pod network is supported' "$tmp/multus.yaml"
netwrap=() netopt=()

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
# Every volume type, prepared without a VM: a stand-in VMM snapshots the run
# directory (which the launcher removes afterwards) and its config.
if command -v osirrox >/dev/null; then
	printf '#!/bin/sh\ncp -r "$(dirname "$2")" %s/snap\n' "$tmp" >"$tmp/snapvmm"
	chmod +x "$tmp/snapvmm"
	mkdir -p "$tmp/vols/configmap/app-config" "$tmp/vols/secret/app-secret" "$tmp/vols/serviceaccount/default"
	printf 'level: debug\n' >"$tmp/vols/configmap/app-config/settings.yaml"
	printf 's3cr3t' >"$tmp/vols/secret/app-secret/password"
	printf 'token-abc' >"$tmp/vols/serviceaccount/default/token"
	head -c 1M /dev/urandom >"$tmp/raw.img"
	cat >"$tmp/all.yaml" <<YAML
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: all, namespace: ns1}
spec:
  hostname: all-host
  domain:
    memory: {guest: 64Mi}
    cpu: {cores: 2, threads: 2}
    firmware:
      kernelBoot: {kernelArgs: "console=ttyS0 x=1", container: {image: $tmp, kernelPath: vmlinuz}}
    devices:
      disks:
        - {name: raw, disk: {}}
        - {name: empty, disk: {}, serial: empty-serial}
        - {name: host, disk: {}}
        - {name: nocloud, cdrom: {}}
        - {name: cm, disk: {}}
        - {name: sec, disk: {}}
        - {name: sa, disk: {}}
  volumes:
    - {name: raw, containerDisk: {image: raw.img}}
    - {name: empty, emptyDisk: {capacity: 3Mi}}
    - {name: host, hostDisk: {path: $tmp/host.img, type: DiskOrCreate, capacity: 2Mi}}
    - name: nocloud
      cloudInitNoCloud: {userDataBase64: "I2Nsb3VkLWNvbmZpZwpmb286IGJhcgo=", networkData: "version: 2\n"}
    - {name: cm, configMap: {name: app-config, volumeLabel: CFG}}
    - {name: sec, secret: {secretName: app-secret}}
    - {name: sa, serviceAccount: {serviceAccountName: default}}
YAML
	rm -rf "$tmp/snap" "$tmp/host.img"
	out=$("$launcher" run --vmm "$tmp/snapvmm" --run-dir "$tmp/run" --volume-root "$tmp/vols" "$tmp/all.yaml" 2>&1)
	rc=$?
	s=$tmp/snap
	iso_cat() { osirrox -indev "$1" -extract "/$2" "$tmp/x" >/dev/null 2>&1 && cat "$tmp/x" && rm -f "$tmp/x"; }
	why=
	[ $rc = 0 ] || why="exit $rc"
	cmp -s "$s/raw.raw" "$tmp/raw.img" || why+=" raw copy differs;"
	[ "$(stat -c %s "$s/empty.img" 2>/dev/null)" = $((3 << 20)) ] || why+=" emptyDisk size;"
	[ "$(stat -c %b "$s/empty.img" 2>/dev/null)" = 0 ] || why+=" emptyDisk not sparse;"
	[ "$(stat -c %s "$tmp/host.img" 2>/dev/null)" = $((2 << 20)) ] || why+=" hostDisk not created;"
	[ "$(iso_cat "$s/nocloud.iso" user-data)" = $'#cloud-config\nfoo: bar' ] || why+=" user-data;"
	[ "$(iso_cat "$s/nocloud.iso" meta-data)" = $'instance-id: all.ns1\nlocal-hostname: all-host' ] || why+=" meta-data;"
	[ "$(iso_cat "$s/nocloud.iso" network-config)" = "version: 2" ] || why+=" network-config;"
	[ "$(iso_cat "$s/cm.iso" settings.yaml)" = "level: debug" ] || why+=" configMap;"
	[ "$(iso_cat "$s/sec.iso" password)" = "s3cr3t" ] || why+=" secret;"
	[ "$(iso_cat "$s/sa.iso" token)" = "token-abc" ] || why+=" serviceAccount;"
	blkid "$s/cm.iso" 2>/dev/null | grep -q 'LABEL="CFG"' || why+=" configMap volume label;"
	jq -e '.cpus == 4 and .topology == {"sockets": 1, "cores": 2, "threads": 2} and .on_reboot == "restart" and .memory == "64M" and .cmdline == "console=ttyS0 x=1" and (.disks | length) == 7 and
		.disks[1].serial == "empty-serial" and .disks[3].readonly and (.disks[0].readonly | not) and
		(.api | startswith("unix:"))' "$s/vmm.json" >/dev/null 2>&1 || why+=" vmm.json: $(cat "$s/vmm.json" 2>/dev/null);"
	[ ! -e "$tmp/run" ] || why+=" run dir left;"
	n=$((n + 1))
	if [ -z "$why" ]; then
		echo "ok $n - every volume type prepared: containerDisk copy, sparse emptyDisk, hostDisk DiskOrCreate, NoCloud/configMap/secret/serviceAccount ISOs, VMM config with the CPU topology"
	else
		failed=$((failed + 1))
		echo "not ok $n - volume preparation:$why"
		sed 's/^/#   /' <<<"$out"
	fi
else
	n=$((n + 1))
	echo "ok $n # SKIP osirrox (xorriso) missing"
fi
echo "1..$n"
[ $failed = 0 ]
