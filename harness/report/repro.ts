import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';

/** A QMP command the script sends, and the state its side was in when the harness sent it. */
export interface ReproStep {
  side: string;
  /** Seconds after the first replayed command, as it happened: for reading, never waited on. */
  at: number;
  cmd: Record<string, unknown>;
  /** Wait first until the side's query-migrate says this status and at least this many dirty syncs. */
  wait?: { status: string; syncs?: number };
}

/** A program the harness ran in the guest before migrating (through the agent): the workload, and the reads it waited on. */
export interface GuestStep {
  side: string;
  path: string;
  arg: string[];
  /** A read the harness repeated until it succeeded (the workload's ready file): repeated likewise. */
  untilOk: boolean;
  /** A guest file the harness waited for (guest-file-open until it opened): `path` is the file; the script waits likewise. */
  file?: boolean;
}

/** A file the harness made for a VM, which the script makes likewise before starting QEMU. */
export type ReproFile = { kind: 'copy'; from: string; to: string } | { kind: 'overlay'; base: string; format: string; to: string };

export interface ReproPlan {
  scenario: string;
  /** Made in the script's work directory before any QEMU starts: variable stores, an overlay. */
  files: ReproFile[];
  /** Run in the guest once it is up, before the first QMP step. */
  guest: GuestStep[];
  from: string;
  /** Each side's argv, its private directory and console written as @WORK@/<side>... */
  sides: Record<string, string[]>;
  steps: ReproStep[];
  /** How the source's migration ended in the run, and how the destination was left. */
  expect: { sourceStatus?: string; destinationRunning: boolean };
  notes: string[];
}

interface Line {
  t: number;
  side: string;
  dir: '->' | '<-';
  msg: Record<string, unknown>;
}

/** "2026-...Z src.qmp -> {...}" lines of a transcript. Pure. */
export function parseTranscript(text: string, side: string): Line[] {
  const out: Line[] = [];
  for (const l of text.split('\n')) {
    const m = /^(\S+) \S+\.(?:qmp|qga) (->|<-) (\{.*\})$/.exec(l);
    if (!m) continue;
    try {
      out.push({ t: Date.parse(m[1]!), side, dir: m[2] as '->' | '<-', msg: JSON.parse(m[3]!) as Record<string, unknown> });
    } catch {
      /* a line cut short: not replayable */
    }
  }
  return out;
}

// Commands that change what QEMU does; queries and the harness's own reads are not replayed.
const REPLAYED = new Set([
  'migrate-set-capabilities', 'migrate-set-parameters', 'migrate-incoming', 'migrate', 'migrate-start-postcopy', 'migrate-pause', 'migrate-recover',
  'migrate-continue', 'migrate_cancel', 'migrate-cancel', 'cont', 'stop', 'system_reset', 'system_powerdown',
]);

/** Rewrites a run's private directories and artifacts paths to the script's own. Pure. */
export function rewriter(dirs: Record<string, string>, artifacts: string): (s: string) => string {
  return (s) => {
    let out = s;
    for (const [side, dir] of Object.entries(dirs)) out = out.split(dir).join(`@WORK@/${side}`);
    return out.split(`${artifacts}/`).join('@WORK@/');
  };
}

const rewriteDeep = (v: unknown, f: (s: string) => string): unknown =>
  typeof v === 'string' ? f(v) : Array.isArray(v) ? v.map((x) => rewriteDeep(x, f)) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewriteDeep(x, f)])) : v;

/**
 * The replay plan of a scenario's artifacts: both argvs, and the QMP commands that changed
 * something, merged in time order, each with the migration state its side was in then.
 * A VM restored from a snapshot boots instead (its restore is the harness's, not the case's).
 */
/** What to replay on instead of what the run had: another QEMU per side, another guest image. */
export interface ReplayOn {
  qemu?: { src?: { path: string; firmwareDirs: string[] }; dst?: { path: string; firmwareDirs: string[] } };
  image?: { kernel: string; initrd: string; rootDisk: string };
}

