/** Prometheus metrics of one hub instance, in its own registry (several hubs may share a process). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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
}

export function createHubMetrics(labels: { hub: string }): HubMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  const registers = [registry];
  return {
    registry,
    sessions: new Gauge({ name: 'fmp_hub_sessions', help: 'Authenticated mesh sessions', registers }),
    connections: new Gauge({ name: 'fmp_hub_connections', help: 'Open WebSocket connections', registers }),
    messages: new Counter({
      name: 'fmp_hub_messages_total',
      help: 'Envelopes by priority and outcome (delivered, queued, forwarded, rejected, expired)',
      labelNames: ['priority', 'outcome'],
      registers,
    }),
    frameErrors: new Counter({
      name: 'fmp_hub_frame_errors_total',
      help: 'Error frames sent, by wire code',
      labelNames: ['code'],
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
    queueSeconds: new Histogram({
      name: 'fmp_hub_queue_seconds',
      help: 'Time a frame waited in an outbound link queue, per priority class and link kind (node, peer)',
      labelNames: ['priority', 'link'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.2, 1, 5, 30],
      registers,
    }),
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
