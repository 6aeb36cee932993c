import { statSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { caseScenario, fileTransportPath, handover, testArches, TRANSPORTS } from '../harness/index.js';

// Live precopy of a running guest: the foundation every other suite builds on. With
// --hosts it runs across two hosts (tcp, and exec through socat over tcp; the other
// transports need one host and skip, saying why).
describe.each(testArches())('precopy-basic %s', (arch) => {
  const meta = { suite: 'precopy-basic' };
  for (const transport of TRANSPORTS)
    caseScenario({ id: `live precopy over ${transport}`, arch, workload: false, migration: { transport } }, { suite: 'precopy-basic' }, async ({ migration, liveness, run }) => {
      expect(migration!.status).toBe('completed');
      expect(migration!.uri.startsWith(`${transport}:`)).toBe(true);
      expect(migration!.info.downtime).toBeGreaterThan(0);
      expect(migration!.series.length).toBeGreaterThan(0);
      expect(handover(liveness!)).toBe('continued');
      // The agent answers on the destination too.
      await (await run.dst.agent()).ping();
    });

  // A file with a header of the user's: the stream starts at the offset and leaves the bytes
  // before it alone (qtest's precopy/file/offset); an offset QEMU cannot parse is refused.
  const header = Buffer.alloc(4096, 'X');
  caseScenario({
    id: 'live precopy to a file at offset 4096: the bytes before it untouched', arch, workload: false, migration: { transport: 'file', fileOffset: 4096 },
    hooks: {
      start: ({ dst }) => dst.on.writeFile(fileTransportPath(dst), header),
      end: async ({ dst }) => void expect((await dst.on.readFile(fileTransportPath(dst))).subarray(0, 4096).equals(header)).toBe(true),
    },
  }, meta);
  caseScenario({
    id: 'a file: URI with an offset QEMU cannot parse is refused', arch, workload: false, migration: { transport: 'file', fileOffset: '0x20M' },
    expect: { kind: 'refused', side: 'source', stage: 'settings', message: 'file URI has bad offset', why: 'the offset is a number, not a size with a suffix' },
  }, meta);

  // Guest RAM in a memory backend: memfd shared, a private file; and one file in /dev/shm both
  // sides map, with x-ignore-shared: the RAM is not sent at all (qtest's ignore-shared).
  caseScenario({ id: 'live precopy with guest RAM in a shared memfd', arch, source: { memoryBackend: { kind: 'memfd', shared: true } } }, meta);
  caseScenario({ id: 'live precopy with guest RAM in a private file', arch, source: { memoryBackend: { kind: 'file' } } }, meta);
  caseScenario({
    id: 'x-ignore-shared with guest RAM in one shared file: the RAM is not sent', arch, oneHost: 'both QEMUs map one file in /dev/shm of this machine',
    source: { memoryBackend: { kind: 'file', shared: true, path: 'shm' } }, migration: { capabilities: { 'x-ignore-shared': true } },
  }, meta, ({ figures, run }) => {
    // Device state only; under --firmware uefi also the firmware's flash (not guest RAM, not shared).
    const fw = run.src.spec.firmware;
    const flash = fw ? statSync(fw.code).size + statSync(fw.varsTemplate).size : 0;
    expect(figures.transferredBytes!).toBeLessThan((4 << 20) + flash);
    return { extra: { transferredBytes: figures.transferredBytes, firmwareFlashBytes: flash } };
  });
});
