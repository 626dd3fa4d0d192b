import type { IoHost, IoLevel, IoMessage, IoProgress } from './io-host';

/**
 * The message code registry. Codes are `<AREA>_<L><NNNN>` where L is the level letter
 * (I info, W warn, E error, D debug, T trace), as in the CDK toolkit. A code never changes meaning,
 * and its number belongs to it alone, across every area: each area defines its codes next to its
 * code (lib/release/messages.ts, lib/dns/messages.ts, …), and every one is recorded here as it is
 * made, which refuses a second code of one number (test/io/messages.test.ts loads them all).
 *
 * Number ranges: 0xxx local AWS; 1xxx infrastructure (11xx the local fleet, 19xx the CDK toolkit);
 * 2xxx copy; 3xxx release orchestration (30xx syncs, 31xx steps and release, 32xx verify); 4xxx
 * redrive; 5xxx streams (51xx stream apply); 6xxx backward compatibility; 7xxx DNS; 8xxx bake and
 * artifacts; 9xxx the CLI (91xx the demo).
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

const LEVEL_LETTER: Readonly<Record<IoLevel, string>> = { error: 'E', warn: 'W', info: 'I', debug: 'D', trace: 'T' };
const CODE = /^[A-Z]+_([EWIDT])(\d{4})$/;
const byNumber = new Map<string, MessageSpec<unknown>>();

/** Every code made so far, in number order. */
export function registeredMessages(): readonly MessageSpec<unknown>[] {
  return [...byNumber.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, spec]) => spec);
}

