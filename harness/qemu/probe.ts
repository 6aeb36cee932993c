import { DEADLINES } from '../util/deadlines.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GroupProcess } from '../host/process.js';
import { QmpClient } from '../qmp/client.js';
import { cacheDir } from '../util/paths.js';
import { privateDir } from '../util/privdir.js';
import { pollUntil } from '../util/time.js';
import type { QemuBinary } from './catalog.js';

/** What a binary supports, probed once and cached by path, size and mtime. */
export interface QemuProbe {
  path: string;
  version: string;
  oob: boolean;
  capabilities: string[];
  parameters: Record<string, unknown>;
  machines: Array<{ name: string; alias?: string; default?: boolean }>;
  cpuModels: string[];
  commands: string[];
}

/** The concrete type behind an alias or a name ("q35" -> "pc-q35-10.0"); undefined if unknown. */
export function resolveMachine(probe: Pick<QemuProbe, 'machines'>, name: string): string | undefined {
  return probe.machines.find((x) => x.name === name || x.alias === name)?.name;
}

/** A cache file for what a binary reports (its probe, a dump): keyed by its path, size and mtime, and `extra`. */
export function binaryCacheFile(bin: QemuBinary, folder: string, ...extra: string[]): string {
  const st = statSync(bin.path);
  const key = createHash('sha256').update([bin.path, st.size, st.mtimeMs, ...extra].join('\0')).digest('hex').slice(0, 16);
  return join(cacheDir(), folder, `${key}.json`);
}

const probeCacheFile = (bin: QemuBinary) => binaryCacheFile(bin, 'probe');

export async function probeBinary(bin: QemuBinary): Promise<QemuProbe> {
  const file = probeCacheFile(bin);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as QemuProbe;
  const dir = await privateDir('probe');
  const sock = join(dir.path, 'qmp.sock');
  const args = [
    ...bin.firmwareDirs.flatMap((d) => ['-L', d]),
    '-machine', 'none', '-nodefaults', '-display', 'none',
    '-chardev', `socket,id=qmp,path=${sock},server=on,wait=off`, '-mon', 'chardev=qmp,mode=control',
  ];
  const proc = GroupProcess.spawn(bin.path, args, { name: `probe-${bin.arch}-${bin.version}` });
  let qmp: QmpClient | undefined;
  try {
    await pollUntil(`QMP socket of ${bin.path}`, DEADLINES.probe, () => ({ done: existsSync(sock) || !proc.running }));
    qmp = await QmpClient.connect(sock, { vm: `probe ${bin.arch} ${bin.version}` });
    const caps = await qmp.execute<Array<{ capability: string }>>('query-migrate-capabilities');
    const params = await qmp.execute<Record<string, unknown>>('query-migrate-parameters');
    const machines = await qmp.execute<Array<{ name: string; alias?: string; 'is-default'?: boolean }>>('query-machines');
    const cpus = await qmp.execute<Array<{ name: string }>>('query-cpu-definitions').catch(() => []);
    const commands = await qmp.execute<Array<{ name: string }>>('query-commands');
    const probe: QemuProbe = {
      path: bin.path,
      version: bin.version,
      oob: qmp.oob,
      capabilities: caps.map((c) => c.capability).sort(),
      parameters: params,
      machines: machines.map((m) => ({ name: m.name, alias: m.alias, default: m['is-default'] })),
      cpuModels: cpus.map((c) => c.name).sort(),
      commands: commands.map((c) => c.name).sort(),
    };
    mkdirSync(join(cacheDir(), 'probe'), { recursive: true });
    writeFileSync(file, JSON.stringify(probe, null, 1));
    return probe;
  } finally {
    await proc.stop({ graceful: () => qmp?.execute('quit') ?? Promise.resolve(), graceMs: DEADLINES.quit });
    await qmp?.close();
    await dir.cleanup();
  }
}
