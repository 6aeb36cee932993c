import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import type { ScenarioResult } from './results.js';

/** What `migtest run` writes as results.json. */
export interface RunResults {
  runDir?: string;
  accel?: string;
  arches?: string[];
  results: ScenarioResult[];
}

/** A shard's results: a results.json, a directory holding one, or a run directory with results.jsonl. */
export function readShard(path: string): RunResults & { from: string } {
  const file = existsSync(path) && statSync(path).isDirectory() ? [join(path, 'results.json'), join(path, 'results.jsonl')].find(existsSync) : path;
  if (!file || !existsSync(file)) throw new ConfigError('report merge', `'${path}' has no results.json or results.jsonl`, ['a results.json', 'a directory with one (a shard\'s download)', 'a run artifacts directory']);
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.jsonl')) return { results: text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ScenarioResult), from: file };
  const parsed = JSON.parse(text) as RunResults;
  if (!Array.isArray(parsed.results)) throw new ConfigError('report merge', `'${file}' is not a migtest results.json (no results array)`, ['a results.json written by migtest run']);
  return { ...parsed, from: file };
}

/**
 * Shards' results in one: every row once (a row repeated across shards, as a retried shard
 * gives, keeps its last outcome), with the shards it came from. Pure but for reading files.
 */
export function mergeShards(paths: string[]): RunResults & { shards: Array<{ from: string; rows: number; runDir?: string }> } {
  if (!paths.length) throw new ConfigError('report merge', 'no shard given', ['one or more results.json files or directories']);
  const shards = paths.map(readShard);
  const byKey = new Map<string, ScenarioResult>();
  for (const s of shards) for (const r of s.results) byKey.set(`${r.suite}\u0000${r.scenario}\u0000${r.arch ?? ''}`, r);
  return {
    accel: [...new Set(shards.map((s) => s.accel).filter(Boolean))].join(',') || undefined,
    arches: [...new Set(shards.flatMap((s) => s.arches ?? []))],
    shards: shards.map((s) => ({ from: s.from, rows: s.results.length, runDir: s.runDir })),
    results: [...byKey.values()],
  };
}
