// Investigate (/investigate?<the parameters of GET /api/v1/investigate>,
// docs/investigate.md): the summary, the symptom over the window with the
// share before the onset and the baselines overlaid and the onset marked,
// and the findings as cards with their evidence inline (proportion bars,
// the span on the critical path, the log pattern's counts, the change),
// each linking to the Explore query, trace, service or changes page.

import { useMemo } from 'preact/hooks';
import { investigate } from '../api/horus';
import type { Evidence, Finding, Investigation } from '../api/types';
import { Panel } from '../components/Panel';
import { type ChartSeries, TimeSeriesChart } from '../components/TimeSeriesChart';
import { RunStatus } from '../components/RunStatus';
import { TrackLoads, useApi, useApp, useLoadTracker } from '../lib/app';
import type { LoadTracker } from '../lib/loads';
import { formatPercent, formatSeconds } from '../lib/format';
import { links } from '../lib/links';
import { formatAbsolute, formatDuration } from '../lib/time';
import './alerting.css';

/** The API's parameters the page passes on (docs/investigate.md, "The request"). */
export const INVESTIGATE_PARAMS = [
  'fingerprint',
  'rule',
  'alertname',
  'labels',
  'service',
  'route',
  'operation',
  'signal',
  'threshold',
  'expr',
  'start',
  'end',
  'max_bad_traces',
  'max_good_traces',
] as const;

const KIND_TITLE: Record<string, string> = {
  onset: 'Onset and scope',
  bubbleup: 'What differs in the bad requests',
  where: 'Where it fails',
  logs: 'What the logs say',
  change: 'What changed',
  saturation: 'Saturation',
};

export default function InvestigatePage() {
  const tracker = useLoadTracker();
  return (
    <TrackLoads tracker={tracker}>
      <Investigation tracker={tracker} />
    </TrackLoads>
  );
}

