/**
 * The trust engine (spec 5, DESIGN "Trust engine"): a live score per mesh from the network's events.
 *
 * Two tiers. Every event updates decaying counters of its subject, so the score moves at once
 * (a few microseconds per event); periodically `recomputeGlobal()` runs EigenTrust over the trust
 * graph (spec 5.2: who is satisfied with whom, attestations, pre-trusted authorities and hubs) and
 * its result weighs the attestations. Anomalies in a mesh's message rate, error rate, violation rate
 * or latency become a decaying penalty and an event. Every score can be explained.
 */
import { intern, internList, ValidationError } from '@fmp/core';
import { type Anomaly, AnomalyDetector, type AnomalyOptions, type AnomalySignal } from './anomaly.js';
import { DecayingValue } from './decay.js';
import { type EigenTrustOptions, GlobalTrust } from './eigentrust.js';
import {
  attestationFactor,
  behaviorFactor,
  checkWeights,
  complianceFactor,
  credentialFactor,
  DEFAULT_LEVEL_PERMISSIONS,
  DEFAULT_WEIGHTS,
  FACTORS,
  type Factor,
  type FactorValues,
  HOW_TO_RAISE,
  type LevelPermissions,
  levelOf,
  type TrustLevel,
  type TrustWeights,
  UPTIME_PRIOR_MS,
  uptimeFactor,
  weightedScore,
} from './model.js';

/** Stakes come from the ledger (issue #7); the engine only reads them. */
export interface StakeSource {
  /** MESH bonded by `did` (0 when none). */
  stakeOf(did: string): number;
}

export type InteractionOutcome =
  | 'delivered'
  | 'delivery_failed'
  | 'tool_call_ok'
  | 'tool_call_failed'
  | 'handshake_ok';
export type ViolationKind =
  | 'handshake_failure'
  | 'invalid_signature'
  | 'replay'
  | 'policy'
  | 'compliance'
  | 'rate_abuse';

export interface AttestationRecord {
  readonly id: string;
  readonly attester: string;
  readonly subject: string;
  readonly score: number;
  readonly claim: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export type TrustEvent =
  | {
      readonly kind: 'credential';
      readonly subject: string;
      readonly at: number;
      readonly valid: boolean;
      readonly trustLevel: number;
      readonly certifications: readonly string[];
      readonly issuer?: string;
      readonly didResolvable: boolean;
      readonly reason?: string;
    }
  | {
      /** `subject` did well or badly in an interaction with `counterpart` (who is (dis)satisfied). */
      readonly kind: 'interaction';
      readonly subject: string;
      readonly counterpart?: string;
      readonly at: number;
      readonly outcome: InteractionOutcome;
      /** How many such outcomes this event stands for (hubs aggregate per second). Default 1. */
      readonly count?: number;
      readonly detail?: string;
    }
  | {
      readonly kind: 'violation';
      readonly subject: string;
      readonly counterpart?: string;
      readonly at: number;
      readonly violation: ViolationKind;
      readonly detail: string;
    }
  | { readonly kind: 'session'; readonly subject: string; readonly at: number; readonly connected: boolean }
  | { readonly kind: 'heartbeat'; readonly subject: string; readonly at: number; readonly ok: boolean }
  | {
      /** Messages the subject sent since the last such event (for the anomaly statistics). */
      readonly kind: 'message';
      readonly subject: string;
      readonly at: number;
      readonly messages: number;
      readonly errors: number;
      readonly latencyMsSum?: number;
      readonly latencyCount?: number;
    }
  | { readonly kind: 'attestation'; readonly at: number; readonly attestation: AttestationRecord };

export interface TrustEngineOptions {
  readonly now?: () => number;
  readonly weights?: TrustWeights;
  readonly levels?: Record<TrustLevel, LevelPermissions>;
  /** Authorities and hubs: EigenTrust's pre-trusted peers. */
  readonly preTrusted?: readonly string[];
  readonly stake?: StakeSource;
  readonly halfLives?: {
    /** Interaction outcomes. Default 7 days. */
    readonly behaviorMs?: number;
    /** Violations (their permanent mark never decays). Default 90 days. */
    readonly violationMs?: number;
    /** Anomaly penalties. Default 1 hour. */
    readonly anomalyMs?: number;
    /** Uptime and heartbeats. Default 7 days. */
    readonly uptimeMs?: number;
  };
  /** Active attestations per attester (its budget is split among them). Default 64. */
  readonly attestationBudget?: number;
  /** Score points an anomaly takes away (decaying). Default 10. */
  readonly anomalyPenalty?: number;
  /** Observed time after which measured uptime and the neutral prior weigh the same. Default 10 min. */
  readonly uptimePriorMs?: number;
  /** Statistics window for anomaly signals. Default 10 s. */
  readonly anomalyWindowMs?: number;
  readonly anomaly?: AnomalyOptions;
  readonly eigenTrust?: EigenTrustOptions;
  /** Subjects kept (least recently updated forgotten beyond). Default 1,000,000. */
  readonly maxSubjects?: number;
  /** Trust-graph edges kept (new ones are ignored beyond). Default 2,000,000. */
  readonly maxEdges?: number;
}

export class AttestationRefusedError extends ValidationError {}

interface RecentEvent {
  readonly at: number;
  readonly what: string;
}

const RECENT = 16;

/** Takes up to `limit` keys out of `dirty`, with what `read` gives for each (none when it is gone). */
function takeFrom<T>(dirty: Set<string>, limit: number, read: (key: string) => T | undefined): T[] {
  const out: T[] = [];
  for (const key of dirty) {
    if (out.length >= limit) break;
    dirty.delete(key);
    const value = read(key);
    if (value !== undefined) out.push(value);
  }
  return out;
}

class SubjectState {
  credential:
    | {
        valid: boolean;
        trustLevel: number;
        certifications: readonly string[];
        issuer: string | undefined;
        didResolvable: boolean;
        reason: string | undefined;
        at: number;
      }
    | undefined;
  positive: DecayingValue;
  // Counters most meshes never need are made on first use (memory per mesh: 10,000 sessions a hub).
  negative: DecayingValue | undefined;
  violations: DecayingValue | undefined;
  violationCount = 0;
  readonly violationKinds: Partial<Record<ViolationKind, number>> = {};
  compliance: DecayingValue | undefined;
  complianceCount = 0;
  up: DecayingValue;
  observed: DecayingValue;
  hbOk: DecayingValue;
  hbMissed: DecayingValue | undefined;
  penalty: DecayingValue | undefined;
  private readonly h: Required<NonNullable<TrustEngineOptions['halfLives']>>;
  connected = false;
  lastAccount = 0;
  firstSeen: number;
  // Anomaly window
  windowStart = 0;
  windowMessages = 0;
  windowErrors = 0;
  windowViolations = 0;
  windowLatencySum = 0;
  windowLatencyCount = 0;
  anomalies = 0;
  recent: RecentEvent[] = [];
  lastEmitted: number | undefined;