/** A JSON file of the artifacts, or a ConfigError naming it. */
function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new ConfigError('repro', `${file} is not valid JSON (${(e as Error).message})`, ["a scenario's artifacts directory as migtest wrote it"]);
  }
}

/** The harness's save of a ready guest for snapshot start: a migration into the snapshot cache. */
const isSnapshotSave = (msg: Record<string, unknown>) => msg.execute === 'migrate' && /\/snapshots\/[0-9a-f]+\./.test(String((msg.arguments as { uri?: string } | undefined)?.uri ?? ''));

/** An argv with its QEMU binary, firmware folders and guest image swapped for the ones to replay on. */
function replayArgv(a: string[], on: ReplayOn, side: 'src' | 'dst'): string[] {
  let out = [...a];
  const bin = on.qemu?.[side];
  if (bin) {
    const rest: string[] = [];
    for (let i = 1; i < out.length; i++) {
      if (out[i] === '-L') i++;
      else rest.push(out[i]!);
    }
    out = [bin.path, ...bin.firmwareDirs.flatMap((d) => ['-L', d]), ...rest];
  }
  const img = on.image;
  if (img)
    out = out.map((w, i) => {
      if (out[i - 1] === '-kernel') return img.kernel;
      if (out[i - 1] === '-initrd') return img.initrd;
      // The root disk's file node (argv.ts: node-name=root-file).
      return w.includes('node-name=root-file') ? w.replace(/filename=[^,]+/, `filename=${img.rootDisk}`) : w;
    });
  return out;
}

