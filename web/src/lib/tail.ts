// Live tail by polling Loki's query_range: the way the UI tails, because a
// browser cannot set X-Scope-OrgID on a WebSocket and Horus, as Loki,
// takes the tenant from that header alone (docs/ui.md, "Live tail").
// The polls follow Horus' own /loki/api/v1/tail loop: first the newest
// lines since a start, then, each interval, the lines from the newest
// already shown onwards, oldest first. A poll starts at the newest time
// shown, inclusive (several lines can share a nanosecond, and one may
// arrive after its neighbours were sent), and drops the lines it already
// gave at that time.

import { cmpNs, type LogLine } from './logs';

/** Where the tail stands: the newest time given (Unix ns) and the lines given at it. */
export interface TailCursor {
  /** Unix ns of the newest line given, or of the first poll's end when none was. */
  ns: string;
  /** Identities (lineId) of the lines given at ns. */
  atNs: Set<string>;
}

/** A line's identity across polls: its time, text and labels (not its position in an answer). */
export function lineId(l: LogLine): string {
  const labels = Object.keys(l.labels)
    .sort()
    .map((k) => `${k}=${l.labels[k]}`)
    .join('\u0001');
  return `${l.ns}\u0000${l.line}\u0000${labels}`;
}

/**
 * Takes a poll's lines (any order) at cursor: the lines not given before,
 * oldest first, and the cursor after them. end is the poll's end (Unix
 * ns), where the cursor goes when it had nothing to give and no line yet.
 */
export function advanceTail(cursor: TailCursor | null, lines: LogLine[], end: string): { fresh: LogLine[]; cursor: TailCursor } {
  const fresh = lines
    .filter((l) => !cursor || cmpNs(l.ns, cursor.ns) > 0 || (l.ns === cursor.ns && !cursor.atNs.has(lineId(l))))
    .sort((a, b) => cmpNs(a.ns, b.ns));
  if (fresh.length === 0) return { fresh, cursor: cursor ?? { ns: end, atNs: new Set() } };
  const newest = fresh[fresh.length - 1].ns;
  const atNs = cursor && cursor.ns === newest ? new Set(cursor.atNs) : new Set<string>();
  for (const l of fresh) if (l.ns === newest) atNs.add(lineId(l));
  return { fresh, cursor: { ns: newest, atNs } };
}

/** Keeps the newest max lines, newest first: the fresh ones (oldest first) on top of those shown. */
export function prependTail(shown: LogLine[], fresh: LogLine[], max: number): LogLine[] {
  return [...[...fresh].reverse(), ...shown].slice(0, max);
}
