import { TYPING_DEFAULTS, type TypingParams } from './typing.js';

/** How a developer gives up on a request when the next key arrives. */
export type CancelMode = 'reset' | 'close' | 'never';

/** How the load generator gets a gateway token, if it needs one. */
export type AuthSource =
  | { kind: 'none' }
  /** A gateway token, sent as `Authorization: Bearer`. */
  | { kind: 'token'; token: string }
  /** A long-lived key exchanged at /copilot_internal/v2/token, refreshed before expiry. */
  | { kind: 'key'; key: string }
  /** Tokens minted locally from the gateway's own config (its signing keys). */
  | { kind: 'config'; file: string; uid: string };

/** Everything one run needs, validated once (src/cli/loadgen.ts) and frozen. Times in ms unless named. */
export interface LoadgenOptions {
  /** The gateway; undefined: start the embedded default (simulator + gateway) in this process. */
  url: string | undefined;
  developers: number;
  /** developers: each fires at its own pauses (closed loop); rate: `rate` completions/s overall. */
  mode: 'developers' | 'rate';
  rate: number;
  durationS: number;
  /** Stop after this many requests (whichever comes first with the duration); undefined: no cap. */
  requests: number | undefined;
  /** After the end, requests still running get this long to finish before they are cut. */
  drainMs: number;
  protocol: 'h2' | 'h1';
  cancel: CancelMode;
  debounceMs: number;
  /** Chance a developer accepts a completion that finished before their next key. */
  acceptRate: number;
  maxTokens: number;
  engine: string;
  /** Prompt = at most this many characters before the cursor; suffix likewise after it. */
  prefixChars: number;
  suffixChars: number;
  typing: TypingParams;
  seed: number;
  /** Source files to type through; undefined: the package's own compiled sources. */
  corpus: string | undefined;
  auth: AuthSource;
  /** Simulator /stats URLs read before and after the run (GPU tokens, cancels). */
  statsUrls: readonly string[];
  /** https targets: accept any certificate (a self-signed test gateway). */
  insecure: boolean;
}

export const LOADGEN_DEFAULTS: Readonly<Omit<LoadgenOptions, 'url' | 'corpus' | 'requests'>> = Object.freeze<
  Omit<LoadgenOptions, 'url' | 'corpus' | 'requests'>
>({
  developers: 100,
  mode: 'developers',
  rate: 0,
  durationS: 20,
  drainMs: 5000,
  protocol: 'h2',
  cancel: 'reset',
  // VS Code's inline completions and Zed wait 75 ms after the last key (docs/loadgen.md).
  debounceMs: 75,
  acceptRate: 0.25,
  maxTokens: 64,
  engine: 'default',
  prefixChars: 4096,
  suffixChars: 1024,
  typing: TYPING_DEFAULTS,
  seed: 1,
  auth: { kind: 'none' },
  statsUrls: [],
  insecure: false,
});

/** The longest a run with these options can take (start-up aside): duration, drain, and a margin to close. */
export function hardStopMs(o: Pick<LoadgenOptions, 'durationS' | 'drainMs'>): number {
  return o.durationS * 1000 + o.drainMs + 1000;
}
