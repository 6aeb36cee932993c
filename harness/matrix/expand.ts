import type { CellFilter, MatrixCell, MatrixFile, ParamValue } from './model.js';

function product<T>(axes: Array<[string, T[]]>): Array<Record<string, T>> {
  return axes.reduce<Array<Record<string, T>>>(
    (acc, [name, values]) => acc.flatMap((row) => values.map((v) => ({ ...row, [name]: v }))),
    [{}],
  );
}

export function cellId(c: Omit<MatrixCell, 'id' | 'workload'>): string {
  const qemu = c.qemu.src === c.qemu.dst ? c.qemu.src : `${c.qemu.src}->${c.qemu.dst}`;
  const caps = Object.entries(c.capabilities)
    .filter(([, on]) => on)
    .map(([k]) => k)
    .sort();
  const params = Object.entries(c.parameters)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  return [c.arch, c.transport, `qemu-${qemu}`, caps.join('+') || 'no-caps', ...params].join('/');
}

export function matches(cell: MatrixCell, f: CellFilter): boolean {
  if (f.arch && cell.arch !== f.arch) return false;
  if (f.transport && cell.transport !== f.transport) return false;
  if (f.qemu?.src && cell.qemu.src !== f.qemu.src) return false;
  if (f.qemu?.dst && cell.qemu.dst !== f.qemu.dst) return false;
  for (const [k, v] of Object.entries(f.capabilities ?? {})) if (!!cell.capabilities[k] !== v) return false;
  for (const [k, v] of Object.entries(f.parameters ?? {})) if (cell.parameters[k] !== v) return false;
  return true;
}

/** The cartesian product of the axes, filtered by exclude/only, plus the include cells; ids unique. */
export function expandMatrix(m: MatrixFile): MatrixCell[] {
  const capAxes = Object.entries(m.axes.capabilities);
  const paramAxes = Object.entries(m.axes.parameters);
  const cells: MatrixCell[] = [];
  for (const arch of m.axes.arch)
    for (const transport of m.axes.transport)
      for (const qemu of m.axes.qemu)
        for (const caps of product<boolean>(capAxes))
          for (const params of product<ParamValue>(paramAxes)) {
            const base = { arch, transport, qemu, capabilities: caps, parameters: params };
            cells.push({ ...base, id: cellId(base), workload: m.workload });
          }
  let kept = cells.filter((c) => !m.exclude.some((f) => matches(c, f)));
  if (m.only.length) kept = kept.filter((c) => m.only.some((f) => matches(c, f)));
  for (const inc of m.include)
    for (const arch of inc.arch ? [inc.arch] : m.axes.arch) {
      const base = {
        arch,
        transport: inc.transport ?? m.axes.transport[0]!,
        qemu: { src: inc.qemu?.src ?? m.axes.qemu[0]!.src, dst: inc.qemu?.dst ?? m.axes.qemu[0]!.dst },
        capabilities: inc.capabilities ?? {},
        parameters: inc.parameters ?? {},
      };
      kept.push({ ...base, id: cellId(base), workload: m.workload });
    }
  const seen = new Set<string>();
  return kept.filter((c) => (seen.has(c.id) ? false : (seen.add(c.id), true)));
}

/** Cells of shard k (0-based) of n: round-robin, so every shard gets a similar mix. */
export function shardCells(cells: MatrixCell[], k: number, n: number): MatrixCell[] {
  return cells.filter((_, i) => i % n === k);
}