export function make<T = undefined>(level: IoLevel) {
  return (code: string, description: string): MessageSpec<T> => {
    const m = CODE.exec(code);
    // a programming error, caught by the registry's test before any release runs
    if (!m || m[1] !== LEVEL_LETTER[level]) throw new Error(`message code ${code} is not <AREA>_${LEVEL_LETTER[level]}<4 digits> for level ${level}`);
    const taken = byNumber.get(m[2]!);
    if (taken && taken.code !== code) throw new Error(`message code ${code} reuses number ${m[2]} of ${taken.code}`);
    const spec: MessageSpec<T> = {
      code,
      level,
      description,
      msg: (message, data, progress) => ({ time: new Date(), level, code, message, data, progress }),
      emit: (host, message, data, progress) => host.notify(spec.msg(message, data, progress)),
    };
    byNumber.set(m[2]!, spec as MessageSpec<unknown>);
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
  LOCAL_W0007: warn<{ service: string; pid: number }>('LOCAL_W0007', 'a recorded emulator was not running any more and was forgotten'),
  LOCAL_I0004: info<{ stateFile: string }>('LOCAL_I0004', 'nothing to stop: no running local AWS was recorded'),
  LOCAL_W0008: warn<{ service: string; pid: number }>('LOCAL_W0008', 'an emulator did not stop on SIGTERM within the grace period and was killed'),
  LOCAL_W0009: warn<{ service: string; pid: number }>('LOCAL_W0009', 'a recorded emulator was running but did not answer, and was stopped'),
  LOCAL_D0010: debug<{ service: string; pid: number; logFile: string }>('LOCAL_D0010', 'an emulator process was launched and is being waited for'),
  LOCAL_I0005: info<{ java: string; moto: string; venv: string }>('LOCAL_I0005', 'the tools local AWS needs are in place'),
  LOCAL_I0006: info<{ venv: string; spec: string }>('LOCAL_I0006', 'moto server is being installed into the project venv'),

  // infrastructure (lib/infra)
  INFRA_I1000: info<{ stacks: string[] }>('INFRA_I1000', 'deploy started'),
  INFRA_I1001: info<{ stack: string; outputs: Record<string, string> }>('INFRA_I1001', 'a stack was deployed'),
  INFRA_I1002: info<{ stacks: string[] }>('INFRA_I1002', 'stacks were destroyed'),
  INFRA_I1003: info<{ stack: string; changes: number }>('INFRA_I1003', 'stack diff computed'),
  INFRA_I1004: info<{ environment: string }>('INFRA_I1004', 'environment bootstrapped'),
  INFRA_W1009: warn<{ attempt: number }>('INFRA_W1009', 'a bootstrap raced another process bootstrapping the same environment; it is tried again'),
  INFRA_I1005: info<{ table: string; action: 'created' | 'deleted' | 'exists' }>('INFRA_I1005', 'a table of a stack was reconciled by the local target'),
  INFRA_D1900: debug<{ toolkitCode?: string }>('INFRA_D1900', 'a message relayed from the CDK toolkit'),
  INFRA_W1901: warn<{ toolkitCode?: string }>('INFRA_W1901', 'a warning relayed from the CDK toolkit'),
  INFRA_E1902: error<{ toolkitCode?: string }>('INFRA_E1902', 'an error relayed from the CDK toolkit'),

  // CLI
  CLI_E9000: error<{ code: string }>('CLI_E9000', 'a command failed'),
} as const;



/** Data engine codes (lib/data): copy, verify, dead letters. */
export const DATA_IO = {
  COPY_I2000: info<{ jobId: string; totalSegments: number; sourceTable: string; targetTable: string; resumed: boolean }>('COPY_I2000', 'a copy job is ready to run'),
  COPY_I2001: info<CopyProgressData>('COPY_I2001', 'copy progress'),
  COPY_I2002: info<{ segment: number; itemsRead: number }>('COPY_I2002', 'a segment was copied to its end'),
  COPY_W2003: warn<{ segment: number }>('COPY_W2003', 'this worker lost a segment lease (another worker took it over); it stopped working on it'),
  COPY_E2004: error<{ segment: number; error: string }>('COPY_E2004', 'a segment failed; it will be retried until its attempts run out'),
  COPY_W2005: warn<{ sourceKey: string; code: string; error: string }>('COPY_W2005', 'a source item became a dead letter'),
  COPY_I2006: info<CopyResultData>('COPY_I2006', 'the copy finished'),
  COPY_I2007: info<{ segments: number[] }>('COPY_I2007', 'DEAD segments of an earlier run are retried from their last checkpoint'),
  VERIFY_I3200: info<VerifyResultData>('VERIFY_I3200', 'verify finished'),
  VERIFY_W3201: warn<{ kind: string; key: string; detail: string }>('VERIFY_W3201', 'a difference between source and target (after a consistent re-check)'),
  VERIFY_I3202: info<{ phase: 'forward' | 'reverse'; done: number }>('VERIFY_I3202', 'verify progress'),
  REDRIVE_I4000: info<{ retried: number; fixed: number; stillFailing: number; sourceGone: number }>('REDRIVE_I4000', 'dead letters were re-driven'),
  STREAM_I5000: info<{ streamArn: string; shards: number; readable: number; finished: number }>('STREAM_I5000', 'a stream reader started'),
  STREAM_I5001: info<StreamProgressData>('STREAM_I5001', 'stream apply progress'),
  STREAM_I5002: info<{ shardId: string; recordsApplied: number }>('STREAM_I5002', 'a closed shard was read to its end'),
  STREAM_D5003: debug<{ shardId: string; parentShardId?: string }>('STREAM_D5003', 'a shard was found in the stream description'),
  STREAM_D5004: debug<{ shardId: string; iteratorType: string; sequenceNumber?: string }>('STREAM_D5004', 'reading a shard started'),
  STREAM_W5005: warn<{ shardId: string; sequenceNumber?: string }>('STREAM_W5005', 'a shard iterator expired and was renewed from the checkpoint'),
  STREAM_W5006: warn<{ operation: string; shardId?: string; attempt: number; delayMs: number; error: string }>('STREAM_W5006', 'a streams call was throttled or failed transiently; retrying after a backoff'),
  STREAM_I5007: info<StreamRunResultData>('STREAM_I5007', 'a stream reader stopped'),
  // shard leases of a sync shared by several workers (lib/data/stream/shard-lease-keeper.ts)
  STREAM_I5008: info<{ shardId: string; owner: string; takeover: boolean; previousOwner?: string }>('STREAM_I5008', "a worker claimed a shard's lease (a takeover when the previous holder's lease had expired)"),
  STREAM_I5009: info<{ shardId: string; owner: string; reason: string }>('STREAM_I5009', "a worker released a shard's lease (handed over to a worker that joined, or stopped)"),
  STREAM_W5010: warn<{ shardId: string; owner: string; reason: string }>('STREAM_W5010', "a worker lost a shard's lease (taken over, or not renewed in time) and stopped reading it"),
  STREAM_W5011: warn<{ owner: string; error: string }>('STREAM_W5011', 'a lease heartbeat or release failed; leases not renewed in time expire and are taken over'),
  STREAM_W5012: warn<{ shardId: string; iteratorType: string; sequenceNumber?: string; renewals: number; error: string }>('STREAM_W5012', "GetRecords answered TrimmedDataAccessException (DynamoDB Local's known defect on a shard that was empty, or a trim race): a fresh iterator was taken from the checkpoint and reading continues; STREAM_TRIMMED only with evidence of lost records"),
  // stream apply (lib/data/stream/change-applier.ts); 51xx leaves 50xx to the stream reader
  SYNC_D5100: debug<SyncBatchData>('SYNC_D5100', 'a batch of stream records was applied to the target table'),
  SYNC_I5102: info<{ syncId: string; recordsApplied: number; puts: number; deletes: number; deadLetters: number; echoesSkipped: number; superseded: number; lagMs: number; stoppedBy: string }>('SYNC_I5102', 'a sync run stopped (caught up, aborted, or stream disabled)'),
  SYNC_W5101: warn<{ sourceKey: string; sequenceNumber: string; code: string; error: string }>('SYNC_W5101', 'a stream record became a dead letter'),
  // backward compatibility (lib/data/compat): release N+1's items, migrated down, read by N's schema
  COMPAT_I6000: info<{ table: string; sampled: number; failures: number }>('COMPAT_I6000', 'the backward-compatibility check finished'),
  COMPAT_W6001: warn<{ table: string; key: string; error: string }>('COMPAT_W6001', "a release item, migrated down, fails the previous release's schema"),
} as const;

export interface SyncBatchData {
  readonly origin: 'sync' | 'reverse';
  readonly records: number;
  readonly applied: number;
  readonly puts: number;
  readonly deletes: number;
  readonly deadLetters: number;
  readonly echoesSkipped: number;
  readonly lagMs: number;
}

export interface StreamProgressData {
  readonly streamArn: string;
  /** Records applied by this reader since it started. */
  readonly recordsApplied: number;
  readonly maxLagMs: number;
  readonly lagPerShard: Readonly<Record<string, number>>;
  readonly shardsReading: number;
  readonly shardsWaiting: number;
  readonly shardsFinished: number;
}

export interface StreamRunResultData {
  readonly streamArn: string;
  readonly recordsApplied: number;
  readonly batches: number;
  readonly stoppedBy: string;
}

export interface CopyProgressData {
  readonly jobId: string;
  readonly itemsRead: number;
  readonly itemsWritten: number;
  readonly estimatedTotal: number;
  readonly itemsPerSecond?: number;
  readonly etaSeconds?: number;
  readonly deadLetters: number;
  readonly retries: number;
  readonly segmentsCompleted: number;
  readonly totalSegments: number;
}

export interface CopyResultData {
  readonly jobId: string;
  readonly itemsRead: number;
  readonly itemsWritten: number;
  readonly deadLetters: number;
  readonly retries: number;
  readonly segments: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly itemsPerSecond: number;
}

export interface VerifyResultData {
  readonly sourceItems: number;
  readonly targetItems: number;
  readonly missing: number;
  readonly different: number;
  readonly orphaned: number;
  readonly deadLettered: number;
  readonly differences: number;
  readonly samples: ReadonlyArray<{ kind: string; key: string; detail: string }>;
}

export type MessageCode = keyof typeof IO | keyof typeof DATA_IO;
