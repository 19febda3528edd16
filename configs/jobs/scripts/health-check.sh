#!/bin/sh
# Health check (Linux): hostname, uptime, load, disk usage of /, key services.
# Exit 0 = healthy, 1 = a disk above DISK_THRESHOLD_PCT, 3 = a required service is down.
threshold="${DISK_THRESHOLD_PCT:-90}"
status=0

echo "== health check: $(hostname) =="
echo "os:      $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") (kernel $(uname -r))"
echo "uptime:  $(uptime -p 2>/dev/null || uptime)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"

used=$(df -P / | awk 'NR==2 { sub("%", "", $5); print $5 }')
echo "disk /:  ${used}% used (threshold ${threshold}%)"
if [ "$used" -ge "$threshold" ]; then
    echo "ERROR: / is ${used}% full (threshold ${threshold}%)" >&2
    status=1
fi

check_service() {  # $1 = what to call it; the rest = unit names the distributions use
    label=$1
    shift
    for unit in "$@"; do
        if systemctl is-active --quiet "$unit" 2>/dev/null; then
            echo "service: $label active"
            return 0
        fi
    done
    echo "ERROR: $label is not running" >&2
    return 1
}
for pair in "sshd sshd ssh" "cron cron crond"; do
    # shellcheck disable=SC2086  # word splitting of $pair is the point
    check_service $pair || { [ "$status" -eq 0 ] && status=3; }
done

[ "$status" -eq 0 ] && echo "status:  OK"
exit "$status"
