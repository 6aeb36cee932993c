import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArtifactDir } from '../report/artifacts.js';
import { CheckFailedError, SkipError } from '../util/errors.js';
import { ScenarioContext } from './scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'migtest-xfail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const known = { versions: ['10.0'], reason: 'dies saving', failure: /QEMU exited \(killed/ };
const ctx = () => new ScenarioContext(new ArtifactDir(dir));
const fails = (message: string) => async () => {
  throw new CheckFailedError(message);
};

describe('ScenarioContext.xfail', () => {
  it('records a failure that says the known words where the version has it', async () => {
    const c = ctx();
    await c.xfail(known, '10.0.2', fails('src: QEMU exited (killed by SIGSEGV) during snapshot-save'));
    expect(c.row.verdict).toMatch(/^xfail on QEMU 10.0.2 \(dies saving\): src: QEMU exited/);
  });

  it('keeps another failure red, saying which known failure it is not', async () => {
    await expect(ctx().xfail(known, '10.0.2', fails('timed out after 120.0s waiting for src: guest READY'))).rejects.toThrow(
      /^timed out after 120.0s waiting for src: guest READY\n\(a known failure applies to QEMU 10.0.2, but this is another one: the known one says \/QEMU exited/,
    );
  });

  it('fails where the known failure is gone, and leaves other versions and skips alone', async () => {
    await expect(ctx().xfail(known, '10.0.13', async () => {})).rejects.toThrow(/a known failure is gone: QEMU 10.0.13/);
    await expect(ctx().xfail(known, '11.1.3', fails('QEMU exited (killed by SIGABRT)'))).rejects.toThrow(/^QEMU exited/);
    await expect(ctx().xfail(known, '10.0.2', async () => { throw new SkipError('no KVM'); })).rejects.toBeInstanceOf(SkipError);
  });

  it('applies an accelerator-bound failure only under that accelerator', async () => {
    const tcg = { ...known, accel: 'tcg' as const };
    await expect(ctx().xfail(tcg, { version: '10.0.2', accel: 'kvm' }, fails('QEMU exited (killed by SIGSEGV)'))).rejects.toThrow(/^QEMU exited/);
    await ctx().xfail(tcg, { version: '10.0.2', accel: 'tcg' }, fails('QEMU exited (killed by SIGSEGV)'));
  });
});
