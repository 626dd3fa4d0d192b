/**
 * One error base for the whole tool. `source` tells the top-level catch how to report it:
 * a `user` error is one clear line and exit 1 (bad input, nothing changed); a `tool` error is
 * our fault or the platform's, printed with its stack and how to report it (exit 2).
 */
const ERROR_BRAND = Symbol.for('stackshift.ReleaseError');

export type ErrorSource = 'user' | 'tool';

export interface ReleaseErrorOptions {
  /** What the user can do about it, appended to the message. @default - no hint */
  readonly fix?: string;
  /** The underlying error. @default - none */
  readonly cause?: unknown;
}

export class ReleaseError extends Error {
  /** Brand check that survives duplicate module copies (unlike `instanceof`). */
  public static isReleaseError(x: unknown): x is ReleaseError {
    return typeof x === 'object' && x !== null && ERROR_BRAND in x;
  }

  public static isUserError(x: unknown): x is ReleaseError {
    return ReleaseError.isReleaseError(x) && x.source === 'user';
  }

  public readonly code: string;
  public readonly source: ErrorSource;
  public readonly fix?: string;

  public constructor(code: string, source: ErrorSource, message: string, options: ReleaseErrorOptions = {}) {
    super(options.fix ? `${message}: ${options.fix}` : message, { cause: options.cause });
    Object.defineProperty(this, ERROR_BRAND, { value: true });
    this.name = source === 'user' ? 'UserError' : 'ToolError';
    this.code = code;
    this.source = source;
    this.fix = options.fix;
  }
}

/** Bad input or a refused request: what is wrong, the bad value, and the fix. */
export function userError(code: string, message: string, options?: ReleaseErrorOptions): ReleaseError {
  return new ReleaseError(code, 'user', message, options);
}

/** Something failed that the user did not cause (a platform call, a broken invariant). */
export function toolError(code: string, message: string, options?: ReleaseErrorOptions): ReleaseError {
  return new ReleaseError(code, 'tool', message, options);
}

/** Exit codes the CLI maps errors to. */
export const EXIT = { ok: 0, user: 1, tool: 2 } as const;

export function exitCodeFor(err: unknown): number {
  return ReleaseError.isUserError(err) ? EXIT.user : EXIT.tool;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
