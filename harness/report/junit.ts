import type { ScenarioResult } from './results.js';
import { metadataLines, type RunMetadata } from './metadata.js';

/** XML 1.0 text: the five entities escaped, characters XML cannot carry dropped (QEMU's stderr may hold any byte). */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const attrs = (a: Record<string, string | number>) => Object.entries(a).map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`).join('');

/**
 * JUnit XML as CI systems read it: a testsuite per suite and arch, a testcase per scenario
 * (time in seconds), a failure with the error's first line as its message and the whole
 * error and the artifacts directory as its text, a skip with its reason. Pure.
 */
export function toJUnit(rows: ScenarioResult[], name = 'migtest', meta?: RunMetadata): string {
  const groups = new Map<string, ScenarioResult[]>();
  for (const r of rows) {
    const key = r.arch ? `${r.suite}.${r.arch}` : r.suite;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const count = (rs: ScenarioResult[], o: ScenarioResult['outcome']) => rs.filter((r) => r.outcome === o).length;
  const secs = (rs: ScenarioResult[]) => (rs.reduce((t, r) => t + (r.wallMs ?? 0), 0) / 1000).toFixed(3);
  const out = [`<?xml version="1.0" encoding="UTF-8"?>`, `<testsuites${attrs({ name, tests: rows.length, failures: count(rows, 'failed'), skipped: count(rows, 'skipped'), time: secs(rows) })}>`];
  for (const [suite, rs] of groups) {
    out.push(`  <testsuite${attrs({ name: suite, tests: rs.length, failures: count(rs, 'failed'), skipped: count(rs, 'skipped'), time: secs(rs), ...(meta ? { timestamp: meta.startedAt } : {}) })}>`);
    // What the run was, on every suite: CI systems show a testsuite's properties.
    if (meta) out.push('    <properties>', ...metadataLines(meta).map(([k, v]) => `      <property${attrs({ name: k, value: v })}/>`), '    </properties>');
    for (const r of rs) {
      const head = `    <testcase${attrs({ classname: suite, name: r.scenario, time: ((r.wallMs ?? 0) / 1000).toFixed(3) })}`;
      if (r.outcome === 'failed') {
        const error = r.error ?? 'failed';
        const text = `${error}${r.artifacts ? `\nartifacts: ${r.artifacts}` : ''}`;
        out.push(`${head}>`, `      <failure${attrs({ message: error.split('\n')[0]!, type: 'failure' })}>${xmlEscape(text)}</failure>`, '    </testcase>');
      } else if (r.outcome === 'skipped') out.push(`${head}>`, `      <skipped${attrs({ message: r.reason ?? '' })}/>`, '    </testcase>');
      else out.push(`${head}/>`);
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}
