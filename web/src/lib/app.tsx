// The app's shared state, read from the URL: the time range (resolved to
// milliseconds at each refresh), the tenant, the comparison; and the hook
// that loads data for a panel, cancelling what a newer render or leaving
// the page no longer needs.

import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { isAbort, type RequestOptions } from '../api/client';
import { CancelledError, type Inflight, LoadTracker } from './loads';
import { alignRange, isRelative, parseDuration, type Range, resolveRange, stepFor } from './time';
import { type GlobalState, patch, readGlobal, writeGlobal } from './url';

export interface App {
  path: string;
  query: URLSearchParams;
  global: GlobalState;
  /** The range resolved at the last refresh. */
  range: Range;
  /** The step of the page's graphs, and the range aligned to it. */
  step: number;
  aligned: Range;
  /** Counts refreshes; data hooks reload when it changes. */
  tick: number;
  setGlobal(p: Partial<GlobalState>): void;
  setParams(p: Record<string, string | null | undefined>, replace?: boolean): void;
  refresh(): void;
  navigate(url: string): void;
}

const Ctx = createContext<App | null>(null);

export function useApp(): App {
  const a = useContext(Ctx);
  if (!a) throw new Error('useApp outside AppProvider');
  return a;
}

export function AppProvider({ children }: { children: ComponentChildren }) {
  const loc = useLocation();
  const [path, search] = splitURL(loc.url);
  const query = useMemo(() => new URLSearchParams(search), [search]);
  const global = useMemo(() => readGlobal(query), [query]);
  const [tick, setTick] = useState(0);
  const range = useMemo(
    () => resolveRange(global.range, Date.now()),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [global.range.from, global.range.to, tick],
  );
  const step = stepFor(range);
  const aligned = alignRange(range, step);

  const refreshMs = global.refresh ? parseDuration(global.refresh) : null;
  const relative = isRelative(global.range);
  useEffect(() => {
    if (!refreshMs || !relative) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((t) => t + 1);
    }, refreshMs);
    return () => clearInterval(id);
  }, [refreshMs, relative]);

  const app: App = {
    path,
    query,
    global,
    range,
    step,
    aligned,
    tick,
    setGlobal: (p) => {
      const q = writeGlobal(new URLSearchParams(query), { ...global, ...p });
      const s = q.toString();
      loc.route(s ? `${path}?${s}` : path);
    },
    setParams: (p, replace) => loc.route(patch(path, query, p), replace),
    refresh: () => setTick((t) => t + 1),
    navigate: (url) => loc.route(url),
  };
  return <Ctx.Provider value={app}>{children}</Ctx.Provider>;
}

export function splitURL(url: string): [string, string] {
  const i = url.indexOf('?');
  return i < 0 ? [url, ''] : [url.slice(0, i), url.slice(i + 1)];
}

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
}

const TrackerCtx = createContext<LoadTracker | null>(null);

/**
 * Tracks the loads of the components inside it (useApi registers each
 * with the tracker), for a RunStatus that shows their progress and
 * cancels them. The tracker lives as long as the component using it.
 */
export function TrackLoads({ tracker, children }: { tracker: LoadTracker; children: ComponentChildren }) {
  return <TrackerCtx.Provider value={tracker}>{children}</TrackerCtx.Provider>;
}

/** A LoadTracker kept for the component's life. */
export function useLoadTracker(): LoadTracker {
  return useMemo(() => new LoadTracker(), []);
}

/**
 * Loads fn's answer, again whenever deps, the tenant or the refresh tick
 * change; the request before is aborted. The data of the last load stays
 * while the next loads, so a refresh does not blank the page. Inside
 * TrackLoads, the request is registered with the tracker: its cancel()
 * aborts it and leaves a CancelledError as the error.
 */
export function useApi<T>(fn: (o: RequestOptions) => Promise<T>, deps: unknown[]): Loaded<T> {
  const { global, tick } = useApp();
  const tracker = useContext(TrackerCtx);
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: undefined, loading: true });
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const run = useCallback(() => {
    const ctl = new AbortController();
    const entry: Inflight = {
      started: Date.now(),
      cancel: () => {
        ctl.abort();
        setState((s) => ({ data: s.data, error: new CancelledError(), loading: false }));
      },
    };
    tracker?.add(entry);
    setState((s) => ({ ...s, loading: true }));
    fnRef
      .current({ signal: ctl.signal, tenant: global.tenant || undefined })
      .then((data) => {
        if (!ctl.signal.aborted) setState({ data, error: undefined, loading: false });
      })
      .catch((error: unknown) => {
        if (isAbort(error) || ctl.signal.aborted) return;
        setState((s) => ({ data: s.data, error: error as Error, loading: false }));
      })
      .finally(() => tracker?.remove(entry));
    return () => {
      tracker?.remove(entry);
      ctl.abort();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [global.tenant, tick, tracker, ...deps]);
  useEffect(run, [run]);
  return state;
}
