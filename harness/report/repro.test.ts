import { execa } from 'execa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTranscript, reproPlan, reproScript } from './repro.js';

const line = (t: string, side: string, dir: string, msg: object) => `2026-12-01T12:00:${t}Z ${side}.qmp ${dir} ${JSON.stringify(msg)}`;

describe('repro plan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'migtest-repro-'));
  const priv = { src: '/tmp/migtest-src-1-AAA', dst: '/tmp/migtest-dst-1-BBB' };
  for (const side of ['src', 'dst'] as const)
    writeFileSync(join(dir, `${side}.argv.json`), JSON.stringify(['/usr/bin/qemu-system-x86_64', '-chardev', `socket,id=qmp,path=${priv[side]}/qmp.sock,server=on,wait=off`, '-chardev', `file,id=console,path=${dir}/${side}.serial.log`, ...(side === 'dst' ? ['-incoming', 'defer'] : ['-incoming', 'defer'])]));
  writeFileSync(join(dir, 'src.start.json'), JSON.stringify({ restoredFrom: '/cache/snap.mig' }));
  writeFileSync(
    join(dir, 'src.qmp.log'),
    [
      line('00.000', 'src', '<-', { QMP: {} }),
      line('00.001', 'src', '->', { execute: 'qmp_capabilities', id: 'mt-1' }),
      line('00.002', 'src', '->', { execute: 'migrate-incoming', id: 'mt-2', arguments: { uri: 'file:/cache/snap.mig' } }),
      line('00.100', 'src', '->', { execute: 'cont', id: 'mt-3' }),
      line('01.000', 'src', '->', { execute: 'migrate-set-capabilities', id: 'mt-4', arguments: { capabilities: [{ capability: 'postcopy-ram', state: true }] } }),
      line('01.100', 'src', '->', { execute: 'migrate', id: 'mt-5', arguments: { uri: 'tcp:127.0.0.1:4444' } }),
      line('01.200', 'src', '<-', { event: 'MIGRATION', data: { status: 'active' } }),
      line('01.300', 'src', '->', { execute: 'query-migrate', id: 'mt-6' }),
      line('01.301', 'src', '<-', { return: { status: 'active', ram: { 'dirty-sync-count': 2 } }, id: 'mt-6' }),
      line('01.400', 'src', '->', { execute: 'migrate-start-postcopy', id: 'mt-7' }),
      line('01.500', 'src', '<-', { event: 'MIGRATION', data: { status: 'postcopy-active' } }),
      line('01.600', 'src', '->', { execute: 'query-migrate', id: 'mt-8' }),
      line('01.601', 'src', '<-', { return: { status: 'postcopy-active', ram: { 'dirty-sync-count': 3 } }, id: 'mt-8' }),
      line('01.700', 'src', '->', { execute: 'migrate-set-parameters', id: 'mt-9', arguments: { 'max-postcopy-bandwidth': 0 } }),
      line('02.000', 'src', '<-', { event: 'MIGRATION', data: { status: 'completed' } }),
      'a line cut sh',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'dst.qmp.log'), [line('00.900', 'dst', '->', { execute: 'migrate-incoming', id: 'mt-2', arguments: { uri: `unix:${priv.dst}/mig.sock` } })].join('\n'));

  const ga = (t: string, args: object) => `2026-12-01T12:00:${t}Z src.qga -> ${JSON.stringify({ execute: 'guest-exec', id: 'g', arguments: args })}`;
  writeFileSync(
    join(dir, 'src.qga.log'),
    [
      ga('00.500', { path: '/usr/bin/perl', arg: ['/usr/lib/migtest/ramtest.pl', '64'], 'capture-output': false }),
      ga('00.600', { path: '/bin/busybox', arg: ['cat', '/run/migtest/ram.status'], 'capture-output': true }),
      ga('00.700', { path: '/bin/busybox', arg: ['cat', '/run/migtest/ram.status'], 'capture-output': true }),
      `2026-12-01T12:00:00.800Z src.qga -> ${JSON.stringify({ execute: 'guest-file-open', id: 'ga-1', arguments: { path: '/run/migtest/ram.map', mode: 'r' } })}`,
      `2026-12-01T12:00:00.801Z src.qga <- ${JSON.stringify({ id: 'ga-1', error: { class: 'GenericError', desc: 'No such file or directory' } })}`,
      `2026-12-01T12:00:00.850Z src.qga -> ${JSON.stringify({ execute: 'guest-file-open', id: 'ga-2', arguments: { path: '/run/migtest/ram.map', mode: 'r' } })}`,
      `2026-12-01T12:00:00.851Z src.qga <- ${JSON.stringify({ id: 'ga-2', return: 1000 })}`,
      // A probe for a file the guest lacks (the contract check): never opened, not waited for.
      `2026-12-01T12:00:00.860Z src.qga -> ${JSON.stringify({ execute: 'guest-file-open', id: 'ga-3', arguments: { path: '/usr/bin/fio', mode: 'r' } })}`,
      `2026-12-01T12:00:00.861Z src.qga <- ${JSON.stringify({ id: 'ga-3', error: { class: 'GenericError', desc: 'No such file or directory' } })}`,
      `2026-12-01T12:00:00.900Z src.qga -> ${JSON.stringify({ execute: 'guest-file-open', id: 'g', arguments: { path: '/tmp/out', mode: 'w' } })}`,
      ga('05.000', { path: '/bin/busybox', arg: ['cat', '/after/migrate'], 'capture-output': true }),
    ].join('\n'),
  );

  it("replays the guest's workload as the agent started it, and the reads the harness waited on once each, before the migration", () => {
    expect(reproPlan(dir).guest).toEqual([
      { side: 'src', path: '/usr/bin/perl', arg: ['/usr/lib/migtest/ramtest.pl', '64'], untilOk: false },
      { side: 'src', path: '/bin/busybox', arg: ['cat', '/run/migtest/ram.status'], untilOk: true },
      // A guest file the harness polled until it opened (its workload's ready file): waited for once.
      { side: 'src', path: '/run/migtest/ram.map', arg: [], untilOk: true, file: true },
    ]);
  });

  it('reads transcripts, skipping lines it cannot parse', () => {
    expect(parseTranscript(`${line('00.000', 'src', '->', { execute: 'x' })}\nbroken {`, 'src')).toHaveLength(1);
  });

  it('merges both sides in time order, drops the snapshot restore and the queries, and waits on the state each command was sent in', () => {
    const p = reproPlan(dir, 'case');
    expect(p.steps.map((s) => `${s.side} ${String(s.cmd.execute)}`)).toEqual(['dst migrate-incoming', 'src migrate-set-capabilities', 'src migrate', 'src migrate-start-postcopy', 'src migrate-set-parameters']);
    expect(p.steps[0]!.cmd).toEqual({ execute: 'migrate-incoming', arguments: { uri: 'unix:@WORK@/dst/mig.sock' } });
    expect(p.steps[3]!.wait).toEqual({ status: 'active', syncs: 2 });
    expect(p.steps[2]!.wait).toBeUndefined();
    // In postcopy only the status paces the replay: the sync count differs by version.
    expect(p.steps[4]!.wait).toEqual({ status: 'postcopy-active' });
    // The restored source boots: no -incoming defer; the destination keeps it.
    expect(p.sides.src).not.toContain('-incoming');
    expect(p.sides.dst).toContain('-incoming');
    expect(p.sides.src).toContain('socket,id=qmp,path=@WORK@/src/qmp.sock,server=on,wait=off');
    expect(p.sides.src).toContain('file,id=console,path=@WORK@/src.serial.log');
    expect(p.expect.sourceStatus).toBe('completed');
    expect(p.notes.join('\n')).toMatch(/restored from a snapshot/);
  });

  it('embeds the plan in a script python can read back', async () => {
    const script = reproScript(reproPlan(dir, "it's \\ a 'quoted' \"case\""));
    expect(script).toMatch(/^#!\/usr\/bin\/env python3/);
    const f = join(dir, 'repro.py');
    writeFileSync(f, script);
    // Compiled and its plan read back by Python itself (the script's own first line of work).
    const read = `import ast, json, re, sys; src = open(sys.argv[1]).read(); ast.parse(src); print(json.loads(re.search(r"PLAN = json.loads\\(r'''(.*?)'''\\)", src, re.S).group(1))['scenario'])`;
    expect((await execa('python3', ['-c', read, f])).stdout).toBe("it's \\ a 'quoted' \"case\"");
  });
});

