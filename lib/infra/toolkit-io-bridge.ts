import type { IIoHost, IoMessage as ToolkitMessage, IoRequest as ToolkitRequest } from '@aws-cdk/toolkit-lib';
import { IO, type IoHost } from '../io';

/**
 * Routes the CDK toolkit's messages into our IoHost. The toolkit's chatter (synthesis times,
 * stack events) becomes debug; its warnings and errors keep their level. Each relayed message
 * carries the toolkit's own code in `data.toolkitCode`.
 *
 * The orchestrator never runs interactively inside the toolkit: every question it asks
 * (approve security changes, confirm destroy) gets the toolkit's default answer, and the
 * callers pass options (`requireApproval: never`) that make those defaults the intended ones.
 */
export class ToolkitIoBridge implements IIoHost {
  public constructor(private readonly ioHost: IoHost) {}

  public async notify(msg: ToolkitMessage<unknown>): Promise<void> {
    const data = { toolkitCode: msg.code };
    const text = stripAnsi(msg.message);
    // A destroy whose stack vanished between two polls of its events (moto always does this) is
    // reported by the toolkit as an error; StackDeployer.destroy checks the outcome itself and
    // says what it found, so this one line is demoted to debug rather than shown as a failure.
    const level = (msg.level === 'error' && STACK_GONE.test(text)) || (msg.level === 'warn' && NOT_OURS.test(text)) ? 'debug' : msg.level;
    switch (level) {
      case 'error':
        IO.INFRA_E1902.emit(this.ioHost, text, data);
        return;
      case 'warn':
        IO.INFRA_W1901.emit(this.ioHost, text, data);
        return;
      default:
        IO.INFRA_D1900.emit(this.ioHost, text, data);
    }
  }

  public async requestResponse<T>(msg: ToolkitRequest<unknown, T>): Promise<T> {
    await this.notify(msg);
    return msg.defaultResponse;
  }
}

const STACK_GONE = /destroy failed .*Stack with id \S+ does not exist/;

/**
 * Toolkit warnings that speak of the CDK CLI's flags and prompts, which stackshift does not have:
 * the bootstrap's default execution policy, and the approval prompt of a diff that broadens
 * permissions (`plan` lists the changed resources itself).
 */
const NOT_OURS = /Pass '--cloudformation-execution-policies' to customize|Please confirm you intend to make the following modifications/;

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}
