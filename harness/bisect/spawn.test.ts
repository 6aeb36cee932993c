import { describe, expect, it } from 'vitest';
import { forwardSignal, interruptedBy, runStreaming } from './spawn.js';

// A module of its own: forwarding a signal marks this process's bisect as interrupted for good.
describe('spawn: streamed children in their own groups, signals forwarded', () => {
  it('streams lines, then a forwarded signal stops the whole group and refuses new starts', async () => {
    const lines: string[] = [];
    const running = runStreaming(['sh', '-c', 'echo one; echo two >&2; sleep 30 & wait'], { line: (t) => lines.push(t) });
    while (lines.length < 2) await new Promise((r) => setTimeout(r, 20));
    forwardSignal('SIGTERM');
    const r = await running;
    expect(r.code).toBe(143);
    expect(r.stdout).toEqual(['one']);
    expect(lines.sort()).toEqual(['one', 'two']);
    expect(interruptedBy()).toBe('SIGTERM');
    await expect(runStreaming(['true'], { line: () => undefined })).rejects.toThrow(/interrupted \(SIGTERM\)/);
  });
});