  constructor(h: Required<NonNullable<TrustEngineOptions['halfLives']>>, now: number) {
    this.h = h;
    this.positive = new DecayingValue({ halfLifeMs: h.behaviorMs });
    this.up = new DecayingValue({ halfLifeMs: h.uptimeMs, floor: 0 });
    this.observed = new DecayingValue({ halfLifeMs: h.uptimeMs, floor: 0 });
    this.hbOk = new DecayingValue({ halfLifeMs: h.uptimeMs });

    this.firstSeen = now;
    this.lastAccount = now;
  }

  /** Adds to a counter made on first use. */
  bump(k: LazyCounter, amount: number, now: number): void {
    let d = this[k];
    if (!d) {
      const halfLifeMs =
        k === 'negative'
          ? this.h.behaviorMs
          : k === 'hbMissed'
            ? this.h.uptimeMs
            : k === 'penalty'
              ? this.h.anomalyMs
              : this.h.violationMs;
      d = new DecayingValue({ halfLifeMs });
      this[k] = d;
    }
    d.add(amount, now);
  }

  read(k: LazyCounter, now: number): number {
    return this[k]?.value(now) ?? 0;
  }

  restoreCounter(k: (typeof COUNTERS)[number], saved: { value: number; at: number }): void {
    const halfLifeMs =
      k === 'positive' || k === 'negative'
        ? this.h.behaviorMs
        : k === 'violations' || k === 'compliance'
          ? this.h.violationMs
          : k === 'penalty'
            ? this.h.anomalyMs
            : this.h.uptimeMs;
    this[k] = new DecayingValue(
      { halfLifeMs, ...(k === 'up' || k === 'observed' ? { floor: 0 } : {}) },
      saved,
    );
  }

  note(at: number, what: string): void {
    // Most subjects have a few events: copied into a list of their size while short (a first push
    // makes room for 17, 0.15 KB per subject at 10,000 meshes), pushed once the list is longer.
    if (this.recent.length < 4) this.recent = this.recent.concat({ at, what });
    else this.recent.push({ at, what });
    if (this.recent.length > RECENT) this.recent.shift();
  }

