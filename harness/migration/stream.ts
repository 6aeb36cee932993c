import { writeFileSync } from 'node:fs';
import { execa } from 'execa';
import type { QemuBinary } from '../qemu/catalog.js';
import { analyzeMigrationScript } from '../qemu/scripts.js';
import type { ArtifactDir } from '../report/artifacts.js';

/** One section of a migration stream as analyze-migration.py names it: "cpu (6)". */
export interface StreamSection {
  name: string;
  /** The section id in this stream. */
  id: number;
}

/** Read; no script to be had; or the script's version cannot read this stream (10.0's knows no mapped-ram). */
export type StreamDump = { sections: StreamSection[]; script: string; from: string } | { missing: string } | { unreadable: string };

/** "0000:00:01.0/virtio-blk (16)" -> { name: "0000:00:01.0/virtio-blk", id: 16 }. */
export function parseSectionKey(key: string): StreamSection {
  const m = /^(.*) \((\d+)\)$/.exec(key);
  return m ? { name: m[1]!, id: Number(m[2]) } : { name: key, id: -1 };
}

/**
 * Dumps a stream saved to a file with QEMU's analyze-migration.py of the binary that wrote
 * it: the device state as JSON (stream.state.json) and the section list
 * (stream.sections.json) in the artifacts. Neither a missing script nor one that cannot read
 * the stream's format is an error here: the result says which, and the stderr is kept.
 */
export async function dumpStream(file: string, writer: QemuBinary, artifacts: ArtifactDir): Promise<StreamDump> {
  const script = await analyzeMigrationScript(writer);
  if ('missing' in script) {
    artifacts.writeJson('stream.sections.json', { missing: script.missing });
    return script;
  }
  const r = await execa('python3', [script.path, '-f', file, '-d', 'state'], { reject: false, maxBuffer: 256 << 20 });
  if (r.exitCode !== 0) {
    writeFileSync(artifacts.file('stream.stderr.log'), r.stderr);
    // The script re-raises with the whole JSON description of the stream: name the first error.
    const first = r.stderr.split('\n').find((l) => /^\w+(Error|Exception): /.test(l)) ?? `exit ${r.exitCode}`;
    const unreadable = `analyze-migration.py (${script.from}) could not read ${file}: ${first.slice(0, 160)} (see stream.stderr.log)`;
    artifacts.writeJson('stream.sections.json', { unreadable });
    return { unreadable };
  }
  writeFileSync(artifacts.file('stream.state.json'), r.stdout);
  const sections = Object.keys(JSON.parse(r.stdout) as Record<string, unknown>).map(parseSectionKey);
  artifacts.writeJson('stream.sections.json', { file, script: script.path, from: script.from, sections });
  return { sections, script: script.path, from: script.from };
}
