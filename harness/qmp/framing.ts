/**
 * Splits a QMP / guest-agent byte stream into JSON messages. Both speak one JSON object per
 * line; the agent may put a 0xFF sentinel before a guest-sync-delimited reply, and a half
 * message may arrive in pieces.
 */
export class JsonLineDecoder {
  private buf = '';

  /** Feeds bytes, returns every complete message. Bad lines become { parseError }. */
  push(chunk: Buffer | string): Array<Record<string, unknown>> {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    this.buf += text.replace(/\xff/g, '');
    const out: Array<Record<string, unknown>> = [];
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = Buffer.from(this.buf.slice(0, nl), 'latin1').toString('utf8').trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        out.push({ parseError: line });
      }
    }
    return out;
  }

  get pending(): string {
    return this.buf;
  }
}

export function encodeMessage(msg: Record<string, unknown>): string {
  return `${JSON.stringify(msg)}\n`;
}
