/**
 * Talking to a released catalog app as a client would, for the release tests: its own endpoint
 * (from the local fleet's record), and product writes and reads that report the product's rev.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';

/** The release's own app endpoint, from the local fleet's record. */
export function fleetBaseUrl(stateDir: string, releaseId: string): string {
  const rec = JSON.parse(fs.readFileSync(path.join(stateDir, 'fleet', `${releaseId}.json`), 'utf8')) as { host: string; port: number };
  return `http://${rec.host}:${rec.port}`;
}

/** A release's public way in: its load balancer (the local stand-in), where write fences apply. */
export function fleetLoadBalancerUrl(stateDir: string, releaseId: string): string {
  const rec = JSON.parse(fs.readFileSync(path.join(stateDir, 'fleet', `${releaseId}.json`), 'utf8')) as { host: string; lbPort?: number };
  if (rec.lbPort === undefined) throw new Error(`release ${releaseId} has no local load balancer recorded`);
  return `http://${rec.host}:${rec.lbPort}`;
}

/** PUTs a one-channel product at `rev`; the write must be acknowledged (200). */
export async function putProduct(url: string, productId: string, rev: number): Promise<void> {
  const body = {
    title: `Test product rev ${rev}`,
    artist: 'The Static Hours',
    format: 'LP',
    releaseYear: 1999,
    description: 'written during the test',
    channels: { US: { sku: `${productId}-US`, price: 1000 + rev, currency: 'USD', stock: 3, published: true } },
    rev,
  };
  const r = await fetch(`${url}/products/${productId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
}

/** The product's rev as the app serves it, or null when it is not there. */
export async function getRev(url: string, productId: string): Promise<number | null> {
  const r = await fetch(`${url}/products/${productId}`);
  if (r.status === 404) return null;
  expect(r.status).toBe(200);
  return ((await r.json()) as { rev?: number }).rev ?? -1;
}
