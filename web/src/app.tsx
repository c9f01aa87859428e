// The shell: the navigation, the toolbar (time range, comparison,
// refresh, tenant) and the routes of docs/ui.md.

import { ErrorBoundary, lazy, LocationProvider, Route, Router } from 'preact-iso';
import { ComparePicker, RefreshPicker, TenantPicker, TimePicker } from './components/Toolbar';
import { AppProvider, useApp } from './lib/app';
import { href } from './lib/url';
import { AlertPage, AlertsPage } from './pages/Alerts';
import { ChangesPage } from './pages/Changes';
import { NotFound } from './pages/Placeholders';
import { ServicePage } from './pages/Service';
import { ServicesPage } from './pages/Services';
import { SLOPage, SLOsPage } from './pages/SLOs';

const ExplorePage = lazy(() => import('./pages/Explore'));
const InvestigatePage = lazy(() => import('./pages/Investigate'));
const TracePage = lazy(() => import('./pages/Trace'));

const NAV = [
  ['/services', 'Services', (p: string) => p === '/' || p.startsWith('/service')],
  ['/explore', 'Explore', (p: string) => p.startsWith('/explore') || p.startsWith('/trace')],
  ['/alerts', 'Alerts', (p: string) => p.startsWith('/alerts')],
  ['/slos', 'SLOs', (p: string) => p.startsWith('/slos')],
  ['/changes', 'Changes', (p: string) => p.startsWith('/changes')],
] as const;

function Shell() {
  const app = useApp();
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={href('/services', {}, app.query)}>
          <svg class="logo" viewBox="0 0 16 16" aria-hidden="true">
            <circle cx="8" cy="8" r="7" fill="#1e3a8a" />
            <circle cx="8" cy="8" r="3" fill="#fbbf24" />
          </svg>
          Horus
        </a>
        <nav class="nav" aria-label="Pages">
          {NAV.map(([path, label, active]) => (
            <a key={path} href={href(path, {}, app.query)} aria-current={active(app.path) ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="toolbar">
          <TenantPicker />
          <ComparePicker />
          <TimePicker />
          <RefreshPicker />
        </div>
      </header>
      <main id="main">
        <ErrorBoundary>
          <Router>
            <Route path="/" component={ServicesPage} />
            <Route path="/services" component={ServicesPage} />
            <Route path="/service/:name" component={ServicePage} />
            <Route path="/explore" component={ExplorePage} />
            <Route path="/trace/:id" component={TracePage} />
            <Route path="/alerts" component={AlertsPage} />
            <Route path="/alerts/:fingerprint" component={AlertPage} />
            <Route path="/slos" component={SLOsPage} />
            <Route path="/slos/:id" component={SLOPage} />
            <Route path="/changes" component={ChangesPage} />
            <Route path="/investigate" component={InvestigatePage} />
            <Route default component={NotFound} />
          </Router>
        </ErrorBoundary>
      </main>
    </>
  );
}

export function App() {
  return (
    <LocationProvider>
      <AppProvider>
        <Shell />
      </AppProvider>
    </LocationProvider>
  );
}
