import { describe, expect } from 'vitest';
import { testArches } from '../harness/testing/arches.js';
import { startPair } from '../harness/migration/pair.js';
import { TRANSPORTS } from '../harness/migration/transport.js';
import { migrateAndVerify } from '../harness/migration/verify.js';
import { scenario } from '../harness/testing/scenario.js';

// Live precopy of a running guest: the foundation every other suite builds on.
describe.each(testArches())('precopy-basic %s', (arch) => {
  for (const transport of TRANSPORTS) {
    scenario(`live precopy over ${transport}`, { suite: 'precopy-basic', arch }, async (ctx) => {
      const pair = await startPair(ctx.vms, arch);
      const { migration, liveness } = await migrateAndVerify(pair, ctx, { transport });
      expect(migration.status).toBe('completed');
      expect(migration.uri.startsWith(`${transport}:`)).toBe(true);
      expect(migration.info.downtime).toBeGreaterThan(0);
      expect(migration.series.length).toBeGreaterThan(0);
      expect(liveness.dstFirst.n).toBe(liveness.srcLast.n + 1);
      // The agent answers on the destination too.
      await (await pair.dst.agent()).ping();
    });
  }
});
