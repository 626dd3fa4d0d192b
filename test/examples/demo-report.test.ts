import { describe, expect, it } from 'vitest';
import { renderDemoReport, renderDemoSvg, type DemoReportPage } from '../../examples/catalog/demo-report';
import type { DemoSample } from '../../examples/catalog/demo';
import { niceTicks } from '../../lib/release/release-report';

const sample = (t: number, phase: string, requests: number | null, failedRequests: number | null, copiedItems: number, lagMs: number | null): DemoSample => ({ t, phase, requests, failedRequests, copiedItems, lagMs });

/** A run sampled from its first phase: no traffic until promote v1 is done, a copy, a failure, a gap in the lag. */
const samples: DemoSample[] = [
  sample(0, 'release v1', null, null, 0, null),
  sample(1, 'release v1', null, null, 0, null),
  sample(2, 'seed', null, null, 0, null),
  sample(3, 'release v2', 0, 0, 0, null),
  sample(4, 'release v2', 40, 0, 5000, null),
  sample(5, 'release v2', 80, 0, 12000, 150),
  sample(6, 'promote v2', 120, 1, 12000, 1596),
  sample(7, 'promote v2', 160, 1, 12000, null),
  sample(8, 'rollback', 200, 1, 12000, 200),
  sample(9, 'rollback', 240, 1, 12000, 250),
];

/** The markup of the panel with this id. */
function panel(svg: string, id: string): string {
  const m = new RegExp(`<g class="panel" id="${id}">([\\s\\S]*?)</g>`).exec(svg);
  expect(m, `panel ${id}`).not.toBeNull();
  return m![1];
}

function texts(markup: string, cls: string): string[] {
  return [...markup.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => m[1]);
}

/** The x coordinates where a path's segments start, and its segments' point counts. */
function segments(markup: string): { startX: number; points: number }[] {
  const d = /<path class="series" d="([^"]*)"/.exec(markup)![1];
  return d
    .split('M')
    .filter(Boolean)
    .map((seg) => {
      const pts = seg.trim().split(' L');
      return { startX: Number(pts[0].split(',')[0]), points: pts.length };
    });
}

