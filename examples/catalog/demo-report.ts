/**
 * The demo's picture: an SVG plot of the run — requests per second and failed requests through the
 * public record, the copy's items per second, and replication lag — over the phases (release,
 * promote, rollback…). `renderDemoReport` wraps it in one self-contained HTML page with the
 * report's figures; no script, no external asset.
 */
import type { DemoReport, DemoSample } from './demo';

const W = 900;
const H = 280;
const PAD = 40;

/** The plot alone, as a standalone SVG document (what the README shows). */
export function renderDemoSvg(samples: readonly DemoSample[]): string {
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const x = (t: number) => PAD + ((W - 2 * PAD) * t) / tMax;
  const perSecond = (of: (s: DemoSample) => number) =>
    samples.map((s, i) => ({ t: s.t, v: i === 0 ? 0 : Math.max(0, of(s) - of(samples[i - 1])) / Math.max(1, s.t - samples[i - 1].t) }));
  const rates = perSecond((s) => s.requests);
  const rMax = Math.max(1, ...rates.map((r) => r.v));
  const copyRates = perSecond((s) => s.copiedItems);
  const cMax = Math.max(1, ...copyRates.map((r) => r.v));
  const lags = samples.filter((s) => s.lagMs !== null) as (DemoSample & { lagMs: number })[];
  const lMax = Math.max(1000, ...lags.map((s) => s.lagMs));
  const y = (v: number, max: number) => H - PAD - ((H - 2 * PAD) * v) / max;
  const line = (pts: { t: number; v: number }[], max: number, color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map((p) => `${x(p.t).toFixed(1)},${y(p.v, max).toFixed(1)}`).join(' ')}"/>`;
  const bands: string[] = [];
  let start = 0;
  for (let i = 1; i <= samples.length; i++) {
    if (i === samples.length || samples[i].phase !== samples[start].phase) {
      const a = x(samples[start].t);
      const b = x(samples[Math.min(i, samples.length - 1)].t);
      bands.push(`<rect x="${a.toFixed(1)}" y="${PAD}" width="${Math.max(0, b - a).toFixed(1)}" height="${H - 2 * PAD}" fill="${bands.length % 2 ? '#f3f3f3' : '#e8eef7'}"/><text x="${(a + 2).toFixed(1)}" y="${bands.length % 2 ? PAD - 18 : PAD - 6}" font-size="10">${escape(samples[start].phase)}</text>`);
      start = i;
    }
  }
  const failures = samples.filter((s, i) => i > 0 && s.failedRequests > samples[i - 1].failedRequests).map((s) => `<circle cx="${x(s.t).toFixed(1)}" cy="${H - PAD}" r="3" fill="red"/>`);
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif"><rect width="${W}" height="${H}" fill="white"/>${bands.join('')}
${line(rates, rMax, '#1f77b4')}${line(copyRates, cMax, '#2ca02c')}${line(lags.map((s) => ({ t: s.t, v: s.lagMs })), lMax, '#ff7f0e')}${failures.join('')}
<text x="${PAD}" y="${H - 22}" font-size="11">seconds 0 … ${tMax}; blue: requests/s (max ${rMax.toFixed(0)}); green: items copied/s (max ${cMax.toFixed(0)});</text>
<text x="${PAD}" y="${H - 8}" font-size="11">orange: replication lag seen by a client (max ${lMax} ms); red dots: failed requests</text></svg>\n`;
}

export function renderDemoReport(report: DemoReport, samples: readonly DemoSample[]): string {
  const figures = Object.entries({
    products: report.products,
    items: report.items,
    requests: report.requests,
    failedRequests: report.failedRequests,
    acknowledgedWrites: report.acknowledgedWrites,
    lostWrites: report.lostWrites,
    copyItemsPerSec: report.copyItemsPerSec,
    lagP99Ms: report.lagP99Ms,
  })
    .map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`)
    .join('');
  const phases = Object.entries(report.phases).map(([k, v]) => `<tr><td>${escape(k)}</td><td>${v} s</td></tr>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>stackshift demo</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-right:3em;display:inline-table;vertical-align:top}td{padding:2px 10px;border-bottom:1px solid #ddd}</style></head><body>
<h1>catalog v1 → v2 under live traffic</h1>
${renderDemoSvg(samples)}<h2>figures</h2><table>${figures}</table><table>${phases}</table></body></html>\n`;
}

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