describe('repro plan of a source that saved a snapshot for snapshot start', () => {
  it("drops the harness's save (a migration into the snapshot cache, then cont) and keeps the workload started before the case's migration", () => {
    const dir = mkdtempSync(join(tmpdir(), 'migtest-repro-save-'));
    for (const side of ['src', 'dst'] as const)
      writeFileSync(join(dir, `${side}.argv.json`), JSON.stringify(['/usr/bin/qemu-system-x86_64', '-chardev', `socket,id=qmp,path=/tmp/migtest-${side}-1-AAA/qmp.sock,server=on,wait=off`, ...(side === 'dst' ? ['-incoming', 'defer'] : [])]));
    writeFileSync(join(dir, 'src.start.json'), JSON.stringify({ snapshotStart: true, booted: true, savesSnapshot: true }));
    writeFileSync(
      join(dir, 'src.qmp.log'),
      [
        line('00.100', 'src', '->', { execute: 'migrate', id: 'mt-2', arguments: { uri: "exec:cat > '/root/.cache/migtest/snapshots/ab54.6872.179.tmp'" } }),
        line('00.200', 'src', '<-', { event: 'MIGRATION', data: { status: 'completed' } }),
        line('00.300', 'src', '->', { execute: 'cont', id: 'mt-3' }),
        line('01.000', 'src', '->', { execute: 'migrate', id: 'mt-4', arguments: { uri: 'tcp:127.0.0.1:4444' } }),
      ].join('\n'),
    );
    writeFileSync(join(dir, 'src.qga.log'), `2026-12-01T12:00:00.500Z src.qga -> ${JSON.stringify({ execute: 'guest-exec', id: 'g', arguments: { path: '/usr/bin/perl', arg: ['/usr/lib/migtest/ramtest.pl'], 'capture-output': false } })}`);
    const p = reproPlan(dir, 'case');
    expect(p.steps.map((s) => `${s.side} ${String(s.cmd.execute)}`)).toEqual(['src migrate']);
    expect(p.steps[0]!.cmd).toEqual({ execute: 'migrate', arguments: { uri: 'tcp:127.0.0.1:4444' } });
    expect(p.guest).toEqual([{ side: 'src', path: '/usr/bin/perl', arg: ['/usr/lib/migtest/ramtest.pl'], untilOk: false }]);
  });
});

