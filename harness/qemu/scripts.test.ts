import { describe, expect, it } from 'vitest';
import { debianPackageVersion, debianSourceVersion } from './scripts.js';
import { parseSectionKey } from '../migration/stream.js';

describe('analyze-migration.py lookup', () => {
  it("reads Debian's package version from --version and drops a binNMU suffix for the source", () => {
    const v = debianPackageVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022');
    expect(v).toBe('1:7.2+dfsg-7+deb12u18+b3');
    expect(debianSourceVersion(v!)).toBe('1:7.2+dfsg-7+deb12u18');
    expect(debianSourceVersion('1:10.0.2+ds-2+deb13u1~bpo12+1')).toBe('1:10.0.2+ds-2+deb13u1~bpo12+1');
    expect(debianPackageVersion('QEMU emulator version 11.1.50 (v11.1.0-1234-gabcdef)')).toBeUndefined();
  });

  it('splits a section key into name and id', () => {
    expect(parseSectionKey('0000:00:01.0/virtio-blk (16)')).toEqual({ name: '0000:00:01.0/virtio-blk', id: 16 });
    expect(parseSectionKey('odd')).toEqual({ name: 'odd', id: -1 });
  });
});
