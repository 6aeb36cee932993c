import { describe, expect, it } from 'vitest';
import { moduleClosure, moduleName, parseModulesDep } from './modules.js';

const dep = `kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
`;

describe('initramfs modules', () => {
  it('takes the closure of the wanted modules through modules.dep', () => {
    const { paths, missing } = moduleClosure(parseModulesDep(dep), ['virtio_pci', 'virtio-net'], new Set());
    expect(missing).toEqual([]);
    expect(paths).toEqual([
      'kernel/drivers/net/net_failover.ko',
      'kernel/drivers/net/virtio_net.ko',
      'kernel/drivers/virtio/virtio.ko',
      'kernel/drivers/virtio/virtio_pci.ko',
      'kernel/drivers/virtio/virtio_ring.ko',
      'kernel/net/core/failover.ko',
    ]);
  });

  it('skips built-in modules and reports unknown ones', () => {
    const r = moduleClosure(parseModulesDep(dep), ['ext4', 'virtio_scsi'], new Set(['ext4']));
    expect(r).toEqual({ paths: [], missing: ['virtio_scsi'] });
  });

  it('names modules the way modprobe does', () => {
    expect(moduleName('kernel/fs/fuse/virtio-fs.ko.xz')).toBe('virtio_fs');
  });
});
