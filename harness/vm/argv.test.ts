import { describe, expect, it } from 'vitest';
import { buildArgv, cacheOptions } from './argv.js';
import type { VmPaths, VmSpec } from './spec.js';

const paths: VmPaths = { qmp: '/p/qmp.sock', fdMonitor: '/p/qmp-fd.sock', agent: '/p/qga.sock', heartbeat: '/p/hb.sock', serialLog: '/a/serial.log' };
const spec: VmSpec = {
  arch: 'x86_64', binary: '/usr/bin/qemu-system-x86_64', firmwareDirs: [], machine: 'q35', cpu: 'qemu64', accel: 'tcg',
  memoryMiB: 256, smp: 1, kernel: '/k', initrd: '/i', disks: [{ id: 'root', file: '/r.qcow2', format: 'qcow2', readonly: true }],
  nics: [], agent: true, heartbeat: true, devices: [], globals: [], objects: [], extraArgs: [],
};

const after = (argv: string[], flag: string) => argv.filter((_, i) => argv[i - 1] === flag);

describe('buildArgv', () => {
  it('puts QMP on a chardev socket (OOB) and never builds a shell string', () => {
    const argv = buildArgv(spec, paths);
    expect(after(argv, '-chardev')[0]).toBe('socket,id=qmp,path=/p/qmp.sock,server=on,wait=off');
    expect(after(argv, '-mon')).toEqual(['chardev=qmp,mode=control', 'chardev=qmpfd,mode=control']);
    expect(argv).not.toContain('-qmp');
    expect(argv.every((a) => typeof a === 'string')).toBe(true);
  });

  it('adds -incoming defer only for a destination', () => {
    expect(buildArgv(spec, paths)).not.toContain('-incoming');
    expect(buildArgv(spec, paths, { incoming: true }).slice(-2)).toEqual(['-incoming', 'defer']);
  });

  it('uses the arch console and read-only blockdevs for the shared root disk', () => {
    const argv = buildArgv(spec, paths);
    expect(after(argv, '-append')[0]).toContain('console=ttyS0');
    expect(after(buildArgv({ ...spec, arch: 'aarch64' }, paths), '-append')[0]).toContain('console=ttyAMA0');
    expect(after(argv, '-blockdev')).toEqual([
      'driver=file,filename=/r.qcow2,node-name=root-file,read-only=on,cache.direct=off,cache.no-flush=off',
      'driver=qcow2,file=root-file,node-name=root,read-only=on',
    ]);
  });

  it('maps cache modes and error actions onto blockdev and device options', () => {
    const argv = buildArgv({ ...spec, disks: [{ id: 'd1', file: '/d', format: 'raw', cache: 'none', aio: 'native', werror: 'stop', rerror: 'stop' }] }, paths);
    expect(after(argv, '-blockdev')[0]).toContain('cache.direct=on');
    expect(after(argv, '-blockdev')[0]).toContain('aio=native');
    expect(after(argv, '-device')).toContain('virtio-blk-pci,drive=d1,id=d1-dev,write-cache=on,werror=stop,rerror=stop');
    expect(cacheOptions('directsync')).toEqual({ direct: true, noFlush: false, writeCache: false });
    expect(cacheOptions('unsafe').noFlush).toBe(true);
  });

  it('passes firmware dirs, nics and passthrough options through', () => {
    const argv = buildArgv(
      { ...spec, firmwareDirs: ['/fw'], nics: [{ id: 'n0', backend: 'tap', ifname: 'tap0', vhost: true }], globals: ['a.b=c'], objects: ['iothread,id=io0'], devices: ['pcie-root-port,id=rp1'] },
      paths,
    );
    expect(argv.slice(0, 2)).toEqual(['-L', '/fw']);
    expect(after(argv, '-netdev')).toEqual(['tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=on']);
    expect(after(argv, '-global')).toEqual(['a.b=c']);
    expect(after(argv, '-object')).toEqual(['iothread,id=io0']);
    expect(after(argv, '-device')).toContain('pcie-root-port,id=rp1');
  });

  it('stacks blkdebug under the format and a throttle filter on top; scsi disks get a controller', () => {
    const argv = buildArgv(
      {
        ...spec,
        disks: [
          { id: 'd', file: '/d.qcow2', format: 'qcow2', throttleGroup: 'tg0', blkdebug: { 'inject-error.0.event': 'write_aio', 'inject-error.0.errno': 5 } },
          { id: 's', file: '/s.raw', format: 'raw', bus: 'virtio-scsi', serial: 'S1', werror: 'stop' },
        ],
      },
      paths,
    );
    expect(after(argv, '-blockdev').slice(0, 4)).toEqual([
      'driver=file,filename=/d.qcow2,node-name=d-file,read-only=off,cache.direct=off,cache.no-flush=off',
      'driver=blkdebug,node-name=d-dbg,image=d-file,inject-error.0.event=write_aio,inject-error.0.errno=5',
      'driver=qcow2,file=d-dbg,node-name=d,read-only=off',
      'driver=throttle,node-name=d-thr,throttle-group=tg0,file=d',
    ]);
    const devices = after(argv, '-device');
    expect(devices).toContain('virtio-blk-pci,drive=d-thr,id=d-dev,write-cache=on');
    expect(devices).toContain('virtio-scsi-pci,id=scsi0');
    expect(devices).toContain('scsi-hd,drive=s,id=s-dev,write-cache=on,bus=scsi0.0,serial=S1,werror=stop');
  });
  it('gives a disk the firmware boots from its bootindex, and such a guest no -kernel', () => {
    const argv = buildArgv({ ...spec, kernel: undefined, initrd: undefined, disks: [{ id: 'root', file: '/r.qcow2', format: 'qcow2', readonly: true, bootindex: 0 }] }, paths);
    expect(after(argv, '-device')).toContain('virtio-blk-pci,drive=root,id=root-dev,write-cache=on,bootindex=0');
    expect(argv).not.toContain('-kernel');
    expect(argv).not.toContain('-append');
  });
});
