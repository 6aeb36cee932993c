import { kernelAppend } from '../util/arch.js';
import { type DiskSpec, type NicSpec, type VmPaths, type VmSpec } from './spec.js';

/** The -object that holds guest RAM (its id is ram0, named by -machine memory-backend=). */
export function memoryBackendObject(spec: VmSpec, paths: VmPaths): string {
  const b = spec.memoryBackend!;
  const common = `id=ram0,size=${spec.memoryMiB}M${b.shared ? ',share=on' : ''}`;
  return b.kind === 'memfd' ? `memory-backend-memfd,${common}` : `memory-backend-file,${common},mem-path=${b.path ?? paths.memFile ?? 'ram'}`;
}

/** Turns a spec into QEMU's argv: an array, never a shell string. Pure. */
export function buildArgv(spec: VmSpec, paths: VmPaths, opts: { incoming?: boolean } = {}): string[] {
  const a: string[] = [];
  for (const d of spec.firmwareDirs) a.push('-L', d);
  a.push('-nodefaults', '-no-user-config', '-display', 'none');
  // x86 Secure Boot keeps its variables behind SMM: without it the firmware refuses to start.
  const smm = spec.firmware?.secure && spec.arch === 'x86_64' ? ['smm=on'] : [];
  a.push('-machine', [spec.machine, ...(spec.machineOptions ?? []), ...smm, ...(spec.memoryBackend ? ['memory-backend=ram0'] : [])].join(','), '-accel', [spec.accel, ...(spec.accelProps ?? [])].join(','), '-cpu', spec.cpu);
  a.push('-m', `${spec.memoryMiB}M`, '-smp', String(spec.smp));
  if (spec.memoryBackend) a.push('-object', memoryBackendObject(spec, paths));
  // A chardev socket monitor is the only kind that offers OOB.
  a.push('-chardev', `socket,id=qmp,path=${paths.qmp},server=on,wait=off`, '-mon', 'chardev=qmp,mode=control');
  a.push('-chardev', `socket,id=qmpfd,path=${paths.fdMonitor},server=on,wait=off`, '-mon', 'chardev=qmpfd,mode=control');
  a.push('-chardev', `file,id=console,path=${paths.serialLog}`, '-serial', 'chardev:console');
  if (spec.firmware) {
    a.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${spec.firmware.code}`, '-drive', `if=pflash,format=raw,unit=1,file=${paths.vars ?? 'vars.fd'}`);
    if (smm.length) a.push('-global', 'driver=cfi.pflash01,property=secure,value=on');
  }
  if (spec.kernel) a.push('-kernel', spec.kernel);
  if (spec.initrd) a.push('-initrd', spec.initrd);
  if (spec.kernel) a.push('-append', spec.append ?? defaultAppend(spec));
  for (const o of spec.objects) a.push('-object', o);
  if (spec.disks.some((d) => d.bus === 'virtio-scsi')) a.push('-device', 'virtio-scsi-pci,id=scsi0');
  spec.disks.forEach((d) => a.push(...diskArgs(d)));
  spec.nics.forEach((n) => a.push(...nicArgs(n)));
  if (spec.agent || spec.heartbeat) a.push('-device', 'virtio-serial-pci,id=vser0');
  if (spec.agent)
    a.push(
      '-chardev', `socket,id=qga,path=${paths.agent},server=on,wait=off`,
      '-device', 'virtserialport,bus=vser0.0,chardev=qga,name=org.qemu.guest_agent.0',
    );
  if (spec.heartbeat)
    a.push(
      '-chardev', `socket,id=hb,path=${paths.heartbeat},server=on,wait=off`,
      '-device', 'virtserialport,bus=vser0.0,chardev=hb,name=org.migtest.heartbeat',
    );
  for (const d of spec.devices) a.push('-device', d);
  for (const g of spec.globals) a.push('-global', g);
  a.push(...spec.extraArgs);
  if (opts.incoming) a.push('-incoming', 'defer');
  return a;
}

export function defaultAppend(spec: Pick<VmSpec, 'arch'>): string {
  return kernelAppend(spec.arch);
}

/** Maps QEMU's -drive cache= shorthand onto -blockdev options and the device's write cache. */
export function cacheOptions(cache: DiskSpec['cache'] = 'writeback'): { direct: boolean; noFlush: boolean; writeCache: boolean } {
  switch (cache) {
    case 'none':
      return { direct: true, noFlush: false, writeCache: true };
    case 'writethrough':
      return { direct: false, noFlush: false, writeCache: false };
    case 'directsync':
      return { direct: true, noFlush: false, writeCache: false };
    case 'unsafe':
      return { direct: false, noFlush: true, writeCache: true };
    default:
      return { direct: false, noFlush: false, writeCache: true };
  }
}

/** The qdev id of a disk's device (virtio-blk-pci or scsi-hd): what QMP, blockstats and HMP name it by. */
export const diskDeviceId = (d: Pick<DiskSpec, 'id'>) => `${d.id}-dev`;

/**
 * The qdev path, under /machine/peripheral, of the device that owns the disk's BlockBackend:
 * scsi-hd itself, or virtio-blk's virtio-backend child (HMP qemu-io, blockstats, the virtqueue).
 */
export function blockDevicePath(disk: Pick<DiskSpec, 'id' | 'bus'>): string {
  return disk.bus === 'virtio-scsi' ? diskDeviceId(disk) : `${diskDeviceId(disk)}/virtio-backend`;
}

/** Node chain file -> [blkdebug] -> format -> [throttle]; the device sits on the top one. */
function diskArgs(d: DiskSpec): string[] {
  const c = cacheOptions(d.cache);
  const ro = d.readonly ? 'on' : 'off';
  const file = [
    'driver=file',
    `filename=${d.file}`,
    `node-name=${d.id}-file`,
    `read-only=${ro}`,
    `cache.direct=${c.direct ? 'on' : 'off'}`,
    `cache.no-flush=${c.noFlush ? 'on' : 'off'}`,
  ];
  if (d.aio) file.push(`aio=${d.aio}`);
  const out = ['-blockdev', file.join(',')];
  let below = `${d.id}-file`;
  if (d.blkdebug) {
    const dbg = ['driver=blkdebug', `node-name=${d.id}-dbg`, `image=${below}`, ...Object.entries(d.blkdebug).map(([k, v]) => `${k}=${v}`)];
    out.push('-blockdev', dbg.join(','));
    below = `${d.id}-dbg`;
  }
  out.push('-blockdev', [`driver=${d.format}`, `file=${below}`, `node-name=${d.id}`, `read-only=${ro}`].join(','));
  let top = d.id;
  if (d.throttleGroup) {
    out.push('-blockdev', ['driver=throttle', `node-name=${d.id}-thr`, `throttle-group=${d.throttleGroup}`, `file=${d.id}`].join(','));
    top = `${d.id}-thr`;
  }
  const scsi = d.bus === 'virtio-scsi';
  const dev = [scsi ? 'scsi-hd' : 'virtio-blk-pci', `drive=${top}`, `id=${diskDeviceId(d)}`, `write-cache=${c.writeCache ? 'on' : 'off'}`];
  if (scsi) dev.push('bus=scsi0.0');
  if (d.serial) dev.push(`serial=${d.serial}`);
  if (d.bootindex !== undefined) dev.push(`bootindex=${d.bootindex}`);
  if (d.werror) dev.push(`werror=${d.werror}`);
  if (d.rerror) dev.push(`rerror=${d.rerror}`);
  out.push('-device', dev.join(','));
  return out;
}

function nicArgs(n: NicSpec): string[] {
  const netdev =
    n.backend === 'user'
      ? `user,id=${n.id}`
      : `tap,id=${n.id},ifname=${n.ifname ?? n.id},script=no,downscript=no${n.vhost ? ',vhost=on' : ''}`;
  const dev = [`virtio-net-pci`, `netdev=${n.id}`, `id=${n.id}-dev`];
  if (n.mac) dev.push(`mac=${n.mac}`);
  return ['-netdev', netdev, '-device', dev.join(',')];
}
