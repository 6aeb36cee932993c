/**
 * A runner that starts a QEMU pair, brings its migration to a chosen state, prints the
 * QEMU pids, then waits to be SIGKILLed by the reaper suite. Modes:
 *   precopy          a slow migration, active
 *   postcopy-paused  the pair in two network namespaces, postcopy paused on both sides
 *                    (a destination there ignores SIGTERM)
 */
import { NetnsLink } from '../../harness/faults/netns.js';
import { when } from '../../harness/migration/triggers.js';
import { migrate, startMigration } from '../../harness/migration/migrate.js';
import { startPair } from '../../harness/migration/pair.js';
import { marks, pauseSides, postcopySettings, switchToPostcopy, waitBothPaused } from '../../harness/migration/postcopy.js';
import { ArtifactDir } from '../../harness/report/artifacts.js';
import { VmPool } from '../../harness/vm/pool.js';
import { parseArch } from '../../harness/util/arch.js';

const arch = parseArch(process.argv[2] ?? 'x86_64');
const artifacts = new ArtifactDir(process.argv[3]!);
const mode = process.argv[4] ?? 'precopy';
const vms = new VmPool(artifacts);
const report = (extra: Record<string, unknown>) => {
  process.stdout.write(`ACTIVE ${JSON.stringify({ src: src.process.pid, dst: dst.process.pid, ...extra })}\n`);
};

const link = mode === 'postcopy-paused' ? await NetnsLink.create() : undefined;
const { src, dst } = await startPair(vms, arch, {
  configure: (b) => b.withNetns(link?.a.name),
  configureDst: (b) => b.withNetns(link?.b.name),
});
if (link) {
  // An idle guest would converge in precopy: 1 MB/s there, switch at once, and 4 KB/s
  // (qtest's figure) in postcopy, which can then never finish before the pause.
  const settings = postcopySettings({ bandwidth: 4096 });
  const m = await startMigration(src, dst, {
    ...settings,
    parameters: { ...settings.parameters, 'max-bandwidth': 1_000_000 },
    listenHost: link.b.addr,
  });
  await switchToPostcopy(m, when.status('active'));
  const since = marks(m);
  await pauseSides([src]);
  await waitBothPaused(m, { since });
  report({ namespaces: [link.a.name, link.b.name] });
} else {
  // 1 MB/s keeps a 256 MiB guest migrating for minutes: the kill lands mid-migration.
  void migrate(src, dst, { parameters: { 'max-bandwidth': 1_000_000 }, onActive: async () => report({}) }).catch(() => undefined);
}
setInterval(() => {}, 1 << 30);