export function reproPlan(dir: string, scenario = dir.split('/').at(-1)!, on: ReplayOn = {}): ReproPlan {
  const sides = ['src', 'dst'].filter((s) => existsSync(join(dir, `${s}.argv.json`)));
  if (!sides.includes('src') || !sides.includes('dst'))
    throw new ConfigError('repro', `'${dir}' has no src.argv.json and dst.argv.json`, ["a scenario's artifacts directory from a pair migration (the path a failure message names)"]);
  const notes: string[] = [];
  const argv: Record<string, string[]> = {};
  const privateDirs: Record<string, string> = {};
  const restored = new Set<string>();
  // Sides that saved a snapshot of their first ready guest (the harness's, not the case's).
  const saved = new Set<string>();
  for (const s of sides) {
    const a = readJson<string[]>(join(dir, `${s}.argv.json`));
    if (!Array.isArray(a) || a.length === 0 || !a.every((x) => typeof x === 'string')) throw new ConfigError('repro', `${join(dir, `${s}.argv.json`)} is not an argv (a list of strings)`, ["a scenario's artifacts directory as migtest wrote it"]);
    const qmp = a.find((x) => /^socket,id=qmp,path=/.test(x));
    if (qmp) privateDirs[s] = dirname(/path=([^,]+)/.exec(qmp)![1]!);
    const start = existsSync(join(dir, `${s}.start.json`)) ? readJson<{ restoredFrom?: string; host?: string; savesSnapshot?: boolean }>(join(dir, `${s}.start.json`)) : {};
    if (start.savesSnapshot) saved.add(s);
    if (start.host) notes.push(`${s} ran on host ${start.host}: the script runs both sides on this machine`);
    if (start.restoredFrom) {
      restored.add(s);
      notes.push(`${s} was restored from a snapshot in the run (${start.restoredFrom}); the script boots it`);
      const i = a.indexOf('-incoming');
      if (i >= 0 && a[i + 1] === 'defer') a.splice(i, 2);
    }
    argv[s] = replayArgv(a, on, s as 'src' | 'dst');
  }
  // The fd: transport hands each QEMU a descriptor over a second monitor (SCM_RIGHTS): a
  // script of QMP commands cannot, and would wait for a migration that never starts.
  const transport = existsSync(join(dir, 'case.json')) ? readJson<{ case?: { migration?: { transport?: string } } }>(join(dir, 'case.json')).case?.migration?.transport : undefined;
  const viaFd = transport === 'fd' || sides.some((s) => existsSync(join(dir, `${s}.qmp.log`)) && readFileSync(join(dir, `${s}.qmp.log`), 'utf8').includes('(via '));
  if (viaFd) throw new ConfigError('repro', `'${dir}' migrated over the fd: transport, whose descriptors the harness passed over a second monitor (SCM_RIGHTS); a replay script cannot do that`, ['a scenario over tcp, unix, exec or file']);
  const f = rewriter(privateDirs, dir);
  // Files the harness made for a VM: a UEFI variable store copied from the firmware's template
  // and a user image's overlay (--image FILE). The script makes them likewise, from what the
  // artifacts say they were made of; artifacts that do not say (an older migtest's) are refused.
  const files: ReproFile[] = [];
  for (const s of sides)
    for (const made of argv[s]!.map(f).flatMap((w) => /(?:^|,)file(?:name)?=(@WORK@\/[^,]*(?:root-overlay(?:-\d+)?\.qcow2|vars\.fd))/.exec(w)?.[1] ?? [])) {
      if (files.some((x) => x.to === made)) continue;
      // An overlay's record sits beside it: root-overlay-N.json (root-overlay.json before each source had its own).
      const record = made.endsWith('vars.fd') ? join(dir, `${s}.vars.json`) : join(dir, basename(made).replace(/\.qcow2$/, '.json'));
      if (!existsSync(record))
        throw new ConfigError('repro', `'${dir}': ${s} ran on ${made.endsWith('vars.fd') ? 'a UEFI variable store' : 'an overlay of your own disk image'} the harness made (${made}), and ${record} does not say what from; a replay script cannot recreate it`, ['artifacts of this migtest, or of a run with --image default and --firmware bios']);
      if (made.endsWith('vars.fd')) files.push({ kind: 'copy', from: readJson<{ template: string }>(record).template, to: made });
      else files.push({ kind: 'overlay', ...readJson<{ base: string; format: string }>(record), to: made });
    }
  const lines = sides.flatMap((s) => (existsSync(join(dir, `${s}.qmp.log`)) ? parseTranscript(readFileSync(join(dir, `${s}.qmp.log`), 'utf8'), s) : [])).sort((a, b) => a.t - b.t);
  const state: Record<string, { status?: string; syncs?: number }> = Object.fromEntries(sides.map((s) => [s, {}]));
  const asked = new Map<string, string>();
  const steps: ReproStep[] = [];
  const skipRestore = new Set(restored);
  const skipSave = new Set(saved);
  let t0: number | undefined;
  for (const l of lines) {
    const st = state[l.side]!;
    if (l.dir === '<-') {
      if (l.msg.event === 'MIGRATION') st.status = String((l.msg.data as { status?: string })?.status);
      const cmd = asked.get(`${l.side}:${String(l.msg.id)}`);
      const ret = l.msg.return as { status?: string; ram?: { 'dirty-sync-count'?: number } } | undefined;
      if (cmd === 'query-migrate' && ret?.status) {
        st.status = ret.status;
        if (ret.ram?.['dirty-sync-count'] !== undefined) st.syncs = ret.ram['dirty-sync-count'];
      }
      continue;
    }
    const command = String(l.msg.execute ?? l.msg['exec-oob']);
    asked.set(`${l.side}:${String(l.msg.id)}`, command);
    if (!REPLAYED.has(command)) continue;
    // The snapshot save: a migration into the cache, then cont. The case never asked for it.
    if (skipSave.has(l.side) && (isSnapshotSave(l.msg) || command === 'cont')) {
      if (command === 'cont') skipSave.delete(l.side);
      st.status = undefined;
      continue;
    }
    // The snapshot restore: migrate-incoming from the cache, then cont. The boot replaces it.
    if (skipRestore.has(l.side) && (command === 'migrate-incoming' || command === 'cont')) {
      if (command === 'cont') skipRestore.delete(l.side);
      st.status = undefined;
      continue;
    }
    t0 ??= l.t;
    const { id: _id, ...cmd } = l.msg;
    // In postcopy the dirty-sync count is not a pace the replay can wait for: how many syncs a
    // QEMU makes after the switch differs by version (11.1 makes fewer), so only the status is.
    const paced = st.syncs && !st.status?.startsWith('postcopy');
    const wait = st.status && !['none', 'setup', 'completed', 'failed', 'cancelled'].includes(st.status) ? { status: st.status, ...(paced ? { syncs: st.syncs } : {}) } : undefined;
    steps.push({ side: l.side, at: (l.t - t0) / 1000, cmd: rewriteDeep(cmd, f) as Record<string, unknown>, ...(wait ? { wait } : {}) });
  }
  // The guest's side of the case (its workload) went through the agent, before the migration.
  const migrateAt = lines.find((l) => l.side === 'src' && l.dir === '->' && l.msg.execute === 'migrate' && !(saved.has('src') && isSnapshotSave(l.msg)))?.t ?? Infinity;
  const guest: GuestStep[] = [];
  for (const s of sides) {
    if (!existsSync(join(dir, `${s}.qga.log`))) continue;
    const transcript = parseTranscript(readFileSync(join(dir, `${s}.qga.log`), 'utf8'), s);
    // Requests the agent answered without an error: a file that never opened (a probe of a
    // user's guest for a tool it lacks) is no file for the script to wait for.
    const answered = new Set(transcript.filter((l) => l.dir === '<-' && 'return' in l.msg).map((l) => String(l.msg.id)));
    for (const l of transcript) {
      if (l.dir !== '->' || l.t >= migrateAt) continue;
      let step: GuestStep;
      if (l.msg.execute === 'guest-exec') {
        const a = l.msg.arguments as { path: string; arg?: string[]; 'capture-output'?: boolean };
        step = { side: s, path: a.path, arg: a.arg ?? [], untilOk: !!a['capture-output'] };
      } else if (l.msg.execute === 'guest-file-open' && (l.msg.arguments as { mode?: string }).mode === 'r' && answered.has(String(l.msg.id))) {
        // The workload's ready file, polled until it opened: the migration must not start before it.
        step = { side: s, path: (l.msg.arguments as { path: string }).path, arg: [], untilOk: true, file: true };
      } else continue;
      const last = guest.at(-1);
      if (!(last && step.untilOk && JSON.stringify(last) === JSON.stringify(step))) guest.push(step);
    }
  }
  if (existsSync(join(dir, 'faults.jsonl')))
    for (const l of readFileSync(join(dir, 'faults.jsonl'), 'utf8').split('\n').filter(Boolean)) {
      const fault = JSON.parse(l) as { name?: string; fault?: string };
      notes.push(`the harness injected a fault the script does not: ${fault.name ?? fault.fault ?? l}`);
    }
  return {
    scenario,
    files,
    guest,
    from: dir,
    sides: Object.fromEntries(Object.entries(argv).map(([s, a]) => [s, a.map(f)])),
    steps,
    expect: { sourceStatus: state.src?.status, destinationRunning: true },
    notes,
  };
}

/** The standalone script: the Python template with the plan in it. */
export function reproScript(plan: ReproPlan): string {
  const template = readFileSync(join(repoRoot, 'harness/report/repro.py'), 'utf8');
  // Inside r'''...''' nothing is an escape; only a quote could end it, so quotes go as JSON's \u0027.
  return template.replace('@PLAN@', () => JSON.stringify(plan, null, 1).replace(/'/g, '\\u0027'));
}
