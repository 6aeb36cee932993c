import type { Host } from './host.js';

/**
 * QEMU's image locking (file-posix): an OFD lock on byte 100+bit for each permission it
 * holds, and on byte 200+bit for each one it refuses to share. Bits as in BLK_PERM_*.
 */
export const PERM_BITS = ['consistent-read', 'write', 'write-unchanged', 'resize'] as const;
export type Perm = (typeof PERM_BITS)[number];
const PERM_BASE = 100;
const SHARED_BASE = 200;

export interface ImageLocks {
  /** Permissions the process holds on the image. */
  holds: Perm[];
  /** Permissions it does not let others take. */
  unshared: Perm[];
}

/** Byte offsets locked through an fdinfo text ("lock: 1: OFDLCK ADVISORY READ -1 fe:00:123 100 100"). Pure. */
export function lockedBytes(fdinfo: string): number[] {
  const out: number[] = [];
  for (const m of fdinfo.matchAll(/^lock:\s+\d+:\s+OFDLCK\s+\S+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+|EOF)$/gm)) {
    const start = Number(m[1]);
    const end = m[2] === 'EOF' ? start : Number(m[2]);
    for (let b = start; b <= end; b++) out.push(b);
  }
  return out;
}

export function locksFromBytes(bytes: number[]): ImageLocks {
  const pick = (base: number) => PERM_BITS.filter((_, i) => bytes.includes(base + i));
  return { holds: pick(PERM_BASE), unshared: pick(SHARED_BASE) };
}

/** Prints the fdinfo of every fd of process $1 open on file $2 (its host's /proc). */
const FDINFO_SCRIPT = 'for fd in /proc/"$1"/fd/*; do [ "$(readlink "$fd" 2>/dev/null)" = "$2" ] && cat "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null; done; exit 0';

/**
 * The locks a process holds on a file, from /proc/<pid>/fdinfo of every fd open on it, read on
 * the host it runs on (the file as that host names it). A process that is gone holds none.
 */
export async function imageLocks(host: Host, pid: number, file: string): Promise<ImageLocks> {
  const r = await host.exec(['sh', '-c', FDINFO_SCRIPT, 'sh', String(pid), file]);
  return locksFromBytes(lockedBytes(r.stdout));
}
