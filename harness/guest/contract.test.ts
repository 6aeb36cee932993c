import { describe, expect, it } from 'vitest';
import { CONTRACT_FILES, describeContract } from './contract.js';

describe('describeContract', () => {
  it('says nothing of a guest that meets the contract', () => {
    expect(describeContract({ exec: true, missing: [] })).toEqual([]);
  });
  it('names each missing file with who needs it, and a refused guest-exec', () => {
    const fio = CONTRACT_FILES.find((f) => f.path === '/usr/bin/fio')!;
    expect(describeContract({ exec: false, missing: [fio] })).toEqual([
      "guest-exec is refused or failed: the agent's configuration must allow it",
      'missing: /usr/bin/fio (for disk-io, parked-requests, storage-mirror and cases with storage)',
    ]);
  });
  it('says an agent that refuses guest-file-open refuses it, rather than that every file is missing', () => {
    const [line] = describeContract({ exec: false, missing: [], fileOpenRefused: 'CommandNotFound: The command guest-file-open has been disabled for this instance' });
    expect(line).toMatch(/^guest-file-open is refused \(CommandNotFound: .*disabled.*\): the agent's configuration must allow guest-file-open/);
  });
});
