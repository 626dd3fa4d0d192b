/**
 * The write fence: during a cut-over exactly one stack takes writes. It is one rule on a release's
 * load balancer listener, at priority 1, matching the write methods, so writes never reach the app
 * while reads are served as before:
 *
 * - `hold`: the load balancer answers 503 itself (the write was not made, so a retry is safe). ALB
 *   fixed responses carry no headers, so the body says when to retry (`retryAfterMs`).
 * - `redirect`: a 302 to the release that takes writes now, by its own load balancer name (302
 *   keeps PUT, PATCH and DELETE; clients that cached the old DNS answer follow it).
 * - `open`: no rule: the app takes writes.
 *
 * The engine writes the rule through the ELBv2 API, and counts it in force only once a probe through
 * the release's own endpoint gets the rule's answer: load balancers apply rule changes within seconds,
 * not at once.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DescribeListenersCommand,
  DescribeRulesCommand,
  ModifyRuleCommand,
  type Action,
  type RuleCondition,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { toolError, userError } from '../errors';
import type { ReleaseRecord } from '../ledger/release-records';
import { RELEASE_OUTPUTS } from '../../stacks/release-stack';
import type { ReleaseEngine } from './engine';

/** The listener rule priority stackshift keeps for its fence; a team's own rules must not use it. */
export const FENCE_RULE_PRIORITY = '1';
/** The code in the body of a held write's 503. */
export const WRITES_FENCED = 'WRITES_FENCED';
/** What a client waits before it sends a held write again. */
export const FENCE_RETRY_AFTER_MS = 250;
/** The methods that write. A team's app that writes on GET is outside what a fence can hold. */
export const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;
/** The path of the probe: a write method on it meets the fence, or the app (which answers what it will). */
const PROBE_PATH = '/.well-known/stackshift/fence-probe';
const PROBE_TIMEOUT_MS = 30_000;
const PROBE_EVERY_MS = 25;

export type WriteFence = { readonly kind: 'hold' } | { readonly kind: 'redirect'; readonly toDnsName: string } | { readonly kind: 'open' };

/** What a held write's 503 says: code, release, and when to retry. */
export interface FencedBody {
  readonly code: typeof WRITES_FENCED;
  readonly releaseId: string;
  readonly retryAfterMs: number;
  /** Changes with every hold, so a probe tells this hold from an earlier one. */
  readonly fence: string;
}

/**
 * Puts `fence` on `record`'s load balancer and waits until it is in force (a probe through the
 * release's endpoint gets its answer). Idempotent.
 */
export async function setWriteFence(engine: ReleaseEngine, record: ReleaseRecord, fence: WriteFence): Promise<void> {
  const listenerArn = await listenerOf(engine, record);
  const rules = (await engine.elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? [];
  const current = rules.find((r) => r.Priority === FENCE_RULE_PRIORITY);
  if (fence.kind === 'open') {
    if (current?.RuleArn) await engine.elbv2.send(new DeleteRuleCommand({ RuleArn: current.RuleArn }));
    await probeUntil(engine, record, fence, '');
    return;
  }
  const nonce = randomUUID();
  const actions = [actionOf(record, fence, nonce)];
  const conditions: RuleCondition[] = [{ Field: 'http-request-method', HttpRequestMethodConfig: { Values: [...WRITE_METHODS] } }];
  if (current?.RuleArn) {
    await engine.elbv2.send(new ModifyRuleCommand({ RuleArn: current.RuleArn, Conditions: conditions, Actions: actions }));
  } else {
    await engine.elbv2.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: Number(FENCE_RULE_PRIORITY), Conditions: conditions, Actions: actions }));
  }
  await probeUntil(engine, record, fence, nonce);
}

function actionOf(record: ReleaseRecord, fence: Exclude<WriteFence, { kind: 'open' }>, nonce: string): Action {
  if (fence.kind === 'hold') {
    const body: FencedBody = { code: WRITES_FENCED, releaseId: record.releaseId, retryAfterMs: FENCE_RETRY_AFTER_MS, fence: nonce };
    return { Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '503', ContentType: 'application/json', MessageBody: JSON.stringify(body) } };
  }
  return {
    Type: 'redirect',
    Order: 1,
    RedirectConfig: { StatusCode: 'HTTP_302', Protocol: 'HTTP', Host: fence.toDnsName.replace(/\.$/, ''), Port: '80', Path: '/#{path}', Query: '#{query}' },
  };
}

/** The release's HTTP listener (port 80) on its load balancer. */
async function listenerOf(engine: ReleaseEngine, record: ReleaseRecord): Promise<string> {
  const albArn = record.checkpoints.stack?.outputs[RELEASE_OUTPUTS.albArn];
  if (!albArn) throw userError('RELEASE_INCOMPLETE', `release ${record.releaseId} has no deployed stack`, { fix: 'run `npm run release` for it again' });
  const listeners = (await engine.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: albArn }))).Listeners ?? [];
  const http80 = listeners.find((l) => l.Port === 80);
  if (!http80?.ListenerArn) throw toolError('FENCE_NO_LISTENER', `the load balancer of release ${record.releaseId} has no listener on port 80`);
  return http80.ListenerArn;
}

/** Sends the probe write until the release's endpoint answers as `fence` says. */
async function probeUntil(engine: ReleaseEngine, record: ReleaseRecord, fence: WriteFence, nonce: string): Promise<void> {
  const baseUrl = await engine.baseUrlOf(record);
  const deadline = engine.clock() + PROBE_TIMEOUT_MS;
  let last: string;
  for (;;) {
    try {
      const reply = await probe(baseUrl);
      last = `${reply.status} ${reply.location ?? reply.body.slice(0, 80)}`;
      if (answers(reply, fence, nonce)) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (engine.clock() > deadline) {
      throw toolError('FENCE_NOT_IN_FORCE', `the write fence (${fence.kind}) on release ${record.releaseId} was not in force within ${PROBE_TIMEOUT_MS / 1000} s (its endpoint answered: ${last})`);
    }
    await sleep(PROBE_EVERY_MS);
  }
}

interface ProbeReply {
  readonly status: number;
  readonly location?: string;
  readonly body: string;
}

function answers(reply: ProbeReply, fence: WriteFence, nonce: string): boolean {
  if (fence.kind === 'hold') return reply.status === 503 && fencedBodyOf(reply.body)?.fence === nonce;
  if (fence.kind === 'redirect') return reply.status === 302 && new URL(reply.location ?? 'http://invalid').hostname === fence.toDnsName.replace(/\.$/, '').toLowerCase();
  // Open: the app answered (anything but the fence's own answers).
  return !(reply.status === 503 && fencedBodyOf(reply.body)) && reply.status !== 302;
}

/** The fence's 503 body, when `text` is one. */
export function fencedBodyOf(text: string): FencedBody | undefined {
  try {
    const body = JSON.parse(text) as Partial<FencedBody>;
    return body && body.code === WRITES_FENCED && typeof body.retryAfterMs === 'number' ? (body as FencedBody) : undefined;
  } catch {
    return undefined;
  }
}

function probe(baseUrl: string): Promise<ProbeReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(PROBE_PATH, baseUrl), { method: 'DELETE', agent: false, timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', reject);
    req.end();
  });
}
