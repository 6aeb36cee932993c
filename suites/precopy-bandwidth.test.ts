import { describe, expect } from 'vitest';
import { caseScenario, runQemu, probeBinary, testArches, type MigrationCase } from '../harness/index.js';

// "Why does local migration run at only about 1 Gbit/s?" Because max-bandwidth defaults to
// 128 MiB/s (MAX_THROTTLE): 134217728 B/s is 1.07 Gbit/s. The guest holds 384 MiB of
// non-zero pages so the figures measure data, not zero-page detection. Throughput is recorded
// in results.json (never asserted as a speed); the assertion is only that QEMU keeps its limit.
const DEFAULT_LIMIT = 134_217_728;

describe.each(testArches())('precopy-bandwidth %s', (arch) => {
  const filled = (id: string, migration: MigrationCase['migration'] = {}): MigrationCase => ({ id, arch, source: { memoryMiB: 512 }, workload: { mib: 384, rateMiBs: 1 }, migration });
  const meta = { suite: 'precopy-bandwidth' };

  caseScenario(filled('max-bandwidth left at its default'), meta, async ({ migration }) => {
    const probe = await probeBinary((await runQemu(arch)).src);
    expect(probe.parameters['max-bandwidth']).toBe(DEFAULT_LIMIT);
    // mbps is QEMU's own average over the migration; it may not exceed the limit by much.
    expect(migration!.info.ram!.mbps!).toBeLessThan(((DEFAULT_LIMIT * 8) / 1e6) * 1.15);
  });
  caseScenario(filled('max-bandwidth unlimited (0)', { parameters: { 'max-bandwidth': 0 } }), meta);
  caseScenario(filled('multifd with 4 channels, unlimited', { capabilities: { multifd: true }, parameters: { 'max-bandwidth': 0, 'multifd-channels': 4 } }), meta);
});
