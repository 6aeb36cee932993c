import { randomUUID } from 'node:crypto';
import { describe, expect } from 'vitest';
import { caseScenario, QmpCommandError, testArches } from '../harness/index.js';

describe.each(testArches())('precopy-refused %s', (arch) => {
  const meta = { suite: 'precopy-refused' };

  // A port that was ours a moment ago and now has no listener: the kernel answers RST.
  caseScenario({ id: 'destination refuses the connection: failed, source intact', arch, migration: { connect: 'refused' }, expect: { kind: 'fails', status: 'failed' }, retry: false }, meta, ({ outcome }) => {
    const error = outcome.kind === 'failed' ? outcome.error : undefined;
    expect(error).toMatch(/Connection refused/);
    return { extra: { error } };
  });

  // migrate takes a destination as a URI or as channels (8.2+), exactly one of them; with
  // channels alone it migrates (qtest's validate_uri and multifd/tcp/channels).
  const refusals: string[] = [];
  caseScenario({
    id: "migrate with both uri and channels, or neither, is refused; with channels alone it migrates", arch, migration: { channels: true },
    hooks: {
      start: async ({ src }) => {
        const main = { 'channel-type': 'main', addr: { transport: 'socket', type: 'inet', host: '127.0.0.1', port: '1' } };
        for (const args of [{ uri: 'tcp:127.0.0.1:1', channels: [main] }, {}])
          refusals.push(await src.qmp.execute('migrate', args).then(() => 'accepted', (e: unknown) => (e instanceof QmpCommandError ? e.desc : String(e))));
      },
    },
  }, meta, () => {
    for (const r of refusals) expect(r).toContain("need either 'uri' or 'channels' argument");
    return { extra: { refusals } };
  });

  // validate-uuid compares only when both sides have a UUID (qtest's validate_uuid_*_not_set).
  const uuid = randomUUID();
  caseScenario({ id: 'validate-uuid with a UUID on the source only migrates', arch, source: { args: ['-uuid', uuid] }, destination: { args: [] }, migration: { capabilities: { 'validate-uuid': true } } }, meta);
  caseScenario({ id: 'validate-uuid with a UUID on the destination only migrates', arch, destination: { args: ['-uuid', uuid] }, migration: { capabilities: { 'validate-uuid': true } } }, meta);

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
