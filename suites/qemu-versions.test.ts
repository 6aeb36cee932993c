import { describe, expect } from 'vitest';
import { runCase, caseRow } from '../harness/case/run.js';
import { probeBinary } from '../harness/qemu/probe.js';
import { listBinaries } from '../harness/qemu/catalog.js';
import { testArches } from '../harness/testing/arches.js';
import { scenario } from '../harness/testing/scenario.js';

// The catalog's second QEMU (Debian bookworm's 7.2, placed by `migtest qemu fetch 7.2`)
// really runs from its own directory with its own firmware, and its probe matches its age.
describe.each(testArches())('qemu-versions %s', (arch) => {
  scenario('QEMU 7.2 from the cache: probe and live precopy', { suite: 'qemu-versions', arch }, async (ctx) => {
    const bin = (await listBinaries(true)).find((b) => b.arch === arch && b.version.startsWith('7.2.'));
    if (!bin) return ctx.skip(`QEMU 7.2 for ${arch} is not fetched (run: migtest qemu fetch 7.2)`);
    const probe = await probeBinary(bin);
    ctx.artifacts.writeJson('probe.json', probe);
    expect(probe.oob).toBe(true);
    expect(probe.capabilities).toContain('postcopy-ram');
    // switchover-ack came in 8.1, mapped-ram in 9.0: a 7.2 binary must not claim them.
    expect(probe.capabilities).not.toContain('switchover-ack');
    expect(probe.capabilities).not.toContain('mapped-ram');
    const report = await runCase(ctx, { id: '7.2 precopy', arch, source: { binary: bin }, workload: false });
    expect(report.run.src.qmp.version).toMatchObject({ major: 7, minor: 2 });
    expect(report.migration!.status).toBe('completed');
    return { ...caseRow(report), extra: { qemu: bin.version } };
  });
});
