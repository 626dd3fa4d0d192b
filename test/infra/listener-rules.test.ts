import type { Rule } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describe, expect, it } from 'vitest';
import { answerFor, globMatches, redirectLocation, type ListenerRequest } from '../../lib/infra/listener-rules';

const request = (over: Partial<ListenerRequest> = {}): ListenerRequest => ({ method: 'GET', path: '/products/p-1', query: '', host: 'a.elb.amazonaws.com', port: 80, ...over });

const defaultRule: Rule = { IsDefault: true, Priority: 'default', Conditions: [], Actions: [{ Type: 'forward', TargetGroupArn: 'tg' }] };
const held: Rule = {
  Priority: '1',
  Conditions: [{ Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['POST', 'PUT', 'PATCH', 'DELETE'] } }],
  Actions: [{ Type: 'fixed-response', Order: 1, FixedResponseConfig: { StatusCode: '503', ContentType: 'application/json', MessageBody: '{"code":"WRITES_FENCED"}' } }],
};

describe('listener rules as an ALB applies them', () => {
  it('takes the matching rule of lowest priority, else the default', () => {
    const moved: Rule = {
      Priority: '5',
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/products/*'] } }],
      Actions: [{ Type: 'redirect', RedirectConfig: { StatusCode: 'HTTP_301', Host: 'b.elb.amazonaws.com', Path: '/#{path}', Query: '#{query}' } }],
    };
    // Listed out of order: priority decides, not the order ELBv2 returns them in.
    const rules = [moved, defaultRule, held];
    expect(answerFor(rules, request({ method: 'put' }))).toEqual({ kind: 'fixed-response', status: 503, contentType: 'application/json', body: '{"code":"WRITES_FENCED"}' });
    expect(answerFor(rules, request({ query: 'x=1' }))).toEqual({ kind: 'redirect', status: 301, location: 'http://b.elb.amazonaws.com/products/p-1?x=1' });
    expect(answerFor(rules, request({ path: '/health' }))).toEqual({ kind: 'forward' });
    expect(answerFor([], request())).toEqual({ kind: 'forward' });
  });

  it('never matches a rule on a condition it does not model', () => {
    const unknown: Rule = { Priority: '1', Conditions: [{ Field: 'source-ip', SourceIpConfig: { Values: ['0.0.0.0/0'] } }], Actions: held.Actions };
    expect(answerFor([unknown, defaultRule], request({ method: 'POST' }))).toEqual({ kind: 'forward' });
  });

  it('reads the older top-level Values of a condition', () => {
    const old: Rule = { Priority: '2', Conditions: [{ Field: 'path-pattern', Values: ['/admin*'] }], Actions: held.Actions };
    expect(answerFor([old, defaultRule], request({ path: '/admin/x' })).kind).toBe('fixed-response');
    expect(answerFor([old, defaultRule], request({ path: '/products' })).kind).toBe('forward');
  });

  it('matches * and ? like ALB patterns: paths case-sensitively, hosts not', () => {
    expect(globMatches('/a/*', '/a/b/c', true)).toBe(true);
    expect(globMatches('/a/?', '/a/bc', true)).toBe(false);
    expect(globMatches('/A/*', '/a/b', true)).toBe(false);
    expect(globMatches('*.ELB.amazonaws.com', 'x.elb.amazonaws.com', false)).toBe(true);
    expect(globMatches('/a.b', '/aXb', true)).toBe(false);
  });

  it('fills the redirect placeholders from the request, leaving out the default port', () => {
    const r = request({ path: '/orders', query: 'a=1&b=2', host: 'old.elb.amazonaws.com' });
    expect(redirectLocation({ Protocol: 'HTTP', Host: 'new.elb.amazonaws.com', Port: '80', Path: '/#{path}', Query: '#{query}' }, r)).toBe('http://new.elb.amazonaws.com/orders?a=1&b=2');
    expect(redirectLocation({ Port: '8080' }, r)).toBe('http://old.elb.amazonaws.com:8080/orders?a=1&b=2');
    expect(redirectLocation({ Host: 'n', Path: '/v2/#{path}', Query: '' }, r)).toBe('http://n/v2/orders');
  });
});
