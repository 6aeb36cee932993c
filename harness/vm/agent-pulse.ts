import { createWriteStream, type WriteStream } from 'node:fs';
import type { GuestAgentClient } from '../qmp/agent.js';
import { sleep } from '../util/time.js';
import { BeatLog } from './beats.js';

const BOOT_ID = '/proc/sys/kernel/random/boot_id';
const UPTIME = '/proc/uptime';
/** One poll left unanswered this long (scaled) counts as a miss: the guest may have been reset, and its boot id is asked again. */
const POLL_TIMEOUT_MS = 10_000;

export interface AgentPulseOptions {
  /** The VM's agent connection (shared with every other user of the agent). */
  agent: () => Promise<GuestAgentClient>;
  /** False once QEMU exited: the pulse ends. */
  running: () => boolean;
  /** A destination's guest runs only once the migration hands it over: polling starts when this resolves true. */
  runs?: Promise<boolean>;
  logFile?: string;
  /** How often to poll, ms (default 50). */
  periodMs?: number;
}

/**
 * Liveness from the guest agent alone, for a guest without migtest's heartbeat: the host
 * reads /proc/uptime through qemu-guest-agent every ~50 ms and stamps each answer. A
 * continuing guest keeps its boot id and its uptime never goes back; the guest downtime is
 * the longest gap between answers, so it is only as fine as the poll (the period, or three
 * agent round trips when they take longer), which the liveness report states.
 */
export class AgentPulse extends BeatLog {
  readonly kind = 'agent';
  readonly periodMs: number;
  /** The guest's boot id when polling began. */
  bootId: string | undefined;
  private stopped = false;
  private readonly log: WriteStream | undefined;

  constructor(
    vm: string,
    private readonly o: AgentPulseOptions,
  ) {
    super(vm);
    this.periodMs = o.periodMs ?? 50;
    this.log = o.logFile ? createWriteStream(o.logFile, { flags: 'a' }) : undefined;
    void this.loop().finally(() => (this.closed = true));
  }

  private async loop(): Promise<void> {
    if (this.o.runs && !(await this.o.runs)) return;
    this.note(`# polling ${UPTIME} through the guest agent every ${this.periodMs} ms`);
    let askBootId = true;
    let n = 0;
    while (!this.stopped && this.o.running()) {
      const began = Date.now();
      try {
        const agent = await this.o.agent();
        if (askBootId) this.noteBoot((await readSmall(agent, BOOT_ID)).trim());
        askBootId = false;
        const uptime = Number((await readSmall(agent, UPTIME)).split(/\s+/)[0]);
        const now = Date.now();
        this.beats.push({ n: ++n, guestMono: uptime, guestReal: Number.NaN, hostMs: now, vm: this.vm });
        this.readyAt ??= now;
        this.note(`UP ${uptime}`, now);
      } catch (e) {
        if (this.stopped || !this.o.running()) return;
        // Unanswered or refused: the guest may have been reset; ask its boot id again.
        askBootId = true;
        this.note(`# ${(e as Error).message}`);
        await sleep(200);
        continue;
      }
      await sleep(Math.max(0, this.periodMs - (Date.now() - began)));
    }
  }

  /** Reads the guest's boot id now (a new one is noted as a boot); an agent that does not answer leaves it to the polls. */
  async checkBootId(): Promise<void> {
    try {
      this.noteBoot((await readSmall(await this.o.agent(), BOOT_ID)).trim());
    } catch {
      /* unanswered: the polls' own record stands */
    }
  }

  private noteBoot(id: string): void {
    this.note(`BOOT ${id}`);
    if (this.bootId === undefined) this.bootId = id;
    else if (id !== this.bootId && this.readyBoot === undefined) {
      this.readyBoot = id;
      this.readyAt = Date.now();
    }
  }

  /** A line of the pulse's log, as the heartbeat's: host ms, then what happened. */
  private note(line: string, at = Date.now()): void {
    if (!this.stopped) this.log?.write(`${at} ${line}\n`);
  }

  close(): void {
    this.stopped = true;
    this.log?.end();
  }
}

/**
 * A small guest file (procfs), asked once. A close left unanswered is a miss too: a beat
 * stamped when it timed out would stand for a guest that ran long after it stopped.
 */
const readSmall = async (agent: GuestAgentClient, path: string): Promise<string> => (await agent.readOnce(path, 4096, POLL_TIMEOUT_MS)).toString('utf8');
