import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshUserOverlay, newestUserOverlay } from './user.js';

const dir = mkdtempSync(join(tmpdir(), 'migtest-overlay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('freshUserOverlay', () => {
  it("gives each source its own overlay of the user's file, with a record of what it is of", async () => {
    const base = join(dir, 'guest.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', base, '16M']);
    const [a, b] = await Promise.all([freshUserOverlay(base, 'qcow2', dir), freshUserOverlay(base, 'qcow2', dir)]);
    expect(new Set([a, b])).toEqual(new Set([join(dir, 'root-overlay-1.qcow2'), join(dir, 'root-overlay-2.qcow2')]));
    const c = await freshUserOverlay(base, 'qcow2', dir);
    expect(c).toBe(join(dir, 'root-overlay-3.qcow2'));
    expect(newestUserOverlay(dir)).toBe(c);
    for (const o of [a, b, c]) {
      const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', o])).stdout) as { format: string; 'backing-filename'?: string };
      expect(info).toMatchObject({ format: 'qcow2', 'backing-filename': base });
      expect(JSON.parse(readFileSync(o.replace(/\.qcow2$/, '.json'), 'utf8'))).toEqual({ base, format: 'qcow2' });
    }
    expect(existsSync(join(dir, 'root-overlay.qcow2'))).toBe(false);
  });

  it('leaves nothing behind when the overlay cannot be made, and a destination-only overlay is no source', async () => {
    const other = mkdtempSync(join(dir, 'other-'));
    await expect(freshUserOverlay(join(dir, 'missing.qcow2'), 'qcow2', other)).rejects.toThrow(/could not make an overlay of .*missing\.qcow2/);
    expect(readdirSync(other)).toEqual([]);
    const base = join(dir, 'guest.qcow2');
    await freshUserOverlay(base, 'qcow2', other, { source: false });
    expect(newestUserOverlay(other)).toBeUndefined();
  });
});
