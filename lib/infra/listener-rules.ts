/**
 * How an Application Load Balancer listener picks the action for a request, from the rules the
 * ELBv2 API describes: the rule with the lowest priority whose conditions all match, else the
 * default rule. Only what the local load balancer needs to stand in for an ALB: the conditions
 * `http-request-method`, `path-pattern` and `host-header`, and the actions `fixed-response`,
 * `redirect` and `forward` (to the release's app, the only target a release stack has).
 */
import type { Action, Rule, RuleCondition } from '@aws-sdk/client-elastic-load-balancing-v2';

export interface ListenerRequest {
  readonly method: string;
  /** The path, starting with `/`, without the query. */
  readonly path: string;
  /** The query without its `?`; '' when none. */
  readonly query: string;
  /** The Host header without its port. */
  readonly host: string;
  /** The listener's port (the default of `#{port}`). */
  readonly port: number;
}

export type ListenerAnswer =
  | { readonly kind: 'fixed-response'; readonly status: number; readonly contentType: string; readonly body: string }
  | { readonly kind: 'redirect'; readonly status: 301 | 302; readonly location: string }
  | { readonly kind: 'forward' };

/** What the listener does with `request`. A rule with a condition this model does not know never matches. */
export function answerFor(rules: readonly Rule[], request: ListenerRequest): ListenerAnswer {
  const ordered = [...rules].filter((r) => !r.IsDefault).sort((a, b) => Number(a.Priority) - Number(b.Priority));
  const rule = ordered.find((r) => (r.Conditions ?? []).every((c) => conditionMatches(c, request))) ?? rules.find((r) => r.IsDefault);
  const action = [...(rule?.Actions ?? [])].sort((a, b) => (a.Order ?? 0) - (b.Order ?? 0)).at(-1);
  return action ? answerOf(action, request) : { kind: 'forward' };
}

function conditionMatches(condition: RuleCondition, request: ListenerRequest): boolean {
  switch (condition.Field) {
    case 'http-request-method':
      return valuesOf(condition, condition.HttpRequestMethodConfig?.Values).includes(request.method.toUpperCase());
    case 'path-pattern':
      return valuesOf(condition, condition.PathPatternConfig?.Values).some((p) => globMatches(p, request.path, true));
    case 'host-header':
      return valuesOf(condition, condition.HostHeaderConfig?.Values).some((p) => globMatches(p, request.host, false));
    default:
      return false;
  }
}

/** A condition's values: its config's, or the older top-level `Values`. */
function valuesOf(condition: RuleCondition, configValues: readonly string[] | undefined): string[] {
  return [...(configValues ?? condition.Values ?? [])];
}

/** ALB patterns: `*` any characters, `?` one; paths are case-sensitive, host names are not. */
export function globMatches(pattern: string, text: string, caseSensitive: boolean): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, caseSensitive ? '' : 'i').test(text);
}

function answerOf(action: Action, request: ListenerRequest): ListenerAnswer {
  if (action.Type === 'fixed-response') {
    const c = action.FixedResponseConfig;
    return { kind: 'fixed-response', status: Number(c?.StatusCode ?? 503), contentType: c?.ContentType ?? 'text/plain', body: c?.MessageBody ?? '' };
  }
  if (action.Type === 'redirect') {
    const c = action.RedirectConfig;
    return { kind: 'redirect', status: c?.StatusCode === 'HTTP_301' ? 301 : 302, location: redirectLocation(c ?? {}, request) };
  }
  return { kind: 'forward' };
}

/**
 * The Location of a redirect: each part of the config, with the placeholders `#{protocol}`,
 * `#{host}`, `#{port}`, `#{path}` (without its leading `/`) and `#{query}` taken from the request.
 */
export function redirectLocation(
  config: { readonly Protocol?: string; readonly Host?: string; readonly Port?: string; readonly Path?: string; readonly Query?: string },
  request: ListenerRequest,
): string {
  const fill = (template: string | undefined, fallback: string) =>
    (template ?? fallback)
      .replace(/#\{protocol\}/g, 'http')
      .replace(/#\{host\}/g, request.host)
      .replace(/#\{port\}/g, String(request.port))
      .replace(/#\{path\}/g, request.path.replace(/^\//, ''))
      .replace(/#\{query\}/g, request.query);
  const protocol = fill(config.Protocol, '#{protocol}').toLowerCase();
  const port = fill(config.Port, '#{port}');
  const defaultPort = protocol === 'https' ? '443' : '80';
  const query = fill(config.Query, '#{query}');
  const pathPart = fill(config.Path, '/#{path}');
  return `${protocol}://${fill(config.Host, '#{host}')}${port === defaultPort ? '' : `:${port}`}${pathPart.startsWith('/') ? pathPart : `/${pathPart}`}${query ? `?${query}` : ''}`;
}
