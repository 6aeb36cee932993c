import { randomUUID } from 'node:crypto';
import { describe, expect } from 'vitest';
import { DEFAULT_WORKLOAD } from '../harness/case/run.js';
import { loopbackListener } from '../harness/host/ports.js';
import { applySettings } from '../harness/migration/apply.js';
import { assertSourceIntact } from '../harness/migration/checks.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import { testArches } from '../harness/testing/arches.js';
import { caseScenario, scenario } from '../harness/testing/scenario.js';

describe.each(testArches())('precopy-refused %s', (arch) => {
  const meta = { suite: 'precopy-refused', arch };

  scenario('destination refuses the connection: failed, source intact', { ...meta, oneHost: 'migrates to a closed loopback port of this machine' }, async (ctx) => {
    const { src, ram } = await startPairWithRam(ctx.vms, arch, DEFAULT_WORKLOAD);
    // A port that was ours a moment ago and now has no listener: the kernel answers RST.
    const listener = await loopbackListener();
    await listener.close();
    await applySettings(src, {});
    const since = src.qmp.mark();
    await src.qmp.execute('migrate', { uri: `tcp:127.0.0.1:${listener.port}` }).catch(() => undefined);
    await src.qmp.waitForEvent('MIGRATION', (e) => e.data?.status === 'failed', { since, timeoutMs: 30_000 });
    const info = await src.queryMigrate();
    expect(info['error-desc']).toMatch(/Connection refused/);
    await assertSourceIntact(src, ram);
    return { extra: { error: info['error-desc'] } };
  });

  // The destination is the side that refuses: it says why on stderr and exits. The retry
  // (a destination with the source's own UUID, validate-uuid still on) shows the mismatch was the cause.
  const [srcUuid, dstUuid] = [randomUUID(), randomUUID()];
  caseScenario(
    {
      id: 'validate-uuid with a mismatching destination is refused',
      arch,
      source: { args: ['-uuid', srcUuid] },
      destination: { args: ['-uuid', dstUuid] },
      migration: { capabilities: { 'validate-uuid': true } },
      expect: { kind: 'refused', side: 'destination', stage: 'stream', message: `UUID received is ${srcUuid} and local is ${dstUuid}`, why: 'validate-uuid compares the UUIDs' },
    },
    meta,
  );
});
