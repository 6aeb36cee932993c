import { describe, expect, it } from 'vitest';
import { BeatLog, BeatsEndedError } from './beats.js';
import { DeadlineError } from '../util/errors.js';

/** A beat log fed by hand. */
class FakeLog extends BeatLog {
  readonly kind = 'heartbeat' as const;
  readonly periodMs = 15;
  beat(): void {
    this.beats.push({ n: this.beats.length + 1, guestMono: 0, guestReal: 0, hostMs: Date.now(), vm: this.vm });
  }
  close(): void {
    this.closed = true;
  }
}

describe('BeatLog.waitForBeats', () => {
  it('ends at once when the port closes, saying so, as a DeadlineError', async () => {
    const log = new FakeLog('dst');
    // An hour's deadline: only the close can end this wait within the test's time.
    const wait = log.waitForBeats(3, { timeoutMs: 3_600_000 });
    log.beat();
    log.close();
    const e = await wait.then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(BeatsEndedError);
    expect(e).toBeInstanceOf(DeadlineError);
    expect((e as Error).message).toMatch(/^stopped waiting for 3 heartbeats from dst after .*the port they come on closed.*"received":1/);
  });

  it('beats that arrived before the close still count', async () => {
    const log = new FakeLog('src');
    const wait = log.waitForBeats(2, { timeoutMs: 3_600_000 });
    log.beat();
    log.beat();
    log.close();
    await expect(wait).resolves.toMatchObject({ n: 2 });
  });
});
