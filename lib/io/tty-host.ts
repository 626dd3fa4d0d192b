import type { Writable } from 'node:stream';
import { LEVEL_ORDER, type IoHost, type IoLevel, type IoMessage, type IoProgress } from './io-host';

export interface TtyIoHostProps {
  /** The terminal. @default process.stderr */
  readonly stream?: Writable & { columns?: number };
  /** Most verbose level shown. @default 'info' */
  readonly level?: IoLevel;
}

const BAR_WIDTH = 28;

/** Human output: one line per message, and a live progress bar redrawn in place. */
export class TtyIoHost implements IoHost {
  private readonly stream: Writable & { columns?: number };
  private readonly level: IoLevel;
  private barShown = false;

  public constructor(props: TtyIoHostProps = {}) {
    this.stream = props.stream ?? process.stderr;
    this.level = props.level ?? 'info';
  }

  public notify(msg: IoMessage): void {
    if (LEVEL_ORDER[msg.level] > LEVEL_ORDER[this.level]) return;
    if (msg.progress && !msg.progress.finished) {
      this.drawBar(msg.progress);
      return;
    }
    this.clearBar();
    const prefix = msg.level === 'error' ? 'error: ' : msg.level === 'warn' ? 'warning: ' : '';
    this.stream.write(`${prefix}${msg.message}\n`);
  }

  private drawBar(p: IoProgress): void {
    const fraction = p.total ? Math.min(1, p.done / p.total) : 0;
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = p.total ? `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0)}%` : '';
    const rate = p.rate !== undefined ? ` ${Math.round(p.rate)}/s` : '';
    const eta = p.total && p.rate ? ` eta ${Math.max(0, Math.round((p.total - p.done) / p.rate))}s` : '';
    const line = `${p.task} ${bar} ${p.done}${p.total ? `/${p.total}` : ''}${rate}${eta}`;
    const width = this.stream.columns ?? 100;
    this.stream.write(`\r${line.slice(0, width - 1).padEnd(Math.min(width - 1, line.length))}\x1b[K`);
    this.barShown = true;
  }

  private clearBar(): void {
    if (!this.barShown) return;
    this.stream.write('\r\x1b[K');
    this.barShown = false;
  }
}
