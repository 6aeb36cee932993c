import { describe, expect, it } from 'vitest';
import { JsonLineDecoder, encodeMessage } from './framing.js';

describe('JsonLineDecoder', () => {
  it('splits messages across chunk boundaries', () => {
    const d = new JsonLineDecoder();
    expect(d.push('{"return": {}, "id"')).toEqual([]);
    expect(d.push(': "a"}\r\n{"event": "STOP"}\r\n')).toEqual([{ return: {}, id: 'a' }, { event: 'STOP' }]);
    expect(d.pending).toBe('');
  });

  it('drops the guest agent 0xFF sentinel and keeps UTF-8 intact', () => {
    const d = new JsonLineDecoder();
    const bytes = Buffer.concat([Buffer.from([0xff]), Buffer.from('{"return": "héllo"}\n', 'utf8')]);
    expect(d.push(bytes.subarray(0, 12))).toEqual([]);
    expect(d.push(bytes.subarray(12))).toEqual([{ return: 'héllo' }]);
  });

  it('reports unparsable lines instead of throwing', () => {
    expect(new JsonLineDecoder().push('not json\n')).toEqual([{ parseError: 'not json' }]);
  });

  it('encodes one message per line', () => {
    expect(encodeMessage({ execute: 'quit', id: 'x' })).toBe('{"execute":"quit","id":"x"}\n');
  });
});

describe('transcript', () => {
  it('a record after close (a socket closing late) is kept in memory, not written', async () => {
    const { Transcript } = await import('./transcript.js');
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const file = `${mkdtempSync('/tmp/migtest-transcript-')}/t.log`;
    const t = new Transcript('x', file);
    t.record('->', 'one');
    await t.close();
    expect(() => t.record('!!', 'closed: socket closed')).not.toThrow();
    expect(t.lines).toHaveLength(2);
    expect(readFileSync(file, 'utf8')).toContain('one');
  });
});
