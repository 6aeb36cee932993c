import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { loopbackListener } from '../harness/host/ports.js';
import { applySettings } from '../harness/migration/apply.js';
import { assertSourceIntact } from '../harness/migration/checks.js';
import { migrate } from '../harness/migration/migrate.js';
import { startPairWithRam } from '../harness/migration/pair.js';
import { testArches } from '../harness/testing/arches.js';
import { scenario } from '../harness/testing/scenario.js';
import { pollUntil, scaled } from '../harness/util/time.js';

const WORKLOAD = { mib: 32, rateMiBs: 16 };

describe.each(testArches())('precopy-refused %s', (arch) => {
  scenario('destination refuses the connection: failed, source intact', { suite: 'precopy-refused', arch }, async (ctx) => {
    const { src, ram } = await startPairWithRam(ctx.vms, arch, WORKLOAD);
    // A port that was ours a moment ago and now has no listener: the kernel answers RST.
    const listener = await loopbackListener();
    const port = listener.port;
    await listener.close();
    await applySettings(src, {});
    const mark = src.qmp.mark();
    await src.qmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` }).catch(() => undefined);
    await src.qmp.waitForEvent('MIGRATION', (e) => e.data?.status === 'failed', scaled(30_000), mark);
    const info = await src.queryMigrate();
    expect(info['error-desc']).toMatch(/Connection refused/);
    ctx.result.extra = { error: info['error-desc'] };
    await assertSourceIntact(src, ram);
  });

  scenario('validate-uuid with a mismatching destination is refused', { suite: 'precopy-refused', arch }, async (ctx) => {
    const srcUuid = randomUUID();
    const dstUuid = randomUUID();
    const { ram, ...pair } = await startPairWithRam(ctx.vms, arch, WORKLOAD, {
      configure: (b) => b.withArgs('-uuid', srcUuid),
      // -uuid given twice: QEMU keeps the last one.
      configureDst: (b) => b.withArgs('-uuid', dstUuid),
    });
    const err = await migrate(pair.src, pair.dst, { capabilities: { 'validate-uuid': true } }).catch((e: Error) => e);
    expect(String(err)).toMatch(/ended 'failed'/);
    // The destination is the side that refuses: it says why on stderr and exits.
    const stderr = pair.dst.artifacts.file('dst.stderr.log');
    const said = await pollUntil('destination to report the UUID mismatch', scaled(30_000), () => {
      const text = readFileSync(stderr, 'utf8');
      return { done: text.includes('UUID received is'), value: text, state: text.slice(-300) };
    });
    expect(said).toContain(`UUID received is ${srcUuid} and local is ${dstUuid}`);
    ctx.result.extra = { destinationSaid: said.trim().split('\n').find((l) => l.includes('UUID')) };
    await assertSourceIntact(pair.src, ram);
  });
});
