import type { IoHost, IoLevel } from './io-host';
import { JsonLinesIoHost } from './json-lines-host';
import { TtyIoHost } from './tty-host';

export * from './io-host';
export * from './messages';
export { JsonLinesIoHost } from './json-lines-host';
export { TtyIoHost } from './tty-host';
export { RecordingIoHost } from './recording-host';

export interface DefaultIoHostProps {
  /** Force JSON lines even on a terminal. @default false */
  readonly json?: boolean;
  /** @default 'info' */
  readonly level?: IoLevel;
}

/** Progress bars on a TTY, JSON lines otherwise. */
export function defaultIoHost(props: DefaultIoHostProps = {}): IoHost {
  const tty = Boolean(process.stderr.isTTY) && !props.json;
  return tty ? new TtyIoHost({ level: props.level }) : new JsonLinesIoHost({ level: props.level });
}
