import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import type { ScenarioResult } from './results.js';
import type { RunMetadata } from './metadata.js';

/** What `migtest run` writes as results.json. */
export interface RunResults {
  runDir?: string;
  /** What the run was (migtest run writes it; older results.json files have accel and arches instead). */
  metadata?: RunMetadata;
  accel?: string;
  arches?: string[];
  results: ScenarioResult[];
}

/** A shard's results: a results.json, a directory holding one, or a run directory with results.jsonl. */
export function readShard(path: string): RunResults & { from: string } {
  const file = existsSync(path) && statSync(path).isDirectory() ? [join(path, 'results.json'), join(path, 'results.jsonl')].find(existsSync) : path;
  if (!file || !existsSync(file)) throw new ConfigError('report merge', `'${path}' has no results.json or results.jsonl`, ['a results.json', 'a directory with one (a shard\'s download)', 'a run artifacts directory']);
  const text = readFileSync(file, 'utf8');
  const json = (t: string, where: string): unknown => {
    try {
      return JSON.parse(t);
    } catch (e) {
      throw new ConfigError('report merge', `${where} is not valid JSON (${(e as Error).message})`, ['a results.json written by migtest run', 'a run directory']);
    }
  };
  if (file.endsWith('.jsonl')) return { results: text.split('\n').filter(Boolean).map((l, i) => checkRow(json(l, `${file} line ${i + 1}`), `${file} line ${i + 1}`)), from: file };
  const parsed = json(text, file) as RunResults;
  if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.results)) throw new ConfigError('report merge', `'${file}' is not a migtest results.json (no results array)`, ['a results.json written by migtest run']);
  parsed.results.forEach((r, i) => checkRow(r, `${file}: results[${i}]`));
  return { ...parsed, from: file };
}

/** A row must say which scenario it is and how it ended, or a report would invent a test called "undefined". */
function checkRow(r: unknown, where: string): ScenarioResult {
  const row = r as Partial<ScenarioResult> | null;
  for (const k of ['suite', 'scenario'] as const)
    if (!row || typeof row[k] !== 'string' || !row[k]) throw new ConfigError('report merge', `${where} has no ${k}`, ['rows as migtest run writes them: suite, scenario, outcome, ...']);
  if (!['passed', 'failed', 'skipped'].includes(String(row!.outcome))) throw new ConfigError('report merge', `${where}: outcome ${JSON.stringify(row!.outcome)}`, ['passed', 'failed', 'skipped']);
  return row as ScenarioResult;
}

/** The cores of the machine every shard ran on; undefined when they ran on several or did not say. */
function mergedCpu(metas: RunMetadata[]): RunMetadata['hostCpu'] {
  const first = metas[0]?.hostCpu;
  const same = first && metas.every((m) => m.hostCpu?.cores === first.cores && m.host.hostname === metas[0]!.host.hostname);
  return same ? { cores: first.cores } : undefined;
}

/**
 * Shards' results in one: every row once (a row repeated across shards, as a retried shard
 * gives, keeps its last outcome), with the shards it came from. Pure but for reading files.
 */
export function mergeShards(paths: string[]): RunResults & { shards: Array<{ from: string; rows: number; runDir?: string; metadata?: RunMetadata }> } {
  if (!paths.length) throw new ConfigError('report merge', 'no shard given', ['one or more results.json files or directories']);
  const shards = paths.map(readShard);
  const byKey = new Map<string, ScenarioResult>();
  for (const s of shards) for (const r of s.results) byKey.set(`${r.suite}\u0000${r.scenario}\u0000${r.arch ?? ''}`, r);
  const metas = shards.map((s) => s.metadata).filter((m): m is RunMetadata => !!m);
  return {
    // The first shard's, spanning every shard's time; its CPU only as the cores of the one
    // machine every shard ran on (how busy each was is each shard's own).
    metadata: metas[0] && { ...metas[0], startedAt: metas.map((m) => m.startedAt).sort()[0]!, endedAt: metas.map((m) => m.endedAt ?? m.startedAt).sort().at(-1), hostCpu: mergedCpu(metas) },
    shards: shards.map((s) => ({ from: s.from, rows: s.results.length, runDir: s.runDir, metadata: s.metadata })),
    results: [...byKey.values()],
  };
}
