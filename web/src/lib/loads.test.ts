import { describe, expect, it } from 'vitest';
import { type Inflight, LoadTracker, showProgress } from './loads';

describe('LoadTracker', () => {
  it('reports the oldest request, shows progress after 1 s, cancels all', () => {
    const t = new LoadTracker();
    const cancelled: number[] = [];
    const req = (started: number): Inflight => ({ started, cancel: () => cancelled.push(started) });
    let changes = 0;
    const off = t.subscribe(() => changes++);
    expect(t.status()).toEqual({ running: 0, since: null, cancelled: null });
    const a = req(1000);
    const b = req(1500);
    t.add(b);
    t.add(a);
    expect(t.status()).toEqual({ running: 2, since: 1000, cancelled: null });
    expect(showProgress(t.status(), 1999)).toBe(false);
    expect(showProgress(t.status(), 2000)).toBe(true);
    t.remove(a);
    expect(t.status().since).toBe(1500);
    t.add(a);
    t.cancel(3500);
    expect(cancelled.sort()).toEqual([1000, 1500]);
    expect(t.status()).toEqual({ running: 0, since: null, cancelled: { at: 3500, after: 2500 } });
    // The requests' own clean-up after the cancel changes nothing.
    t.remove(a);
    expect(t.status().cancelled).not.toBeNull();
    // A new request clears the cancelled state.
    t.add(req(4000));
    expect(t.status()).toEqual({ running: 1, since: 4000, cancelled: null });
    off();
    const before = changes;
    t.cancel(5000);
    expect(changes).toBe(before);
  });
  it('cancels nothing when nothing runs', () => {
    const t = new LoadTracker();
    t.cancel(10);
    expect(t.status().cancelled).toBeNull();
  });
});
