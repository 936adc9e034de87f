# Helpers shared by the bench/*-inner.sh scripts (sourced; run inside tests/kvmhost).

# Median of the numbers on stdin, one per line (integer; "-" when none).
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

# overhead_kib PID GUEST_MIB: RSS (from smaps) of every mapping of PID
# except guest RAM, i.e. the anonymous mapping whose size is the guest
# memory size; prints "overhead_kib guest_kib".
overhead_kib() {
	python3 - "$1" "$(($2 * 1024))" <<'PY'
import sys
pid, guest_kib = sys.argv[1], int(sys.argv[2])
other = guest = 0
skip = False
for line in open(f"/proc/{pid}/smaps"):
    head = line.split()
    if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
        lo, hi = (int(x, 16) for x in head[0].split("-"))
        skip = (hi - lo) // 1024 == guest_kib
    elif head[0] == "Rss:":
        if skip:
            guest += int(head[1])
        else:
            other += int(head[1])
print(other, guest)
PY
}
