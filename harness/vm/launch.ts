import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Host, HostProcess } from '../host/host.js';
import { GroupProcess } from '../host/process.js';
import type { QemuBinary } from '../qemu/catalog.js';
import { QmpClient } from '../qmp/client.js';
import type { SocketTarget } from '../qmp/connection.js';
import type { ArtifactDir } from '../report/artifacts.js';
import { DEADLINES, deadline, type Wait } from '../util/deadlines.js';
import { privateDir } from '../util/privdir.js';
import { pollUntil } from '../util/time.js';
import { buildArgv } from './argv.js';
import { VmStartError } from './errors.js';
import { HeartbeatStream } from './heartbeat.js';
import { restoreStartSnapshot, saveStartSnapshot, type SnapshotPlan } from './snapshot-start.js';
import type { VmPaths, VmSpec } from './spec.js';
import { StartedVm } from './started.js';

/** A VM's sockets in its private directory, and where its console goes. */
const vmPaths = (dir: string, serialLog: string): VmPaths => ({
  qmp: join(dir, 'qmp.sock'),
  fdMonitor: join(dir, 'qmp-fd.sock'),
  agent: join(dir, 'qga.sock'),
  heartbeat: join(dir, 'hb.sock'),
  serialLog,
  memFile: join(dir, 'ram'),
  vars: join(dir, 'vars.fd'),
});

/**
 * The VM's own UEFI variable store, a copy of its firmware's template, in its private
 * directory (on its host). On failure it removes that directory.
 */
async function placeVarstore(name: string, spec: VmSpec, paths: VmPaths, art: ArtifactDir, dir: { cleanup(): Promise<void> }, host?: Host): Promise<void> {
  try {
    await copyVarstore(name, spec, paths, art, host);
  } catch (e) {
    await dir.cleanup().catch(() => undefined);
    throw e;
  }
}

async function copyVarstore(name: string, spec: VmSpec, paths: VmPaths, art: ArtifactDir, host?: Host): Promise<void> {
  if (!spec.firmware) return;
  // What it was copied from: a replay script (migtest repro) makes its own copy.
  art.writeJson(`${name}.vars.json`, { template: spec.firmware.varsTemplate });
  if (!host) return copyFileSync(spec.firmware.varsTemplate, paths.vars!);
  // The firmware at the same paths there (Debian's ovmf / qemu-efi-aarch64 on both hosts).
  const r = await host.exec(['sh', '-c', 'test -r "$1" && cp "$2" "$3"', 'sh', spec.firmware.code, spec.firmware.varsTemplate, paths.vars!]);
  if (r.code !== 0) throw new VmStartError(`host ${host.name} lacks the firmware ${spec.firmware.code} or ${spec.firmware.varsTemplate} (install the same firmware package there): ${r.stderr.trim()}`, { artifacts: art.path, host: host.name });
}

/**
 * Waits for a local QEMU's monitor socket (ending at once if the process exits or `failed`
 * says why not), then connects its monitor and heartbeat. Undefined if the process exited.
 */
async function connectLocal(name: string, spec: VmSpec, paths: VmPaths, art: ArtifactDir, proc: HostProcess, wait: { what: string; timeoutMs: number; failed?: () => Error | undefined }): Promise<{ qmp: QmpClient; hb: HeartbeatStream | undefined } | undefined> {
  await pollUntil(`${name}: ${wait.what}`, wait.timeoutMs, () => {
    const why = wait.failed?.();
    if (why) throw why;
    return { done: existsSync(paths.qmp) || !proc.running, state: proc.running ? 'no socket yet' : `exited ${JSON.stringify(proc.exit)}` };
  });
  if (!proc.running) return undefined;
  const qmp = await QmpClient.connect(paths.qmp, { vm: name, transcriptFile: art.file(`${name}.qmp.log`) });
  const hb = spec.heartbeat ? await HeartbeatStream.connect(paths.heartbeat, name, art.file(`${name}.heartbeat.log`)) : undefined;
  return { qmp, hb };
}

/**
 * Starts QEMU on this machine in its own process group, with a private (0700) directory for
 * its sockets; connects its monitor and heartbeat. With a snapshot plan it restores a saved
 * guest, or saves this one once it is first ready.
 */
