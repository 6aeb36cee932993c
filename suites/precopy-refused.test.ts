import { randomUUID } from 'node:crypto';
import { describe, expect } from 'vitest';
import { caseScenario, testArches } from '../harness/index.js';

describe.each(testArches())('precopy-refused %s', (arch) => {
  const meta = { suite: 'precopy-refused' };

  // A port that was ours a moment ago and now has no listener: the kernel answers RST.
  caseScenario({ id: 'destination refuses the connection: failed, source intact', arch, migration: { connect: 'refused' }, expect: { kind: 'fails', status: 'failed' }, retry: false }, meta, ({ outcome }) => {
    const error = outcome.kind === 'failed' ? outcome.error : undefined;
    expect(error).toMatch(/Connection refused/);
    return { extra: { error } };
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
