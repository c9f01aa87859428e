// The shapes of the answers the UI reads.

export type Labels = Record<string, string>;

export interface MatrixSeries {
  metric: Labels;
  values: [number, string][];
}

export interface VectorSample {
  metric: Labels;
  value: [number, string];
}

export interface ExemplarSeries {
  seriesLabels: Labels;
  exemplars: { labels: Labels; value: string; timestamp: number }[];
}

export interface ServiceStats {
  name: string;
  /** Where it was seen: "traces", "metrics", "logs". */
  signals: string[];
  rate: number | null;
  errorRatio: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface GraphStats {
  rate: number;
  errorRate: number;
  p99Seconds: number | null;
}

export interface GraphNode extends GraphStats {
  id: string;
  type: 'service' | 'user' | 'database' | 'virtual';
}

export interface GraphEdge extends GraphStats {
  source: string;
  target: string;
  connectionType?: string;
}

export interface ServiceGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface SLOStatus {
  id: string;
  service: string;
  name: string;
  objective: number;
  window: string;
  sli: number | null;
  description?: string;
  spec?: string;
  errorRatio?: number | null;
  errorBudget: {
    ratio?: number;
    remaining: number | null;
    remainingPercent: number | null;
    currentBurnRate: number | null;
    exhaustedInSeconds?: number | null;
    exhaustedIn?: string;
  };
  burnRates: { window: string; errorRatio?: number | null; burnRate: number | null }[];
  alerts: {
    name: string;
    type?: string;
    severity: string;
    state: string;
    burning?: boolean;
    conditions?: { shortWindow: string; longWindow: string; factor: number; threshold: number; met: boolean }[];
  }[];
}

export interface Alert {
  labels: Labels;
  annotations: Labels;
  state: 'firing' | 'pending' | 'inactive';
  activeAt?: string;
  value?: string;
}

export interface Change {
  id: string;
  kind: string;
  service: string;
  instance?: string;
  version?: string;
  previousVersion?: string;
  author?: string;
  description?: string;
  time: string;
  source: string;
  links?: { title: string; url: string }[];
}

export interface Pattern {
  pattern: string;
  samples: [number, number][];
}

export interface Rule {
  name: string;
  query: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
  lastEvaluation?: string;
  evaluationTime?: number;
  labels?: Labels;
  annotations?: Labels;
  /** Alerting rules: inactive, pending or firing; `for` in seconds. */
  state?: string;
  duration?: number;
  alerts?: Alert[];
}

export interface RuleGroup {
  name: string;
  file: string;
  interval: number;
  rules: Rule[];
  lastEvaluation?: string;
  evaluationTime?: number;
}

/** An alert as the Alertmanager API (v2) gives it. */
export interface AMAlert {
  fingerprint: string;
  labels: Labels;
  annotations: Labels;
  startsAt: string;
  endsAt: string;
  updatedAt?: string;
  generatorURL?: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[] };
  receivers?: { name: string }[];
}

export interface Silence {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status: { state: 'active' | 'pending' | 'expired' };
}

/** Alertmanager's postableSilence (api/v2/openapi.yaml): matchers, RFC 3339 times, author, comment. */
export interface PostableSilence {
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

export interface Evidence {
  type: 'explore' | 'trace' | 'service' | 'change' | 'link';
  title: string;
  url: string;
  lang?: string;
  query?: string;
}

export interface Finding {
  kind: 'onset' | 'bubbleup' | 'where' | 'logs' | 'change' | 'saturation' | string;
  score: number;
  statement: string;
  evidence?: Evidence[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  details?: Record<string, any>;
}

export interface Investigation {
  request: Record<string, unknown> & { service?: string; signal?: string; start?: string; end?: string; threshold?: number };
  link?: string;
  summary: string;
  clearCulprit: boolean;
  onset: Finding;
  findings: Finding[] | null;
  series?: { start: string; stepSeconds: number; bad?: number[]; total?: number[]; values?: (number | null)[] };
  sampling?: Record<string, unknown>;
  warnings?: string[];
  tookSeconds?: number;
}
