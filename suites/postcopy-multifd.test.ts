import { describe, expect } from 'vitest';
import { caseScenario, fault, testArches, when, type MigratingRun, type MigrationCase } from '../harness/index.js';

// multifd and postcopy-ram together: QEMU refuses the pair of capabilities from 8.1 until
// 10.1 ("Postcopy is not yet compatible with multifd"), and migrates with them from 10.1.
// No case here says which: the expectation engine computes it from QEMU's rules for the
// run's binaries (harness/qemu/rules.ts), so each case is a refusal on an older QEMU and a
// real postcopy over multifd channels on a newer one. qtest's /migration/multifd+postcopy/*.
const SUITE = 'postcopy-multifd';

describe.each(testArches())(`${SUITE} %s`, (arch) => {
  const meta = { suite: SUITE };
  const mp = (id: string, more: Partial<MigrationCase> = {}): MigrationCase => ({
    id,
    arch,
    ...more,
    migration: { mode: 'postcopy', ...more.migration, capabilities: { multifd: true, ...more.migration?.capabilities }, parameters: { 'multifd-channels': 4, ...more.migration?.parameters } },
  });
  /** The destination's multifd channels: more than one connection carried the precopy phase. */
  let connections = 0;
  const countChannels = async ({ dst, m }: MigratingRun) => {
    await when.passes(1).wait(m);
    connections = (await dst.group()).sockets.filter((s) => s.state === 'ESTABLISHED').length;
  };

  caseScenario(mp('multifd + postcopy: precopy over 4 channels, then postcopy; RAM intact', { hooks: { beforePostcopy: countChannels } }), meta, ({ outcome }) => {
    if (outcome.kind === 'migrated') expect(connections).toBeGreaterThanOrEqual(2);
    return { extra: { destinationConnections: connections } };
  });
  caseScenario(mp('multifd + postcopy-preempt', { migration: { mode: 'postcopy', postcopy: { preempt: true } } }), meta);
  caseScenario(mp('multifd + postcopy with zstd-compressed channels', { migration: { mode: 'postcopy', parameters: { 'multifd-compression': 'zstd' } } }), meta);
  caseScenario(mp('multifd + postcopy over TLS (x509)', { migration: { mode: 'postcopy', tls: { creds: 'x509' } } }), meta);
  // Cancelled in its precopy phase: the source runs on, and a retry (plain precopy) migrates.
  caseScenario(mp('multifd + postcopy cancelled before the switch: the source runs on', {
    hooks: { onActive: async ({ src }) => void (await src.qmp.execute('migrate_cancel')) },
    whenAllowed: { kind: 'fails', status: 'cancelled' },
  }), meta);
  caseScenario(mp('multifd + postcopy recovery: the bridge killed mid-postcopy, recovered', { migration: { mode: 'recovery' }, faults: [fault.killBridge(when.progress('postcopy-active', 0.2))] }), meta, ({ outcome, episodes }) => {
    if (outcome.kind === 'migrated') expect(episodes).toHaveLength(1);
  });
});
