/**
 * Anomaly detection per subject (mesh) and signal on exponentially weighted statistics: the mean
 * and variance follow the incremental form of West (1979) / Finch (2009, "Incremental calculation
 * of weighted mean and variance"), and a sample more than `zThreshold` standard deviations from
 * the mean is an anomaly. Pure: time is passed in; memory is bounded by `maxSubjects`.
 *
 * @example
 * ```ts
 * const detector = new AnomalyDetector();
 * const a = detector.observe('did:mesh:acme', 'errorRate', 0.02, Date.now());
 * if (a) penalise(a.subject, a.z); // one anomaly per subject and signal per cooldown
 * ```
 */
import { ValidationError } from '@fmp/core';

export type AnomalySignal = 'messageRate' | 'errorRate' | 'violationRate' | 'latency';

export const ANOMALY_SIGNALS: readonly AnomalySignal[] = [
  'messageRate',
  'errorRate',
  'violationRate',
  'latency',
];

export interface Anomaly {
  readonly subject: string;
  readonly signal: AnomalySignal;
  /** The sample. */
  readonly value: number;
  /** Mean and (unfloored) standard deviation before the sample was folded in. */
  readonly mean: number;
  readonly stddev: number;
  /** (value - mean) / max(stddev, minStddev + minRelativeStddev * |mean|). */
  readonly z: number;
  readonly at: number;
}

export interface AnomalyOptions {
  /** Weight of a new sample in the exponentially weighted statistics, (0, 1]. Default 0.05. */
  alpha?: number;
  /** Flag when |z| exceeds this. Default 4. */
  zThreshold?: number;
  /** Samples a subject+signal needs before its samples are judged. Default 30. */
  warmupSamples?: number;
  /** At most one anomaly per subject+signal per this many ms. Default 60,000. */
  cooldownMs?: number;
  /** Subjects kept; the least recently observed is forgotten beyond it. Default 100,000. */
  maxSubjects?: number;
  /** Absolute floor of the standard deviation used for z. Default 1e-9. */
  minStddev?: number;
  /** Floor of the standard deviation relative to |mean|: jitter within ~1% of a steady value is never anomalous. Default 0.01. */
  minRelativeStddev?: number;
}

/** Longest subject id accepted (DIDs are far shorter); bounds the memory a subject can take. */
export const MAX_SUBJECT_LENGTH = 2048;

const SIGNAL_INDEX: Readonly<Record<AnomalySignal, number>> = {
  messageRate: 0,
  errorRate: 1,
  violationRate: 2,
  latency: 3,
};

// Per subject, one Float64Array with 4 fields per signal (no per-signal objects).
const MEAN = 0;
const VARIANCE = 1;
const SAMPLES = 2;
const LAST_ANOMALY = 3;
const FIELDS = 4;

function newRecord(): Float64Array {
  const r = new Float64Array(FIELDS * ANOMALY_SIGNALS.length);
  for (let s = 0; s < ANOMALY_SIGNALS.length; s++) r[s * FIELDS + LAST_ANOMALY] = Number.NEGATIVE_INFINITY;
  return r;
}

function option(name: string, value: number | undefined, fallback: number, ok: (x: number) => boolean) {
  const x = value ?? fallback;
  if (typeof x !== 'number' || Number.isNaN(x) || !ok(x)) {
    throw new ValidationError(`invalid anomaly option ${name}: ${String(x)}`, [
      { path: name, message: 'out of range' },
    ]);
  }
  return x;
}

function finite(name: string, x: number): void {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new ValidationError(`${name} must be a finite number`, [{ path: name, message: 'finite number' }]);
  }
}

/**
 * Exponentially weighted statistics per subject and signal.
 *
 * Update, with diff = x - mean: mean += a * diff; variance = (1 - a) * (variance + a * diff^2).
 * The weight is a = max(alpha, 1 / n) for the n-th sample: the first 1/alpha samples are weighted
 * equally (it is then Welford's running mean and population variance), so the statistics are not
 * biased towards the first sample when warm-up ends; afterwards a = alpha.
 *
 * A sample's z is computed against the statistics before it is folded in, over a floored standard
 * deviation max(stddev, minStddev + minRelativeStddev * |mean|): a signal that has been constant
 * has stddev 0, and its tiny jitter must not give an infinite z. Every sample, anomalous or not, is
 * folded in: a lasting change becomes the new normal after roughly 1/alpha samples.
 */
export class AnomalyDetector {
  readonly alpha: number;
  readonly zThreshold: number;
  readonly warmupSamples: number;
  readonly cooldownMs: number;
  readonly maxSubjects: number;
  readonly minStddev: number;
  readonly minRelativeStddev: number;

  /** Insertion order is recency order: the first key is the least recently observed subject. */
  private readonly subjects = new Map<string, Float64Array>();
  private lastSubject: string | undefined;

