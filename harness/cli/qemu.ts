import { runCase } from '../case/run.js';
import { ArtifactDir } from '../report/artifacts.js';
import { fetchQemu } from '../qemu/fetch.js';
import type { QemuBinary } from '../qemu/catalog.js';
import { reapAtStart } from '../testing/reaper.js';
import { progress } from '../util/log.js';
import { Scope } from '../vm/pool.js';

/**
 * `qemu fetch`, then proof that what was placed works here: each binary boots the default
 * image and migrates to itself (liveness and RAM checked), through the same case as any suite.
 */
export async function fetchAndVerify(version: string, opts: { verify: boolean }): Promise<string[]> {
  const bins = await fetchQemu(version);
  const lines: string[] = [];
  if (opts.verify) await reapAtStart();
  for (const b of bins) lines.push(opts.verify ? await selfMigrate(b) : `${b.arch} ${b.version} ${b.path} (not verified)`);
  return lines;
}

async function selfMigrate(b: QemuBinary): Promise<string> {
  const id = `qemu ${b.version} ${b.arch} migrates to itself`;
  progress(`${id}: booting the default image`);
  const scope = new Scope(ArtifactDir.forTest(id));
  const t0 = Date.now();
  try {
    const report = await runCase(scope, { id, arch: b.arch, source: { binary: b } });
    const f = report.figures;
    return `${b.arch} ${b.version} ${b.path}: booted and migrated to itself in ${((Date.now() - t0) / 1000).toFixed(1)}s (${report.verdict}${f.qemuDowntimeMs !== undefined ? `, downtime ${f.qemuDowntimeMs} ms` : ''})`;
  } catch (e) {
    throw Object.assign(e as Error, { message: `${id}: ${(e as Error).message}\nartifacts: ${scope.artifacts.path}` });
  } finally {
    await scope.close();
  }
}