export async function launchLocal(
  name: string,
  spec: VmSpec,
  opts: { incoming: boolean; artifacts: ArtifactDir; binary: QemuBinary; snapshot?: SnapshotPlan },
): Promise<StartedVm> {
  const restore = opts.snapshot && 'restore' in opts.snapshot ? opts.snapshot.restore : undefined;
  const dir = await privateDir(name);
  const art = opts.artifacts;
  const paths = vmPaths(dir.path, art.file(`${name}.serial.log`));
  await placeVarstore(name, spec, paths, art, dir);
  // A restored VM starts as an incoming one and loads its guest from the snapshot file.
  const argv = buildArgv(spec, paths, { incoming: opts.incoming || !!restore });
  // In a namespace: `ip netns exec` execs QEMU in place, so the pid and group stay QEMU's.
  const [file, args] = spec.netns ? ['ip', ['netns', 'exec', spec.netns, spec.binary, ...argv]] : [spec.binary, argv];
  art.writeJson(`${name}.argv.json`, [file, ...args]);
  const stderrFile = art.file(`${name}.stderr.log`);
  const spawnedAt = Date.now();
  const proc = GroupProcess.spawn(file, args, { name, stderrFile });
  const stderrTail = () => (existsSync(stderrFile) ? readFileSync(stderrFile, 'utf8').trim().split('\n').slice(-5).join('\n') : '');
  try {
    const monitors = await connectLocal(name, spec, paths, art, proc, { what: 'QMP socket', timeoutMs: DEADLINES.connect });
    if (!monitors) throw new VmStartError(`${name}: QEMU exited at start: ${stderrTail()}`, { artifacts: art.path });
    const { qmp, hb } = monitors;
    const vm = new StartedVm({ name, spec, argv: [file, ...args], incoming: opts.incoming, binary: opts.binary, process: proc, qmp, heartbeat: hb, paths, artifacts: art, cleanupDir: dir.cleanup, spawnedAt });
    const plan = opts.snapshot;
    if (plan && 'save' in plan) vm.afterFirstReady = () => saveStartSnapshot(vm, plan.save.key, plan.save.cache);
    if (restore) await restoreStartSnapshot(vm, restore);
    return vm;
  } catch (e) {
    await proc.stop({ termMs: DEADLINES.teardownQuick });
    await dir.cleanup();
    if (e instanceof VmStartError) throw e;
    throw new VmStartError(`${name}: start failed: ${(e as Error).message}\n${stderrTail()}`, { artifacts: art.path });
  }
}

/**
 * On another host (VmBuilder.onHost): the same start, through the host. Sockets and the
 * files QEMU writes live in a private directory there; stderr and the console are followed
 * into this machine's artifacts as they grow, so every check and failure reads them here.
 */
export async function launchOn(host: Host, name: string, spec: VmSpec, opts: { incoming: boolean; artifacts: ArtifactDir; binary: QemuBinary }): Promise<StartedVm> {
  const dir = await host.privateDir(name);
  const art = opts.artifacts;
  const there = vmPaths(dir.path, join(dir.path, `${name}.serial.log`));
  await placeVarstore(name, spec, there, art, dir, host);
  const stderrThere = join(dir.path, `${name}.stderr.log`);
  const argv = buildArgv(spec, there, { incoming: opts.incoming });
  art.writeJson(`${name}.argv.json`, [spec.binary, ...argv]);
  art.writeJson(`${name}.host.json`, { host: host.name, dir: dir.path });
  const followers: Array<{ stop(): Promise<void> }> = [];
  const reach = (p: string): SocketTarget => ({ path: `${host.name}:${p}`, open: () => host.connectUnix(p), link: host.link });
  let proc: HostProcess | undefined;
  const cleanup = async () => {
    for (const f of followers.splice(0)) await f.stop().catch(() => undefined);
    await dir.cleanup();
  };
  try {
    for (const [remote, local] of [[stderrThere, art.file(`${name}.stderr.log`)], [there.serialLog, art.file(`${name}.serial.log`)]] as const) {
      await host.writeFile(remote, '');
      followers.push(await host.follow(remote, local));
    }
    const spawnedAt = Date.now();
    proc = await host.spawn([spec.binary, ...argv], { name, stderrFile: stderrThere });
    const qmp = await QmpClient.connect(reach(there.qmp), { vm: name, transcriptFile: art.file(`${name}.qmp.log`) });
    const hb = spec.heartbeat ? await HeartbeatStream.connect(reach(there.heartbeat), name, art.file(`${name}.heartbeat.log`)) : undefined;
    const here: VmPaths = { ...there, serialLog: art.file(`${name}.serial.log`) };
    return new StartedVm({ name, spec, argv: [spec.binary, ...argv], incoming: opts.incoming, binary: opts.binary, process: proc, qmp, heartbeat: hb, paths: here, artifacts: art, cleanupDir: cleanup, reach, host, spawnedAt });
  } catch (e) {
    await proc?.stop({ termMs: DEADLINES.teardownQuick }).catch(() => undefined);
    const said = existsSync(art.file(`${name}.stderr.log`)) ? readFileSync(art.file(`${name}.stderr.log`), 'utf8').trim().split('\n').slice(-5).join('\n') : '';
    await cleanup();
    throw new VmStartError(`${name}: start on host ${host.name} failed: ${(e as Error).message}\n${said}`, { artifacts: art.path });
  }
}

