import type { ComponentChildren } from 'preact';
import { CancelledError } from '../lib/loads';

/** A titled box with the loading, error and empty states every panel shares. */
export function Panel(props: {
  title: string;
  help?: string;
  loading?: boolean;
  error?: Error;
  empty?: string | false;
  actions?: ComponentChildren;
  children?: ComponentChildren;
  class?: string;
  testid?: string;
}) {
  const { title, help, loading, error, empty, actions, children } = props;
  return (
    <section class={`panel ${props.class ?? ''}`} aria-busy={loading ? 'true' : 'false'} data-testid={props.testid}>
      <header class="panel-head">
        <h2 title={help}>{title}</h2>
        {loading && <span class="spinner" aria-label="loading" />}
        <div class="panel-actions">{actions}</div>
      </header>
      {error ? (
        <ErrorBox error={error} />
      ) : empty ? (
        <p class="empty">{empty}</p>
      ) : (
        children
      )}
    </section>
  );
}

export function ErrorBox({ error }: { error: Error }) {
  if (error instanceof CancelledError)
    return (
      <div class="cancelled" role="status" data-testid="cancelled">
        <strong>Cancelled</strong>: {error.message}
      </div>
    );
  const path = (error as { path?: string }).path;
  return (
    <div class="error" role="alert">
      <strong>Error</strong>
      {path ? <span class="error-path"> from {path}</span> : null}: {error.message}
    </div>
  );
}
