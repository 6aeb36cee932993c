import { createWriteStream, type WriteStream } from 'node:fs';

/** A timestamped record of every message both ways, written as it happens. */
export class Transcript {
  private readonly stream: WriteStream | undefined;
  private ended = false;
  readonly lines: string[] = [];

  constructor(
    readonly label: string,
    file?: string,
  ) {
    this.stream = file ? createWriteStream(file, { flags: 'a' }) : undefined;
  }

  record(direction: '->' | '<-' | '!!', text: string): void {
    const line = `${new Date().toISOString()} ${this.label} ${direction} ${text}`;
    this.lines.push(line);
    if (this.lines.length > 5000) this.lines.shift();
    // The socket's close event can come after we closed the file: keep it in memory only.
    if (!this.ended) this.stream?.write(`${line}\n`);
  }

  close(): Promise<void> {
    this.ended = true;
    return new Promise((resolve) => (this.stream ? this.stream.end(resolve) : resolve()));
  }
}