/** cpr-exec: the command line a running QEMU execs into, and how to reach it once it did. */
export interface ExecPlan {
  /** The new QEMU's argv, binary first: the source's `cpr-exec-command`. */
  readonly command: readonly string[];
  /** Its private (0700) directory: its sockets, and the state file it loads. */
  readonly dir: string;
  /** Connects to the new QEMU once it opened its monitor; ends at once if the process exits or `failed` says why not. */
  attach(opts: Wait & { failed?: () => Error | undefined }): Promise<StartedVm>;
  /** Removes its directory when it was never attached. */
  cleanup(): Promise<void>;
}

/**
 * cpr-exec (10.2+): `source`'s QEMU execs a new one in place (same pid and process group, its
 * stderr kept). The new QEMU gets its own private directory, sockets and console, so both
 * sides keep their own evidence; its stderr stays in the source's file.
 */
export async function planExec(source: StartedVm, name: string, spec: VmSpec, opts: { artifacts: ArtifactDir; binary: QemuBinary }): Promise<ExecPlan> {
  if (source.host) throw new VmStartError(`${name}: cpr-exec replaces ${source.name}'s process on its host; the harness attaches to it on this machine only`, { artifacts: opts.artifacts.path });
  const dir = await privateDir(name);
  const art = opts.artifacts;
  // The exec'd QEMU opens the source's own variable store, as a real exec keeps its file: a
  // copy made now would lose what the guest writes before the exec.
  const own = vmPaths(dir.path, art.file(`${name}.serial.log`));
  const paths = spec.firmware && source.paths.vars ? { ...own, vars: source.paths.vars } : own;
  if (paths.vars !== source.paths.vars) await placeVarstore(name, spec, paths, art, dir);
  const argv = buildArgv(spec, paths, { incoming: true });
  const command = [spec.binary, ...argv];
  art.writeJson(`${name}.argv.json`, command);
  let attached = false;
  return {
    command,
    dir: dir.path,
    cleanup: async () => {
      if (!attached) await dir.cleanup();
    },
    async attach(wait) {
      const proc = source.process;
      const monitors = await connectLocal(name, spec, paths, art, proc, { what: `the QEMU ${source.name} exec'd to open its monitor`, timeoutMs: deadline(wait, 'migration'), failed: wait.failed });
      if (!monitors) throw new VmStartError(`${name}: the process exited after the exec (${JSON.stringify(proc.exit)}): ${source.stderrErrors().slice(-3).join(' | ')}`, { artifacts: art.path });
      const { qmp, hb } = monitors;
      attached = true;
      source.handOver(name);
      return new StartedVm({ name, spec, argv: command, incoming: true, binary: opts.binary, process: proc, qmp, heartbeat: hb, paths, artifacts: art, cleanupDir: dir.cleanup, stderrFile: art.file(`${source.name}.stderr.log`) });
    },
  };
}