describe('niceTicks', () => {
  it('gives round steps of 1, 2 or 5 times a power of ten, covering the maximum', () => {
    expect(niceTicks(1596, 4)).toEqual([0, 500, 1000, 1500, 2000]);
    expect(niceTicks(40, 4)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(7000, 4)).toEqual([0, 2000, 4000, 6000, 8000]);
    expect(niceTicks(0.7, 4)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(185, 10)).toEqual([0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});

describe('renderDemoSvg', () => {
  const svg = renderDemoSvg(samples);

  it('is a standalone SVG document', () => {
    expect(svg.startsWith('<svg ')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/<script|href=|<image/);
  });

  it('draws one panel per series, each with its own labelled y axis and round ticks', () => {
    const requests = panel(svg, 'requests');
    expect(texts(requests, 'yaxis')).toEqual(['requests/s']);
    expect(texts(requests, 'ytick')).toEqual(['0', '10', '20', '30', '40']);
    const copy = panel(svg, 'copy');
    expect(texts(copy, 'yaxis')).toEqual(['items/s']);
    // 5,000 then 7,000 items/s: up to 8,000
    expect(texts(copy, 'ytick')).toEqual(['0', '2,000', '4,000', '6,000', '8,000']);
    const lag = panel(svg, 'lag');
    expect(texts(lag, 'yaxis')).toEqual(['lag (ms)']);
    expect(texts(lag, 'ytick')).toEqual(['0', '500', '1,000', '1,500', '2,000']);
    expect(lag).toContain('replication lag a client sees');
  });

  it('shares one time axis in seconds, with ticks, from the first phase', () => {
    expect(texts(svg, 'xtick')).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(texts(svg, 'xaxis')).toEqual(["seconds since the run's first phase (release v1) started"]);
  });

  it('bands every phase from t = 0, names them, and breaks series where they have no value', () => {
    const phases = [...svg.matchAll(/<g class="phase"><title>([^<]*)<\/title>/g)].map((m) => m[1]);
    expect(phases).toEqual([
      'release v1: 2 s, from 0 s to 2 s',
      'seed: 1 s, from 2 s to 3 s',
      'release v2: 3 s, from 3 s to 6 s',
      'promote v2: 2 s, from 6 s to 8 s',
      'rollback: 1 s, from 8 s to 9 s',
    ]);
    for (const name of ['release v1', 'seed', 'release v2', 'promote v2', 'rollback']) expect(svg).toContain(`>${name}</text>`);
    // the first band starts where the time axis does
    const firstBand = /<g class="phase">[\s\S]*?<rect x="([\d.]+)"/.exec(svg)!;
    const zeroTick = /<text class="xtick" x="([\d.]+)"[^>]*>0<\/text>/.exec(svg)!;
    expect(firstBand[1]).toBe(zeroTick[1]);
    // requests: none before the traffic (t = 3), then one line from t = 4 to the end
    const req = segments(panel(svg, 'requests'));
    expect(req).toHaveLength(1);
    expect(req[0].points).toBe(6);
    expect(req[0].startX).toBeGreaterThan(Number(zeroTick[1]));
    // lag: 150, 1596, then a gap, then 200, 250
    expect(segments(panel(svg, 'lag')).map((s) => s.points)).toEqual([2, 2]);
  });

  it('marks failed requests in red where they happened, and says how many in the title', () => {
    const requests = panel(svg, 'requests');
    expect(requests.match(/class="failed"/g)).toHaveLength(1);
    expect(requests).toContain('<title>1 failed request at 6 s</title>');
    expect(requests).toContain('failed requests marked in red (1)');
    const clean = renderDemoSvg(samples.map((s) => ({ ...s, failedRequests: s.failedRequests === null ? null : 0 })));
    expect(panel(clean, 'requests')).toContain('none failed');
    expect(clean).not.toContain('class="failed"');
  });

  it('escapes phase names', () => {
    const odd = renderDemoSvg([sample(0, 'a <b> & "c"', null, null, 0, null), sample(1, "it's", 1, 0, 0, null)]);
    expect(odd).toContain('>a &lt;b&gt; &amp; &quot;c&quot;</text>');
    expect(odd).toContain('>it&#39;s</text>');
    expect(odd).not.toContain('<b>');
  });

  it('says so when a series has no value at all', () => {
    const noLag = renderDemoSvg(samples.map((s) => ({ ...s, lagMs: null })));
    expect(panel(noLag, 'lag')).toContain('no value in this run');
  });
});

const passing: DemoReportPage = {
  items: 150_000,
  products: 50_000,
  requests: 17_955,
  failedRequests: 0,
  acknowledgedWrites: 4_734,
  lostWrites: 0,
  heldWrites: 12,
  heldMaxMs: 850,
  copyItemsPerSec: 3_950,
  lagP50Ms: 310,
  lagP99Ms: 1_596,
  lagSamples: 120,
  lagProbeTimeouts: 0,
  lagProbeFailedWrites: 0,
  phases: { 'local AWS': 4.2, 'release v1': 20, seed: 30, 'promote v1': 5, 'release v2': 80, 'promote v2': 15, rollback: 10, 'promote v2 again': 6, 'teardown v1': 8, 'stop traffic': 1, 'check writes': 3 },
  releases: { v1: 'sha-0123456789ab', v2: 'sha-fedcba987654' },
  shas: { v1: '0123456789abcdef0123456789abcdef01234567', v2: 'fedcba9876543210fedcba9876543210fedcba98' },
  startedAt: '2026-12-03T20:51:26.041Z',
  settings: { ratePerSec: 40, writeFraction: 0.3, hotProducts: 5000, conditionalWrites: true, promoteSteps: [25, 100], cycles: 1, writersPerProduct: 1, fence: true },
  totalSeconds: 185,
  estimatedSeconds: 170,
  emulatorCeilingItemsPerSec: 12_345,
  copyToCeiling: 0.32,
};

describe('renderDemoReport', () => {
  const html = renderDemoReport(passing, samples);

  it('opens with the verdict in words', () => {
    expect(html).toContain('<p class="verdict pass">PASS: 0 of 17,955 requests failed, 0 of 4,734 acknowledged writes lost</p>');
    expect(html).toMatch(/<title>stackshift demo: PASS — catalog v1 → v2, 2026-12-03 20:51:26 UTC<\/title>/);
  });

  it('says when it ran, what was released, the traffic, the data and the machine', () => {
    expect(html).toContain('started 2026-12-03 20:51:26 UTC; 3 min 5 s in all (estimated 2 min 50 s before it started)');
    expect(html).toContain('v1 <code>sha-0123456789ab</code> (commit <code title="0123456789abcdef0123456789abcdef01234567">0123456789ab</code>)');
    expect(html).toContain('v2 <code>sha-fedcba987654</code>');
    expect(html).toContain('40 requests/s through the public record, 30 % of them writes, on 5,000 hot products; If-Match on; promote in steps of 25 %, 100 %');
    expect(html).toContain('50,000 products (150,000 items) in production');
    expect(html).toContain('DynamoDB Local writes at most 12,345 items/s (raw BatchWriteItem, measured before the run); the copy ran at 3,950 items/s, 32 % of that ceiling');
    const noIfMatch = renderDemoReport({ ...passing, settings: { ...passing.settings!, conditionalWrites: false } }, samples);
    expect(noIfMatch).toContain('If-Match off');
  });

  it('labels the figures for people, with units', () => {
    const row = (label: string, value: string) => `<tr><th>${label}</th><td class="n">${value}</td></tr>`;
    expect(html).toContain(row('replication lag seen by a client, 99th percentile', '1,596 ms'));
    expect(html).toContain(row('replication lag seen by a client, median', '310 ms'));
    expect(html).toContain(row('failed requests', '0'));
    expect(html).toContain(row('copy rate (release v2’s copy, with the channel migration)', '3,950 items/s (32 % of this machine’s ceiling)'));
    expect(html).toContain(row('writes that found their stack behind and waited for the sync (If-Match)', '12, the longest 850 ms'));
    expect(html).not.toMatch(/lagP99Ms|failedRequests|copyItemsPerSec/);
  });

  it('lists the phases with durations and shares of the run, and what fell between them', () => {
    // with where each starts on the plot (samples: release v2 from t = 3)
    expect(html).toContain('<tr><td>release v2</td><td class="n">3 s</td><td class="n">80 s</td><td class="n">43.2 %</td><td class="bar"><div style="width:43.2%"></div></td></tr>');
    expect(html).toContain('<tr><td>local AWS</td><td class="n">—</td><td class="n">4.2 s</td><td class="n">2.3 %</td>');
    expect(html).toContain('<tr><td>stop traffic</td><td class="n">—</td><td class="n">1 s</td><td class="n">0.5 %</td>');
    // 185 s in all, 182.2 s in phases
    expect(html).toContain('<tr class="other"><td>between phases (measuring the emulator’s ceiling, starting the traffic…)</td><td class="n">—</td><td class="n">2.8 s</td>');
    expect(html).toContain('<tr class="total"><td>the whole run</td><td></td><td class="n">3 min 5 s</td><td class="n">100 %</td>');
  });

  it('embeds the plot and is self-contained', () => {
    expect(html).toContain(renderDemoSvg(samples));
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/);
  });

  it('fails in words with the counts, and names what failed and what was lost', () => {
    const failing: DemoReportPage = {
      ...passing,
      requests: 100,
      failedRequests: 3,
      acknowledgedWrites: 40,
      lostWrites: 1,
      failures: [{ method: 'PUT', path: '/products/<p1>', status: 503, releaseId: 'sha-fedcba987654', at: '2026-12-03T20:53:00.000Z' }],
      lost: [{ id: 'p-7', expected: { rev: 3 } as never, got: { status: 404 } }],
    };
    const out = renderDemoReport(failing, samples);
    expect(out).toContain('<p class="verdict fail">FAIL: 3 of 100 requests failed, 1 of 40 acknowledged writes lost</p>');
    expect(out).toContain('<code>PUT /products/&lt;p1&gt;</code> on sha-fedcba987654 at 2026-12-03 20:53:00 UTC: HTTP 503');
    expect(out).toContain('<code>p-7</code>: expected <code>{&quot;rev&quot;:3}</code>, the live release has <code>{&quot;status&quot;:404}</code>');
    // lost writes alone fail the run too
    expect(renderDemoReport({ ...passing, lostWrites: 2 }, samples)).toContain('FAIL: 0 of 17,955 requests failed, 2 of 4,734 acknowledged writes lost');
  });

  it('renders a report from before the header fields existed, and escapes release names', () => {
    const old: DemoReportPage = { ...passing, shas: undefined, startedAt: undefined, settings: undefined, totalSeconds: undefined, estimatedSeconds: undefined, emulatorCeilingItemsPerSec: undefined, copyToCeiling: undefined, releases: { v1: 'a<b', v2: 'c&d' } };
    const out = renderDemoReport(old, samples);
    expect(out).toContain('PASS: 0 of 17,955 requests failed');
    expect(out).toContain('v1 <code>a&lt;b</code> → v2 <code>c&amp;d</code>');
    expect(out).not.toContain('this machine');
    expect(out).not.toContain('undefined');
  });
});
