import type { IoFigures, ScenarioResult } from '../report/results.js';
import { outcomeLabel } from './expect.js';
import type { CaseReport, Outcome } from './model.js';
import type { IoReport } from './storage.js';

/** The I/O check as a row's figures. */
function ioFigures(io: IoReport): IoFigures {
  const m = io.mirror;
  return {
    writes: io.writes,
    verifiedBytes: io.verifiedBytes,
    srcWrites: io.srcWrites,
    dstWrites: io.dstWrites,
    ...(m ? { mirrorSync: m.sync, mirrorBytes: m.completed.offset, mirrorCompleteMs: m.completed.tookMs } : {}),
  };
}

/** Reconnects of the harness's control channel, so a row shows where the agent stalled. */
function agentReconnects(run: CaseReport['run'] | undefined): { agentReconnects?: Record<string, number> } {
  const vms = run ? [run.src, run.dst].filter((vm) => vm.agentReconnects > 0) : [];
  return vms.length ? { agentReconnects: Object.fromEntries(vms.map((vm) => [vm.name, vm.agentReconnects])) } : {};
}

/** What an outcome adds to a row: its label, QEMU's words, the side. */
function outcomeFields(o: Outcome): Record<string, unknown> {
  return {
    outcome: outcomeLabel(o),
    ...('error' in o ? { error: o.error } : {}),
    ...('side' in o ? { side: o.side } : {}),
    ...(o.kind === 'wrong-run-state' ? { expectedRunState: o.expected, runState: o.got } : {}),
    ...(o.kind === 'crashed' ? { signal: o.signal, code: o.code } : {}),
    ...(o.kind === 'lost' && o.sourceResumed !== undefined ? { sourceResumed: o.sourceResumed } : {}),
  };
}

/** The row a case gives results.json: figures, verdict, recovery, and what happened (no outcome while none was decided). */
export function caseRow(report: Partial<CaseReport> & { outcome?: Outcome }): Partial<ScenarioResult> {
  const last = report.episodes?.at(-1);
  return {
    ...report.figures,
    ...(report.verdict ? { verdict: report.verdict } : {}),
    ...(last ? { recovery: last.figures } : {}),
    extra: {
      ...(report.run ? { case: report.run.case.id, qemu: `${report.run.versions.src}->${report.run.versions.dst}` } : {}),
      ...(report.outcome ? outcomeFields(report.outcome) : {}),
      ...(report.retry ? { retry: report.retry } : {}),
      ...(report.episodes && report.episodes.length > 1 ? { episodes: report.episodes.map((e) => e.figures) } : {}),
      ...(report.ram ? { ramPages: report.ram.pages, ramPasses: report.ram.passes } : {}),
      ...agentReconnects(report.run),
    },
    ...(report.io ? { io: ioFigures(report.io) } : {}),
  };
}
