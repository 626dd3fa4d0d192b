import type { IoHost, IoLevel, IoMessage, IoProgress } from './io-host';

/**
 * The message code registry. Codes are `<AREA>_<L><NNNN>` where L is the level letter
 * (I info, W warn, E error, D debug, T trace), as in the CDK toolkit. A code never changes meaning.
 */
export interface MessageSpec<T> {
  readonly code: string;
  readonly level: IoLevel;
  readonly description: string;
  /** Build a message of this code. */
  msg(message: string, data?: T, progress?: IoProgress): IoMessage<T>;
  /** Build and send it in one go. */
  emit(host: IoHost, message: string, data?: T, progress?: IoProgress): void;
}

function make<T = undefined>(level: IoLevel) {
  return (code: string, description: string): MessageSpec<T> => {
    const spec: MessageSpec<T> = {
      code,
      level,
      description,
      msg: (message, data, progress) => ({ time: new Date(), level, code, message, data, progress }),
      emit: (host, message, data, progress) => host.notify(spec.msg(message, data, progress)),
    };
    return spec;
  };
}

const info = <T = undefined>(code: string, d: string) => make<T>('info')(code, d);
const warn = <T = undefined>(code: string, d: string) => make<T>('warn')(code, d);
const error = <T = undefined>(code: string, d: string) => make<T>('error')(code, d);
const debug = <T = undefined>(code: string, d: string) => make<T>('debug')(code, d);

export const IO = {
  // local AWS (lib/local)
  LOCAL_I0001: info<{ service: string; endpoint: string; pid: number }>('LOCAL_I0001', 'an emulator was started and answered'),
  LOCAL_I0002: info<{ service: string; endpoint: string; pid: number }>('LOCAL_I0002', 'an emulator already running was reused'),
  LOCAL_I0003: info<{ service: string; pid: number }>('LOCAL_I0003', 'an emulator this tool started was stopped'),
  LOCAL_W0001: warn<{ service: string; pid: number }>('LOCAL_W0001', 'a recorded emulator was not running any more and was forgotten'),
  LOCAL_I0004: info<{ stateFile: string }>('LOCAL_I0004', 'nothing to stop: no running local AWS was recorded'),
  LOCAL_W0002: warn<{ service: string; pid: number }>('LOCAL_W0002', 'an emulator did not stop on SIGTERM within the grace period and was killed'),
  LOCAL_W0003: warn<{ service: string; pid: number }>('LOCAL_W0003', 'a recorded emulator was running but did not answer, and was stopped'),
  LOCAL_D0001: debug<{ service: string; pid: number; logFile: string }>('LOCAL_D0001', 'an emulator process was launched and is being waited for'),

  // infrastructure (lib/infra)
  INFRA_I1000: info<{ stacks: string[] }>('INFRA_I1000', 'deploy started'),
  INFRA_I1001: info<{ stack: string; outputs: Record<string, string> }>('INFRA_I1001', 'a stack was deployed'),
  INFRA_I1002: info<{ stacks: string[] }>('INFRA_I1002', 'stacks were destroyed'),
  INFRA_I1003: info<{ stack: string; changes: number }>('INFRA_I1003', 'stack diff computed'),
  INFRA_I1004: info<{ environment: string }>('INFRA_I1004', 'environment bootstrapped'),
  INFRA_I1005: info<{ table: string; action: 'created' | 'deleted' | 'exists' }>('INFRA_I1005', 'a table of a stack was reconciled by the local target'),
  INFRA_D1900: debug<{ toolkitCode?: string }>('INFRA_D1900', 'a message relayed from the CDK toolkit'),
  INFRA_W1901: warn<{ toolkitCode?: string }>('INFRA_W1901', 'a warning relayed from the CDK toolkit'),
  INFRA_E1902: error<{ toolkitCode?: string }>('INFRA_E1902', 'an error relayed from the CDK toolkit'),

  // CLI
  CLI_E9000: error<{ code: string }>('CLI_E9000', 'a command failed'),
} as const;

export type MessageCode = keyof typeof IO;
