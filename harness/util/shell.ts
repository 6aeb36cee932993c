/** Quotes a path for /bin/sh (QEMU runs exec: URIs through it): the path stays one word, whatever it holds. */
export const shellQuote = (p: string): string => `'${p.replace(/'/g, `'\\''`)}'`;
