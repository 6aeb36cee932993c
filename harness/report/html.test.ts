import { describe, expect, it } from 'vitest';
import { stateBands, toHtml } from './html.js';

describe('report.html', () => {
  it('shades runs of postcopy states, in seconds from the first sample', () => {
    const s = (t: number, status: string) => ({ t, status });
    expect(stateBands([s(1000, 'active'), s(2000, 'postcopy-active'), s(3000, 'postcopy-active'), s(3500, 'postcopy-paused'), s(4000, 'postcopy-active')]).map((b) => [b.label, b.from, b.to])).toEqual([
      ['postcopy-active', 1, 2],
      ['postcopy-paused', 2.5, 2.5],
      ['postcopy-active', 3, 3],
    ]);
  });
  it('is one page with nothing to fetch or run, the failure first and escaped', () => {
    const html = toHtml([
      { suite: 's', scenario: 'ok', outcome: 'passed', wallMs: 1, qemuDowntimeMs: 5, guestDowntimeMs: 9 },
      { suite: 's', scenario: '<bad>', outcome: 'failed', wallMs: 1, error: 'x < y' },
    ]);
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(html.indexOf('&lt;bad&gt;')).toBeLessThan(html.indexOf('Downtime per scenario'));
    expect(html).toContain('x &lt; y');
    expect(html).toContain('<svg');
  });
});
