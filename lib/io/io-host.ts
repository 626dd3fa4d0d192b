/**
 * The one channel the engine reports through. Every step emits coded messages; the host decides
 * how they look (TTY progress, JSON lines for CI, a recording for tests). Nothing in lib/ writes
 * to the console directly.
 */
export type IoLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

export const LEVEL_ORDER: Record<IoLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

/** Progress of a long step, attached to a message when there is something to count. */
export interface IoProgress {
  /** What is being counted, e.g. a table name. */
  readonly task: string;
  readonly done: number;
  /** @default - unknown */
  readonly total?: number;
  /** Units per second over the recent window. @default - unknown */
  readonly rate?: number;
  /** Set on the last progress message of a task. @default false */
  readonly finished?: boolean;
}

export interface IoMessage<T = unknown> {
  readonly time: Date;
  readonly level: IoLevel;
  /** Stable code from the registry in messages.ts: tests and tools match on it, never on text. */
  readonly code: string;
  readonly message: string;
  readonly data?: T;
  readonly progress?: IoProgress;
}

export interface IoHost {
  notify(msg: IoMessage): void;
}

/** Helper so callers can pass `undefined` and still report nowhere. */
export const silentIoHost: IoHost = { notify: () => undefined };
