import { DestinationFailedError, GuestLostError, MigrationFailedError, MigrationHungError, MigrationPausedError } from '../migration/errors.js';
import { howExited, type Side } from '../migration/migrate.js';
import { RecoveryError } from '../migration/recovery.js';
import { WrongRunStateError } from '../migration/verify.js';
import { QmpCommandError, QmpDisconnectedError } from '../qmp/errors.js';
import { DeadlineError } from '../util/errors.js';
import { DEADLINES, deadline } from '../util/deadlines.js';
import { pollUntil } from '../util/time.js';
import { QemuExitedError } from '../vm/errors.js';
import type { StartedVm } from '../vm/started.js';
import type { MigratingRun, Outcome, PairRun, RefusalStage } from './model.js';

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/** QMP commands whose refusal means a side refused its settings before anything was sent. */
const SETTINGS_COMMANDS: Record<string, RefusalStage> = {
  'migrate-set-capabilities': 'settings',
  'migrate-set-parameters': 'settings',
  'migrate-incoming': 'settings',
  migrate: 'settings',
  'migrate-start-postcopy': 'switch',
  // TLS credentials a side would not load.
  'object-add': 'settings',
};

/**
 * Why the destination refused, in QEMU's words: the specific reason is only on its stderr
 * (error_report); with exit-on-error false (9.1+) query-migrate adds the generic
 * error-desc ("load of migration failed: ..."). Both, stderr first.
 */
export async function destinationWords(dst: StartedVm, kept: boolean): Promise<string> {
  let descSince: number | undefined;
  return pollUntil(`${dst.name}: its reason for failing the incoming migration`, deadline(undefined, 'reason'), async () => {
    const desc = kept && dst.process.running ? (await dst.queryMigrate().catch(() => undefined))?.['error-desc'] : undefined;
    const lines = dst.stderrErrors().filter((l) => !l.includes(desc ?? '\0'));
    if (desc !== undefined) descSince ??= Date.now();
    // QEMU reports on stderr before it sets error-desc, but from 10.1 many load errors are in
    // error-desc alone (error_setg, no error_report): a desc with no stderr after a grace
    // (a remote stderr is followed with a delay) is all there is.
    const descAlone = descSince !== undefined && Date.now() - descSince >= DEADLINES.stderrGrace;
    // A destination that aborted (an assertion) says nothing more: its stderr is all there is.
    const done = (lines.length > 0 && ((kept && desc !== undefined) || !dst.process.running)) || descAlone;
    return { done, value: [...lines.map((l) => l.replace(/^qemu-system-\w+: /, '')), ...(desc ? [desc] : [])].join(' | '), state: { desc, lines } };
  }, 100);
}

/** A side that died of a signal nobody sent it on purpose (SIGSEGV, SIGABRT): a crash. */
function crashedSide(run: PairRun, killedByFault: Set<string>): { side: Side; vm: StartedVm } | undefined {
  for (const side of ['source', 'destination'] as const) {
    const vm = run.vm(side);
    const sig = vm.process.exit?.signal;
    if (sig && !killedByFault.has(vm.name) && sig !== 'SIGKILL' && sig !== 'SIGTERM') return { side, vm };
  }
  return undefined;
}

/** Whether the destination reported a failure of its own (an event, its exit, or error lines on stderr). */
const destinationFailed = (run: MigratingRun) =>
  !run.dst.process.running || run.m.statusOf('destination') === 'failed' || run.m.statusOf('destination') === 'failing';

/**
 * Turns how a migration ended into an outcome, from what both sides reported: what a side
 * refused (its settings, the stream, the switch), a guest lost with a side, a source that
 * completed for a destination that failed (lost), a crash, a hang, or a failure the source
 * survived. Anything else is a harness error and propagates.
 */
