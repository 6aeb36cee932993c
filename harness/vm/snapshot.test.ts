import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SnapshotCache, snapshotIneligible, snapshotKey } from './snapshot.js';
import type { VmSpec } from './spec.js';

const dir = mkdtempSync('/tmp/migtest-snapkey-');
const file = (n: string) => {
  const p = join(dir, n);
  writeFileSync(p, n);
  return p;
};
const spec = (more: Partial<VmSpec> = {}): VmSpec => ({
  arch: 'x86_64', binary: file('qemu'), firmwareDirs: [], machine: 'q35', cpu: 'qemu64', accel: 'tcg', memoryMiB: 256, smp: 1,
  kernel: file('vmlinuz'), initrd: file('initrd'), disks: [{ id: 'root', file: file('root.qcow2'), format: 'qcow2', readonly: true }],
  nics: [], agent: true, heartbeat: true, devices: [], globals: [], objects: [], extraArgs: [], ...more,
});

describe('snapshot start', () => {
  it('keys on the exact argv, the binary and the image files, not on socket paths or namespaces', () => {
    const base = spec();
    const k = snapshotKey(base, '10.0.2');
    expect(snapshotKey({ ...base, netns: 'migtest_1' }, '10.0.2')).toBe(k);
    expect(snapshotKey({ ...base, memoryMiB: 512 }, '10.0.2')).not.toBe(k);
    expect(snapshotKey({ ...base, extraArgs: ['-uuid', 'x'] }, '10.0.2')).not.toBe(k);
    expect(snapshotKey(base, '10.0.3')).not.toBe(k);
    // A rebuilt image (same path, new mtime) is another key: a stale snapshot is never restored.
    utimesSync(base.initrd!, new Date(), new Date(Date.now() + 5000));
    expect(snapshotKey(base, '10.0.2')).not.toBe(k);
  });

  it('boots instead when a snapshot cannot hold the guest', () => {
    expect(snapshotIneligible(spec())).toBeUndefined();
    expect(snapshotIneligible(spec({ disks: [...spec().disks, { id: 'data', file: file('d.qcow2'), format: 'qcow2' }] }))).toMatch(/writable disk/);
    expect(snapshotIneligible(spec({ agent: false }))).toMatch(/ready/);
    // A guest the firmware boots from our read-only disk: the disk is in the key, so it qualifies.
    expect(snapshotIneligible(spec({ kernel: undefined, initrd: undefined, disks: [{ ...spec().disks[0]!, bootindex: 0 }] }))).toBeUndefined();
    expect(snapshotIneligible(spec({ kernel: undefined, initrd: undefined }))).toMatch(/no kernel of ours/);
  });

  it('only complete files are seen', () => {
    const cache = new SnapshotCache(mkdtempSync('/tmp/migtest-snapcache-'));
    const tmp = cache.temporary('k');
    writeFileSync(tmp, 'partial');
    expect(cache.lookup('k')).toBeUndefined();
    cache.commit(tmp, 'k');
    expect(cache.lookup('k')).toBe(cache.file('k'));
    cache.drop('k');
    expect(cache.lookup('k')).toBeUndefined();
  });

  it('keeps what fits its byte budget, the least recently used dropped first', () => {
    const cache = new SnapshotCache(mkdtempSync('/tmp/migtest-snapcache-'), 2500);
    const save = (k: string, ageS: number) => {
      const tmp = cache.temporary(k);
      writeFileSync(tmp, Buffer.alloc(1000));
      cache.commit(tmp, k);
      const t = new Date(Date.now() - ageS * 1000);
      utimesSync(cache.file(k), t, t);
    };
    save('old', 30);
    save('mid', 20);
    save('new', 10);
    // The third does not fit beside the two more recent ones: the oldest went.
    save('newest', 0);
    expect(['old', 'mid', 'new', 'newest'].filter((k) => existsSync(cache.file(k)))).toEqual(['new', 'newest']);
  });

  // A user's image: each pair boots its own overlay of the file; the snapshot holds the overlay's contents.
  const proto = spec({ kernel: undefined, initrd: undefined });
  const mine = file('mine.qcow2');
  const overlaid = (overlay: string, base = mine): VmSpec => ({ ...proto, disks: [{ id: 'root', file: overlay, format: 'qcow2', bootindex: 0, overlayOf: { file: base, format: 'qcow2' } }] });

  it("keys a user's image on its file, not on the pair's overlay of it", () => {
    const base = file('user.qcow2');
    const k = snapshotKey(overlaid(file('a/../root-overlay-1.qcow2'), base), '10.0.2');
    expect(snapshotKey(overlaid(file('root-overlay-7.qcow2'), base), '10.0.2')).toBe(k);
    expect(snapshotKey(overlaid(file('root-overlay-1.qcow2'), file('other.qcow2')), '10.0.2')).not.toBe(k);
    // The user's file changed: another key.
    utimesSync(base, new Date(), new Date(Date.now() + 5000));
    expect(snapshotKey(overlaid(file('root-overlay-1.qcow2'), base), '10.0.2')).not.toBe(k);
    // Its overlay is writable but goes with the snapshot; another writable disk still does not.
    expect(snapshotIneligible(overlaid(file('root-overlay-1.qcow2')))).toBeUndefined();
    const withData = overlaid(file('root-overlay-1.qcow2'));
    expect(snapshotIneligible({ ...withData, disks: [...withData.disks, { id: 'data', file: file('d.qcow2'), format: 'qcow2' }] })).toMatch(/writable disk/);
  });

  it("has a snapshot only with its disks' contents, and drops them with it", () => {
    const cache = new SnapshotCache(mkdtempSync('/tmp/migtest-snapcache-'), 2500);
    const disks = overlaid(file('root-overlay-1.qcow2')).disks;
    const save = (k: string, ageS: number, withDisk = true) => {
      const tmp = cache.temporary(k);
      writeFileSync(tmp, Buffer.alloc(600));
      const d = { id: 'root', tmp: cache.temporary(k, 'root') };
      writeFileSync(d.tmp, Buffer.alloc(400));
      cache.commit(tmp, k, withDisk ? [d] : []);
      const t = new Date(Date.now() - ageS * 1000);
      utimesSync(cache.file(k), t, t);
    };
    save('k', 30);
    expect(cache.lookup('k', disks)).toBe(cache.file('k'));
    expect(existsSync(cache.diskFile('k', 'root'))).toBe(true);
    // The RAM without the disk is no snapshot of that guest (and its disk's temporary file is left to age out).
    save('nodisk', 20, false);
    expect(cache.lookup('nodisk', disks)).toBeUndefined();
    expect(cache.lookup('nodisk')).toBe(cache.file('nodisk'));
    cache.drop('nodisk');
    // A snapshot's size is its RAM and its disks: a third does not fit, and the least recently
    // used goes whole (k was used by the lookup above, after j was saved 10 s ago).
    save('j', 10);
    save('i', 0);
    expect(['k', 'j', 'i'].filter((k) => existsSync(cache.file(k)))).toEqual(['k', 'i']);
    expect(existsSync(cache.diskFile('j', 'root'))).toBe(false);
    cache.drop('k');
    expect([existsSync(cache.file('k')), existsSync(cache.diskFile('k', 'root'))]).toEqual([false, false]);
  });

  it('keeps the first save of a key, and gives a source the disk saved with the RAM it restores', () => {
    const cache = new SnapshotCache(mkdtempSync('/tmp/migtest-snapcache-'));
    const save = (ram: string, disk: string) => {
      const tmp = cache.temporary('k');
      writeFileSync(tmp, ram);
      const d = { id: 'root', tmp: cache.temporary('k', 'root') };
      writeFileSync(d.tmp, disk);
      cache.commit(tmp, 'k', [d]);
    };
    save('ram 1', 'disk 1');
    // A second save of the same configuration (another worker booted it too) changes nothing.
    save('ram 2', 'disk 2');
    expect([readFileSync(cache.file('k'), 'utf8'), readFileSync(cache.diskFile('k', 'root'), 'utf8')]).toEqual(['ram 1', 'disk 1']);
    const overlay = join(mkdtempSync('/tmp/migtest-overlay-'), 'root-overlay-1.qcow2');
    writeFileSync(overlay, 'empty');
    const disks = [{ ...overlaid(overlay).disks[0]! }];
    const { held, copied } = cache.take('k', disks);
    expect(copied).toBe(true);
    expect(readFileSync(overlay, 'utf8')).toBe('disk 1');
    // The RAM to restore is held under its own name: a drop and a new save leave it as it was.
    cache.drop('k');
    save('ram 3', 'disk 3');
    expect(readFileSync(held!, 'utf8')).toBe('ram 1');
    // Nothing to take: nothing copied.
    expect(cache.take('other', disks)).toEqual({ copied: false });
    // A disk left without its RAM (a save killed between its links) blocks no later save once it is stale.
    cache.drop('k');
    const orphan = cache.diskFile('k', 'root');
    writeFileSync(orphan, 'disk of a killed save');
    const old = new Date(Date.now() - 120_000);
    utimesSync(orphan, old, old);
    save('ram 4', 'disk 4');
    expect([readFileSync(cache.file('k'), 'utf8'), readFileSync(orphan, 'utf8')]).toEqual(['ram 4', 'disk 4']);
    // A cache directory not made yet has nothing to drop.
    new SnapshotCache(join(mkdtempSync('/tmp/migtest-snapcache-'), 'none')).drop('k');
  });
});
