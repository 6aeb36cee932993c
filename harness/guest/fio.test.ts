import { describe, expect, it } from 'vitest';
import { fioArgs, verifyFailures } from './fio.js';

describe('fio job', () => {
  it('writes with crc32c headers, O_DIRECT, a deep queue; the verify pass replays the same job', () => {
    const w = fioArgs({ device: '/dev/vdb', sizeMiB: 8 }, 'write');
    expect(w).toEqual(expect.arrayContaining(['--direct=1', '--ioengine=libaio', '--iodepth=32', '--verify=crc32c', '--do_verify=0', '--filename=/dev/vdb', '--size=8M']));
    const v = fioArgs({ device: '/dev/vdb', sizeMiB: 8 }, 'verify');
    expect(v).toContain('--verify_only');
    expect(v.filter((a) => !a.startsWith('--do_verify') && a !== '--verify_only')).toEqual(w.filter((a) => !a.startsWith('--do_verify')));
  });

  it("picks fio's complaints out of its output", () => {
    const out = 'migtest: (g=0): rw=randwrite\nverify: bad magic header 0, wanted acca at file /dev/vdb offset 4194304, length 4096\nfio: pid=12, err=84/file:io_u.c:2280, func=io_u_queued_complete, error=Invalid or incomplete multibyte or wide character\n';
    expect(verifyFailures(out)).toEqual(['verify: bad magic header 0, wanted acca at file /dev/vdb offset 4194304, length 4096']);
  });
});
