import { fnv1a } from '../routing/affinity.js';
import type { SupersessionConfig } from './supersession-schema.js';

/** The end of a prompt that typing changes between two requests: left out of the document's identity. */
const TYPING_CHARS = 128;

/** A request a newer one may replace. */
export interface Supersedable {
  /** Ends it as superseded: its client gets a `superseded` finish, its model stream a reset. */
  supersede(): void;
}

/** What identifies a request for supersession, read from it without parsing anything more. */
export interface SupersessionInput {
  header(name: string): string | undefined;
  /** The verified user; undefined with auth off (then sessions alone keep users apart). */
  readonly uid: string | undefined;
  readonly prompt: string;
}

/**
 * Editors send a request at every pause in typing, so the previous one from the same editor and
 * file is usually stale; clients that reset it are covered by cancellation, many do not (HTTP/1.1
 * clients, plugins that let it run). This keeps the newest in-flight request per key and ends the
 * older one when a newer one arrives, so no GPU keeps generating for a request the user has
 * typed past. The key is the user, the editor session and the document (the prompt's first
 * characters: Copilot prompts open with the file's path), or a key the client sends itself; a
 * request without a session or key is never superseded. Keys always include the user: one user's
 * request never ends another's.
 */
export class Superseder {
  readonly #inFlight: Map<string, Supersedable>;
  #supersededTotal: number;

  /**
   * With `previous` (a config reload), its requests in flight stay supersedable: a request on
   * the new config ends an older one started on the old config.
   */
  constructor(
    private readonly cfg: SupersessionConfig,
    previous?: Superseder,
  ) {
    this.#inFlight = previous === undefined ? new Map<string, Supersedable>() : previous.#inFlight;
    this.#supersededTotal = previous === undefined ? 0 : previous.#supersededTotal;
  }

  get enabled(): boolean {
    return this.cfg.enabled;
  }

  /** Requests ended because a newer one replaced them, since start. */
  get supersededTotal(): number {
    return this.#supersededTotal;
  }

  /** Requests that a newer one could replace right now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** The request's key, or undefined when it has none (or supersession is off). */
  keyOf(r: SupersessionInput): string | undefined {
    if (!this.cfg.enabled) return undefined;
    const user = r.uid ?? '';
    const explicit = r.header(this.cfg.keyHeader);
    if (explicit !== undefined && explicit.length > 0) return `${user}\0k\0${explicit.slice(0, 256)}`;
    const session = r.header(this.cfg.sessionHeader);
    if (session === undefined || session.length === 0) return undefined;
    // The document: a fixed length of the prompt's beginning (fixed, so typing on does not change
    // it), taken only from a prompt long enough that it stays clear of the last TYPING_CHARS
    // (where the user types). A shorter prompt is all typing: then the session alone is the key
    // (an editor session types in one document at a time).
    const chars = r.prompt.length >= this.cfg.promptChars + TYPING_CHARS ? this.cfg.promptChars : 0;
    const doc = chars === 0 ? 0 : fnv1a(r.prompt, 0x811c9dc5, chars);
    return `${user}\0s\0${session.slice(0, 256)}\0${doc}`;
  }

  /**
   * Makes `r` the newest request under `key`, superseding the one there before. Returns the
   * function to call when `r` ends, which forgets it unless a newer one has taken its place.
   */
  enter(key: string, r: Supersedable): () => void {
    const older = this.#inFlight.get(key);
    this.#inFlight.set(key, r);
    if (older !== undefined) {
      this.#supersededTotal++;
      older.supersede();
    }
    return () => {
      if (this.#inFlight.get(key) === r) this.#inFlight.delete(key);
    };
  }
}
