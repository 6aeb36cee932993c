/**
 * modules.dep handling for the initramfs: the closure of the wanted modules and the lines of
 * modules.dep that busybox modprobe needs for them. Pure, so it is unit-tested.
 */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    deps.set(path, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

export function moduleName(path: string): string {
  const base = path.split('/').pop()!;
  return base.replace(/\.ko(\.(xz|gz|zst))?$/, '').replace(/-/g, '_');
}

/** Paths of the named modules and everything they depend on; names that are built in are skipped. */
export function moduleClosure(
  deps: Map<string, string[]>,
  wanted: string[],
  builtin: Set<string>,
): { paths: string[]; missing: string[] } {
  const byName = new Map([...deps.keys()].map((p) => [moduleName(p), p]));
  const out = new Set<string>();
  const missing: string[] = [];
  const visit = (p: string) => {
    if (out.has(p)) return;
    out.add(p);
    for (const d of deps.get(p) ?? []) visit(d);
  };
  for (const w of wanted) {
    const n = w.replace(/-/g, '_');
    const p = byName.get(n);
    if (p) visit(p);
    else if (!builtin.has(n)) missing.push(w);
  }
  return { paths: [...out].sort(), missing };
}
