import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { biosBoot } from './build.js';

describe('biosBoot (grub-bios-setup on a disk file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'biosboot-'));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("points boot.img at the core in the BIOS boot partition and the core's block list at its second sector, keeping the partition table", () => {
    const disk = join(dir, 'disk.raw');
    const mbr = Buffer.alloc(512);
    mbr.fill(0xaa, 446, 510); // the protective partition table
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    writeFileSync(disk, Buffer.concat([mbr, Buffer.alloc(3 * 1024 * 1024)]));
    const boot = Buffer.alloc(512, 0x11);
    writeFileSync(join(dir, 'boot.img'), boot);
    const core = Buffer.alloc(1024, 0x22);
    core.writeBigUInt64LE(2n, 500); // grub-mkimage's default: the core right after the MBR
    writeFileSync(join(dir, 'core.img'), core);

    biosBoot(disk, join(dir, 'boot.img'), join(dir, 'core.img'));

    const out = readFileSync(disk);
    expect(out.readBigUInt64LE(0x5c)).toBe(2048n); // the core's first sector: 1 MiB in
    expect([out[0x66], out[0x67]]).toEqual([0x90, 0x90]);
    expect(out.subarray(446, 512)).toEqual(mbr.subarray(446, 512));
    expect(out.readBigUInt64LE(1024 * 1024 + 500)).toBe(2049n);
    expect(out[1024 * 1024 + 512]).toBe(0x22);
  });
});
