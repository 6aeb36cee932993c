import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { RunMetadata } from '../report/metadata.js';
import type { ScenarioResult } from '../report/results.js';
import { ConfigError } from '../util/errors.js';
import { FIGURES, figuresOf, type Figures } from './figures.js';
import type { RowInputs, StoredRun } from './store.js';

export interface ParsedRun {
  run: StoredRun;
  rows: Array<{ inputs: RowInputs; row: ScenarioResult; figures: Figures }>;
}

const FORMS = 'a results.json written by `migtest run` or `migtest report merge`';
const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** A bad field, named as `file: path.to.field` so the user can open the file at it. */
function bad(file: string, field: string, problem: string, allowed: string | readonly string[] = FORMS): never {
  throw new ConfigError(`${file}: ${field}`, problem, allowed);
}

/** Metadata is optional (older files have none); when present its parts must have their types. */
function checkMetadata(file: string, m: unknown): RunMetadata | undefined {
  if (m === undefined) return undefined;
  if (!isObj(m)) bad(file, 'metadata', 'is not an object');
  if (typeof m.startedAt !== 'string' || Number.isNaN(Date.parse(m.startedAt))) bad(file, 'metadata.startedAt', `${JSON.stringify(m.startedAt)} is not a time`, 'an ISO time as migtest run writes it');
  if (!isObj(m.host) || typeof m.host.hostname !== 'string') bad(file, 'metadata.host.hostname', 'is missing', 'a host name');
  if (!Array.isArray(m.command)) bad(file, 'metadata.command', 'is not a list', 'the command words');
  for (const k of ['accel', 'qemu'] as const) if (!Array.isArray(m[k])) bad(file, `metadata.${k}`, 'is not a list', 'one entry per arch (and side)');
  return m as unknown as RunMetadata;
}

/** A row must say which scenario it is and how it ended, and its figures must be numbers, or the statistics would be nonsense. */
function checkRow(file: string, i: number, r: unknown): ScenarioResult {
  const at = `results[${i}]`;
  if (!isObj(r)) bad(file, at, 'is not an object');
  for (const k of ['suite', 'scenario'] as const) if (typeof r[k] !== 'string' || !r[k]) bad(file, `${at}.${k}`, 'is missing', 'a non-empty string');
  if (!['passed', 'failed', 'skipped'].includes(r.outcome as string)) bad(file, `${at}.outcome`, JSON.stringify(r.outcome ?? null), ['passed', 'failed', 'skipped']);
  for (const k of ['arch', 'error', 'artifacts'] as const) if (r[k] !== undefined && typeof r[k] !== 'string') bad(file, `${at}.${k}`, `${JSON.stringify(r[k])} is not a string`, 'a string');
  for (const f of FIGURES) {
    const v = f.of(r as unknown as ScenarioResult);
    const field = f.name === 'recoveryMs' ? 'recovery.failureToRecoveredMs' : f.name;
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) bad(file, `${at}.${field}`, `${JSON.stringify(v)} is not a number`, 'a number, or no field');
  }
  return r as unknown as ScenarioResult;
}

/** "a->b" as a row's extra.qemu says it (a matrix cell may run other QEMUs than the run's). */
function rowQemu(r: ScenarioResult): [string, string] | undefined {
  const q = r.extra?.qemu;
  const m = typeof q === 'string' ? /^(.+)->(.+)$/.exec(q) : null;
  return m ? [m[1]!, m[2]!] : undefined;
}

/** The inputs of a row: its own QEMU versions if it names them, else the run's for its arch. */
export function rowInputs(r: ScenarioResult, meta: RunMetadata | undefined, legacyAccel: string | undefined): RowInputs {
  const arch = r.arch ?? '';
  const side = (s: string) => meta?.qemu.find((q) => q.arch === arch && q.side === s);
  const [src, dst] = [side('source'), side('destination')];
  const [srcQemu, dstQemu] = rowQemu(r) ?? [src?.version ?? '', dst?.version ?? ''];
  return {
    suite: r.suite,
    scenario: r.scenario,
    arch,
    accel: meta?.accel.find((a) => a.arch === arch)?.accel ?? legacyAccel ?? '',
    srcQemu,
    dstQemu,
    // The run's binary only when the row ran its version: a matrix cell's own QEMU is known by version alone.
    srcBinary: src && src.version === srcQemu ? src.path : '',
    dstBinary: dst && dst.version === dstQemu ? dst.path : '',
    // Not the host name: CI machines are new every run, and the same inputs must meet.
    placement: meta?.hostsFile ? 'two-host' : 'local',
  };
}

const hash8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);
/** run-2026-12-05T19-07-31-149Z -> 2026-12-05T19:07:31.149Z */
function timeOfRunDir(name: string): string | undefined {
  const m = /^run-(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z$/.exec(name);
  return m ? `${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z` : undefined;
}

/**
 * A results.json as a run to store. Its id: one the file gives, else made from the metadata
 * (start time, host, a hash of both and the command) so the same run ingested from its
 * directory, its results.json or the end of `migtest run` is one run; else the run
 * directory's name; else a hash of the file (a file without either is only itself).
 */
export function parseResultsFile(file: string): ParsedRun {
  const text = readFileSync(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, `is not valid JSON (${(e as Error).message})`, FORMS);
  }
  if (!isObj(json)) bad(file, '(top level)', 'is not an object');
  if (!Array.isArray(json.results)) bad(file, 'results', 'is missing or not a list (not a migtest results.json?)');
  const meta = checkMetadata(file, json.metadata);
  const rows = json.results.map((r, i) => checkRow(file, i, r));
  const runDirGiven = typeof json.runDir === 'string' ? json.runDir : undefined;
  // Where the run's artifacts are now: beside this file if it is in the run directory (it may have moved, as CI downloads do).
  const runDir = runDirGiven && basename(runDirGiven) === basename(dirname(resolve(file))) ? dirname(resolve(file)) : runDirGiven;
  const dirName = runDirGiven ? basename(runDirGiven) : undefined;
  const startedAt = meta?.startedAt ?? (dirName && timeOfRunDir(dirName)) ?? statSync(file).mtime.toISOString();
  const given = typeof json.runId === 'string' ? json.runId : isObj(json.metadata) && typeof json.metadata.runId === 'string' ? json.metadata.runId : undefined;
  const id =
    given ??
    (meta ? `${startedAt.replace(/[-:]|\.\d+/g, '')}-${meta.host.hostname}-${hash8(`${startedAt}\0${meta.host.hostname}\0${meta.command.join('\0')}`)}` : undefined) ??
    dirName ??
    `file-${hash8(text)}`;
  const legacyAccel = typeof json.accel === 'string' ? json.accel : undefined;
  return {
    run: {
      id,
      startedAt,
      endedAt: meta?.endedAt,
      hostname: meta?.host.hostname,
      command: meta?.command.join(' '),
      migtestVersion: meta?.migtest?.version,
      commit: meta?.migtest?.commit && `${meta.migtest.commit}${meta.migtest.dirty ? '+dirty' : ''}`,
      runDir,
      source: resolve(file),
      metadata: meta,
    },
    rows: rows.map((row) => ({ inputs: rowInputs(row, meta, legacyAccel), row, figures: figuresOf(row) })),
  };
}