describe('repro makes the files the harness made for the VMs, from what the artifacts say', () => {
  const cases = [
    ['a UEFI variable store', 'if=pflash,format=raw,unit=1,file=PRIV/vars.fd', 'SIDE.vars.json', { template: '/usr/share/OVMF/OVMF_VARS_4M.fd' }, /a UEFI variable store the harness made \(@WORK@\/src\/vars\.fd\), and .*src\.vars\.json does not say what from/],
    ["an overlay of the user's image", 'driver=file,filename=ART/root-overlay-2.qcow2,node-name=root-file', 'root-overlay-2.json', { base: '/home/me/guest.qcow2', format: 'qcow2' }, /an overlay of your own disk image the harness made \(@WORK@\/root-overlay-2\.qcow2\), and .*root-overlay-2\.json does not say what from/],
    ["an overlay of the user's image (an earlier migtest's name)", 'driver=file,filename=ART/root-overlay.qcow2,node-name=root-file', 'root-overlay.json', { base: '/home/me/guest.qcow2', format: 'qcow2' }, /an overlay of your own disk image the harness made \(@WORK@\/root-overlay\.qcow2\), and .*root-overlay\.json does not say what from/],
  ] as const;
  const artifacts = (drive: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'migtest-repro-made-'));
    const priv = { src: '/tmp/migtest-src-2-CCC', dst: '/tmp/migtest-dst-2-DDD' };
    for (const side of ['src', 'dst'] as const)
      writeFileSync(join(dir, `${side}.argv.json`), JSON.stringify(['/usr/bin/qemu-system-x86_64', '-chardev', `socket,id=qmp,path=${priv[side]}/qmp.sock,server=on,wait=off`, '-drive', drive.replace('PRIV', priv[side]).replace('ART', dir)]));
    return dir;
  };
  for (const [what, drive, record, says, words] of cases) {
    it(`${what}: made by the script from its record`, () => {
      const dir = artifacts(drive);
      for (const side of ['src', 'dst']) writeFileSync(join(dir, record.replace('SIDE', side)), JSON.stringify(says));
      const files = reproPlan(dir).files;
      if ('template' in says)
        expect(files).toEqual([{ kind: 'copy', from: says.template, to: '@WORK@/src/vars.fd' }, { kind: 'copy', from: says.template, to: '@WORK@/dst/vars.fd' }]);
      // One overlay both sides open, made once.
      else expect(files).toEqual([{ kind: 'overlay', base: says.base, format: says.format, to: `@WORK@/${record.replace(/\.json$/, '.qcow2')}` }]);
    });
    it(`${what}: without its record (an older migtest's artifacts), refused naming the file`, () => {
      expect(() => reproPlan(artifacts(drive))).toThrow(words);
    });
  }
});

