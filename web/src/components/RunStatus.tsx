// The progress of a page's queries: once one has run SHOW_PROGRESS_AFTER,
// the time it has run and a Cancel button that aborts every request of the
// page's LoadTracker (the button first, so the ticking time does not move
// it); after a cancel, how long they had run and Run again.

import { useEffect, useState } from 'preact/hooks';
import { formatSeconds } from '../lib/format';
import { type LoadTracker, showProgress } from '../lib/loads';

export function RunStatus({ tracker, onRerun }: { tracker: LoadTracker; onRerun: () => void }) {
  const [status, setStatus] = useState(() => tracker.status());
  const [now, setNow] = useState(Date.now());
  useEffect(() => tracker.subscribe(() => setStatus(tracker.status())), [tracker]);
  useEffect(() => {
    if (status.since === null) return;
    const id = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(id);
  }, [status.since]);
  if (status.cancelled && status.since === null)
    return (
      <span class="run-status cancelled-status" role="status" data-testid="query-cancelled">
        Cancelled after {formatSeconds(status.cancelled.after / 1000)}.{' '}
        <button type="button" onClick={onRerun}>
          Run again
        </button>
      </span>
    );
  if (!showProgress(status, now)) return null;
  return (
    <span class="run-status" role="status" data-testid="query-progress">
      <span class="spinner" aria-hidden="true" />
      <button type="button" class="cancel" onClick={() => tracker.cancel(Date.now())} data-testid="query-cancel">
        Cancel
      </button>
      <span class="elapsed">
        Running for {((now - status.since!) / 1000).toFixed(1)} s{status.running > 1 ? ` (${status.running} requests)` : ''}
      </span>
    </span>
  );
}
