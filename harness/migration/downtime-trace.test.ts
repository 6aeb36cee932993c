import { describe, expect, it } from 'vitest';
import { downtimeCheckpoints } from './downtime-trace.js';

describe('downtimeCheckpoints', () => {
  it('times each checkpoint from the first', () => {
    const text = [
      'some other line',
      '25087@1795345511.411697:vmstate_downtime_checkpoint src-downtime-start',
      '25087@1795345511.576622:vmstate_downtime_checkpoint src-vm-stopped',
      '25087@1795345511.584560:vmstate_downtime_checkpoint src-iterable-saved',
    ].join('\n');
    expect(downtimeCheckpoints(text)).toEqual({ 'src-downtime-start': 0, 'src-vm-stopped': 164.9, 'src-iterable-saved': 172.9 });
    expect(downtimeCheckpoints('')).toEqual({});
  });
});
