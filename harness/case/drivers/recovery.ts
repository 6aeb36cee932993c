import { beginRecovery, measureEpisode, pauseSides, recoverPostcopy, RecoveryError, type RecoverOptions, type RecoveryAttempt } from '../../migration/recovery.js';
import { injectAt, when, type FaultRecord } from '../../migration/triggers.js';
import { closedLoopbackPort, freePort } from '../../host/ports.js';
import { SkipError } from '../../util/errors.js';
import type { CaseReport, Episode, FaultSpec, MigratingRun } from '../model.js';
import type { ModeDriver } from './driver.js';
import { postcopy } from './postcopy.js';

/** How long no byte may move before a silent hang counts as one (the harness then pauses both sides). */
const HANG_NOTICED_MS = 2000;

/** The recovery's listening address, port and route, from the case's `recover`. */
async function recoverOptions(run: MigratingRun): Promise<RecoverOptions> {
  const spec = run.case.migration?.recover ?? {};
  const route = spec.route ?? (run.bridges ? 'new-bridge' : 'direct');
  if (route !== 'direct' && !run.bridges) throw new RecoveryError(`${run.case.id}: recovery route '${route}' needs migration.bridged`);
  if (spec.port === 'free' && run.dst.host) throw new SkipError(`recover.port 'free' picks a port free on this machine; the destination runs on host ${run.dst.on.name}`);
  return {
    listenHost: spec.listenHost ?? run.case.migration?.listenHost,
    listenPort: spec.port === 'free' ? await freePort() : spec.port,
    route: route === 'new-bridge' ? run.bridges!.route : route === 'same-port' ? run.bridges!.restartOnSamePort : undefined,
  };
}

/** A resume meant to fail: to a closed port; QEMU must say so at once, then resume to the listening one. */
async function failThenRecover(run: MigratingRun, opts: RecoverOptions): Promise<{ attempt: RecoveryAttempt; failedResume: string }> {
  const closed = await closedLoopbackPort();
  const pending = await beginRecovery(run.m, { ...opts, route: async () => `tcp:127.0.0.1:${closed}` });
  const failed = await pending.outcome();
  if (failed.outcome !== 'postcopy-paused') throw new RecoveryError(`${run.m.src.name}: a resume to closed port ${closed} ended ${failed.outcome}, expected postcopy-paused`);
  const attempt = await (await pending.resumeAgain()).outcome();
  if (attempt.outcome !== 'postcopy-active') throw new RecoveryError(`${run.m.src.name}: the resume after a failed one ended ${attempt.outcome}: ${attempt.error ?? '(QEMU gave no reason)'}`);
  return { attempt, failedResume: failed.error ?? '(QEMU gave no reason)' };
}

/**
 * A fault during the recovery handshake: the recovery begins with `next.intercept` in its
 * route (the destination's replies dropped, say); once both sides are in postcopy-recover
 * `next` fires, is healed, and both pause again.
 */
async function breakHandshake(run: MigratingRun, opts: RecoverOptions, next: FaultSpec, report: CaseReport): Promise<void> {
  const route = opts.route;
  const pending = await beginRecovery(run.m, {
    ...opts,
    route: async (dstUri) => {
      await next.intercept?.(run, dstUri);
      return route ? route(dstUri) : dstUri;
    },
  });
  await pending.inHandshake();
  const record: FaultRecord = { fault: next.name, trigger: 'both sides in postcopy-recover', at: Date.now(), sample: run.m.sampler.last! };
  await next.fire(run);
  run.src.artifacts.append('faults.jsonl', JSON.stringify(record));
  report.faults.push(record);
  await next.heal?.(run);
  await run.waitBothPaused({ since: record.at });
}

/**
 * Postcopy where each fault breaks the link and the harness recovers it: both sides paused
 * (by the broken link, or by migrate-pause once a silent hang is seen), the fault healed,
 * migrate-recover out-of-band on the destination and `migrate resume` on the source, by the
 * case's route and port. Each episode is timed, with the stall the guest felt.
 */
export const recovery: ModeDriver = {
  ...postcopy,
  bridged: true,
  async faulted(run, fault, record, report, next) {
    const spec = run.case.migration?.recover ?? {};
    if (spec.pause === 'migrate-pause') {
      // Nobody notices a silent hang: no error, no event, only no progress.
      await when.stalled('postcopy-active', HANG_NOTICED_MS).wait(run.m);
      await pauseSides([run.src, run.dst]);
    }
    const pausedAt = await run.waitBothPaused({ since: record.at });
    await fault.whilePaused?.(run);
    await fault.heal?.(run);
    const opts = await recoverOptions(run);
    let attempts = 1;
    if (next) {
      await breakHandshake(run, opts, next, report);
      attempts++;
    }
    let attempt: RecoveryAttempt;
    let failedResume: string | undefined;
    if (spec.failFirst) {
      ({ attempt, failedResume } = await failThenRecover(run, opts));
      attempts++;
    } else attempt = await recoverPostcopy(run.m, opts);
    const episode: Episode = { fault: fault.name, dstUri: attempt.dstUri, uri: attempt.uri, faultAt: record.at, pausedAt, recoveredAt: attempt.at, failedResume, listenPort: opts.listenPort };
    report.episodes.push({ ...episode, figures: await measureEpisode(run.src, run.dst, episode.faultAt, episode.pausedAt, episode.recoveredAt, attempts) });
    await run.case.hooks?.recovered?.(run, episode);
  },
};

/** Fires one fault at its trigger and records it (faults.jsonl): the step every mode shares. */
export async function fireAt(run: MigratingRun, f: FaultSpec): Promise<FaultRecord> {
  if (f.at === 'recovery-handshake') throw new RecoveryError(`${run.case.id}: fault '${f.name}' fires during a recovery handshake: it must follow a fault that postcopy recovers`);
  const { record } = await injectAt(run.m, f.at, f.name, () => f.fire(run), { timeoutMs: f.timeoutMs });
  return record;
}
