import type { Arch } from '../util/arch.js';
import type { UefiFirmware } from '../images/firmware.js';

export const CACHE_MODES = ['none', 'writeback', 'writethrough', 'directsync', 'unsafe'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];
export const AIO_MODES = ['threads', 'native', 'io_uring'] as const;
export type AioMode = (typeof AIO_MODES)[number];
export type ErrorAction = 'report' | 'ignore' | 'stop' | 'enospc';

export interface DiskSpec {
  id: string;
  file: string;
  format: 'qcow2' | 'raw';
  readonly?: boolean;
  cache?: CacheMode;
  aio?: AioMode;
  werror?: ErrorAction;
  rerror?: Exclude<ErrorAction, 'enospc'>;
  /** virtio-blk (default) or a scsi-hd on a virtio-scsi controller. */
  bus?: 'virtio-blk' | 'virtio-scsi';
  /** Id of a throttle-group object (withObject): a throttle filter node goes on top. */
  throttleGroup?: string;
  /** blkdebug options (inject-error.0.event=...): a blkdebug node between format and file. */
  blkdebug?: Record<string, string | number>;
  /** virtio-blk/scsi-hd serial, how the guest finds the disk in /sys/block. */
  serial?: string;
  /** The firmware boots from it (bootindex): a guest booted from its own disk. */
  bootindex?: number;
  /**
   * This disk is a fresh writable overlay of that read-only file (a user's image): a snapshot
   * start keys on the file and saves and restores the overlay's contents with the guest's RAM.
   */
  overlayOf?: { file: string; format: 'qcow2' | 'raw' };
}

export interface NicSpec {
  id: string;
  backend: 'user' | 'tap';
  /** tap device name (backend tap). */
  ifname?: string;
  mac?: string;
  vhost?: boolean;
}

/**
 * Where guest RAM lives, when not in anonymous memory: a file (memory-backend-file, in the
 * VM's private directory unless `path` names one) or memfd; `shared` maps it MAP_SHARED
 * (what vhost-user and x-ignore-shared need).
 */
export interface MemoryBackend {
  kind: 'file' | 'memfd';
  shared?: boolean;
  /**
   * memory-backend-file: the file (default: `ram` in the VM's private directory). `shm`: one
   * file in /dev/shm that the source and its destination both map (x-ignore-shared), made
   * for the case and removed after it.
   */
  path?: string;
}

export type { Accel } from '../util/arch.js';
import type { Accel } from '../util/arch.js';

/** Everything that decides a QEMU command line. Source and destination share one, but for incoming. */
export interface VmSpec {
  arch: Arch;
  binary: string;
  /** -L directories, for a QEMU that does not live in /usr (a fetched older version). */
  firmwareDirs: string[];
  machine: string;
  /** Options appended to -machine (aux-ram-share=on), kept apart from its type so the type can be pinned by version. */
  machineOptions?: string[];
  cpu: string;
  accel: Accel;
  /** Appended to -accel (kvm,dirty-ring-size=4096). */
  accelProps?: string[];
  memoryMiB: number;
  /** Guest RAM from a memory backend object instead of anonymous memory. */
  memoryBackend?: MemoryBackend;
  smp: number;
  kernel?: string;
  initrd?: string;
  append?: string;
  /** The user's own disk image this VM boots (through an overlay): its boot wait names the guest contract. */
  userImage?: string;
  /** UEFI from pflash (its code read-only, a variable store of the VM's own); undefined: the machine's BIOS or none. */
  firmware?: UefiFirmware;
  disks: DiskSpec[];
  nics: NicSpec[];
  /** virtio-serial port for qemu-guest-agent. */
  agent: boolean;
  /** virtio-serial port the guest writes its heartbeat to. */
  heartbeat: boolean;
  /** Liveness from the guest agent polled (a guest without the heartbeat; docs/guest-contract.md). */
  livenessFromAgent?: boolean;
  devices: string[];
  globals: string[];
  objects: string[];
  extraArgs: string[];
  /** Network namespace QEMU runs in (`ip netns exec`): for partitions between source and destination. */
  netns?: string;
}

/** Host-side files of one running QEMU: sockets in a private directory, logs in artifacts. */
export interface VmPaths {
  qmp: string;
  /** A second monitor for helpers that pass fds (SCM_RIGHTS); ours stays on `qmp`. */
  fdMonitor: string;
  agent: string;
  heartbeat: string;
  serialLog: string;
  /** The default file of a memory-backend-file. */
  memFile?: string;
  /** The VM's own UEFI variable store, copied from the firmware's template before it starts. */
  vars?: string;
}

export { ARCH_DEFAULTS } from '../util/arch.js';
