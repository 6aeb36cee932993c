import { describe, expect } from 'vitest';
import { behaviourOf, caseScenario, DOWNTIME_TRACE_ARGS, MIRROR_BASE, testArches, type MirrorSync } from '../harness/index.js';

// Storage migration without shared storage, libvirt's way: each side has its own image (on
// its own host with --hosts); the destination exports its copy over NBD, the source mirrors
// into it while fio writes, the RAM migration runs, and at pre-switchover the mirror is
// completed (a graceful cancel: no pivot). The case's storage check reads every block back
// on the destination and counts each write done by exactly one side.
describe.each(testArches())('storage-mirror %s', (arch) => {
  for (const sync of ['full', 'top'] as MirrorSync[]) {
    const id = sync === 'full' ? 'blockdev-mirror sync=full to an empty image over NBD' : 'blockdev-mirror sync=top over a shared backing file';
    // QEMU's downtime checkpoints (stderr) say where the downtime goes (io.json).
    caseScenario({ id, arch, workload: false, storage: { kind: 'mirror', sync }, source: { args: DOWNTIME_TRACE_ARGS } }, { suite: 'storage-mirror' }, ({ io, run }) => {
      const m = io!.mirror!;
      expect(io!.writes).toBe(2048);
      // full: at least the whole disk (rewrites of copied clusters before READY would add to
      // it), or from 10.1 only what is not zero (qemu/behaviour.ts): some, but not the disk.
      if (sync === 'full' && behaviourOf(run.versions.src).mirrorFullCopies === 'whole-disk') expect(m.ready.len).toBeGreaterThanOrEqual(64 << 20);
      else if (sync === 'full') expect(m.ready.len).toBeGreaterThan(0);
      // top: only what the guest wrote in the overlay is copied, not the 16 MiB of the base.
      else expect(m.ready.len).toBeLessThan(MIRROR_BASE.lengthMiB << 20);
      expect(m.completed.offset).toBeGreaterThanOrEqual(m.ready.offset);
    });
  }
});
