// A sortable table. The sort column and direction live in the URL (keys
// `sort` and `dir` unless told otherwise), so a shared link keeps them.

import type { ComponentChildren } from 'preact';
import { useApp } from '../lib/app';
import { sortRows, type SortDir } from '../lib/sort';

export interface Column<T> {
  key: string;
  label: string;
  /** The value sorted on; null sorts last. */
  value: (row: T) => number | string | null;
  render?: (row: T) => ComponentChildren;
  numeric?: boolean;
  title?: string;
  /** The direction of the first click (numbers: descending). */
  firstDir?: SortDir;
}

export function Table<T>(props: {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  defaultSort: string;
  defaultDir?: SortDir;
  sortParam?: string;
  dirParam?: string;
  /** A custom comparator for the default sort (e.g. health). */
  custom?: Record<string, (a: T, b: T) => number>;
  label: string;
  testid?: string;
}) {
  const app = useApp();
  const sp = props.sortParam ?? 'sort';
  const dp = props.dirParam ?? 'dir';
  const sort = app.query.get(sp) || props.defaultSort;
  const col = props.columns.find((c) => c.key === sort) ?? props.columns.find((c) => c.key === props.defaultSort);
  const dir = (app.query.get(dp) as SortDir) || (sort === props.defaultSort ? (props.defaultDir ?? 'asc') : (col?.firstDir ?? (col?.numeric ? 'desc' : 'asc')));
  const custom = props.custom?.[sort];
  const rows = custom
    ? [...props.rows].sort((a, b) => (dir === 'asc' ? custom(a, b) : -custom(a, b)))
    : col
      ? sortRows(props.rows, col.value, dir)
      : props.rows;
  const click = (c: Column<T>) => {
    const nextDir: SortDir = sort === c.key ? (dir === 'asc' ? 'desc' : 'asc') : (c.firstDir ?? (c.numeric ? 'desc' : 'asc'));
    app.setParams({ [sp]: c.key, [dp]: nextDir }, true);
  };
  return (
    <table class="table" aria-label={props.label} data-testid={props.testid}>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th
              key={c.key}
              class={c.numeric ? 'num' : ''}
              aria-sort={sort === c.key ? (dir === 'asc' ? 'ascending' : 'descending') : 'none'}
              title={c.title}
            >
              <button type="button" onClick={() => click(c)}>
                {c.label}
                <span class="sort-mark">{sort === c.key ? (dir === 'asc' ? '▲' : '▼') : ''}</span>
              </button>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={props.rowKey(r)}>
            {props.columns.map((c) => (
              <td key={c.key} class={c.numeric ? 'num' : ''}>
                {c.render ? c.render(r) : String(c.value(r) ?? '–')}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
