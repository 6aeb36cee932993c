import { z } from 'zod';
import { ARCHES, type Arch } from '../util/arch.js';
import { TRANSPORTS, type Transport } from '../migration/transport.js';

/** Capabilities by QEMU's own names, across the versions we run (7.2 .. 10.x). */
export const KNOWN_CAPABILITIES = [
  'auto-converge', 'background-snapshot', 'block', 'compress', 'dirty-bitmaps', 'dirty-limit', 'late-block-activate',
  'mapped-ram', 'multifd', 'pause-before-switchover', 'postcopy-blocktime', 'postcopy-preempt', 'postcopy-ram',
  'rdma-pin-all', 'release-ram', 'return-path', 'switchover-ack', 'validate-uuid', 'x-colo', 'x-ignore-shared',
  'xbzrle', 'zero-blocks', 'zero-copy-send',
] as const;

/** An integer parameter's range, as QEMU takes it (its own checks: migrate_params_check). */
export interface IntRange {
  min: number;
  max: number;
}

const SIZE = { min: 0, max: Number.MAX_SAFE_INTEGER };
const PERCENT = { min: 1, max: 99 };

/** Parameters a matrix may vary, with the type QEMU wants: an integer range, a boolean, or its values. */
export const KNOWN_PARAMETERS: Record<string, IntRange | 'boolean' | readonly string[]> = {
  'max-bandwidth': SIZE,
  'max-postcopy-bandwidth': SIZE,
  'avail-switchover-bandwidth': SIZE,
  'downtime-limit': { min: 0, max: 2_000_000 },
  'multifd-channels': { min: 1, max: 255 },
  'multifd-compression': ['none', 'zlib', 'zstd', 'qpl', 'uadk', 'qatzip'],
  'multifd-zlib-level': { min: 0, max: 9 },
  'multifd-zstd-level': { min: 0, max: 20 },
  'zero-page-detection': ['none', 'legacy', 'multifd'],
  'xbzrle-cache-size': SIZE,
  'cpu-throttle-initial': PERCENT,
  'cpu-throttle-increment': PERCENT,
  'cpu-throttle-tailslow': 'boolean',
  'max-cpu-throttle': PERCENT,
  'throttle-trigger-threshold': { min: 1, max: 100 },
  'vcpu-dirty-limit': { min: 1, max: Number.MAX_SAFE_INTEGER },
  'announce-initial': { min: 1, max: 100_000 },
  'announce-max': { min: 1, max: 100_000 },
  'announce-rounds': { min: 0, max: 1000 },
  'announce-step': { min: 1, max: 10_000 },
};

export type ParamValue = number | string | boolean;

/** One cell of a matrix: everything a migration run needs to know. */
export interface MatrixCell {
  id: string;
  arch: Arch;
  transport: Transport;
  qemu: { src: string; dst: string };
  capabilities: Record<string, boolean>;
  parameters: Record<string, ParamValue>;
  workload: { mib: number; rateMiBs: number };
}

/** A QEMU label: a string; YAML reads 7.2 unquoted as a number, said so. */
const qemuLabel = z.string({ invalid_type_error: "a QEMU version must be a string: write it quoted ('7.2'), or 'default', a binary's path or a build directory" }).min(1);
const qemuPair = z.object({ src: qemuLabel, dst: qemuLabel }).strict();
const paramValue = z.union([z.number(), z.string(), z.boolean()]);

const filterSchema = z
  .object({
    arch: z.enum(ARCHES).optional(),
    transport: z.enum(TRANSPORTS).optional(),
    qemu: qemuPair.partial().optional(),
    capabilities: z.record(z.boolean()).optional(),
    parameters: z.record(paramValue).optional(),
  })
  .strict();
export type CellFilter = z.infer<typeof filterSchema>;

export const matrixSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    axes: z
      .object({
        arch: z.array(z.enum(ARCHES)).min(1).default([...ARCHES]),
        transport: z.array(z.enum(TRANSPORTS)).min(1).default(['tcp']),
        qemu: z.array(qemuPair).min(1).default([{ src: 'default', dst: 'default' }]),
        capabilities: z.record(z.array(z.boolean()).min(1)).default({}),
        parameters: z.record(z.array(paramValue).min(1)).default({}),
      })
      .strict()
      .default({}),
    /** avocado-vt's "no": cells matching any of these are dropped. */
    exclude: z.array(filterSchema).default([]),
    /** avocado-vt's "only": when given, only cells matching one of these are kept. */
    only: z.array(filterSchema).default([]),
    /** Extra cells: unspecified fields take the first value of each axis (arch: every arch). */
    include: z.array(filterSchema).default([]),
    workload: z
      .object({ mib: z.number().int().min(4).max(1024), rateMiBs: z.number().min(0) })
      .strict()
      .default({ mib: 32, rateMiBs: 16 }),
  })
  .strict();

export type MatrixFile = z.infer<typeof matrixSchema>;
