#!/bin/busybox sh
# PID 1 of the migtest guest (no systemd): the guest agent on virtio-serial and the
# heartbeat on its own port; then it only reaps children.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C LC_ALL=C
busybox mkdir -p /run/migtest /var/lib/migtest
# Keep pinned pages where they are: the RAM check maps them to physical frames once.
echo never > /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
echo 0 > /proc/sys/vm/compact_unevictable_allowed 2>/dev/null

port() {
  for d in /sys/class/virtio-ports/*; do
    if [ "$(busybox cat "$d/name" 2>/dev/null)" = "$1" ]; then
      echo "/dev/${d##*/}"
      return 0
    fi
  done
  return 1
}

QGA=$(port org.qemu.guest_agent.0) || echo "migtest-init: no guest agent port"
HB=$(port org.migtest.heartbeat) || echo "migtest-init: no heartbeat port"

[ -n "$QGA" ] && qemu-ga -m virtio-serial -p "$QGA" -f /run/qemu-ga.pid -t /run/migtest &
[ -n "$HB" ] && perl /usr/lib/migtest/heartbeat.pl "$HB" &
echo "migtest-init: started agent on $QGA, heartbeat on $HB"

while true; do
  wait
  busybox sleep 1
done
