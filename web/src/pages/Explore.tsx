// Explore (placeholder): loaded on demand, with the query editor, so that
// CodeMirror is downloaded only by who opens Explore.

import { useApp } from '../lib/app';
import { QueryEditor } from '../components/QueryEditor';

const MODES = [
  ['metrics', 'Metrics (PromQL)'],
  ['logs', 'Logs (LogQL)'],
  ['traces', 'Traces (TraceQL)'],
] as const;

export default function ExplorePage() {
  const app = useApp();
  const mode = app.query.get('mode') ?? 'metrics';
  const q = app.query.get('q') ?? '';
  return (
    <div class="page" data-testid="page-explore">
      <h1>Explore</h1>
      <nav class="segmented" aria-label="Signal">
        {MODES.map(([m, label]) => (
          <button
            type="button"
            key={m}
            aria-pressed={mode === m}
            class={mode === m ? 'active' : ''}
            onClick={() => app.setParams({ mode: m, q: null })}
          >
            {label}
          </button>
        ))}
      </nav>
      <section class="panel">
        <QueryEditor
          key={mode}
          language={mode === 'metrics' ? 'promql' : 'plain'}
          value={q}
          onSubmit={(v) => app.setParams({ q: v })}
        />
        <p class="muted">
          The {mode} view will be here: {mode === 'metrics' && 'a graph (lines or stacked) and a table with exemplars and the time comparison'}
          {mode === 'logs' && 'a volume histogram by level, the lines with level colours and expandable fields, live tail, context and patterns'}
          {mode === 'traces' && 'the matching traces (root service and name, duration, spans, errors) and a duration scatter whose selection becomes a query'}
          . The query is in the URL (<code>?mode={mode}&amp;q=…</code>); Ctrl-Enter runs it.
        </p>
      </section>
    </div>
  );
}
