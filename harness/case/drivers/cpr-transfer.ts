import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { applySettings } from '../../migration/apply.js';
import { RunningMigration } from '../../migration/migrate.js';
import { deadline } from '../../util/deadlines.js';
import { MigtestError } from '../../util/errors.js';
import { privateDir } from '../../util/privdir.js';
import { pollUntil } from '../../util/time.js';
import type { ModeDriver } from './driver.js';
import { precopy } from './precopy.js';

const unixChannel = (type: 'main' | 'cpr', path: string) => ({ 'channel-type': type, addr: { transport: 'socket', type: 'unix', path } });

/**
 * cpr-transfer (10.0+): a new QEMU on the same host takes the guest over with its RAM kept in
 * place (a shared memfd, `-machine aux-ram-share=on`): the old one passes its memory's file
 * descriptors over a second channel (cpr, a unix socket), then migrates device state over the
 * main one. The new QEMU reads the CPR channel before it opens a monitor, so it is started
 * here, with the migration: `-incoming cpr,...`, the source's `migrate` with both channels,
 * then the new QEMU's monitor, and `migrate-incoming` on the main channel (qtest's
 * /migration/mode/transfer/defer).
 */
export const cprTransfer: ModeDriver = {
  ...precopy,
  since: { version: '10.0', why: 'the cpr-transfer migration mode came in 10.0' },
  oneHost: 'the new QEMU takes the memory file descriptors over a unix socket: both QEMUs on one host',
  settings: () => ({ parameters: { mode: 'cpr-transfer' } }),
  configure: (b) => b.withMachineOptions('aux-ram-share=on').withMemoryBackend(b.draft.memoryBackend ?? { kind: 'memfd', shared: true }),
  async begin(run, destination, opts) {
    const dir = await privateDir('cpr');
    run.scope.track({ stop: dir.cleanup });
    const [cpr, main] = [join(dir.path, 'cpr.sock'), join(dir.path, 'main.sock')];
    const starting = run.scope.vms.start(destination.withArgs('-incoming', `cpr,addr.transport=socket,addr.type=unix,addr.path=${cpr}`));
    let failed: unknown;
    starting.catch((e: unknown) => (failed = e));
    await pollUntil(`dst: its CPR channel to listen on ${cpr}`, deadline(undefined, 'listen'), () => {
      if (failed) throw failed;
      return { done: existsSync(cpr) };
    });
    await applySettings(run.src, opts);
    const runState = (await run.src.status()).status;
    const srcMark = run.src.qmp.mark();
    await run.src.qmp.execute('migrate', { channels: [unixChannel('main', main), unixChannel('cpr', cpr)] });
    // Its monitor opens once it has read the CPR state.
    const dst = await starting;
    const dstMark = dst.qmp.mark();
    const { mode: _mode, ...parameters } = opts.parameters ?? {};
    await applySettings(dst, { capabilities: opts.capabilities, parameters });
    await dst.qmp.execute('migrate-incoming', { channels: [unixChannel('main', main)] });
    if (!dst.process.running) throw new MigtestError(`${dst.name}: exited after migrate-incoming`);
    return { dst, m: new RunningMigration(run.src, dst, `unix:${main}`, opts, srcMark, dstMark, runState) };
  },
};