export async function outcomeOf(run: MigratingRun | PairRun, e: unknown, opts: { faults: number; expectsFailure: boolean; killed?: Set<string> } = { faults: 0, expectsFailure: false }): Promise<Outcome> {
  const m = 'm' in run ? run : undefined;
  // A monitor that closed: its QEMU is going; its exit (a signal?) decides the outcome.
  for (const vm of [run.src, run.dst]) if (vm.qmp.closed && vm.process.running) await vm.process.waitExit().catch(() => undefined);
  // A connect refused at once: some versions fail `migrate` itself instead of the migration.
  if (e instanceof QmpCommandError && e.command === 'migrate' && run.case.migration?.connect === 'refused') return { kind: 'failed', status: 'failed', error: e.desc };
  if (e instanceof QmpCommandError && SETTINGS_COMMANDS[e.command])
    return { kind: 'refused', side: e.vm === run.dst.name ? 'destination' : 'source', stage: SETTINGS_COMMANDS[e.command]!, error: e.desc };
  if (e instanceof GuestLostError) return { kind: 'guest-lost', side: e.context.side as Side, error: e.message };
  if (e instanceof WrongRunStateError) return { kind: 'wrong-run-state', side: e.side, expected: e.expected, got: e.got };
  const crashed = crashedSide(run, opts.killed ?? new Set());
  // A monitor gone with its QEMU, whatever was awaited on it.
  if (crashed && (e instanceof QmpDisconnectedError || e instanceof DeadlineError)) return crash(crashed);
  if (e instanceof DestinationFailedError) {
    if (crashed) return crash(crashed);
    const words = m ? await destinationWords(run.dst, !!m.m.opts.keepDestinationOnError).catch(() => String(e.context.destination)) : String(e.context.destination);
    const sourceRunState = run.src.process.running ? (await run.src.status().catch(() => undefined))?.status : undefined;
    return {
      kind: 'lost',
      error: `${e.message}; the destination said: ${words}; the source is ${sourceRunState ?? 'gone'}${sourceRunState === 'postmigrate' ? ' (`cont` there would run the guest again)' : ''}`,
    };
  }
  if (e instanceof MigrationHungError) return { kind: 'hung', noProgressMs: Number(e.context.noProgressMs ?? 0), error: e.message, last: e.context.last };
  if (e instanceof MigrationPausedError) return { kind: 'hung', noProgressMs: 0, error: e.message };
  if (e instanceof RecoveryError) return { kind: 'hung', noProgressMs: 0, error: `${e.message} (the source is in ${run.src.lastMigrationStatus ?? 'an unknown state'})` };
  if (crashed && (e instanceof QemuExitedError || e instanceof MigrationFailedError)) return crash(crashed);
  if (e instanceof MigrationFailedError || e instanceof QemuExitedError) {
    const status = (e.context.status as 'failed' | 'cancelled' | undefined) ?? 'failed';
    const stage: RefusalStage = e.context.stage === 'switch' ? 'switch' : 'stream';
    // Without faults, a failed stream is the destination refusing it: its own words say why.
    if (m && status === 'failed' && !opts.faults && !opts.expectsFailure && destinationFailed(m))
      return { kind: 'refused', side: 'destination', stage, error: await destinationWords(run.dst, !!m.m.opts.keepDestinationOnError) };
    if (e instanceof QemuExitedError && !opts.faults) {
      const side: Side = e.context.vm === run.src.name ? 'source' : 'destination';
      const exit = run.vm(side).process.exit;
      return { kind: 'crashed', side, signal: exit?.signal, code: exit?.code, error: firstLine(e) };
    }
    const info = e.context.info as { 'error-desc'?: string } | undefined;
    return { kind: 'failed', status, error: info?.['error-desc'] ?? firstLine(e) };
  }
  throw e;
}

function crash({ side, vm }: { side: Side; vm: StartedVm }): Outcome {
  const exit = vm.process.exit;
  const said = vm.stderrErrors().slice(-2).join(' | ');
  return { kind: 'crashed', side, signal: exit?.signal, code: exit?.code, error: `${vm.name} (${side}) ${howExited(exit)}${said ? `: ${said}` : ''}` };
}
