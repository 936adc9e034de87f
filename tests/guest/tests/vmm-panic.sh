# Crash the guest kernel on purpose (sysrq 'c'); with panic=-1 it reboots at
# once, and kvirt-vmm must report that as a panic, not a reboot.
# The marker goes straight to the console: init's tee of our stdout may not
# get to run before the crash.
echo "panicking on purpose" >/dev/console
echo 1 >/proc/sys/kernel/sysrq
echo c >/proc/sysrq-trigger
sleep 5
echo "still alive after sysrq-c"
exit 1
