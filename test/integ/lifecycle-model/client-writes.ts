/**
 * A client of the catalog as the public name serves it: resolve the weighted CNAME in Route 53
 * (pick a record set by weight, as Route 53 does per query, with a draw the command carries so a
 * replay picks the same), find the app behind it through the fleet records, and PUT a product —
 * with If-Match on the ETag of its last acknowledged write, as the catalog's traffic does.
 */
import { httpJson, type HttpReply } from '../../../examples/catalog/http-client';
import type { ProductBody } from '../../../examples/catalog/product';
import { pickByWeight } from '../../../lib/dns';
import type { DnsShare, SystemUnderTest } from './system-under-test';

export interface ClientWrite {
  readonly productId: string;
  readonly rev: number;
  readonly ifMatch?: string;
}

export interface ClientWriteOutcome {
  /** The release the DNS answer led to. */
  readonly releaseId: string;
  readonly status?: number;
  readonly etag?: string;
  readonly error?: string;
}

export function productBody(productId: string, rev: number): ProductBody {
  return {
    title: `Model ${productId} rev ${rev}`,
    artist: 'The Static Hours',
    format: 'LP',
    releaseYear: 1999,
    description: 'written by the lifecycle model',
    channels: { US: { sku: `${productId}-US`, price: 1000 + rev, currency: 'USD', stock: 3, published: true } },
    rev,
  };
}

/** The record set a draw in [0, 1) lands on, as RecordResolver picks it. */
export function pickShare(shares: readonly DnsShare[], draw: number): DnsShare {
  return pickByWeight(shares, draw);
}

export async function writeThroughDns(sut: SystemUnderTest, write: ClientWrite, draw: number): Promise<ClientWriteOutcome> {
  const shares = await sut.dns();
  if (shares.length === 0) return { releaseId: '(none)', error: 'the public name has no weighted record' };
  const share = pickShare(shares, draw);
  let reply: HttpReply;
  try {
    reply = await httpJson({
      baseUrl: await sut.baseUrlOf(share.dnsName),
      method: 'PUT',
      path: `/products/${write.productId}`,
      body: productBody(write.productId, write.rev),
      ...(write.ifMatch !== undefined ? { ifMatch: write.ifMatch } : {}),
      timeoutMs: 15_000,
    });
  } catch (e) {
    return { releaseId: share.releaseId, error: (e as Error).message };
  }
  return { releaseId: share.releaseId, status: reply.status, ...(reply.etag !== undefined ? { etag: reply.etag } : {}) };
}

/** GET /products/:id from one release's app: its `rev`, null when 404. */
export async function readRev(baseUrl: string, productId: string): Promise<number | null> {
  const reply = await httpJson({ baseUrl, method: 'GET', path: `/products/${productId}`, timeoutMs: 10_000 });
  if (reply.status === 404) return null;
  if (reply.status !== 200) throw new Error(`GET /products/${productId} on ${baseUrl} answered ${reply.status}: ${reply.text.slice(0, 200)}`);
  return (reply.json as { rev?: number }).rev ?? -1;
}
