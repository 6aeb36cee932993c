import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../util/paths.js';
import { runConfig } from '../util/run-config.js';
import { buildArgv } from './argv.js';
import type { DiskSpec, VmPaths, VmSpec } from './spec.js';

/** Bumped when what a snapshot holds or how it is restored changes: old files are never used. */
const FORMAT = 2;
/** None is kept unused for this long; how many bytes are kept is the run's (MIGTEST_SNAPSHOT_CACHE_GIB). */
const MAX_AGE_MS = 14 * 24 * 3600 * 1000;
const TMP_MAX_AGE_MS = 24 * 3600 * 1000;

/** The argv is hashed with these in place of the per-VM socket and log paths, which do not reach the guest. */
const PLACEHOLDER_PATHS: VmPaths = { qmp: 'QMP', fdMonitor: 'FDMON', agent: 'QGA', heartbeat: 'HB', serialLog: 'SERIAL', vars: 'VARS' };

/** A file's identity for the key: a rebuilt image or binary has another size, mtime or inode. */
function fileId(f: string): string {
  const s = statSync(f);
  return `${f}:${s.size}:${Math.round(s.mtimeMs)}:${s.ino}`;
}

/** Why a VM cannot start from a snapshot (it boots instead), or undefined when it can. */
export function snapshotIneligible(spec: VmSpec): string | undefined {
  if (spec.disks.some((d) => !d.readonly && !d.overlayOf)) return 'it has a writable disk, whose contents a snapshot does not hold';
  if (!spec.agent || (!spec.heartbeat && !spec.livenessFromAgent)) return 'without the agent, or without a heartbeat or the agent polled, nothing tells that a restored guest is ready';
  // Ours: a kernel we load, or a disk the firmware boots from that is read-only or a fresh overlay (both in the key).
  if (!spec.kernel && !spec.disks.some((d) => d.bootindex !== undefined && (d.readonly || d.overlayOf))) return 'it boots no kernel of ours';
  return undefined;
}

/** The disks whose contents go with a snapshot: a user's image's overlay, saved beside the RAM. */
export const overlayDisks = (spec: VmSpec): DiskSpec[] => spec.disks.filter((d) => d.overlayOf);

/**
 * The snapshot's key: the binary (path, size, mtime, inode) and its version, the exact argv
 * (socket and log paths as placeholders), and every file the guest boots from. A changed
 * binary, argv or image makes another key, so a stale snapshot is never restored. An overlay
 * (each pair's own) counts as the file it is a fresh overlay of.
 */
export function snapshotKey(spec: VmSpec, qemuVersion: string): string {
  const keyed = { ...spec, disks: spec.disks.map((d) => (d.overlayOf ? { ...d, file: `OVERLAY-${d.id}` } : d)) };
  const files = [spec.binary, spec.kernel, spec.initrd, spec.firmware?.code, spec.firmware?.varsTemplate, ...spec.disks.map((d) => d.overlayOf?.file ?? d.file)].filter((f): f is string => !!f);
  const h = createHash('sha256');
  h.update(JSON.stringify({ format: FORMAT, qemuVersion, argv: buildArgv(keyed, PLACEHOLDER_PATHS), files: files.map(fileId) }));
  return h.digest('hex').slice(0, 32);
}

/**
 * Ready guests saved to files (a migration to `file:`), shared by every run on the host. A
 * file appears only complete (written under a temporary name, then linked), and the first
 * save of a key wins (a complete snapshot is never replaced), so runs that start at once can
 * share the directory: the worst case is two runs saving the same key, one for nothing.
 */
export class SnapshotCache {
  readonly dir: string;

  constructor(
    dir = join(cacheDir(), 'snapshots'),
    private readonly budgetBytes = runConfig().snapshotCacheBytes,
  ) {
    this.dir = dir;
  }

  file(key: string): string {
    return join(this.dir, `${key}.mig`);
  }

  /** Where the contents of a snapshot's overlay disk `id` are kept, beside its RAM. */
  diskFile(key: string, id: string): string {
    return join(this.dir, `${key}.${id}.qcow2`);
  }

  /** The snapshot for a key, if there is one with each of these disks' contents (its mtime marks it used). */
  lookup(key: string, disks: DiskSpec[] = []): string | undefined {
    const f = this.file(key);
    if (!existsSync(f) || disks.some((d) => !existsSync(this.diskFile(key, d.id)))) return undefined;
    const now = new Date();
    utimesSync(f, now, now);
    return f;
  }

  /** A name to write a snapshot (or, with `id`, one of its disks) to before it is complete. */
  temporary(key: string, id?: string): string {
    mkdirSync(this.dir, { recursive: true });
    return join(this.dir, `${key}.${id ? `${id}.` : ''}${process.pid}.${Date.now()}.${randomBytes(4).toString('hex')}.tmp`);
  }

