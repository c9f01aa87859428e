// The loads a page runs, so it can show how long its query has been running
// and cancel it: useApi registers each request with the page's LoadTracker
// (when the page provides one) and removes it when it answers, fails or is
// dropped; cancel() aborts them all and remembers that it did.

/** One request in flight. */
export interface Inflight {
  /** When it began (ms since the epoch). */
  started: number;
  /** Aborts it and marks its panel cancelled. */
  cancel(): void;
}

/** What a page's progress indicator shows. */
export interface LoadStatus {
  /** Requests in flight. */
  running: number;
  /** Since when the oldest of them runs (ms), null when none does. */
  since: number | null;
  /** The last cancel(), until a new request begins: when, and how long it had run (ms). */
  cancelled: { at: number; after: number } | null;
}

/** The requests in flight of one page; listeners hear of every change. */
export class LoadTracker {
  private inflight = new Set<Inflight>();
  private listeners = new Set<() => void>();
  private cancelledAt: LoadStatus['cancelled'] = null;

  /** Registers a request; a new request clears the cancelled state. */
  add(i: Inflight): void {
    this.inflight.add(i);
    this.cancelledAt = null;
    this.notify();
  }

  /** Forgets a request (answered, failed, dropped); unknown ones are ignored. */
  remove(i: Inflight): void {
    if (this.inflight.delete(i)) this.notify();
  }

  /** Cancels every request in flight at now (ms); nothing when none runs. */
  cancel(now: number): void {
    const s = this.status();
    if (s.since === null) return;
    const all = [...this.inflight];
    this.inflight.clear();
    all.forEach((i) => i.cancel());
    this.cancelledAt = { at: now, after: now - s.since };
    this.notify();
  }

  status(): LoadStatus {
    let since: number | null = null;
    for (const i of this.inflight) if (since === null || i.started < since) since = i.started;
    return { running: this.inflight.size, since, cancelled: this.cancelledAt };
  }

  /** Calls fn on every change; returns the unsubscribe. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notify() {
    this.listeners.forEach((f) => f());
  }
}

/** How long a query runs before the page offers to cancel it (ms). */
export const SHOW_PROGRESS_AFTER = 1000;

/** Whether the progress and its Cancel show at now (ms): a request has run SHOW_PROGRESS_AFTER or longer. */
export function showProgress(s: LoadStatus, now: number): boolean {
  return s.since !== null && now - s.since >= SHOW_PROGRESS_AFTER;
}

/** The error a cancelled panel shows (Panel's ErrorBox draws it as a notice, not an error). */
export class CancelledError extends Error {
  constructor() {
    super('stopped before it answered; run the query again to load it.');
    this.name = 'CancelledError';
  }
}
