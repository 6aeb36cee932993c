import { describe, expect } from 'vitest';
import { caseScenario, testArches, TRANSPORTS } from '../harness/index.js';

// Live precopy of a running guest: the foundation every other suite builds on. With
// --hosts it runs across two hosts (tcp, and exec through socat over tcp; the other
// transports need one host and skip, saying why).
describe.each(testArches())('precopy-basic %s', (arch) => {
  for (const transport of TRANSPORTS)
    caseScenario({ id: `live precopy over ${transport}`, arch, workload: false, migration: { transport } }, { suite: 'precopy-basic' }, async ({ migration, liveness, run }) => {
      expect(migration!.status).toBe('completed');
      expect(migration!.uri.startsWith(`${transport}:`)).toBe(true);
      expect(migration!.info.downtime).toBeGreaterThan(0);
      expect(migration!.series.length).toBeGreaterThan(0);
      expect(liveness!.dstFirst.n).toBe(liveness!.srcLast.n + 1);
      // The agent answers on the destination too.
      await (await run.dst.agent()).ping();
    });
});
