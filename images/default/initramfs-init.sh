#!/bin/busybox sh
# migtest initramfs: load the virtio modules through modules.dep, check the devices the
# harness relies on appeared, then switch to the read-only root on /dev/vda.
/bin/busybox mkdir -p /bin /sbin /proc /sys /dev /newroot
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
  echo "MIGTEST-BOOT-FAILED: $*"
  poweroff -f
}

for m in $(cat /etc/migtest-modules); do
  modprobe "$m" || fail "modprobe $m"
done

n=0
while [ ! -b /dev/vda ] || [ -z "$(ls /sys/class/virtio-ports 2>/dev/null)" ]; do
  n=$((n + 1))
  [ $n -gt 200 ] && fail "virtio devices missing: vda=$(ls /dev/vda 2>&1) ports=$(ls /sys/class/virtio-ports 2>&1)"
  usleep 50000
done
echo "migtest-initramfs: virtio ready ($(ls /sys/class/virtio-ports | tr '\n' ' '))"

mount -o ro -t ext4 /dev/vda /newroot || fail "mount root"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fail "tmpfs /run"
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp || fail "tmpfs /tmp"
mount -t tmpfs -o mode=0755 tmpfs /newroot/var/lib || fail "tmpfs /var/lib"
for d in dev proc sys; do mount --move /$d /newroot/$d; done
exec switch_root /newroot /usr/lib/migtest/init
