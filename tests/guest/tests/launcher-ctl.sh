# kvirt-launcher control-socket guest (tests/vm/launcher-inner.sh): a counter
# printed every 0.5 s ("TICK n"), and, unless kvirt.acpi=off, busybox acpid
# turning the ACPI power button into a power-off ("KVIRT-POWER-BUTTON").
# Boot it with kvirt.end=shell so the console also takes commands.
acpi=on
for a in $(cat /proc/cmdline); do
	case "$a" in kvirt.acpi=*) acpi=${a#*=} ;; esac
done
if [ "$acpi" = on ]; then
	mkdir -p /etc/acpi/PWRF
	printf '#!/bin/sh\necho KVIRT-POWER-BUTTON >/dev/console\nsync\npoweroff -f\n' \
		>/etc/acpi/PWRF/00000080
	chmod 755 /etc/acpi/PWRF/00000080
	ls /dev/input/event* >/dev/null 2>&1 || { echo "FAIL: no /dev/input/event* (evdev, button)"; exit 1; }
	# acpid daemonizes before it opens its log file, and dies if it cannot.
	mkdir -p /var/log /var/run
	acpid -c /etc/acpi -l /var/log/acpid.log </dev/null >/dev/null 2>&1
	sleep 0.5
	pidof acpid >/dev/null || { echo "FAIL: acpid is not running"; exit 1; }
fi
# All of the ticker's fds away from init's output pipe, or init waits for it.
(i=0; while :; do i=$((i + 1)); echo "TICK $i"; sleep 0.5; done) </dev/null >/dev/console 2>&1 &
echo "ticker started, acpi=$acpi"
