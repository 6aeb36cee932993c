/**
 * A runner that starts a QEMU pair, brings its migration to a chosen state, prints the
 * QEMU pids, then waits to be SIGKILLed by the reaper suite. Modes:
 *   precopy          a slow migration, active
 *   postcopy-paused  the pair in two network namespaces, postcopy paused on both sides
 *                    (a destination there ignores SIGTERM)
 */
import { ArtifactDir, beginCase, NetnsLink, parseArch, pauseSides, Scope, when, type MigrationCase } from '../../harness/index.js';

const arch = parseArch(process.argv[2] ?? 'x86_64');
const scope = new Scope(new ArtifactDir(process.argv[3]!));
const mode = process.argv[4] ?? 'precopy';
const report = (pids: { src: number; dst: number }, extra: Record<string, unknown> = {}) => process.stdout.write(`ACTIVE ${JSON.stringify({ ...pids, ...extra })}\n`);

if (mode === 'postcopy-paused') {
  const link = await NetnsLink.create();
  // An idle guest would converge in precopy: 1 MB/s there, switch at once, and 4 KB/s
  // (qtest's figure) in postcopy, which can then never finish before the pause.
  const c: MigrationCase = {
    id: 'orphan postcopy',
    arch,
    workload: false,
    source: { configure: (b) => b.withNetns(link.a.name) },
    destination: { configure: (b) => b.withNetns(link.b.name) },
    migration: { mode: 'postcopy', listenHost: link.b.addr, parameters: { 'max-bandwidth': 1_000_000 }, postcopy: { bandwidth: 4096, switchAfter: when.status('active') } },
  };
  const run = await beginCase(scope, c);
  const since = Date.now();
  await pauseSides([run.src]);
  await run.waitBothPaused({ since });
  report({ src: run.src.process.pid, dst: run.dst.process.pid }, { namespaces: [link.a.name, link.b.name] });
} else {
  // 1 MB/s keeps a 256 MiB guest migrating for minutes: the kill lands mid-migration.
  await beginCase(scope, {
    id: 'orphan precopy',
    arch,
    workload: false,
    migration: { parameters: { 'max-bandwidth': 1_000_000 } },
    hooks: { onActive: async ({ src, dst }) => void report({ src: src.process.pid, dst: dst.process.pid }) },
  });
}
setInterval(() => {}, 1 << 30);
