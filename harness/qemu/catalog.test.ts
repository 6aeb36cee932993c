import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binaryAt, findBinary, isQemuPath } from './catalog.js';

/** A stand-in qemu-system-* that prints a version, or fails like a binary missing a library. */
function fake(dir: string, arch: string, script: string): string {
  const p = join(dir, `qemu-system-${arch}`);
  writeFileSync(p, `#!/bin/sh\n${script}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe('a QEMU named by path or build directory', () => {
  it('tells a path from a version label', () => {
    expect(['7.2', 'system', '10.0.2'].map(isQemuPath)).toEqual([false, false, false]);
    expect(['./build', '/usr/bin/qemu-system-x86_64', '~/qemu/build'].map(isQemuPath)).toEqual([true, true, true]);
  });

  it("finds a build directory's binary for the arch and gives its pc-bios with -L", async () => {
    const build = mkdtempSync('/tmp/migtest-build-');
    mkdirSync(join(build, 'pc-bios'));
    writeFileSync(join(build, 'build.ninja'), '');
    fake(build, 'x86_64', 'echo "QEMU emulator version 11.1.50 (v11.1.0-42-gabc)"');
    const b = await findBinary('x86_64', build);
    expect(b).toMatchObject({ version: '11.1.50', source: 'build', firmwareDirs: [join(build, 'pc-bios')], path: join(build, 'qemu-system-x86_64') });
  });

  it('uses the other arch beside a named binary, and says when there is none', async () => {
    const dir = mkdtempSync('/tmp/migtest-bin-');
    const x86 = fake(dir, 'x86_64', 'echo "QEMU emulator version 9.2.0"');
    await expect(binaryAt('aarch64', x86)).rejects.toThrow(/is a qemu-system-x86_64 and there is no qemu-system-aarch64 beside it.*--arch x86_64/);
    fake(dir, 'aarch64', 'echo "QEMU emulator version 9.2.0"');
    expect((await binaryAt('aarch64', join(dir, 'qemu-system-x86_64') + '/../qemu-system-x86_64')).path).toBe(join(dir, 'qemu-system-aarch64'));
  });

  it('says why a binary does not run, and what a missing path should have been', async () => {
    const dir = mkdtempSync('/tmp/migtest-bin-');
    const bad = fake(dir, 'x86_64', 'echo "qemu-system-x86_64: error while loading shared libraries: libslirp.so.0: cannot open shared object file" >&2; exit 127');
    await expect(binaryAt('x86_64', bad)).rejects.toThrow(/does not run: .*libslirp.so.0/);
    await expect(binaryAt('x86_64', '/nonexistent/qemu')).rejects.toThrow(/'\/nonexistent\/qemu' does not exist; allowed: a version label/);
  });
});
