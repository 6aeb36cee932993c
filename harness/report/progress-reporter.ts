import type { Reporter, TestCase, TestModule } from 'vitest/node';

const selected = (t: TestCase): boolean => t.options.mode !== 'skip' && t.options.mode !== 'todo';

/**
 * One line per finished test, as it finishes: long end-to-end runs show progress even where
 * vitest's default reporter only prints a file once all its tests are done.
 */
export default class ProgressReporter implements Reporter {
  private done = 0;
  private total = 0;

  onTestModuleCollected(module: TestModule): void {
    this.total += [...module.children.allTests()].filter(selected).length;
  }

  onTestCaseResult(test: TestCase): void {
    // Left out by -t (or .skip in the source): not part of this run, not a line of it.
    if (!selected(test)) return;
    this.done++;
    const r = test.result();
    const mark = r.state === 'passed' ? 'ok  ' : r.state === 'failed' ? 'FAIL' : 'skip';
    const ms = test.diagnostic()?.duration ?? 0;
    const note = r.state === 'skipped' && r.note ? ` (${r.note})` : '';
    process.stderr.write(`[migtest] ${mark} ${this.done}/${this.total} ${test.fullName}${note} ${(ms / 1000).toFixed(1)}s\n`);
  }
}
