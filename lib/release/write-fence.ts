/**
 * The write fence: during a cut-over exactly one stack takes writes. It is one or two rules on a
 * release's load balancer listener, at priorities 1 and 2, matching the write methods, so writes
 * never reach the app while reads are served as before:
 *
 * - `hold`: the load balancer answers 503 itself (the write was not made, so a retry is safe). ALB
 *   fixed responses carry no headers, so the body says when to retry (`retryAfterMs`).
 * - `redirect`: PUT, PATCH and DELETE get a 302 to the release that takes writes now, by its own
 *   load balancer name (clients keep those methods on a 302; clients that cached the old DNS answer
 *   follow it). POST stays held: clients turn a POST into a GET on a 302 (ALB has no 307), and a
 *   held POST sent again reaches the new stack once the client's DNS answer expires.
 * - `open`: no rule: the app takes writes.
 *
 * The engine writes the rules through the ELBv2 API, and counts them in force only once probes
 * through the release's own endpoint get their answers: load balancers apply rule changes within
 * seconds, not at once.
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
import { RELEASE_OUTPUTS } from '../../stacks/stack-names';
import type { ReleaseEngine } from './engine';

/** The listener rule priorities stackshift keeps for its fence; a team's own rules must not use them. */
export const FENCE_RULE_PRIORITIES = [1, 2] as const;
/** The code in the body of a held write's 503. */
export const WRITES_FENCED = 'WRITES_FENCED';
/** What a client waits before it sends a held write again: the load balancer answers it, not the app, so often is cheap. */
export const FENCE_RETRY_AFTER_MS = 100;
/** The methods that write. A team's app that writes on GET is outside what a fence can hold. */
export const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;
/** The write methods clients send again unchanged to a 302's Location. */
const REDIRECTABLE_METHODS = ['PUT', 'PATCH', 'DELETE'] as const;
/** The path of the probes: a write method on it meets the fence, or the app (which answers what it will, and should write nothing). */
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
 * Puts `fence` on `record`'s load balancer and waits until it is in force (probes through the
 * release's endpoint get its answers). Idempotent.
 */
export async function setWriteFence(engine: ReleaseEngine, record: ReleaseRecord, fence: WriteFence): Promise<void> {
  const listenerArn = await listenerOf(engine, record);
  const current = new Map<number, string>();
  for (const rule of (await engine.elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? []) {
    if (rule.RuleArn && FENCE_RULE_PRIORITIES.some((p) => String(p) === rule.Priority)) current.set(Number(rule.Priority), rule.RuleArn);
  }
  const nonce = randomUUID();
  const wanted = rulesOf(record, fence, nonce);
  // Never a moment that lets through a write that both the old and the new rules hold: the POST
  // hold goes on before rule 1 narrows to a redirect, and comes off after rule 1 widens to a hold.
  for (const priority of wanted.has(2) ? [2, 1] : [1, 2]) {
    const rule = wanted.get(priority);
    const arn = current.get(priority);
    if (!rule) {
      if (arn) await engine.elbv2.send(new DeleteRuleCommand({ RuleArn: arn }));
    } else if (arn) {
      await engine.elbv2.send(new ModifyRuleCommand({ RuleArn: arn, Conditions: rule.conditions, Actions: [rule.action] }));
    } else {
      await engine.elbv2.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: priority, Conditions: rule.conditions, Actions: [rule.action] }));
    }
  }
  await probeUntil(engine, record, fence, nonce);
}

/** What a release's load balancer does with writes now: `held`, `redirected`, or `open` (the app takes them). */
export type WritesState = 'open' | 'held' | 'redirected';

/** Reads the fence on `record`'s load balancer (what its listener rules say, not what a probe saw). */
export async function readWriteFence(engine: ReleaseEngine, record: ReleaseRecord): Promise<WritesState> {
  const listenerArn = await listenerOf(engine, record);
  const rules = (await engine.elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? [];
  const first = rules.find((r) => r.Priority === String(FENCE_RULE_PRIORITIES[0]));
  const type = first?.Actions?.[0]?.Type;
  return type === 'fixed-response' ? 'held' : type === 'redirect' ? 'redirected' : 'open';
}

interface FenceRule {
  readonly conditions: RuleCondition[];
  readonly action: Action;
}

/** The fence's listener rules by priority. */
function rulesOf(record: ReleaseRecord, fence: WriteFence, nonce: string): Map<number, FenceRule> {
  const methods = (values: readonly string[]): RuleCondition[] => [{ Field: 'http-request-method', HttpRequestMethodConfig: { Values: [...values] } }];
  const body: FencedBody = { code: WRITES_FENCED, releaseId: record.releaseId, retryAfterMs: FENCE_RETRY_AFTER_MS, fence: nonce };
  const hold: Action = { Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '503', ContentType: 'application/json', MessageBody: JSON.stringify(body) } };
  if (fence.kind === 'open') return new Map();
  if (fence.kind === 'hold') return new Map([[1, { conditions: methods(WRITE_METHODS), action: hold }]]);
  const redirect: Action = {
    Type: 'redirect',
    Order: 1,
    RedirectConfig: { StatusCode: 'HTTP_302', Protocol: 'HTTP', Host: fence.toDnsName.replace(/\.$/, ''), Port: '80', Path: '/#{path}', Query: '#{query}' },
  };
  return new Map([
    [1, { conditions: methods(REDIRECTABLE_METHODS), action: redirect }],
    [2, { conditions: methods(['POST']), action: hold }],
  ]);
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

/** Sends probe writes (a DELETE and a POST) until the release's endpoint answers both as `fence` says. */
async function probeUntil(engine: ReleaseEngine, record: ReleaseRecord, fence: WriteFence, nonce: string): Promise<void> {
  const baseUrl = await engine.baseUrlOf(record);
  const deadline = engine.clock() + PROBE_TIMEOUT_MS;
  let last: string;
  for (;;) {
    try {
      const replies = await Promise.all(PROBE_METHODS.map((method) => probe(baseUrl, method)));
      last = replies.map((r, i) => `${PROBE_METHODS[i]}: ${r.status} ${r.location ?? r.body.slice(0, 80)}`).join('; ');
      if (replies.every((r, i) => answers(PROBE_METHODS[i]!, r, fence, nonce))) return;
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

const PROBE_METHODS = ['DELETE', 'POST'] as const;

function answers(method: (typeof PROBE_METHODS)[number], reply: ProbeReply, fence: WriteFence, nonce: string): boolean {
  const held = reply.status === 503 && fencedBodyOf(reply.body)?.fence === nonce;
  if (fence.kind === 'hold' || (fence.kind === 'redirect' && method === 'POST')) return held;
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

function probe(baseUrl: string, method: string): Promise<ProbeReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(PROBE_PATH, baseUrl), { method, agent: false, timeout: 2000 }, (res) => {
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
