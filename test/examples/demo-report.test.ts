import { describe, expect, it } from 'vitest';
import { renderDemoReport, renderDemoSvg } from '../../examples/catalog/demo-report';
import type { DemoReport, DemoSample } from '../../examples/catalog/demo';

const sample = (t: number, phase: string, requests: number, failedRequests: number, copiedItems: number, lagMs: number | null): DemoSample => ({ t, phase, requests, failedRequests, copiedItems, lagMs });

const samples = [
  sample(0, 'release v2', 0, 0, 0, null),
  sample(1, 'release v2', 40, 0, 5000, null),
  sample(2, 'release v2', 80, 0, 12000, 150),
  sample(3, 'promote v2', 120, 1, 12000, 300),
  sample(4, 'rollback', 160, 1, 12000, 200),
];

/** The points of a polyline of one colour, as [x, y] pairs. */
function points(svg: string, color: string): number[][] {
  const m = new RegExp(`stroke="${color}"[^>]*points="([^"]*)"`).exec(svg);
  return m![1].split(' ').map((p) => p.split(',').map(Number));
}

describe('renderDemoSvg', () => {
  it('plots requests/s, copied items/s and lag, a dot per second with failures, and a label per phase', () => {
    const svg = renderDemoSvg(samples);
    expect(svg.startsWith('<svg')).toBe(true);
    // requests: a steady 40/s after the first sample, so one flat line at the top of its scale
    const requests = points(svg, '#1f77b4');
    expect(requests).toHaveLength(5);
    expect(new Set(requests.slice(1).map(([, y]) => y)).size).toBe(1);
    // copy: 5,000 then 7,000 items/s (the maximum: top of the plot), then none
    const copy = points(svg, '#2ca02c');
    expect(copy[2][1]).toBeLessThan(copy[1][1]);
    expect(copy[3][1]).toBe(copy[0][1]);
    expect(svg).toContain('items copied/s (max 7000)');
    // lag: only the samples that have one
    expect(points(svg, '#ff7f0e')).toHaveLength(3);
    expect(svg.match(/<circle /g)).toHaveLength(1);
    for (const phase of ['release v2', 'promote v2', 'rollback']) expect(svg).toContain(`>${phase}</text>`);
  });

  it('is embedded in the HTML report with the figures', () => {
    const report = { products: 10, items: 30, requests: 160, failedRequests: 1, acknowledgedWrites: 20, lostWrites: 0, copyItemsPerSec: 6000, lagP99Ms: 300, phases: { 'release v2': 2 } } as unknown as DemoReport;
    const html = renderDemoReport(report, samples);
    expect(html).toContain(renderDemoSvg(samples));
    expect(html).toContain('<tr><td>failedRequests</td><td>1</td></tr>');
  });
});
