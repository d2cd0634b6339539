/**
 * Prometheus metrics of one hub instance, in its own registry (several hubs may share a process).
 * The two metrics touched per routed message (messages, queueSeconds) are made cheap on the hot
 * path: prom-client validates and hashes the label object on every inc/observe, which showed in
 * the hub's profile. `messages` adds to a plain number per label set and hands the sums to
 * prom-client when scraped; `queueSeconds` updates its series in place once the series exists.
 */
import { Counter, Gauge, Histogram, type LabelValues, Registry } from 'prom-client';

export interface HubMetrics {
  readonly registry: Registry;
  readonly sessions: Gauge;
  readonly connections: Gauge;
  readonly messages: Counter<'priority' | 'outcome'>;
  readonly frameErrors: Counter<'code'>;
  readonly handshakes: Counter<'outcome'>;
  readonly handshakeSeconds: Histogram;
  readonly queueSeconds: Histogram<'priority' | 'link'>;
  readonly peerLinks: Gauge;
  readonly relayed: Counter<'kind' | 'outcome'>;
  readonly offlineQueued: Gauge;
  readonly federations: Gauge<'status'>;
  readonly trustAnomalies: Counter<'signal'>;
  readonly trustRecomputeSeconds: Gauge;
}

export function createHubMetrics(labels: { hub: string }): HubMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  const registers = [registry];
  return {
    registry,
    sessions: new Gauge({ name: 'fmp_hub_sessions', help: 'Authenticated mesh sessions', registers }),
    connections: new Gauge({
      name: 'fmp_hub_connections',
      help: 'Open mesh links (WebSocket and gRPC)',
      registers,
    }),
    messages: batchedCounter(
      new Counter({
        name: 'fmp_hub_messages_total',
        help: 'Envelopes by priority and outcome (delivered, queued, forwarded, rejected, expired)',
        labelNames: ['priority', 'outcome'],
        registers,
      }),
      ['priority', 'outcome'],
    ),
    frameErrors: new Counter({
      name: 'fmp_hub_frame_errors_total',
      help: 'Error frames sent, by wire code',
      labelNames: ['code'],
      registers,
    }),
    trustAnomalies: new Counter({
      name: 'fmp_hub_trust_anomalies_total',
      help: 'Anomalies found by the trust engine, by signal',
      labelNames: ['signal'],
      registers,
    }),
    trustRecomputeSeconds: new Gauge({
      name: 'fmp_hub_trust_recompute_seconds',
      help: 'Duration of the last EigenTrust recompute',
      registers,
    }),
    handshakes: new Counter({
      name: 'fmp_hub_handshakes_total',
      help: 'Federation handshakes by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    handshakeSeconds: new Histogram({
      name: 'fmp_hub_handshake_seconds',
      help: 'InitiateFederation to FederationConfirm, at the hub',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    queueSeconds: directHistogram(
      new Histogram({
        name: 'fmp_hub_queue_seconds',
        help: 'Time a frame waited in an outbound link queue, per priority class and link kind (node, peer)',
        labelNames: ['priority', 'link'],
        buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.2, 1, 5, 30],
        registers,
      }),
      ['priority', 'link'],
    ),
    peerLinks: new Gauge({ name: 'fmp_hub_peer_links', help: 'Authenticated peer-hub links', registers }),
    relayed: new Counter({
      name: 'fmp_hub_relayed_total',
      help: 'Relay frames between hubs by inner kind and outcome (sent, received, rerouted, dropped)',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    offlineQueued: new Gauge({
      name: 'fmp_hub_offline_queued',
      help: 'Messages held for offline meshes',
      registers,
    }),
    federations: new Gauge({
      name: 'fmp_hub_federations',
      help: 'Federations by status',
      labelNames: ['status'],
      registers,
    }),
  };
}

/**
 * Values found by their label values, one Map level per label name: a lookup makes no key string
 * (a joined key was a new string to build and hash on every routed message).
 */
class SeriesIndex<T> {
  private readonly root = new Map<unknown, unknown>();
  size = 0;

  constructor(private readonly names: readonly string[]) {
    if (names.length === 0) throw new Error('a series index needs label names');
  }

  get(labels: Record<string, unknown>): T | undefined {
    let node: unknown = this.root;
    for (const name of this.names) {
      node = (node as Map<unknown, unknown>).get(labels[name]);
      if (node === undefined) return undefined;
    }
    return node as T;
  }

  set(labels: Record<string, unknown>, value: T): void {
    let node = this.root;
    const last = this.names.length - 1;
    for (let i = 0; i < last; i++) {
      const k = labels[this.names[i]!];
      let next = node.get(k) as Map<unknown, unknown> | undefined;
      if (!next) {
        next = new Map();
        node.set(k, next);
      }
      node = next;
    }
    node.set(labels[this.names[last]!], value);
    this.size++;
  }

  *values(): IterableIterator<T> {
    const walk = function* (node: Map<unknown, unknown>, depth: number): IterableIterator<unknown> {
      for (const v of node.values()) {
        if (depth === 0) yield v;
        else yield* walk(v as Map<unknown, unknown>, depth - 1);
      }
    };
    yield* walk(this.root, this.names.length - 1) as IterableIterator<T>;
  }
}

/** Label sets remembered per hot metric; past this the metric falls back to prom-client's path. */
const MAX_HOT_SERIES = 256;

/**
 * A counter whose inc() adds to a number per label set; prom-client gets the sums when the metric
 * is read (get() and registry.metrics() call collect). The first inc of a label set goes through
 * prom-client, which validates the labels and creates the series.
 */
function batchedCounter<L extends string>(counter: Counter<L>, labelNames: readonly L[]): Counter<L> {
  const slowInc = counter.inc.bind(counter) as (labels: LabelValues<L>, value?: number) => void;
  const pending = new SeriesIndex<{ labels: LabelValues<L>; value: number }>(labelNames);
  const flush = () => {
    for (const p of pending.values()) {
      if (p.value > 0) slowInc(p.labels, p.value);
      p.value = 0;
    }
  };
  (counter as unknown as { collect: () => void }).collect = flush;
  counter.inc = ((labels?: LabelValues<L> | number, value?: number) => {
    const v = value ?? 1;
    if (typeof labels !== 'object' || labels === null || !Number.isFinite(v) || v < 0) {
      // Unlabelled or invalid: prom-client's own path (and its errors).
      slowInc(labels as LabelValues<L>, value);
      return;
    }
    let p = pending.get(labels);
    if (!p) {
      slowInc(labels, 0);
      if (pending.size >= MAX_HOT_SERIES) {
        slowInc(labels, v);
        return;
      }
      p = { labels: { ...labels }, value: 0 };
      pending.set(labels, p);
    }
    p.value += v;
  }) as Counter<L>['inc'];
  return counter;
}

interface HistogramSeries {
  labels: unknown;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/**
 * A histogram whose observe() updates its series in place (sum, count, bucket) after the first
 * observation of a label set went through prom-client. Relies on prom-client 15's series layout
 * (`hashMap` entries, `upperBounds`); if that is not there, the histogram is left as it is.
 */
function directHistogram<L extends string>(histogram: Histogram<L>, labelNames: readonly L[]): Histogram<L> {
  const h = histogram as unknown as { hashMap?: Record<string, HistogramSeries>; upperBounds?: number[] };
  if (typeof h.hashMap !== 'object' || h.hashMap === null || !Array.isArray(h.upperBounds)) return histogram;
  const bounds = h.upperBounds;
  // prom-client keys the buckets by the bound as a property name: made once, not per observation.
  const bucketKeys = bounds.map(String);
  const slowObserve = histogram.observe.bind(histogram) as (labels: LabelValues<L>, value: number) => void;
  let series = new SeriesIndex<HistogramSeries>(labelNames);
  let seenMap = h.hashMap;
  histogram.observe = ((labels: LabelValues<L> | number, value?: number) => {
    if (
      typeof labels !== 'object' ||
      labels === null ||
      typeof value !== 'number' ||
      !Number.isFinite(value)
    ) {
      (slowObserve as (l: unknown, v?: number) => void)(labels, value);
      return;
    }
    // reset() replaces the map: forget the series held from before.
    if (h.hashMap !== seenMap) {
      seenMap = h.hashMap!;
      series = new SeriesIndex(labelNames);
    }
    const s = series.get(labels);
    if (!s) {
      const own = { ...labels };
      slowObserve(own, value);
      if (series.size < MAX_HOT_SERIES) {
        for (const entry of Object.values(seenMap)) {
          if (entry.labels === own) series.set(labels, entry);
        }
      }
      return;
    }
    s.sum += value;
    s.count += 1;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        const key = bucketKeys[i]!;
        s.bucketValues[key] = (s.bucketValues[key] ?? 0) + 1;
        break;
      }
    }
  }) as Histogram<L>['observe'];
  return histogram;
}
