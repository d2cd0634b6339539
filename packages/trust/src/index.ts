/**
 * @fmp/trust: the trust engine (spec 5). Pure: no sockets, no files; clocks are injected.
 *
 * Building blocks: decaying counters (`DecayingValue`), global trust by EigenTrust (`GlobalTrust`)
 * and anomaly detection on exponentially weighted statistics (`AnomalyDetector`).
 */
export * from './anomaly.js';
export * from './decay.js';
export * from './eigentrust.js';
export * from './eigentrust-bench.js';
export * from './engine.js';
// The score model and the engine (the lead's modules) build on the three above.
export * from './engine.js';
export * from './model.js';
export * from './model.js';
