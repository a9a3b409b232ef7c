/** A held generation slot. Releasing twice is harmless. */
export interface SlotLease {
  release(): void;
}

/** The queue is at its limit; the caller answers 503. */
export class QueueFullError extends Error {
  readonly code = 'SIM_QUEUE_FULL';
  constructor() {
    super('all generation slots are busy and the wait queue is full');
    this.name = 'QueueFullError';
  }
}

/** The scheduler's live gauges and their high-water marks since start or the last resetPeaks(). */
export interface SchedulerGauges {
  readonly active: number;
  readonly queued: number;
  readonly peakActive: number;
  readonly peakQueued: number;
}

interface Waiter {
  grant(): void;
}

/**
 * At most `slots` generations at once (a GPU batch); the rest wait first-in first-out.
 * A waiter whose signal aborts leaves the queue at once, so a cancelled request never runs.
 */
export class SlotScheduler implements SchedulerGauges {
  readonly #slots: number;
  readonly #queueLimit: number;
  #active = 0;
  // Kept where the gauges change, not sampled: a burst that fills the queue for a microsecond
  // between two /stats reads still shows. One compare per grant or enqueue.
  #peakActive = 0;
  #peakQueued = 0;
  // A Set keeps insertion order and deletes in O(1): a FIFO that supports leaving from the middle.
  readonly #waiters = new Set<Waiter>();

  constructor(slots: number, queueLimit: number) {
    this.#slots = slots;
    this.#queueLimit = queueLimit;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiters.size;
  }

  get peakActive(): number {
    return this.#peakActive;
  }

  get peakQueued(): number {
    return this.#peakQueued;
  }

  /** Starts new high-water marks from the current levels (what is running now still counts). */
  resetPeaks(): void {
    this.#peakActive = this.#active;
    this.#peakQueued = this.#waiters.size;
  }

  /**
   * A lease at once if a slot is free and nobody is waiting for one; undefined otherwise (then
   * acquire). The common case needs neither a promise nor an AbortSignal.
   */
  tryAcquire(): SlotLease | undefined {
    if (this.#active >= this.#slots || this.#waiters.size > 0) return undefined;
    this.#take();
    return this.#lease();
  }

  /** Resolves with a lease when a slot is free; rejects with QueueFullError or the signal's reason. */
  acquire(signal: AbortSignal): Promise<SlotLease> {
    if (signal.aborted) return Promise.reject(toError(signal.reason));
    const lease = this.tryAcquire();
    if (lease !== undefined) return Promise.resolve(lease);
    if (this.#waiters.size >= this.#queueLimit) return Promise.reject(new QueueFullError());

    return new Promise<SlotLease>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        reject(toError(signal.reason));
      };
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.#lease());
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
      if (this.#waiters.size > this.#peakQueued) this.#peakQueued = this.#waiters.size;
    });
  }

  #lease(): SlotLease {
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.#active--;
        this.#grantNext();
      },
    };
  }

  #grantNext(): void {
    const next = this.#waiters.values().next();
    if (next.done === true || this.#active >= this.#slots) return;
    this.#waiters.delete(next.value);
    // Counted as active before the waiter's continuation runs, so stats never show a free slot twice.
    this.#take();
    next.value.grant();
  }

  #take(): void {
    this.#active++;
    if (this.#active > this.#peakActive) this.#peakActive = this.#active;
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
