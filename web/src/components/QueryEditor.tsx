// A query editor on CodeMirror 6: PromQL with highlighting, linting and
// autocomplete against Horus' own Prometheus API; plain text otherwise
// (LogQL and TraceQL grammars are for Explore's builder to add).
// Ctrl/Cmd-Enter submits. Import it only from lazily loaded pages.

import { autocompletion, closeBrackets } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { bracketMatching, syntaxHighlighting, defaultHighlightStyle } from '@codemirror/language';
import { EditorState, type Extension } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';
import { useEffect, useRef } from 'preact/hooks';

export function QueryEditor(props: {
  language: 'promql' | 'plain';
  value: string;
  onSubmit: (v: string) => void;
}) {
  const el = useRef<HTMLDivElement>(null);
  const submit = useRef(props.onSubmit);
  submit.current = props.onSubmit;
  useEffect(() => {
    const exts: Extension[] = [
      history(),
      closeBrackets(),
      bracketMatching(),
      syntaxHighlighting(defaultHighlightStyle),
      placeholder(props.language === 'promql' ? 'PromQL, e.g. sum by (job) (rate(http_requests_total[5m]))' : 'query'),
      keymap.of([
        { key: 'Mod-Enter', run: (v) => (submit.current(v.state.doc.toString()), true) },
        ...defaultKeymap,
        ...historyKeymap,
      ]),
      EditorView.lineWrapping,
    ];
    if (props.language === 'promql') {
      exts.push(new PromQLExtension().setComplete({ remote: { url: '' } }).asExtension(), autocompletion());
    }
    const view = new EditorView({ state: EditorState.create({ doc: props.value, extensions: exts }), parent: el.current! });
    return () => view.destroy();
  }, [props.language]);
  return <div class="query-editor" ref={el} aria-label="Query editor" />;
}
