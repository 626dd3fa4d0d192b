import type { IoHost, IoLevel } from './io-host';
import { JsonLinesIoHost } from './json-lines-host';
import { PlainLinesIoHost } from './plain-lines-host';
import { TtyIoHost } from './tty-host';

export * from './io-host';
export * from './messages';
export { JsonLinesIoHost } from './json-lines-host';
export { TtyIoHost } from './tty-host';
export { PlainLinesIoHost } from './plain-lines-host';
export { RecordingIoHost } from './recording-host';

export interface DefaultIoHostProps {
  /** Force JSON lines even on a terminal. @default false */
  readonly json?: boolean;
  /** @default 'info' */
  readonly level?: IoLevel;
}

/** JSON lines when asked (--json); else progress bars on a terminal, plain lines anywhere else. */
export function defaultIoHost(props: DefaultIoHostProps = {}): IoHost {
  if (props.json) return new JsonLinesIoHost({ level: props.level });
  return process.stderr.isTTY ? new TtyIoHost({ level: props.level }) : new PlainLinesIoHost({ level: props.level });
}
