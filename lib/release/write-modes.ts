/**
 * How writes move at a promote or rollback, and what each way guarantees. `plan` lists both and
 * `promote`/`rollback` say which one they used, so a team picks knowingly.
 */

export type WriteMode = 'fenced' | 'two-writers';

export interface WriteModeView {
  readonly mode: WriteMode;
  /** The promote that moves writes this way. */
  readonly command: string;
  readonly guarantee: string;
}

const GUARANTEES: Record<WriteMode, string> = {
  fenced:
    'one stack takes writes at every moment: writes are held (503 WRITES_FENCED with retryAfterMs) while the sync drains, ' +
    'then the old stack redirects them (302) to the new one; no write is lost, reordered or undone, whatever the client sends',
  'two-writers':
    'both stacks take writes while clients move: a client that sends If-Match to an app that waits for it, with a version ' +
    'attribute on the table, loses nothing; blind writes to one item on both stacks within the sync lag can overwrite each ' +
    'other, and a delete can be undone by a late write',
};

/** Whether a promote or rollback with these options moves writes with a fenced cut-over. */
export function isFenced(options: { readonly steps?: readonly number[]; readonly fence?: boolean }): boolean {
  // Weighted steps keep two writers by nature: some clients reach each stack for the whole shift.
  const oneStep = !options.steps || (options.steps.length === 1 && options.steps[0] === 100);
  return oneStep && options.fence !== false;
}

export function writeModeOf(options: { readonly steps?: readonly number[]; readonly fence?: boolean }): WriteMode {
  return isFenced(options) ? 'fenced' : 'two-writers';
}

export function guaranteeOf(mode: WriteMode): string {
  return GUARANTEES[mode];
}

/** Both ways a promote of `sha` can move writes, for `plan`. */
export function writeModesFor(sha: string): readonly WriteModeView[] {
  const short = sha.slice(0, 7);
  return [
    { mode: 'fenced', command: `promote --sha ${short}`, guarantee: GUARANTEES.fenced },
    { mode: 'two-writers', command: `promote --sha ${short} --steps 10,50,100 (or --no-fence)`, guarantee: GUARANTEES['two-writers'] },
  ];
}