function Investigation({ tracker }: { tracker: LoadTracker }) {
  const app = useApp();
  const q = app.query;
  const params = useMemo(() => {
    const p: Record<string, string> = {};
    for (const k of INVESTIGATE_PARAMS) {
      const v = q.get(k);
      if (v) p[k] = v;
    }
    return p;
  }, [q]);
  const key = JSON.stringify(params);
  const asked = Object.keys(params).length > 0;
  const res = useApi(
    async (o) => {
      if (!asked) return null;
      const r = await investigate(params, o);
      if (!r) throw new Error('the investigation API answered without a body (an answer it could not encode)');
      return r;
    },
    [key],
  );
  const inv = res.data ?? undefined;
  return (
    <div class="page" data-testid="page-investigate">
      <div class="page-title">
        <h1>
          Investigate
          {investigateTitle(inv?.request, params.fingerprint)}
        </h1>
        {inv?.request.service && (
          <nav class="jump" aria-label="From this investigation">
            <a href={links.service(inv.request.service, q, windowParams(inv))}>Service {inv.request.service}</a>
            {params.fingerprint && <a href={links.alert(params.fingerprint, q)}>The alert</a>}
          </nav>
        )}
        <RunStatus tracker={tracker} onRerun={app.refresh} />
      </div>
      {!asked ? (
        <Panel title="What to investigate" testid="investigate-empty">
          <p>
            An investigation starts from an alert (the <strong>Investigate</strong> button of an alert's page) or from a symptom:
            a service with a signal and a window, e.g.{' '}
            <a href={links.investigate({ service: 'orders', signal: 'errors' }, q)}>/investigate?service=orders&amp;signal=errors</a>. The
            parameters are those of <code>GET /api/v1/investigate</code> (docs/investigate.md).
          </p>
        </Panel>
      ) : (
        <>
          <Panel
            title="Summary"
            loading={res.loading}
            error={res.error}
            testid="investigate-summary"
            actions={inv && <span class="sub">{inv.tookSeconds != null ? `${(inv.tookSeconds * 1000).toFixed(0)} ms` : ''}</span>}
          >
            {inv ? (
              <>
                <p class={`summary-box ${inv.clearCulprit ? '' : 'muted'}`}>{inv.summary}</p>
                {(inv.warnings ?? []).map((w) => (
                  <p class="warning" key={w}>
                    {w}
                  </p>
                ))}
              </>
            ) : (
              <p class="empty">Investigating: the spans, logs, changes and metrics of the window…</p>
            )}
          </Panel>
          {inv && (
            <>
              <SymptomPanel inv={inv} />
              <section data-testid="findings">
                {(inv.findings ?? []).length === 0 && <p class="empty">No finding stands out: no clear culprit.</p>}
                {(inv.findings ?? []).map((f, i) => (
                  <FindingCard key={i} f={f} inv={inv} />
                ))}
              </section>
              <SamplingNote inv={inv} />
            </>
          )}
        </>
      )}
    </div>
  );
}

function windowParams(inv: Investigation): Record<string, string> {
  const out: Record<string, string> = {};
  if (inv.request.start) out.from = formatAbsolute(Date.parse(inv.request.start));
  if (inv.request.end) out.to = formatAbsolute(Date.parse(inv.request.end));
  return out;
}

function SymptomPanel({ inv }: { inv: Investigation }) {
  const app = useApp();
  const d = inv.onset.details ?? {};
  const s = inv.series;
  const data = useMemo(() => {
    if (!s) return null;
    const t0 = Date.parse(s.start);
    const step = s.stepSeconds * 1000;
    const n = s.values?.length ?? s.total?.length ?? 0;
    const xs = Array.from({ length: n }, (_, i) => t0 + i * step);
    const series: ChartSeries[] = [];
    let unit: 'ratio' | 'short' = 'ratio';
    if (s.values && s.values.length) {
      unit = 'short';
      series.push({ label: 'symptom', color: '#ef4444', values: s.values.map((v) => (v == null || Number.isNaN(v) ? null : v)) });
    } else if (s.bad && s.total) {
      series.push({
        label: inv.request.signal === 'latency' ? 'share slower than the threshold' : 'share failing',
        color: '#ef4444',
        values: s.total.map((t, i) => (t > 0 ? (s.bad![i] ?? 0) / t : null)),
      });
    }
    const onset = d.onset ? Date.parse(d.onset) : null;
    if (onset !== null && typeof d.before === 'number') {
      series.push({ label: 'before the onset', color: '#6b7280', values: xs.map(() => d.before), comparison: true });
    }
    for (const b of (d.baselines ?? []) as { offset: string; share: number | null }[]) {
      if (b.share != null) {
        series.push({ label: `${b.offset} before`, color: b.offset === '1d' ? '#3b82f6' : '#8b5cf6', values: xs.map(() => b.share), comparison: true });
      }
    }
    return { xs, series, unit, onset };
  }, [inv]);
  const routes = (d.routes ?? []) as { name: string; beforeShare: number; afterShare: number; bad: number; total: number }[];
  return (
    <Panel title="The symptom" help={inv.onset.statement} testid="investigate-symptom" empty={!data || data.series.length === 0 ? 'No symptom series.' : false}>
      <p class="finding-statement">{inv.onset.statement}</p>
      {data && (
        <TimeSeriesChart
          xs={data.xs}
          series={data.series}
          unit={data.unit}
          markers={data.onset !== null ? [{ time: data.onset, title: `onset at ${new Date(data.onset).toLocaleTimeString()}` }] : []}
          range={data.xs.length ? { start: data.xs[0], end: data.xs[data.xs.length - 1] } : undefined}
          onZoom={(start, end) => app.setParams({ start: new Date(start).toISOString(), end: new Date(end).toISOString() })}
        />
      )}
      {routes.length > 0 && (
        <table class="table">
          <thead>
            <tr>
              <th>Most affected</th>
              <th class="num">before</th>
              <th class="num">since the onset</th>
              <th class="num">bad / all</th>
            </tr>
          </thead>
          <tbody>
            {routes.slice(0, 5).map((r) => (
              <tr key={r.name}>
                <td>{r.name}</td>
                <td class="num">{formatPercent(r.beforeShare)}</td>
                <td class="num bad">{formatPercent(r.afterShare)}</td>
                <td class="num">
                  {r.bad} / {r.total}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Evidences ev={inv.onset.evidence} />
    </Panel>
  );
}

/** A proportion bar of a finding: the share and the set it is of. */
export interface Bar {
  label: string;
  share: number;
  cls: string;
}

/**
 * The proportion bars of a BubbleUp finding, each labelled with the set
 * its share is of (docs/investigate.md, "What differs in the bad
 * requests"): badShare of the bad traces compared (of a further cause's
 * `withoutBad`, those left without the causes before it), allBadShare of
 * every bad trace compared, goodShare of the good ones, allShare of every
 * request of the symptom in the window (`sampling.entrySpans`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function bubbleBars(d: Record<string, any>, entrySpans: number | undefined, noun: string): Bar[] {
  const n = (x: unknown) => (typeof x === 'number' ? x.toLocaleString('en-US') : '');
  const bars: Bar[] = [];
  const without: Array<{ service?: string; key: string; op: string; value: string }> = d.without ?? [];
  if (without.length > 0) {
    const names = without.map((w) => `${w.key}${w.op}${w.value}`).join(' or ');
    bars.push({ label: `of the ${n(d.withoutBad)} ${noun} without ${names}`, share: d.badShare, cls: 'bad-fill' });
    if (typeof d.allBadShare === 'number') {
      bars.push({ label: `of all ${n(d.badTraces)} ${noun} compared`, share: d.allBadShare, cls: 'bad-fill' });
    }
  } else {
    bars.push({ label: `of the ${n(d.badTraces)} ${noun} compared`, share: d.badShare, cls: 'bad-fill' });
  }
  bars.push({ label: `of the ${n(d.goodTraces)} other requests compared`, share: d.goodShare, cls: 'all-fill' });
  if (typeof d.allShare === 'number') {
    bars.push({ label: entrySpans ? `of all ${n(entrySpans)} requests` : 'of all requests', share: d.allShare, cls: 'all-fill' });
  }
  return bars.filter((b) => typeof b.share === 'number');
}

function Prop({ label, share, cls }: { label: string; share: number | undefined; cls: string }) {
  if (share === undefined || share === null) return null;
  return (
    <div class="prop">
      <span>{label}</span>
      <span class="bar">
        <span class={cls} style={{ width: `${Math.max(0, Math.min(1, share)) * 100}%` }} />
      </span>
      <span class="num">{formatPercent(share)}</span>
    </div>
  );
}

/**
 * The page's title after "Investigate": the alert's name when it is an
 * alert's ("OrdersAvailabilitySLO on orders"), else the signal and service
 * ("errors of orders"); "promql" reads "the series" for a symptom given
 * as a PromQL expression.
 */
export function investigateTitle(req: Investigation['request'] | undefined, fingerprint?: string): string {
  const alert = typeof req?.alert === 'string' ? req.alert : '';
  if (alert) return ` ${alert}${req?.service ? ` on ${req.service}` : ''}`;
  if (req?.service) return ` ${req.signal === 'promql' ? 'the series' : (req.signal ?? 'errors')} of ${req.service}`;
  return fingerprint ? ` alert ${fingerprint}` : '';
}

function FindingCard({ f, inv }: { f: Finding; inv: Investigation }) {
  const d = f.details ?? {};
  const noun = inv.request.signal === 'latency' || (inv.request.threshold ?? 0) > 0 ? 'slow requests' : 'failing requests';
  return (
    <article class={`finding ${f.score >= 0.3 ? 'strong' : ''}`} data-testid="finding" data-kind={f.kind}>
      <h3>
        {KIND_TITLE[f.kind] ?? f.kind} <span class="score">score {f.score.toFixed(2)}</span>
      </h3>
      <p>{f.statement}</p>
      {f.kind === 'bubbleup' && (
        <>
          {bubbleBars(d, inv.sampling?.entrySpans as number | undefined, noun).map((b) => (
            <Prop key={b.label} label={b.label} share={b.share} cls={b.cls} />
          ))}
        </>
      )}
      {f.kind === 'where' && (
        <>
          <p class="sub">
            <code>
              {d.service} {d.kind ? `${String(d.kind).toLowerCase()} ` : ''}span “{d.span}”
            </code>
            {d.instance && (
              <>
                {' '}
                on {d.instance}
                {d.instanceShare ? ` (${formatPercent(d.instanceShare)})` : ''}
              </>
            )}
            {d.addedSeconds ? ` · adds ${formatSeconds(d.addedSeconds)} on the critical path` : ''}
            {d.statusMessage ? ` · “${d.statusMessage}”` : ''}
          </p>
          <Prop label="bad requests" share={d.badShare} cls="bad-fill" />
          <Prop label="good requests" share={d.goodShare} cls="all-fill" />
        </>
      )}
      {f.kind === 'logs' && (
        <p>
          <code>{d.pattern}</code>{' '}
          <span class="counts">
            {d.before} → <strong class="bad">{d.during}</strong>
          </span>{' '}
          <span class="sub">
            ({formatDuration((d.beforeSeconds ?? 0) * 1000)} before, {formatDuration((d.duringSeconds ?? 0) * 1000)} since the onset
            {d.instance ? `; from ${d.instance}` : ''}
            {d.onBadTraces ? `; ${d.onBadTraces} on failing requests` : ''})
          </span>
        </p>
      )}
      {f.kind === 'change' && d.change && (
        <p class="sub">
          <span class={`kind kind-${d.change.kind}`}>{d.change.kind}</span> {d.change.service}
          {d.change.version ? ` ${d.change.version}` : ''}
          {d.change.instance ? ` on ${d.change.instance}` : ''} at {new Date(d.change.time).toLocaleTimeString()}
          {typeof d.secondsBeforeOnset === 'number' &&
            (d.secondsBeforeOnset >= 0
              ? `, ${formatDuration(d.secondsBeforeOnset * 1000)} before the onset`
              : `, ${formatDuration(-d.secondsBeforeOnset * 1000)} after the onset`)}
          {d.change.description ? `: ${d.change.description}` : ''}
        </p>
      )}
      {f.kind === 'saturation' && (
        <p class="sub">
          {d.service} <code>{d.series ?? d.metric}</code>: {fmt(d.before)} → <strong class="bad">{fmt(d.after)}</strong>
          {d.unit ? ` ${d.unit}` : ''}
        </p>
      )}
      <Evidences ev={f.evidence} />
    </article>
  );
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)) : String(v ?? '–');
}

/** Evidence links: the API's URLs are UI paths; the page's tenant is kept. */
function Evidences({ ev }: { ev?: Evidence[] }) {
  const app = useApp();
  if (!ev || ev.length === 0) return null;
  const tenant = app.query.get('tenant');
  const withTenant = (u: string) => {
    if (!tenant || !u.startsWith('/') || /[?&]tenant=/.test(u)) return u;
    return `${u}${u.includes('?') ? '&' : '?'}tenant=${encodeURIComponent(tenant)}`;
  };
  return (
    <div class="evidence">
      {ev.map((e, i) => (
        <a
          key={i}
          href={withTenant(e.url)}
          title={e.query ?? e.url}
          data-type={e.type}
          {...(e.type === 'link' ? { target: '_blank', rel: 'noopener noreferrer' } : {})}
        >
          {e.type === 'trace' ? `trace ${e.title.replace(/^trace /, '').slice(0, 12)}…` : e.title}
        </a>
      ))}
    </div>
  );
}

function SamplingNote({ inv }: { inv: Investigation }) {
  const s = inv.sampling as Record<string, number | boolean> | undefined;
  if (!s) return null;
  return (
    <p class="sub" data-testid="investigate-sampling">
      Read {String(s.entrySpans ?? 0)} entry spans ({String(s.badSpans ?? 0)} bad), compared {String(s.badTraces ?? 0)} bad and{' '}
      {String(s.goodTraces ?? 0)} good traces{s.sampled ? ' (sampled)' : ''}, {String(s.spansRead ?? 0)} spans and {String(s.logLines ?? 0)} log
      lines.{inv.link && <> <a href={`/api/v1${inv.link}`}>The answer as JSON</a></>}
    </p>
  );
}
