/**
 * A runner that starts a QEMU pair, begins a slow migration, prints the QEMU pids once the
 * migration is active, then waits to be SIGKILLed by the reaper suite.
 */
import { migrate } from '../../harness/migration/migrate.js';
import { startPair } from '../../harness/migration/pair.js';
import { ArtifactDir } from '../../harness/report/artifacts.js';
import { VmPool } from '../../harness/testing/pool.js';
import { parseArch } from '../../harness/images/recipe.js';

const arch = parseArch(process.argv[2] ?? 'x86_64');
const artifacts = new ArtifactDir(process.argv[3]!);
const vms = new VmPool(artifacts);
const { src, dst } = await startPair(vms, arch);
// 1 MB/s keeps a 256 MiB guest migrating for minutes: the kill lands mid-migration.
void migrate(src, dst, {
  parameters: { 'max-bandwidth': 1_000_000 },
  onActive: async () => {
    process.stdout.write(`ACTIVE ${JSON.stringify({ src: src.process.pid, dst: dst.process.pid })}\n`);
  },
}).catch(() => undefined);
setInterval(() => {}, 1 << 30);
