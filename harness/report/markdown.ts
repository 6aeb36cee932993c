import type { ScenarioResult } from './results.js';
import { metadataLines, type RunMetadata } from './metadata.js';
import { SUMMARY_HEADERS, summaryCells } from './table.js';
import { runTimeOptions, timeSplitMarkdown } from './time-split.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/**
 * A markdown summary for a CI step summary (GitHub's limit is 1 MiB): counts, then failures
 * first with their error and artifacts, where the time went (by suite file), then every row.
 * Rows past `limitBytes` are left out, saying how many; failures are never left out for rows.
 */
export function toMarkdown(rows: ScenarioResult[], opts: { title?: string; limitBytes?: number; meta?: RunMetadata } = {}): string {
  const limit = opts.limitBytes ?? 1_000_000;
  const n = (o: ScenarioResult['outcome']) => rows.filter((r) => r.outcome === o).length;
  const failed = rows.filter((r) => r.outcome === 'failed');
  const parts: string[] = [`## ${opts.title ?? 'migtest'}`, '', `**${n('passed')} passed, ${n('failed')} failed, ${n('skipped')} skipped** of ${rows.length}`, ''];
  if (opts.meta) parts.push('<details><summary>What this run was</summary>', '', ...metadataLines(opts.meta).map(([k, v]) => `- ${k}: ${cell(v)}`), '', '</details>', '');
  if (failed.length) {
    parts.push('### Failures', '');
    for (const r of failed)
      parts.push(`- **${cell(`${r.suite}: ${r.scenario}`)}** (${r.arch ?? 'any'}): ${cell((r.error ?? 'failed').split('\n')[0]!.slice(0, 500))}${r.artifacts ? `  \n  artifacts: \`${r.artifacts}\`` : ''}`);
    parts.push('');
  }
  parts.push(...timeSplitMarkdown(rows, runTimeOptions(opts.meta)));
  parts.push('### All scenarios', '', `| ${SUMMARY_HEADERS.join(' | ')} |`, `|${SUMMARY_HEADERS.map(() => '---|').join('')}`);
  let text = parts.join('\n');
  const order = [...failed, ...rows.filter((r) => r.outcome !== 'failed')];
  for (let i = 0; i < order.length; i++) {
    const r = order[i]!;
    const line = `\n| ${summaryCells(r).map(cell).join(' | ')} |`;
    const tail = `\n\n_${order.length - i} more rows left out (the summary is kept under ${limit} bytes); results.json has them all._\n`;
    if (Buffer.byteLength(text + line + tail) > limit) return text + tail;
    text += line;
  }
  return `${text}\n`;
}
