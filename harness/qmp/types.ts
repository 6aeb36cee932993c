import { z } from 'zod';

export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
}

export interface QmpGreeting {
  version: { qemu: QemuVersion; package: string };
  capabilities: string[];
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
  /** Host time (ms) when the harness received it. */
  receivedAt: number;
}

/** MigrationStatus values across 5.2 .. 11.1; kept open as QEMU adds states (qemu/behaviour.ts says which version has which). */
export type MigrationStatus =
  | 'none'
  | 'setup'
  | 'cancelling'
  | 'cancelled'
  | 'active'
  | 'postcopy-active'
  | 'postcopy-paused'
  | 'postcopy-recover-setup'
  | 'postcopy-recover'
  | 'completed'
  | 'failed'
  | 'colo'
  | 'pre-switchover'
  | 'device'
  | 'wait-unplug'
  /** 10.2+: the destination loads device state while postcopy runs. */
  | 'postcopy-device'
  /** 11.0+: the source cleans up a failure before it reports failed. */
  | 'failing'
  | (string & {});

const ramStats = z
  .object({
    transferred: z.number(),
    remaining: z.number(),
    total: z.number(),
    duplicate: z.number().optional(),
    normal: z.number().optional(),
    'normal-bytes': z.number().optional(),
    'dirty-pages-rate': z.number().optional(),
    mbps: z.number().optional(),
    'dirty-sync-count': z.number().optional(),
    'postcopy-requests': z.number().optional(),
    'page-size': z.number().optional(),
    'multifd-bytes': z.number().optional(),
    'pages-per-second': z.number().optional(),
    'precopy-bytes': z.number().optional(),
    'downtime-bytes': z.number().optional(),
    'postcopy-bytes': z.number().optional(),
  })
  .passthrough();

/** query-migrate: checked at runtime because fields come and go between versions. */
export const migrationInfoSchema = z
  .object({
    status: z.string().optional(),
    ram: ramStats.optional(),
    'total-time': z.number().optional(),
    'expected-downtime': z.number().optional(),
    downtime: z.number().optional(),
    'setup-time': z.number().optional(),
    'cpu-throttle-percentage': z.number().optional(),
    'error-desc': z.string().optional(),
    'postcopy-blocktime': z.number().optional(),
    'socket-address': z
      .array(z.object({ type: z.string(), host: z.string().optional(), port: z.string().optional(), path: z.string().optional() }).passthrough())
      .optional(),
    xbzrle_cache: z.record(z.unknown()).optional(),
    'xbzrle-cache': z.record(z.unknown()).optional(),
  })
  .passthrough();

export type MigrationInfo = z.infer<typeof migrationInfoSchema> & { status?: MigrationStatus };

/** RunState values (query-status) the harness looks at; kept open as QEMU adds states. */
export type RunState =
  | 'running'
  | 'paused'
  | 'suspended'
  | 'inmigrate'
  | 'postmigrate'
  | 'finish-migrate'
  | 'prelaunch'
  | 'io-error'
  | 'shutdown'
  | 'internal-error'
  | 'restore-vm'
  | 'save-vm'
  | 'debug'
  | 'guest-panicked'
  | (string & {});

export const statusInfoSchema = z.object({ status: z.string(), running: z.boolean() }).passthrough();
export type StatusInfo = z.infer<typeof statusInfoSchema>;
