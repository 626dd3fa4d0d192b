import type { Writable } from 'node:stream';
import { LEVEL_ORDER, type IoHost, type IoLevel, type IoMessage } from './io-host';

export interface PlainLinesIoHostProps {
  /** Where lines go. @default process.stderr */
  readonly stream?: Writable;
  /** Most verbose level written. @default 'info' */
  readonly level?: IoLevel;
  /** A task's progress is written at most this often (and when it finishes). @default 15_000 ms */
  readonly progressEveryMs?: number;
}

/**
 * Plain lines for a log that no terminal redraws (CI, a pipe), as the CDK CLI writes there: no JSON,
 * no bars; a long task's progress as an occasional line.
 */
export class PlainLinesIoHost implements IoHost {
  private readonly stream: Writable;
  private readonly level: IoLevel;
  private readonly progressEveryMs: number;
  private readonly lastProgress = new Map<string, number>();

  public constructor(props: PlainLinesIoHostProps = {}) {
    this.stream = props.stream ?? process.stderr;
    this.level = props.level ?? 'info';
    this.progressEveryMs = props.progressEveryMs ?? 15_000;
  }

  public notify(msg: IoMessage): void {
    if (LEVEL_ORDER[msg.level] > LEVEL_ORDER[this.level]) return;
    const p = msg.progress;
    if (p && !p.finished) {
      const now = msg.time.getTime();
      if (now - (this.lastProgress.get(p.task) ?? -Infinity) < this.progressEveryMs) return;
      this.lastProgress.set(p.task, now);
      const share = p.total ? ` (${Math.floor((p.done / p.total) * 100)} %)` : '';
      this.stream.write(`${p.task}: ${p.done}${p.total ? ` of ${p.total}` : ''}${share}${p.rate !== undefined ? `, ${Math.round(p.rate)}/s` : ''}\n`);
      return;
    }
    if (p) this.lastProgress.delete(p.task);
    const prefix = msg.level === 'error' ? 'error: ' : msg.level === 'warn' ? 'warning: ' : '';
    this.stream.write(`${prefix}${msg.message}\n`);
  }
}