  constructor(options: AnomalyOptions = {}) {
    this.alpha = option('alpha', options.alpha, 0.05, (x) => x > 0 && x <= 1);
    this.zThreshold = option('zThreshold', options.zThreshold, 4, (x) => x > 0 && Number.isFinite(x));
    this.warmupSamples = option(
      'warmupSamples',
      options.warmupSamples,
      30,
      (x) => Number.isSafeInteger(x) && x >= 0,
    );
    this.cooldownMs = option('cooldownMs', options.cooldownMs, 60_000, (x) => x >= 0 && Number.isFinite(x));
    this.maxSubjects = option(
      'maxSubjects',
      options.maxSubjects,
      100_000,
      (x) => Number.isSafeInteger(x) && x >= 1,
    );
    this.minStddev = option('minStddev', options.minStddev, 1e-9, (x) => x > 0 && Number.isFinite(x));
    this.minRelativeStddev = option(
      'minRelativeStddev',
      options.minRelativeStddev,
      0.01,
      (x) => x >= 0 && Number.isFinite(x),
    );
  }

  /** Subjects currently held (at most maxSubjects). */
  get size(): number {
    return this.subjects.size;
  }

  /**
   * Folds one sample into subject's statistics for `signal`. Returns an Anomaly when |z| exceeds
   * the threshold, the statistics had at least `warmupSamples` samples (and at least one), and no
   * anomaly was reported for this subject and signal within `cooldownMs` (a clock that steps back
   * counts as within it). Throws ValidationError on a bad subject, signal, value or time.
   */
  observe(subject: string, signal: AnomalySignal, value: number, now: number): Anomaly | undefined {
    const s = Object.hasOwn(SIGNAL_INDEX, signal) ? SIGNAL_INDEX[signal] : undefined;
    if (s === undefined) {
      throw new ValidationError(`unknown anomaly signal ${String(signal)}`, [
        { path: 'signal', message: ANOMALY_SIGNALS.join(' | ') },
      ]);
    }
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
      throw new ValidationError(`subject must be a string of 1-${MAX_SUBJECT_LENGTH} characters`, [
        { path: 'subject', message: 'invalid subject' },
      ]);
    }
    finite('value', value);
    finite('now', now);

    const r = this.touch(subject);
    const o = s * FIELDS;
    const n = r[o + SAMPLES]!;
    const mean = r[o + MEAN]!;
    const variance = r[o + VARIANCE]!;

    const a = Math.max(this.alpha, 1 / (n + 1));
    const diff = value - mean;
    const incr = a * diff;
    r[o + MEAN] = mean + incr;
    r[o + VARIANCE] = (1 - a) * (variance + diff * incr);
    r[o + SAMPLES] = n + 1;

    if (n < this.warmupSamples || n === 0) return undefined;
    const stddev = Math.sqrt(variance);
    const z = diff / Math.max(stddev, this.minStddev + this.minRelativeStddev * Math.abs(mean));
    if (!(Math.abs(z) > this.zThreshold)) return undefined;
    if (now - r[o + LAST_ANOMALY]! < this.cooldownMs) return undefined;
    r[o + LAST_ANOMALY] = now;
    return { subject, signal, value, mean, stddev, z, at: now };
  }

  /** The current statistics of subject's `signal`, or undefined before its first sample. */
  stats(
    subject: string,
    signal: AnomalySignal,
  ): { mean: number; stddev: number; samples: number } | undefined {
    const r = this.subjects.get(subject);
    const s = Object.hasOwn(SIGNAL_INDEX, signal) ? SIGNAL_INDEX[signal] : undefined;
    if (!r || s === undefined) return undefined;
    const o = s * FIELDS;
    const samples = r[o + SAMPLES]!;
    if (samples === 0) return undefined;
    return { mean: r[o + MEAN]!, stddev: Math.sqrt(r[o + VARIANCE]!), samples };
  }

  /** Forgets a subject (e.g. one that left the network). */
  delete(subject: string): boolean {
    if (this.lastSubject === subject) this.lastSubject = undefined;
    return this.subjects.delete(subject);
  }

  /** The subject's record, marked most recently used; a new subject may evict the oldest. */
  private touch(subject: string): Float64Array {
    let r = this.subjects.get(subject);
    if (r) {
      // Re-insert to move it to the end of the Map's order, unless it is there already.
      if (this.lastSubject !== subject) {
        this.subjects.delete(subject);
        this.subjects.set(subject, r);
      }
    } else {
      if (this.subjects.size >= this.maxSubjects) {
        const oldest = this.subjects.keys().next();
        if (!oldest.done) this.subjects.delete(oldest.value);
      }
      r = newRecord();
      this.subjects.set(subject, r);
    }
    this.lastSubject = subject;
    return r;
  }
}
