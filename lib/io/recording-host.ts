import type { IoHost, IoMessage } from './io-host';

/** Keeps every message: tests assert on codes, never on text. */
export class RecordingIoHost implements IoHost {
  public readonly messages: IoMessage[] = [];

  public notify(msg: IoMessage): void {
    this.messages.push(msg);
  }

  public codes(): string[] {
    return this.messages.map((m) => m.code);
  }

  public withCode<T = unknown>(code: string): IoMessage<T>[] {
    return this.messages.filter((m) => m.code === code) as IoMessage<T>[];
  }
}
