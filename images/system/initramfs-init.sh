#!/bin/busybox sh
# migtest system image initramfs: load the virtio modules, wait for the root partition
# (the disk's third: BIOS boot, ESP, root), mount it read-only under a tmpfs overlay (so
# source and destination can share the disk, as with the default image) and hand over to
# systemd.
/bin/busybox mkdir -p /bin /sbin /proc /sys /dev /newroot /media/root-ro /media/root-rw
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
while [ ! -b /dev/vda3 ]; do
  n=$((n + 1))
  [ $n -gt 200 ] && fail "root partition missing: $(ls /dev/vd* 2>&1)"
  usleep 50000
done

mount -o ro -t ext4 /dev/vda3 /media/root-ro || fail "mount root"
mount -t tmpfs -o mode=0755 tmpfs /media/root-rw || fail "tmpfs overlay"
mkdir -p /media/root-rw/upper /media/root-rw/work
mount -t overlay overlay -o lowerdir=/media/root-ro,upperdir=/media/root-rw/upper,workdir=/media/root-rw/work /newroot || fail "overlay root"
for d in media/root-ro media/root-rw; do mount --move /$d /newroot/$d; done
for d in dev proc sys; do mount --move /$d /newroot/$d; done
exec switch_root /newroot /sbin/init