  /** Folds the time since the last accounting into the uptime counters. */
  account(now: number): void {
    const dt = now - this.lastAccount;
    if (dt <= 0) return;
    this.observed.add(dt, now);
    if (this.connected) this.up.add(dt, now);
    this.lastAccount = now;
  }
}

interface EdgeState {
  readonly from: string;
  readonly to: string;
  positive: DecayingValue;
  negative: DecayingValue;
  interactions: number;
  lastInteraction: number;
  violations: number;
  /** The attestation from -> to, 0-100 (0: none). */
  attestation: number;
}

/** A trust-graph edge as spec 5.2 shows it. */
export interface TrustEdge {
  readonly from: string;
  readonly to: string;
  /** Share of satisfactory interactions (decayed), 0-1; an attestation counts as well. */
  readonly weight: number;
  readonly interactions: number;
  readonly lastInteraction: string;
  readonly violations: number;
  /** MESH staked by `to` (from the ledger; 0 until it lands). */
  readonly stake: number;
}

export interface FactorExplanation {
  readonly factor: Factor;
  readonly value: number;
  readonly weight: number;
  readonly contribution: number;
  /** Points the score would gain if this factor were 100. */
  readonly headroom: number;
  readonly inputs: Record<string, unknown>;
  readonly howToRaise: string;
}

export interface TrustExplanation {
  readonly did: string;
  readonly score: number;
  readonly level: TrustLevel;
  readonly permissions: LevelPermissions;
  readonly factors: readonly FactorExplanation[];
  readonly anomalyPenalty: number;
  readonly globalTrust: { readonly value: number; readonly relative: number };
  readonly stake: number;
  readonly violations: { readonly count: number; readonly byKind: Partial<Record<ViolationKind, number>> };
  readonly attestations: readonly {
    readonly id: string;
    readonly attester: string;
    readonly score: number;
    readonly claim: string;
    readonly attesterRelativeTrust: number;
    readonly share: number;
    readonly expiresAt: number;
  }[];
  readonly recentEvents: readonly RecentEvent[];
  /** Most useful first: the factors with the most headroom, and how to raise them. */
  readonly toRaise: readonly string[];
  readonly computedAt: number;
}

export interface ScoreChange {
  readonly did: string;
  readonly score: number;
  readonly level: TrustLevel;
  readonly previous: number | undefined;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export class TrustEngine {
  private readonly now: () => number;
  private weights: TrustWeights;
  private readonly levels: Record<TrustLevel, LevelPermissions>;
  private readonly halfLives: Required<NonNullable<TrustEngineOptions['halfLives']>>;
  private readonly budget: number;
  private readonly anomalyPenalty: number;
  private readonly windowMs: number;
  private readonly uptimePriorMs: number;
  private readonly maxSubjects: number;
  private readonly maxEdges: number;
  private readonly stake: StakeSource | undefined;
  private readonly subjects = new Map<string, SubjectState>();
  private readonly edges = new Map<string, EdgeState>();
  private readonly attestations = new Map<string, AttestationRecord>();
  private readonly byAttester = new Map<string, Map<string, string>>(); // attester -> subject -> id
  private readonly bySubject = new Map<string, Set<string>>();
  private readonly global: GlobalTrust;
  private readonly detector: AnomalyDetector;
  private readonly changeListeners = new Set<(c: ScoreChange) => void>();
  private readonly anomalyListeners = new Set<(a: Anomaly) => void>();
  private readonly dirtySubjects = new Set<string>();
  /**
   * Subjects changed only by answered heartbeats since they were last taken: every connected mesh,
   * every heartbeat interval. Taken only when asked (`takeDirty(limit, { routine: true })`), so a
   * hub can write them less often than real news (each write of 10,000 states makes megabytes of
   * garbage that outlives young-generation collections).
   */
  private readonly routineDirty = new Set<string>();
  private readonly dirtyEdges = new Set<string>();
  private readonly dirtyAttestations = new Set<string>();
  private preTrusted: Set<string>;
  private edgesChanged = false;
  private events = 0;

  constructor(options: TrustEngineOptions = {}) {
    this.now = options.now ?? Date.now;
    this.weights = checkWeights(options.weights ?? DEFAULT_WEIGHTS);
    this.levels = options.levels ?? DEFAULT_LEVEL_PERMISSIONS;
    this.halfLives = {
      behaviorMs: options.halfLives?.behaviorMs ?? 7 * 86_400_000,
      violationMs: options.halfLives?.violationMs ?? 90 * 86_400_000,
      anomalyMs: options.halfLives?.anomalyMs ?? 3_600_000,
      uptimeMs: options.halfLives?.uptimeMs ?? 7 * 86_400_000,
    };
    this.budget = options.attestationBudget ?? 64;
    this.anomalyPenalty = options.anomalyPenalty ?? 10;
    this.windowMs = options.anomalyWindowMs ?? 10_000;
    this.uptimePriorMs = options.uptimePriorMs ?? UPTIME_PRIOR_MS;
    this.maxSubjects = options.maxSubjects ?? 1_000_000;
    this.maxEdges = options.maxEdges ?? 2_000_000;
    this.stake = options.stake;
    this.global = new GlobalTrust(options.eigenTrust);
    this.detector = new AnomalyDetector(options.anomaly);
    this.preTrusted = new Set(options.preTrusted ?? []);
    this.global.setPreTrusted(this.preTrusted);
  }

  /** Events processed since start. */
  get eventCount(): number {
    return this.events;
  }

  get subjectCount(): number {
    return this.subjects.size;
  }

  setPreTrusted(ids: Iterable<string>): void {
    this.preTrusted = new Set(ids);
    this.global.setPreTrusted(this.preTrusted);
    this.edgesChanged = true;
  }

  /**
   * Replaces the factor weights (a governance parameter took effect). Scores are read with the new
   * weights from now on; the change is not itself a trust event.
   */
  setWeights(weights: TrustWeights): void {
    this.weights = checkWeights(weights);
  }

  onChange(listener: (c: ScoreChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  onAnomaly(listener: (a: Anomaly) => void): () => void {
    this.anomalyListeners.add(listener);
    return () => this.anomalyListeners.delete(listener);
  }

  private subject(did: string, now: number): SubjectState {
    let s = this.subjects.get(did);
    if (s) {
      // Most recently updated last: the first entry is the one to forget when full.
      this.subjects.delete(did);
      this.subjects.set(did, s);
      return s;
    }
    if (this.subjects.size >= this.maxSubjects) {
      const oldest = this.subjects.keys().next().value as string;
      this.subjects.delete(oldest);
    }
    s = new SubjectState(this.halfLives, now);
    this.subjects.set(did, s);
    return s;
  }

  private edge(from: string, to: string): EdgeState | undefined {
    const key = `${from}\n${to}`;
    let e = this.edges.get(key);
    if (!e) {
      if (this.edges.size >= this.maxEdges || from === to) return undefined;
      e = {
        from,
        to,
        positive: new DecayingValue({ halfLifeMs: this.halfLives.behaviorMs }),
        negative: new DecayingValue({ halfLifeMs: this.halfLives.behaviorMs }),
        interactions: 0,
        lastInteraction: 0,
        violations: 0,
        attestation: 0,
      };
      this.edges.set(key, e);
    }
    this.dirtyEdges.add(key);
    return e;
  }

  /** Local trust from -> to for EigenTrust: satisfied minus dissatisfied (>= 0), plus the attestation. */
  private syncEdge(e: EdgeState, now: number): void {
    const local = Math.max(0, e.positive.value(now) - e.negative.value(now)) + (e.attestation / 100) * 10;
    this.global.setEdge(e.from, e.to, local);
    this.edgesChanged = true;
  }

  private touchEdge(
    from: string | undefined,
    to: string,
    good: boolean,
    violation: boolean,
    now: number,
    count = 1,
  ): void {
    if (!from) return;
    const e = this.edge(from, to);
    if (!e) return;
    e.interactions += count;
    e.lastInteraction = now;
    if (good) e.positive.add(count, now);
    else e.negative.add(violation ? 3 * count : count, now);
    if (violation) e.violations++;
    this.syncEdge(e, now);
  }

  record(event: TrustEvent): void {
    this.events++;
    const now = event.at;
    if (event.kind === 'attestation') {
      this.addAttestation(event.attestation, now);
      return;
    }
    const s = this.subject(event.subject, now);
    if (event.kind === 'heartbeat' && event.ok) {
      if (!this.dirtySubjects.has(event.subject)) this.routineDirty.add(event.subject);
    } else this.markDirty(event.subject);
    switch (event.kind) {
      case 'credential': {
        const prev = s.credential;
        // A periodic re-check that finds the credential as it was is not news: noted, it would fill
        // the subject's recent events (and memory, 16 per mesh) with copies of the same line.
        const unchanged =
          prev !== undefined &&
          prev.valid === event.valid &&
          prev.trustLevel === event.trustLevel &&
          prev.reason === event.reason &&
          prev.issuer === event.issuer;
        s.credential = {
          valid: event.valid,
          trustLevel: event.trustLevel,
          certifications: internList(event.certifications),
          issuer: event.issuer,
          didResolvable: event.didResolvable,
          reason: event.reason,
          at: now,
        };
        if (!unchanged) {
          s.note(
            now,
            // The valid line recurs (one per trust level): one copy of each.
            event.valid
              ? intern(`credential valid (trustLevel ${event.trustLevel})`)
              : `credential invalid: ${event.reason ?? ''}`,
          );
        }
        // The issuer vouches for its subject in the graph (an authority is pre-trusted).
        if (event.issuer) {
          const e = this.edge(event.issuer, event.subject);
          if (e) {
            e.attestation = event.valid ? event.trustLevel : 0;
            this.syncEdge(e, now);
          }
        }
        break;
      }
      case 'interaction': {
        const good =
          event.outcome === 'delivered' ||
          event.outcome === 'tool_call_ok' ||
          event.outcome === 'handshake_ok';
        const count = Math.max(1, Math.min(1e9, Math.floor(event.count ?? 1)));
        if (good) s.positive.add(count, now);
        else s.bump('negative', count, now);
        this.touchEdge(event.counterpart, event.subject, good, false, now, count);
        if (!good) s.note(now, `${event.outcome}${event.detail ? `: ${event.detail}` : ''}`);
        break;
      }
      case 'violation': {
        if (event.violation === 'compliance') {
          s.bump('compliance', 1, now);
          s.complianceCount++;
        }
        s.bump('violations', 1, now);
        s.violationCount++;
        s.violationKinds[event.violation] = (s.violationKinds[event.violation] ?? 0) + 1;
        s.windowViolations++;
        this.touchEdge(event.counterpart, event.subject, false, true, now);
        s.note(now, `violation ${event.violation}: ${event.detail}`);
        break;
      }
      case 'session':
        s.account(now);
        if (s.connected !== event.connected) s.note(now, event.connected ? 'connected' : 'disconnected');
        s.connected = event.connected;
        break;
      case 'heartbeat':
        s.account(now);
        if (event.ok) s.hbOk.add(1, now);
        else {
          s.bump('hbMissed', 1, now);
          s.note(now, 'missed heartbeat');
        }
        break;
      case 'message':
        this.windowed(event.subject, s, now);
        s.windowMessages += Math.max(0, event.messages);
        s.windowErrors += Math.max(0, event.errors);
        if (event.latencyCount && event.latencyMsSum !== undefined && Number.isFinite(event.latencyMsSum)) {
          s.windowLatencySum += event.latencyMsSum;
          s.windowLatencyCount += event.latencyCount;
        }
        return; // statistics only: the score moves when a window closes with an anomaly
    }
    this.changed(event.subject, s, now);
  }

  /** Closes the subject's statistics window when it is over: one sample per signal. */
  private windowed(did: string, s: SubjectState, now: number): void {
    if (s.windowStart === 0) {
      s.windowStart = now;
      return;
    }
    if (now - s.windowStart < this.windowMs) return;
    const seconds = (now - s.windowStart) / 1000;
    const samples: [AnomalySignal, number][] = [
      ['messageRate', s.windowMessages / seconds],
      ['violationRate', s.windowViolations / seconds],
    ];
    if (s.windowMessages > 0) samples.push(['errorRate', s.windowErrors / s.windowMessages]);
    if (s.windowLatencyCount > 0) samples.push(['latency', s.windowLatencySum / s.windowLatencyCount]);
    s.windowStart = now;
    s.windowMessages = 0;
    s.windowErrors = 0;
    s.windowViolations = 0;
    s.windowLatencySum = 0;
    s.windowLatencyCount = 0;
    for (const [signal, value] of samples) {
      const anomaly = this.detector.observe(did, signal, value, now);
      if (!anomaly) continue;
      s.bump('penalty', this.anomalyPenalty, now);
      s.anomalies++;
      s.note(
        now,
        `anomaly in ${signal}: ${round(value)} (mean ${round(anomaly.mean)}, z ${round(anomaly.z, 1)})`,
      );
      this.markDirty(did);
      for (const l of this.anomalyListeners) {
        try {
          l(anomaly);
        } catch {
          // a listener's failure is its own
        }
      }
      this.changed(did, s, now);
    }
  }

  private addAttestation(a: AttestationRecord, now: number): void {
    if (a.attester === a.subject) throw new AttestationRefusedError('a mesh cannot attest itself');
    if (a.expiresAt <= now) throw new AttestationRefusedError('the attestation has expired');
    if (!(a.score >= 0 && a.score <= 100)) throw new AttestationRefusedError('score must be 0-100');
    this.purgeExpired(a.attester, now);
    let mine = this.byAttester.get(a.attester);
    const replaced = mine?.get(a.subject);
    if (!replaced && (mine?.size ?? 0) >= this.budget) {
      throw new AttestationRefusedError(
        `${a.attester} already has ${this.budget} active attestations (its budget); let one expire first`,
      );
    }
    if (replaced) this.removeAttestation(replaced);
    if (!mine) {
      mine = new Map();
      this.byAttester.set(a.attester, mine);
    }
    mine.set(a.subject, a.id);
    this.attestations.set(a.id, a);
    this.dirtyAttestations.add(a.id);
    let about = this.bySubject.get(a.subject);
    if (!about) {
      about = new Set();
      this.bySubject.set(a.subject, about);
    }
    about.add(a.id);
    const e = this.edge(a.attester, a.subject);
    if (e) {
      e.attestation = a.score;
      this.syncEdge(e, now);
    }
    const s = this.subject(a.subject, now);
    s.note(now, `attested ${a.score} by ${a.attester}`);
    this.markDirty(a.subject);
    this.changed(a.subject, s, now);
  }

  private removeAttestation(id: string): void {
    const a = this.attestations.get(id);
    if (!a) return;
    this.attestations.delete(id);
    this.bySubject.get(a.subject)?.delete(id);
    const mine = this.byAttester.get(a.attester);
    if (mine?.get(a.subject) === id) mine.delete(a.subject);
    if (mine && mine.size === 0) this.byAttester.delete(a.attester);
    const e = this.edges.get(`${a.attester}\n${a.subject}`);
    if (e) e.attestation = 0;
  }

  private purgeExpired(attester: string, now: number): void {
    const mine = this.byAttester.get(attester);
    if (!mine) return;
    for (const id of [...mine.values()]) {
      const a = this.attestations.get(id);
      if (a && a.expiresAt <= now) this.removeAttestation(id);
    }
  }

  /** Attestations currently counted about `did`. */
  attestationsAbout(did: string): AttestationRecord[] {
    const now = this.now();
    return [...(this.bySubject.get(did) ?? [])]
      .map((id) => this.attestations.get(id))
      .filter((a): a is AttestationRecord => a !== undefined && a.expiresAt > now);
  }

  /** Active attestations written by `did`. */
  attestationsBy(did: string): number {
    return this.byAttester.get(did)?.size ?? 0;
  }

  private changed(did: string, s: SubjectState, now: number): void {
    if (this.changeListeners.size === 0) return;
    const score = this.scoreOf(did, s, now);
    const previous = s.lastEmitted;
    if (previous !== undefined && Math.abs(score - previous) < 1 && levelOf(score) === levelOf(previous))
      return;
    s.lastEmitted = score;
    const change: ScoreChange = { did, score, level: levelOf(score), previous };
    for (const l of this.changeListeners) {
      try {
        l(change);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private factors(
    did: string,
    s: SubjectState,
    now: number,
  ): { f: FactorValues; inputs: Record<Factor, Record<string, unknown>> } {
    const pending = Math.max(0, now - s.lastAccount);
    const upMs = s.up.value(now) + (s.connected ? pending : 0);
    const observedMs = s.observed.value(now) + pending;
    const items = this.attestationItems(did, now);
    const behavior = {
      positive: s.positive.value(now),
      negative: s.read('negative', now),
      violations: s.read('violations', now),
      violationCount: s.violationCount,
    };
    const compliance = {
      certifications: s.credential?.valid ? s.credential.certifications : [],
      violations: s.read('compliance', now),
      violationCount: s.complianceCount,
    };
    const uptime = {
      upMs,
      observedMs,
      heartbeatsOk: s.hbOk.value(now),
      heartbeatsMissed: s.read('hbMissed', now),
    };
    const f: FactorValues = {
      credential: credentialFactor(s.credential),
      behavior: behaviorFactor(behavior),
      attestations: attestationFactor(items),
      compliance: complianceFactor(compliance),
      uptime: uptimeFactor(uptime, this.uptimePriorMs),
    };
    return {
      f,
      inputs: {
        credential: s.credential
          ? { ...s.credential, certifications: [...s.credential.certifications] }
          : { present: false },
        behavior: {
          positive: round(behavior.positive),
          negative: round(behavior.negative),
          violations: round(behavior.violations),
          violationCount: behavior.violationCount,
        },
        attestations: { count: items.length },
        compliance: {
          certifications: [...compliance.certifications],
          violations: round(compliance.violations),
          violationCount: compliance.violationCount,
        },
        uptime: {
          availability: observedMs > 0 ? round(upMs / observedMs, 4) : null,
          observedMinutes: round(observedMs / 60_000),
          heartbeatsOk: round(uptime.heartbeatsOk),
          heartbeatsMissed: round(uptime.heartbeatsMissed),
          connected: s.connected,
        },
      },
    };
  }

  private attestationItems(did: string, now: number) {
    const out: { attesterRelativeTrust: number; share: number; score: number; a: AttestationRecord }[] = [];
    for (const id of this.bySubject.get(did) ?? []) {
      const a = this.attestations.get(id);
      if (!a || a.expiresAt <= now) continue;
      const count = this.byAttester.get(a.attester)?.size ?? 1;
      out.push({
        attesterRelativeTrust: this.global.relative(a.attester),
        share: 1 / Math.max(1, count),
        score: a.score,
        a,
      });
    }
    return out;
  }

  private scoreOf(did: string, s: SubjectState, now: number): number {
    return round(weightedScore(this.factors(did, s, now).f, this.weights, s.read('penalty', now)));
  }

  /** The score (0-100) now; 0 for a mesh the engine has never heard of. */
  score(did: string): number {
    const s = this.subjects.get(did);
    return s ? this.scoreOf(did, s, this.now()) : 0;
  }

  level(did: string): TrustLevel {
    return levelOf(this.score(did));
  }

  permissions(did: string): LevelPermissions {
    return this.levels[this.level(did)];
  }

  known(did: string): boolean {
    return this.subjects.has(did);
  }

  explain(did: string): TrustExplanation {
    const now = this.now();
    const s = this.subjects.get(did) ?? new SubjectState(this.halfLives, now);
    const { f, inputs } = this.factors(did, s, now);
    const penalty = s.read('penalty', now);
    const score = round(weightedScore(f, this.weights, penalty));
    const factors = FACTORS.map((k) => ({
      factor: k,
      value: round(f[k]),
      weight: this.weights[k],
      contribution: round(f[k] * this.weights[k]),
      headroom: round((100 - f[k]) * this.weights[k]),
      inputs: inputs[k],
      howToRaise: HOW_TO_RAISE[k],
    }));
    const toRaise = [...factors]
      .filter((x) => x.headroom >= 0.5)
      .sort((a, b) => b.headroom - a.headroom)
      .map((x) => `${x.factor} (+${x.headroom} possible): ${x.howToRaise}`);
    if (penalty >= 0.5)
      toRaise.unshift(
        `anomaly penalty (-${round(penalty)}) fades with a half-life of ${this.halfLives.anomalyMs / 60_000} min`,
      );
    return {
      did,
      score,
      level: levelOf(score),
      permissions: this.levels[levelOf(score)],
      factors,
      anomalyPenalty: round(penalty),
      globalTrust: { value: this.global.trust(did), relative: round(this.global.relative(did), 4) },
      stake: this.stake?.stakeOf(did) ?? 0,
      violations: { count: s.violationCount, byKind: { ...s.violationKinds } },
      attestations: this.attestationItems(did, now).map((x) => ({
        id: x.a.id,
        attester: x.a.attester,
        score: x.a.score,
        claim: x.a.claim,
        attesterRelativeTrust: round(x.attesterRelativeTrust, 4),
        share: round(x.share, 4),
        expiresAt: x.a.expiresAt,
      })),
      recentEvents: [...s.recent],
      toRaise,
      computedAt: now,
    };
  }

  /** Recomputes EigenTrust when the graph changed since the last run (call periodically). */
  recomputeGlobal(
    force = false,
  ): { iterations: number; ms: number; nodes: number; edges: number } | undefined {
    if (!force && !this.edgesChanged) return undefined;
    this.edgesChanged = false;
    const r = this.global.recompute();
    return { iterations: r.iterations, ms: r.ms, nodes: r.nodes, edges: r.edges };
  }

  globalTrust(did: string): { value: number; relative: number } {
    return { value: this.global.trust(did), relative: this.global.relative(did) };
  }

  /** Spec 5.2's graph, most recent interactions first. */
  graph(options: { limit?: number; did?: string } = {}): TrustEdge[] {
    const now = this.now();
    const limit = Math.min(options.limit ?? 1000, 100_000);
    const rows: EdgeState[] = [];
    for (const e of this.edges.values()) {
      if (options.did && e.from !== options.did && e.to !== options.did) continue;
      rows.push(e);
    }
    rows.sort((a, b) => b.lastInteraction - a.lastInteraction);
    return rows.slice(0, limit).map((e) => {
      const p = e.positive.value(now);
      const n = e.negative.value(now);
      const interactionsWeight = (p + 1) / (p + n + 2);
      const weight = e.interactions > 0 ? interactionsWeight : e.attestation / 100;
      return {
        from: e.from,
        to: e.to,
        weight: round(weight, 4),
        interactions: e.interactions,
        lastInteraction: new Date(e.lastInteraction || now).toISOString(),
        violations: e.violations,
        stake: this.stake?.stakeOf(e.to) ?? 0,
      };
    });
  }

  /** Whether the graph has an edge from -> to (they interacted, or one attested the other). */
  hasEdge(from: string, to: string): boolean {
    return this.edges.has(`${from}\n${to}`);
  }

  get edgeCount(): number {
    return this.edges.size;
  }

  // ---------------------------------------------------------------------------------------------
  // Persistence: the state of subjects and edges as JSON, dirty since the last take.
  // ---------------------------------------------------------------------------------------------

  /** Changed by more than an answered heartbeat: taken by every takeDirty. */
  private markDirty(did: string): void {
    this.dirtySubjects.add(did);
    this.routineDirty.delete(did);
  }

  /**
   * What changed since it was last taken, at most `limit` of each kind, taken out of the dirty
   * sets (a caller writing in chunks holds one chunk of snapshots at a time, not one per mesh of
   * the hub). Subjects changed only by answered heartbeats come too with `routine: true`.
   */
  takeDirty(
    limit = Number.POSITIVE_INFINITY,
    options: { routine?: boolean } = {},
  ): {
    subjects: [string, SubjectSnapshot][];
    edges: EdgeSnapshot[];
    attestations: AttestationRecord[];
  } {
    const snapshot = (did: string) => {
      const s = this.subjects.get(did);
      return s && ([did, snapshotSubject(s)] as [string, SubjectSnapshot]);
    };
    const subjects = takeFrom(this.dirtySubjects, limit, snapshot);
    if (options.routine && subjects.length < limit) {
      subjects.push(...takeFrom(this.routineDirty, limit - subjects.length, snapshot));
    }
    const edges = takeFrom(this.dirtyEdges, limit, (key) => {
      const e = this.edges.get(key);
      return e && snapshotEdge(e);
    });
    const attestations = takeFrom(this.dirtyAttestations, limit, (id) => this.attestations.get(id));
    return { subjects, edges, attestations };
  }

  /** How many subjects, edges and attestations changed since they were last taken (not routine ones). */
  get dirtyCount(): number {
    return this.dirtySubjects.size + this.dirtyEdges.size + this.dirtyAttestations.size;
  }

  /** How many subjects changed only by answered heartbeats since they were last taken. */
  get routineDirtyCount(): number {
    return this.routineDirty.size;
  }

  /**
   * Restores persisted state (before any event). Expired attestations are dropped; a malformed
   * item is skipped and counted, so one bad row does not cost the rest.
   */
  restore(state: {
    subjects: [string, SubjectSnapshot][];
    edges: EdgeSnapshot[];
    attestations: AttestationRecord[];
  }): { restored: number; skipped: number } {
    const now = this.now();
    let restored = 0;
    let skipped = 0;
    for (const [did, snap] of state.subjects) {
      try {
        const fresh = new SubjectState(this.halfLives, now);
        restoreSubject(fresh, snap);
        this.subject(did, now);
        this.subjects.set(did, fresh);
        restored++;
      } catch {
        skipped++;
      }
    }
    for (const snap of state.edges) {
      try {
        if (typeof snap?.from !== 'string' || typeof snap.to !== 'string') throw new ValidationError('edge');
        const e = this.edge(snap.from, snap.to);
        if (!e) continue;
        e.positive = new DecayingValue({ halfLifeMs: this.halfLives.behaviorMs }, snap.positive);
        e.negative = new DecayingValue({ halfLifeMs: this.halfLives.behaviorMs }, snap.negative);
        e.interactions = snap.interactions;
        e.lastInteraction = snap.lastInteraction;
        e.violations = snap.violations;
        e.attestation = snap.attestation;
        this.syncEdge(e, now);
        restored++;
      } catch {
        skipped++;
      }
    }
    for (const a of state.attestations) {
      try {
        this.addAttestation(a, now);
        restored++;
      } catch {
        skipped++; // expired, over budget, or malformed
      }
    }
    this.dirtySubjects.clear();
    this.routineDirty.clear();
    this.dirtyEdges.clear();
    this.dirtyAttestations.clear();
    return { restored, skipped };
  }
}

export interface SubjectSnapshot {
  credential: SubjectState['credential'];
  counters: Record<string, { value: number; at: number }>;
  violationCount: number;
  violationKinds: Partial<Record<ViolationKind, number>>;
  complianceCount: number;
  connected: boolean;
  lastAccount: number;
  firstSeen: number;
  anomalies: number;
}

export interface EdgeSnapshot {
  from: string;
  to: string;
  positive: { value: number; at: number };
  negative: { value: number; at: number };
  interactions: number;
  lastInteraction: number;
  violations: number;
  attestation: number;
}

type LazyCounter = 'negative' | 'violations' | 'compliance' | 'hbMissed' | 'penalty';

const COUNTERS = [
  'positive',
  'negative',
  'violations',
  'compliance',
  'up',
  'observed',
  'hbOk',
  'hbMissed',
  'penalty',
] as const;

function snapshotSubject(s: SubjectState): SubjectSnapshot {
  const counters: SubjectSnapshot['counters'] = {};
  for (const k of COUNTERS) {
    const d = s[k];
    if (d) counters[k] = d.toJSON();
  }
  return {
    credential: s.credential,
    counters,
    violationCount: s.violationCount,
    violationKinds: { ...s.violationKinds },
    complianceCount: s.complianceCount,
    // A restart is not uptime: the session is re-established by the node.
    connected: false,
    lastAccount: s.lastAccount,
    firstSeen: s.firstSeen,
    anomalies: s.anomalies,
  };
}

function restoreSubject(s: SubjectState, snap: SubjectSnapshot): void {
  if (typeof snap !== 'object' || snap === null || typeof snap.counters !== 'object') {
    throw new ValidationError('malformed subject snapshot');
  }
  s.credential = snap.credential ?? undefined;
  for (const k of COUNTERS) {
    const c = snap.counters[k];
    if (c) s.restoreCounter(k, c);
  }
  s.violationCount = snap.violationCount;
  Object.assign(s.violationKinds, snap.violationKinds);
  s.complianceCount = snap.complianceCount;
  s.connected = false;
  // The hub's own downtime is not the mesh's: accounting starts again at the restore.
  s.lastAccount = Math.max(snap.lastAccount, s.lastAccount);
  s.firstSeen = snap.firstSeen;
  s.anomalies = snap.anomalies;
}

function snapshotEdge(e: EdgeState): EdgeSnapshot {
  return {
    from: e.from,
    to: e.to,
    positive: e.positive.toJSON(),
    negative: e.negative.toJSON(),
    interactions: e.interactions,
    lastInteraction: e.lastInteraction,
    violations: e.violations,
    attestation: e.attestation,
  };
}
