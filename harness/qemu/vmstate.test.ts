import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareVmstate, qomTreeTypes, type VmsdDesc, type VmstateDump } from './vmstate.js';
import { sealModuleDir } from './fetch.js';

const f = (field: string, size = 4, version_id = 0, Description?: VmsdDesc) => ({ field, version_id, field_exists: false, size, ...(Description ? { Description } : {}) });
const dev = (d: VmsdDesc): VmstateDump[string] => ({ Name: d.name, version_id: d.version_id, minimum_version_id: d.minimum_version_id, Description: d });
const serial = (over: Partial<VmsdDesc> = {}): VmsdDesc => ({ name: 'serial', version_id: 3, minimum_version_id: 2, Fields: [f('divider', 2, 2), f('rbr', 1)], ...over });

describe('static -dump-vmstate comparison', () => {
  it('finds nothing between equal descriptions, and ignores struct sizes (C layout, not the wire)', () => {
    const a = { 'isa-serial': dev({ ...serial(), Fields: [f('state', 640, 0, serial())] }), vmschkmachine: { Name: 'pc-q35-10.0' } as VmstateDump[string] };
    const b = { 'isa-serial': dev({ ...serial(), Fields: [f('state', 656, 0, serial())] }) };
    expect(compareVmstate(a, b)).toEqual({ predicted: 'compatible', issues: [], compared: 1 });
  });

  it('predicts a refusal for a version the destination cannot load, either way', () => {
    const newer = { x: dev(serial({ version_id: 4 })) };
    const older = { x: dev(serial()) };
    expect(compareVmstate(newer, older).issues[0]!.what).toBe('version 4 sent, the destination loads up to 3');
    expect(compareVmstate(newer, older).predicted).toBe('refused');
    const strict = { x: dev(serial({ version_id: 5, minimum_version_id: 4 })) };
    expect(compareVmstate(older, strict).issues[0]!.what).toBe('version 3 sent, the destination needs at least 4');
  });

  it('compares only the fields the sent version carries: a field added in a later version is not a mismatch', () => {
    const v3 = { x: dev(serial()) };
    const v4 = { x: dev(serial({ version_id: 4, Fields: [f('divider', 2, 2), f('rbr', 1), f('thr', 1, 4)] })) };
    expect(compareVmstate(v3, v4).predicted).toBe('compatible');
    // Fields go by position, without names: a rename of the same size is no change.
    const renamed = { x: dev(serial({ Fields: [f('divider', 2, 2), f('rbr_tmp', 1)] })) };
    expect(compareVmstate(v3, renamed).predicted).toBe('compatible');
    const wider = { x: dev(serial({ Fields: [f('divider', 4, 2), f('rbr', 1)] })) };
    expect(compareVmstate(v3, wider).issues[0]!.what).toBe("field 1 ('divider') is 2 bytes on the source, 4 on the destination");
    const fewer = { x: dev(serial({ Fields: [f('divider', 2, 2)] })) };
    expect(compareVmstate(v3, fewer).issues[0]!.what).toBe('2 fields sent, the destination loads 1');
    const renamedSection = { x: dev(serial({ name: 'uart' })) };
    expect(compareVmstate(v3, renamedSection).predicted).toBe('refused');
  });

  it('a subsection the destination lacks only may refuse; an uninstantiated type is not compared', () => {
    const withSub = { x: dev(serial({ Subsections: [{ name: 'serial/fifo', version_id: 1, minimum_version_id: 1, Fields: [f('fifo', 16)] }] })), y: dev(serial({ name: 'y', version_id: 9 })) };
    const without = { x: dev(serial()), y: dev(serial({ name: 'y' })) };
    expect(compareVmstate(withSub, without, ['x'])).toMatchObject({ predicted: 'may-refuse', compared: 1, issues: [{ level: 'possible' }] });
    expect(compareVmstate(withSub, without).predicted).toBe('refused');
  });

  it('finds a renamed device type by its section; a section no device type has may be registered outside QOM', () => {
    const src = { 'ICH9 SMB': dev(serial({ name: 'ich9_smb' })), 'ps2-kbd': dev(serial({ name: 'ps2kbd' })) };
    const dst = { 'ICH9-SMB': dev(serial({ name: 'ich9_smb', version_id: 2 })) };
    expect(compareVmstate(src, dst, ['ICH9 SMB']).issues[0]!.what).toBe('version 3 sent, the destination loads up to 2');
    expect(compareVmstate(src, dst, ['ps2-kbd'])).toMatchObject({ predicted: 'may-refuse', issues: [{ level: 'possible', at: 'ps2-kbd' }] });
  });

  it("reads the types out of 'info qom-tree'", () => {
    const tree = '/machine (pc-q35-10.0-machine)\n  /unattached (container)\n    /device[0] (qemu64-x86_64-cpu)\n    /sysbus (System)\n  /peripheral (container)\n    /root-dev (virtio-blk-pci)\n';
    expect(qomTreeTypes(tree)).toEqual(['pc-q35-10.0-machine', 'container', 'qemu64-x86_64-cpu', 'System', 'virtio-blk-pci']);
  });
});

describe('qemu fetch', () => {
  it('overwrites the compiled-in module folder once, same length, and refuses a binary without it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-'));
    const bin = join(dir, 'qemu');
    writeFileSync(bin, Buffer.concat([Buffer.from('\x7fELF..'), Buffer.from('/usr/lib/x86_64-linux-gnu/qemu\0'), Buffer.from('/usr/lib/x86_64-linux-gnu/qemu-bridge-helper\0')]));
    sealModuleDir(bin, 'x86_64-linux-gnu');
    const out = readFileSync(bin, 'latin1');
    expect(out).toContain('/nonexistent/mmmmmmmmmmmmmmmmm\0/usr/lib/x86_64-linux-gnu/qemu-bridge-helper\0');
    expect(out.length).toBe(6 + 31 + 45);
    expect(() => sealModuleDir(bin, 'x86_64-linux-gnu')).toThrow(/exactly once/);
  });
});
