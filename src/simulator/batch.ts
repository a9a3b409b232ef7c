/** A running generation as the batch sees it: when its next step is due, and how to run it. */
export interface BatchMember {
  /** performance.now() time of the next decode step; Infinity while it waits for something else. */
  readonly dueAt: number;
  /** Runs the steps that are due (catching up on any that are late). */
  advance(): void;
}

/**
 * The simulated GPU's decode loop: one timer for every running generation, however many there are.
 * Each wake runs the members whose step is due, then sleeps until the earliest next one, the way a
 * GPU decodes a token for the whole batch per step. Members keep their own due times (start + TTFT +
 * k·tokenMs), so batching changes how often the process wakes, not when any token is due; a timer
 * per generation would cost a Timeout, a closure and a timer-list insert per token.
 */
export class DecodeBatch {
  readonly #members = new Set<BatchMember>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** What the timer is set for; Infinity when none is. */
  #wakeAt = Infinity;

  get size(): number {
    return this.#members.size;
  }

  add(member: BatchMember): void {
    this.#members.add(member);
    this.wakeBy(member.dueAt);
  }

  delete(member: BatchMember): void {
    this.#members.delete(member);
    if (this.#members.size === 0) this.#disarm();
  }

  /** Makes sure the batch wakes by `at` (a member's due time moved earlier or it resumed). */
  wakeBy(at: number): void {
    if (at >= this.#wakeAt || at === Infinity) return;
    this.#disarm();
    this.#wakeAt = at;
    this.#timer = setTimeout(this.#wake, Math.max(0, at - performance.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wakeAt = Infinity;
  }

  readonly #wake = (): void => {
    // Timers fire on a millisecond clock and may run a little before the time they were set for; the
    // members due by then run anyway, as their own timer would have run them.
    // But a timer measured from libuv's cached loop time can fire whole milliseconds early when the
    // loop was busy: then it is re-armed for the rest rather than running members before their time.
    const now = performance.now();
    if (now < this.#wakeAt - 1) {
      const at = this.#wakeAt;
      this.#timer = undefined;
      this.#wakeAt = Infinity;
      this.wakeBy(at);
      return;
    }
    const horizon = Math.max(this.#wakeAt, now);
    this.#timer = undefined;
    this.#wakeAt = Infinity;
    let next = Infinity;
    for (const member of this.#members) {
      if (member.dueAt <= horizon) member.advance();
      // A member that settled has left the set and reports Infinity; one still behind (it used its
      // catch-up budget) is due at once, which re-arms with a zero delay and yields to I/O first.
      if (member.dueAt < next) next = member.dueAt;
    }
    if (next !== Infinity && this.#members.size > 0) this.wakeBy(next);
  };
}
