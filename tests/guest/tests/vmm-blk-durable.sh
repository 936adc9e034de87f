# Durability probe (tests/vm/vmm-blk-inner.sh "durable"): write the token
# from kvirt.token= to /dev/vda sector kvirt.sector= (buffered), sync, report.
# The host SIGKILLs kvirt-vmm as soon as the result line appears and looks
# for the token in the image.
token= sector=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	kvirt.token=*) token=${arg#*=} ;;
	kvirt.sector=*) sector=${arg#*=} ;;
	esac
done
[ -n "$token" ] && [ -n "$sector" ] || { echo "need kvirt.token and kvirt.sector"; exit 1; }
printf '%s\n' "$token" | dd of=/dev/vda bs=512 seek="$sector" conv=sync,notrunc 2>/dev/null || { echo "write failed"; exit 1; }
sync || { echo "sync failed"; exit 1; }
echo "wrote $token at sector $sector and synced"
