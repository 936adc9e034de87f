# kvirt-vmm PCI check: the kernel found a config access method and enumerated
# the host bridge at 00:00.0 under the ACPI root bridge PCI0.
dev=/sys/bus/pci/devices/0000:00:00.0
if dmesg | grep -q 'No config space access function found'; then
	echo "kernel: no PCI config space access"; exit 1
fi
[ -d "$dev" ] || { echo "no $dev; pci devices: $(ls /sys/bus/pci/devices 2>&1 | tr '\n' ' ')"; exit 1; }
class=$(cat $dev/class) vendor=$(cat $dev/vendor)
[ "$class" = 0x060000 ] || { echo "00:00.0 class $class, want 0x060000"; exit 1; }
root=$(dmesg | grep -o 'PCI Root Bridge \[PCI0\][^)]*)' | head -1)
[ -n "$root" ] || { echo "no ACPI PCI root bridge PCI0 in dmesg"; exit 1; }
echo "host bridge $vendor class $class; $root; devices: $(ls /sys/bus/pci/devices | tr '\n' ' ')"
