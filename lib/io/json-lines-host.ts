import type { Writable } from 'node:stream';
import { LEVEL_ORDER, type IoHost, type IoLevel, type IoMessage } from './io-host';

export interface JsonLinesIoHostProps {
  /** Where lines go. @default process.stderr */
  readonly stream?: Writable;
  /** Most verbose level written. @default 'info' */
  readonly level?: IoLevel;
}

/** One JSON object per line: for CI logs and machines. */
export class JsonLinesIoHost implements IoHost {
  private readonly stream: Writable;
  private readonly level: IoLevel;

  public constructor(props: JsonLinesIoHostProps = {}) {
    this.stream = props.stream ?? process.stderr;
    this.level = props.level ?? 'info';
  }

  public notify(msg: IoMessage): void {
    if (LEVEL_ORDER[msg.level] > LEVEL_ORDER[this.level]) return;
    this.stream.write(
      JSON.stringify({
        time: msg.time.toISOString(),
        level: msg.level,
        code: msg.code,
        message: msg.message,
        ...(msg.data !== undefined ? { data: msg.data } : {}),
        ...(msg.progress ? { progress: msg.progress } : {}),
      }) + '\n',
    );
  }
}
