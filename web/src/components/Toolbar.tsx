// The controls of the top bar: time range, comparison, auto-refresh and
// tenant. All are native form controls and buttons, usable with the
// keyboard; each writes the URL.

import { useEffect, useRef, useState } from 'preact/hooks';
import { tenants } from '../api/horus';
import { useApi, useApp } from '../lib/app';
import {
  COMPARES,
  type Compare,
  describeRange,
  formatAbsolute,
  isRelative,
  parseTime,
  RELATIVE_RANGES,
} from '../lib/time';
import { REFRESH_INTERVALS } from '../lib/url';

export function TimePicker() {
  const app = useApp();
  const { range } = app.global;
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [err, setErr] = useState('');
  const pop = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  // Opening moves the focus into the dialog; Escape closes it and gives the focus back.
  useEffect(() => {
    if (open) pop.current?.querySelector<HTMLButtonElement>('button.active, button')?.focus();
  }, [open]);
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  const openPicker = () => {
    setFrom(isRelative(range) ? formatAbsolute(app.range.start) : range.from);
    setTo(isRelative(range) ? formatAbsolute(app.range.end) : range.to);
    setErr('');
    setOpen(!open);
  };
  const apply = (e: Event) => {
    e.preventDefault();
    const now = Date.now();
    const a = parseTime(from.trim(), now);
    const b = parseTime(to.trim(), now);
    if (a === null || b === null) return setErr('A time is "now", "now-1h", an RFC 3339 time or Unix milliseconds.');
    if (b <= a) return setErr('"To" must be after "from".');
    app.setGlobal({ range: { from: from.trim(), to: to.trim() } });
    close();
  };
  const shift = (dir: -1 | 1) => {
    const d = app.range.end - app.range.start;
    const a = app.range.start + (dir * d) / 2;
    app.setGlobal({ range: { from: formatAbsolute(a), to: formatAbsolute(a + d) }, refresh: '' });
  };
  const zoomOut = () => {
    const d = app.range.end - app.range.start;
    const end = Math.min(Date.now(), app.range.end + d / 2);
    app.setGlobal({ range: { from: formatAbsolute(end - 2 * d), to: formatAbsolute(end) } });
  };
  return (
    <div class="timepicker">
      <button type="button" class="icon" title="Earlier" aria-label="Move the range earlier" onClick={() => shift(-1)}>
        ‹
      </button>
      <button
        type="button"
        class="range-button"
        ref={button}
        aria-haspopup="dialog"
        aria-expanded={open}
        onClick={openPicker}
        data-testid="time-range"
        title={`${formatAbsolute(app.range.start)} → ${formatAbsolute(app.range.end)}`}
      >
        {describeRange(range)}
      </button>
      <button type="button" class="icon" title="Later" aria-label="Move the range later" onClick={() => shift(1)}>
        ›
      </button>
      <button type="button" class="icon" title="Zoom out" aria-label="Zoom out" onClick={zoomOut}>
        ⊖
      </button>
      {open && (
        <div
          class="popover"
          role="dialog"
          aria-label="Time range"
          ref={pop}
          onKeyDown={(e) => {
            if (e.key === 'Escape') close();
          }}
        >
          <div class="quick">
            {RELATIVE_RANGES.map((r) => (
              <button
                type="button"
                key={r}
                class={range.from === `now-${r}` && range.to === 'now' ? 'active' : ''}
                onClick={() => {
                  app.setGlobal({ range: { from: `now-${r}`, to: 'now' } });
                  close();
                }}
              >
                Last {r}
              </button>
            ))}
          </div>
          <form class="absolute" onSubmit={apply}>
            <label>
              From <input value={from} onInput={(e) => setFrom(e.currentTarget.value)} placeholder="now-1h" />
            </label>
            <label>
              To <input value={to} onInput={(e) => setTo(e.currentTarget.value)} placeholder="now" />
            </label>
            {err && <p class="error-inline">{err}</p>}
            <div class="row">
              <button type="submit" class="primary">
                Apply
              </button>
              <button type="button" onClick={close}>
                Cancel
              </button>
            </div>
          </form>
        </div>
      )}
    </div>
  );
}

export function ComparePicker() {
  const app = useApp();
  return (
    <div class="compare" role="group" aria-label="Time comparison">
      <span class="compare-label">compare</span>
      <div class="segmented">
      {COMPARES.filter((c) => c.value).map((c) => {
        const on = app.global.compare === c.value;
        return (
          <button
            type="button"
            key={c.value}
            aria-pressed={on}
            class={on ? 'active' : ''}
            title={`Overlay ${c.label.toLowerCase()} on every graph`}
            onClick={() => app.setGlobal({ compare: on ? '' : (c.value as Compare) })}
          >
            {c.value === 'prev' ? 'prev' : c.value}
          </button>
        );
      })}
      </div>
    </div>
  );
}

export function RefreshPicker() {
  const app = useApp();
  const relative = isRelative(app.global.range);
  return (
    <div class="refresh">
      <button type="button" class="icon" title="Refresh now" aria-label="Refresh now" onClick={app.refresh}>
        ⟳
      </button>
      <select
        aria-label="Auto-refresh"
        value={app.global.refresh}
        disabled={!relative}
        title={relative ? 'Auto-refresh' : 'Auto-refresh needs a relative range'}
        onChange={(e) => app.setGlobal({ refresh: e.currentTarget.value })}
      >
        {REFRESH_INTERVALS.map((r) => (
          <option key={r} value={r}>
            {r ? `every ${r}` : 'auto off'}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * The tenant picker. Horus lists no tenants to a reader (each tenant sees
 * only its own data: /api/v1/label/__tenant__/values answers [] by
 * design), so the picker offers what the API lists, if it ever does, and
 * the tenants this browser has opened (a `?tenant=` link); it shows once
 * there is more than the default tenant to choose from. "Other…" asks for a
 * name.
 */
export function TenantPicker() {
  const app = useApp();
  const res = useApi((o) => tenants({ signal: o.signal }), []);
  const current = app.global.tenant;
  const remembered = rememberTenant(current);
  const all = [...new Set(['', ...(res.data ?? []), ...remembered, current])].filter((t) => t !== 'default');
  if (all.length < 2) return null;
  return (
    <label class="tenant">
      <span>Tenant</span>
      <select
        value={current}
        onChange={(e) => {
          let v = e.currentTarget.value;
          if (v === '\u0000other') {
            v = (prompt('Tenant (X-Scope-OrgID)') ?? '').trim();
            if (!v) {
              e.currentTarget.value = current;
              return;
            }
          }
          app.setGlobal({ tenant: v });
        }}
      >
        {all.map((t) => (
          <option key={t} value={t}>
            {t || 'default'}
          </option>
        ))}
        <option value={'\u0000other'}>Other…</option>
      </select>
    </label>
  );
}

const TENANTS_KEY = 'horus.tenants';

/** Remembers t (unless empty) and returns the tenants remembered. */
function rememberTenant(t: string): string[] {
  let list: string[] = [];
  try {
    list = JSON.parse(localStorage.getItem(TENANTS_KEY) ?? '[]') as string[];
    if (t && /^[A-Za-z0-9_.-]{1,150}$/.test(t) && !list.includes(t)) {
      list = [t, ...list].slice(0, 20);
      localStorage.setItem(TENANTS_KEY, JSON.stringify(list));
    }
  } catch {
    /* storage off: only the URL's tenant */
  }
  return list;
}