  /**
   * Makes a written snapshot visible, its disks first (a visible snapshot has them), then keeps
   * the directory bounded. The first save of a key wins: its first link decides between saves
   * at once, and a complete snapshot is never replaced, so a disk copied from it (take) always
   * goes with its RAM. A snapshot missing a disk is no snapshot: this one takes its place.
   */
  commit(tmp: string, key: string, disks: Array<{ id: string; tmp: string }> = []): string {
    const f = this.file(key);
    if (existsSync(f) ? disks.some((d) => !existsSync(this.diskFile(key, d.id))) : disks.some((d) => this.stale(this.diskFile(key, d.id)))) this.drop(key);
    const linked: string[] = [];
    try {
      for (const d of disks) {
        linkSync(d.tmp, this.diskFile(key, d.id));
        linked.push(this.diskFile(key, d.id));
      }
      linkSync(tmp, f);
    } catch (e) {
      // Another save of this configuration got there first (EEXIST): this one goes, and so do
      // its disks on any other error (a disk without its RAM would block later saves).
      for (const l of linked) rmSync(l, { force: true });
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      for (const t of [tmp, ...disks.map((d) => d.tmp)]) rmSync(t, { force: true });
    }
    this.prune();
    return f;
  }

  /**
   * A snapshot's disks copied to where `disks` say (an overlay nobody has opened yet), and its
   * RAM held under a private name for the restore, so a drop and a new save of the key meanwhile
   * cannot pair other RAM with the disk copied: `held` is what to restore (remove it after).
   * `copied` says whether the disks were written to, when there is nothing to restore.
   */
  take(key: string, disks: DiskSpec[]): { held?: string; copied: boolean } {
    if (!this.lookup(key, disks)) return { copied: false };
    const held = this.temporary(key, 'held');
    let copied = false;
    let kept = false;
    try {
      linkSync(this.file(key), held);
      const inodes = disks.map((d) => statSync(this.diskFile(key, d.id)).ino);
      copied = true;
      for (const d of disks) copyFileSync(this.diskFile(key, d.id), d.file);
      // Still the files it began with: no drop and new save came between.
      kept = statSync(this.file(key)).ino === statSync(held).ino && disks.every((d, i) => statSync(this.diskFile(key, d.id)).ino === inodes[i]);
      return kept ? { held, copied } : { copied };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return { copied };
    } finally {
      if (!kept) rmSync(held, { force: true });
    }
  }

  /** A disk left without its RAM (a save killed between its links), not one being committed this minute. */
  private stale(file: string): boolean {
    const s = statSync(file, { throwIfNoEntry: false });
    return !!s && Date.now() - s.mtimeMs > 60_000;
  }

  /** Forgets a key (a snapshot that failed to restore): the next start boots and saves anew. */
  drop(key: string): void {
    if (!existsSync(this.dir)) return;
    for (const n of readdirSync(this.dir)) if (n.startsWith(`${key}.`) && !n.endsWith('.tmp')) rmSync(join(this.dir, n), { force: true });
  }

  private prune(): void {
    const now = Date.now();
    const entries = readdirSync(this.dir)
      .map((n) => ({ n, key: n.slice(0, n.indexOf('.')), p: join(this.dir, n), s: statSync(join(this.dir, n), { throwIfNoEntry: false }) }))
      .filter((e) => e.s !== undefined);
    // A snapshot's disks live and go with it: their age and size are its own (lookup touches
    // the RAM file only); a disk without one (committed this instant, or left) ages by its own.
    // A temporary file (a save, a held RAM) lives a day at most: it is used within seconds.
    const used = new Map(entries.filter((e) => e.n.endsWith('.mig')).map((e) => [e.key, e.s!.mtimeMs]));
    const tmp = (e: (typeof entries)[number]) => e.n.endsWith('.tmp');
    const age = (e: (typeof entries)[number]) => now - (tmp(e) ? e.s!.mtimeMs : (used.get(e.key) ?? e.s!.mtimeMs));
    for (const e of entries) if (age(e) > (tmp(e) ? TMP_MAX_AGE_MS : MAX_AGE_MS)) rmSync(e.p, { force: true });
    const bytes = new Map<string, number>();
    for (const e of entries) if (!e.n.endsWith('.tmp') && age(e) <= MAX_AGE_MS) bytes.set(e.key, (bytes.get(e.key) ?? 0) + e.s!.size);
    // Least recently used first out, until the rest fits the budget.
    let kept = 0;
    for (const key of [...bytes.keys()].sort((a, b) => (used.get(b) ?? 0) - (used.get(a) ?? 0))) {
      kept += bytes.get(key)!;
      if (kept > this.budgetBytes) this.drop(key);
    }
  }
}
