// The API client: GETs Horus' HTTP APIs with the tenant header and an
// AbortSignal, and turns every failure into an ApiError whose message is
// the API's own (Prometheus' envelope "error", or the body's text), so a
// panel can always say what went wrong.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly path: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  signal?: AbortSignal;
  tenant?: string;
}

export type Params = Record<string, string | number | undefined | null | string[]>;

export function buildURL(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Whether err is the abort of a cancelled request (not to be shown). */
export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

/** GETs path and returns the decoded JSON; Prometheus-style envelopes are unwrapped to `data`. */
export function getJSON<T>(path: string, params: Params = {}, opts: RequestOptions = {}): Promise<T> {
  return requestJSON<T>('GET', buildURL(path, params), path, undefined, opts);
}

/**
 * Sends body as JSON with method (POST, PUT, DELETE; none for undefined)
 * to path and returns the decoded answer as getJSON does (an empty body
 * is null); failures are ApiErrors with the API's message.
 */
export function sendJSON<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, opts: RequestOptions = {}): Promise<T> {
  return requestJSON<T>(method, path, path, body, opts);
}

async function requestJSON<T>(method: string, url: string, path: string, payload: unknown, opts: RequestOptions): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.tenant) headers['X-Scope-OrgID'] = opts.tenant;
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  let resp: Response;
  try {
    resp = await fetch(url, { method, headers, signal: opts.signal, body: payload === undefined ? undefined : JSON.stringify(payload) });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(`Horus did not answer (${(e as Error).message})`, 0, path);
  }
  const text = await resp.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    if (!resp.ok) throw new ApiError(text.trim() || `${resp.status} ${resp.statusText}`, resp.status, path);
    throw new ApiError(`not JSON: ${text.slice(0, 200)}`, resp.status, path);
  }
  const env = body as { status?: string; error?: string; message?: string; data?: unknown } | null;
  if (!resp.ok || env?.status === 'error') {
    const msg = env?.error || env?.message || text.trim() || `${resp.status} ${resp.statusText}`;
    throw new ApiError(msg, resp.status, path);
  }
  if (env && typeof env === 'object' && env.status === 'success' && 'data' in env) return env.data as T;
  return body as T;
}
