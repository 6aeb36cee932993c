import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { caseScenario, DEADLINES, fault, GroupProcess, readResults, scenario, testArches, toHtml, when } from '../harness/index.js';
import { describe, expect } from 'vitest';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);

// PNG -> pixel statistics, by Python's zlib (no imaging library): width, height, the share of
// pixels that are not white, and how many distinct colours there are.
const PNG_STATS = `
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
pos, idat = 8, b''
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
    if kind == b'IHDR': w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
    if kind == b'IDAT': idat += body
bpp = {2: 3, 6: 4}[ctype]; raw = zlib.decompress(idat); stride = w * bpp
prev, rows, i = bytearray(stride), [], 0
for _ in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
colours, ink = set(), 0
for r in rows:
    for x in range(0, stride, bpp):
        px = r[x:x + 3]; colours.add(px); ink += px != b'\\xff\\xff\\xff'
print(w, h, round(ink / (w * h), 4), len(colours))
`;

// report.html looked at in a real headless browser: a run with a postcopy recovery (stats
// series, postcopy bands, a stall episode) and a refused TLS case, rendered and screenshotted.
describe.each(testArches().slice(0, 1))('report-html %s', (arch) => {
  const oneHost = "charts this file's own runs and opens them in Chromium on this machine";
  const meta = { suite: 'report-html', arch, oneHost };
  caseScenario({ id: 'a postcopy recovery to chart', arch, oneHost, migration: { mode: 'recovery' }, faults: [fault.killBridge(when.progress('postcopy-active', 0.2))] }, meta);
  caseScenario({ id: 'a precopy to chart', arch, oneHost }, meta);

  scenario('report.html renders in headless Chromium: charts drawn, failures first, nothing fetched', meta, async (ctx) => {
    if (!CHROMIUM) return ctx.skip('no Chromium on this host (ci/setup.sh installs it): the page cannot be looked at');
    const rows = readResults().filter((r) => r.suite === 'report-html');
    expect(rows.length).toBeGreaterThanOrEqual(2);
    // A failed row too, so the page puts a failure first.
    const failed = { suite: 'report-html', scenario: 'an injected failure', arch, outcome: 'failed' as const, wallMs: 1, error: 'DeadlineError: timed out after 9s waiting for <this>', artifacts: ctx.artifacts.path };
    const html = toHtml([...rows, failed], { title: 'migtest report-html check' });
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    const page = ctx.artifacts.file('report.html');
    writeFileSync(page, html);
    const flags = ['--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${ctx.scratchFile('chromium-profile')}`];
    // Chromium and its children in a group of their own, killed by it if they hang.
    const browse = async (args: string[], out?: string) => {
      const p = GroupProcess.spawn(CHROMIUM, [...flags, ...args], { name: 'chromium', stdoutFile: out, stderrFile: ctx.artifacts.file('chromium.log') });
      ctx.track({ stop: () => p.stop({ termMs: DEADLINES.teardownQuick }) });
      await p.waitExit({ timeoutMs: DEADLINES.browser }).catch((e: Error) => {
        throw new Error(`chromium ${args[0]} did not finish (see chromium.log): ${e.message}`);
      });
    };
    const domFile = ctx.artifacts.file('report.dom.html');
    await browse(['--dump-dom', `file://${page}`], domFile);
    const dom = readFileSync(domFile, 'utf8');
    expect((dom.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(5);
    expect(dom).toContain('postcopy-active');
    expect(dom).toContain('Postcopy stall episodes');
    expect(dom.indexOf('an injected failure')).toBeLessThan(dom.indexOf('Downtime per scenario'));
    const shot = ctx.artifacts.file('report.png');
    await browse(['--window-size=1280,2400', `--screenshot=${shot}`, `file://${page}`]);
    const [w, h, ink, colours] = (await execa('python3', ['-c', PNG_STATS, shot])).stdout.split(' ').map(Number);
    expect([w, h]).toEqual([1280, 2400]);
    // Drawn, not blank: charts and text cover part of the page in many colours.
    expect(ink).toBeGreaterThan(0.03);
    expect(colours).toBeGreaterThan(50);
    return { extra: { screenshot: shot, inkShare: ink, colours } };
  });
});
