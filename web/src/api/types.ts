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
  errorBudget: {
    remaining: number | null;
    remainingPercent: number | null;
    currentBurnRate: number | null;
    exhaustedIn?: string;
  };
  burnRates: { window: string; burnRate: number | null }[];
  alerts: { name: string; severity: string; state: string }[];
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
}

export interface Pattern {
  pattern: string;
  samples: [number, number][];
}
