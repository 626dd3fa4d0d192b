/**
 * Coalesces calls made at about the same time into one: every `submit` made while the event loop
 * runs one turn (the lanes of a batch, each awaiting its own step in microtasks) is handed to the
 * `run` function together when the loop next turns (setImmediate), as BatchingMigrationContext does
 * for reads of the source. Each caller still awaits its own answer, so a lane's steps keep their
 * order; only the transport is shared. DynamoDB Local (and the SDK) spend most of their time per
 * call, not per item: 30 conditional puts in one TransactWriteItems cost about one call.
 */
export class MicroBatcher<I, O> {
  private queue: Array<{ readonly input: I; readonly resolve: (out: O) => void; readonly reject: (err: unknown) => void }> = [];
  private scheduled = false;

  /**
   * @param run answers a group of inputs, one output per input in input order; a rejection
   *   rejects every caller of the group
   */
  public constructor(private readonly run: (inputs: readonly I[]) => Promise<readonly O[]>) {}

  public submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queue;
    this.queue = [];
    let answer: Promise<readonly O[]>;
    try {
      answer = this.run(group.map((g) => g.input));
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (outputs) => group.forEach((g, i) => g.resolve(outputs[i]!)),
      (err: unknown) => group.forEach((g) => g.reject(err)),
    );
  }
}
