// A query editor on CodeMirror 6: PromQL with highlighting, linting and
// autocomplete against Horus' own Prometheus API; LogQL and TraceQL with
// Grafana's Lezer grammars (highlighting); plain text otherwise.
// Ctrl/Cmd-Enter submits. Import it only from lazily loaded pages.

import { autocompletion, closeBrackets, closeCompletion } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { bracketMatching, syntaxHighlighting, defaultHighlightStyle } from '@codemirror/language';
import { EditorState, type Extension } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';
import { logqlLanguage, traceqlLanguage } from './languages';
import { useEffect, useRef } from 'preact/hooks';

export function QueryEditor(props: {
  language: 'promql' | 'logql' | 'traceql' | 'plain';
  placeholder?: string;
  value: string;
  onSubmit: (v: string) => void;
  /** Each edit's text (for a Run button). */
  onChange?: (v: string) => void;
}) {
  const el = useRef<HTMLDivElement>(null);
  const submit = useRef(props.onSubmit);
  submit.current = props.onSubmit;
  const change = useRef(props.onChange);
  change.current = props.onChange;
  const view = useRef<EditorView | null>(null);
  useEffect(() => {
    const exts: Extension[] = [
      history(),
      closeBrackets(),
      bracketMatching(),
      syntaxHighlighting(defaultHighlightStyle),
      placeholder(props.placeholder ?? (props.language === 'promql' ? 'PromQL, e.g. sum by (job) (rate(http_requests_total[5m]))' : 'query')),
      keymap.of([
        // Submitting closes the completion list, which would cover the results.
        { key: 'Mod-Enter', run: (v) => (closeCompletion(v), submit.current(v.state.doc.toString()), true) },
        ...defaultKeymap,
        ...historyKeymap,
      ]),
      EditorView.lineWrapping,
      EditorView.updateListener.of((u) => {
        if (u.docChanged) change.current?.(u.state.doc.toString());
      }),
    ];
    if (props.language === 'promql') {
      exts.push(new PromQLExtension().setComplete({ remote: { url: '' } }).asExtension(), autocompletion());
    } else if (props.language === 'logql') {
      exts.push(logqlLanguage);
    } else if (props.language === 'traceql') {
      exts.push(traceqlLanguage);
    }
    const v = new EditorView({ state: EditorState.create({ doc: props.value, extensions: exts }), parent: el.current! });
    view.current = v;
    return () => v.destroy();
  }, [props.language]);
  // A new value from outside (the URL changed): replace the text.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== props.value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.value } });
    }
  }, [props.value]);
  return <div class="query-editor" ref={el} aria-label="Query editor" />;
}
