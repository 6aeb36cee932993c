import { statSync } from 'node:fs';
import { applySettings } from '../../migration/apply.js';
import { MigrationFailedError } from '../../migration/errors.js';
import { RunningMigration } from '../../migration/migrate.js';
import { fileTransportPathIn } from '../../migration/transport.js';
import type { MigrationInfo, MigrationStatus, QmpEvent } from '../../qmp/types.js';
import type { ModeDriver } from './driver.js';
import { cprTransfer } from './cpr-transfer.js';

/**
 * A migration whose source QEMU exec'd into its destination: the source's monitor closed
 * with the exec, so its final figures are what it said before and the state file's size.
 */
class ExecMigration extends RunningMigration {
  protected override finalInfo(status: MigrationStatus, end: QmpEvent): Promise<MigrationInfo> {
    // Not completed: no exec happened, and the old QEMU still answers.
    if (status !== 'completed') return super.finalInfo(status, end);
    const file = this.uri.replace(/^file:/, '');
    // RAM stayed in place (shared memfd): the stream is device state, and its size is what moved.
    return Promise.resolve({ status, 'total-time': end.receivedAt - this.startedAt, ram: { transferred: statSync(file).size } } as MigrationInfo);
  }
}

/**
 * cpr-exec (10.2+): the source QEMU stops the guest, writes its device state to a file and
 * execs the new QEMU in its own process (same pid; RAM kept in place in a shared memfd, as for
 * cpr-transfer). The new QEMU starts with `-incoming defer`; the harness attaches to its own
 * monitor, then `migrate-incoming` loads the file (qtest's /migration/mode/exec).
 */
export const cprExec: ModeDriver = {
  ...cprTransfer,
  since: { version: '10.2', why: 'the cpr-exec migration mode came in 10.2' },
  oneHost: 'QEMU execs the new QEMU in its own process: one host, one pid',
  settings: () => ({ parameters: { mode: 'cpr-exec' } }),
  async begin(run, destination, opts) {
    const plan = await destination.withArtifacts(run.scope.artifacts).planExecFrom(run.src);
    run.scope.track({ stop: plan.cleanup });
    // Where the file transport reads the destination's state file from (finish() loads it there).
    const uri = `file:${fileTransportPathIn(plan.dir)}`;
    await applySettings(run.src, { ...opts, parameters: { 'cpr-exec-command': plan.command, ...opts.parameters } });
    const runState = (await run.src.status()).status;
    const srcMark = run.src.qmp.mark();
    const sentAt = Date.now();
    await run.src.qmp.execute('migrate', { uri });
    const failed = () => {
      const e = run.src.qmp.events.slice(srcMark).findLast((x) => x.event === 'MIGRATION');
      const s = String(e?.data?.status);
      return s === 'failed' || s === 'cancelled' ? new MigrationFailedError(`${run.src.name} (source) reported '${s}' before the exec: ${run.src.stderrErrors().slice(-2).join(' | ') || '(no stderr)'}`, { status: s, side: 'source' }) : undefined;
    };
    const dst = run.scope.vms.adopt(await plan.attach({ failed }));
    const { mode: _mode, 'cpr-exec-command': _command, ...parameters } = opts.parameters ?? {};
    await applySettings(dst, { capabilities: opts.capabilities, parameters });
    return { dst, m: new ExecMigration(run.src, dst, uri, { ...opts, transport: 'file' }, srcMark, dst.qmp.mark(), runState, sentAt) };
  },
};
