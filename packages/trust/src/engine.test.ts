import { describe, expect, it } from 'vitest';
import { AttestationRefusedError, TrustEngine, type TrustEvent } from './engine.js';
import { levelOf } from './model.js';

const AUTH = 'did:mesh:authority:foundation';
type WithoutAt<T> = T extends unknown ? Omit<T, 'at'> & { at?: number } : never;
const DAY = 86_400_000;

function world(options: ConstructorParameters<typeof TrustEngine>[0] = {}) {
  let t = 1_700_000_000_000;
  const engine = new TrustEngine({ now: () => t, preTrusted: [AUTH], ...options });
  const credential = (subject: string, trustLevel = 85, certifications = ['GDPR']) =>
    engine.record({
      kind: 'credential',
      subject,
      at: t,
      valid: true,
      trustLevel,
      certifications,
      issuer: AUTH,
      didResolvable: true,
    });
  return {
    engine,
    credential,
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    record: (e: WithoutAt<TrustEvent>) => engine.record({ ...e, at: e.at ?? t } as TrustEvent),
  };
}

const factor = (engine: TrustEngine, did: string, f: string) =>
  engine.explain(did).factors.find((x) => x.factor === f)!.value;

describe('the score (spec 5.1)', () => {
  it('of a newcomer is its credential, neutral behaviour, its certifications and neutral uptime', () => {
    const w = world();
    w.credential('did:mesh:x:a', 80);
    // 0.30 * 80 + 0.25 * 50 + 0.20 * 0 + 0.15 * 65 + 0.10 * 50
    expect(w.engine.score('did:mesh:x:a')).toBeCloseTo(24 + 12.5 + 9.75 + 5, 1);
    expect(w.engine.level('did:mesh:x:a')).toBe('Validated');
    expect(w.engine.score('did:mesh:x:unknown')).toBe(0);
  });

  it('each factor moves the score in the right direction', () => {
    const w = world({ uptimePriorMs: 60_000 });
    const did = 'did:mesh:x:a';
    w.credential(did, 60);
    const base = w.engine.score(did);
    w.credential(did, 90);
    expect(w.engine.score(did)).toBeGreaterThan(base);
    w.engine.record({
      kind: 'credential',
      subject: did,
      at: w.now(),
      valid: false,
      trustLevel: 0,
      certifications: [],
      didResolvable: true,
      reason: 'revoked',
    });
    expect(factor(w.engine, did, 'credential')).toBe(0);
    w.credential(did, 90);

    const b0 = factor(w.engine, did, 'behavior');
    w.record({
      kind: 'interaction',
      subject: did,
      counterpart: 'did:mesh:x:b',
      outcome: 'delivered',
      count: 40,
    });
    expect(factor(w.engine, did, 'behavior')).toBeGreaterThan(b0);
    const b1 = factor(w.engine, did, 'behavior');
    w.record({ kind: 'interaction', subject: did, outcome: 'tool_call_failed', count: 10 });
    expect(factor(w.engine, did, 'behavior')).toBeLessThan(b1);

    const c0 = factor(w.engine, did, 'compliance');
    w.credential(did, 90, ['GDPR', 'SOC2', 'ISO42001']);
    expect(factor(w.engine, did, 'compliance')).toBeGreaterThan(c0);
    const c1 = factor(w.engine, did, 'compliance');
    w.record({
      kind: 'violation',
      subject: did,
      violation: 'compliance',
      detail: 'personal data to a non-adequate region',
    });
    expect(factor(w.engine, did, 'compliance')).toBeLessThan(c1);

    w.record({ kind: 'session', subject: did, connected: true });
    w.advance(120_000);
    w.record({ kind: 'heartbeat', subject: did, ok: true });
    const u1 = factor(w.engine, did, 'uptime');
    expect(u1).toBeGreaterThan(50);
    w.record({ kind: 'session', subject: did, connected: false });
    w.advance(240_000);
    expect(factor(w.engine, did, 'uptime')).toBeLessThan(u1);
  });

  it('violations weigh for months and leave a permanent mark', () => {
    const w = world();
    const did = 'did:mesh:x:bad';
    w.credential(did);
    const before = factor(w.engine, did, 'behavior');
    for (let i = 0; i < 3; i++)
      w.record({ kind: 'violation', subject: did, violation: 'handshake_failure', detail: 'bad signature' });
    const right = factor(w.engine, did, 'behavior');
    expect(right).toBeLessThan(before - 40);
    w.advance(3 * 365 * DAY);
    const later = factor(w.engine, did, 'behavior');
    expect(later).toBeGreaterThan(right);
    expect(later).toBeLessThan(before); // never fully forgotten
    expect(w.engine.explain(did).violations).toEqual({ count: 3, byKind: { handshake_failure: 3 } });
  });

  it('explains itself: factors, events and what would raise it', () => {
    const w = world();
    const did = 'did:mesh:x:a';
    w.credential(did, 70);
    w.record({ kind: 'violation', subject: did, violation: 'policy', detail: 'called a tool it was denied' });
    const x = w.engine.explain(did);
    expect(x.factors.map((f) => f.factor)).toEqual([
      'credential',
      'behavior',
      'attestations',
      'compliance',
      'uptime',
    ]);
    expect(x.factors.reduce((s, f) => s + f.contribution, 0)).toBeCloseTo(x.score, 0);
    expect(x.recentEvents.map((e) => e.what).join(' | ')).toContain('violation policy');
    expect(x.toRaise[0]).toMatch(/^(attestations|behavior)/);
    expect(x.level).toBe(levelOf(x.score));
  });
});

describe('recent events', () => {
  it('note a credential re-check only when it finds something new', () => {
    const w = world();
    const did = 'did:mesh:x:recheck';
    const credentialLines = () =>
      w.engine
        .explain(did)
        .recentEvents.map((e) => e.what)
        .filter((x) => x.startsWith('credential'));
    w.credential(did, 70);
    for (let i = 0; i < 40; i++) {
      w.advance(60_000);
      w.credential(did, 70);
    }
    expect(credentialLines()).toEqual(['credential valid (trustLevel 70)']);
    w.advance(60_000);
    w.credential(did, 75);
    w.advance(60_000);
    w.record({
      kind: 'credential',
      subject: did,
      valid: false,
      trustLevel: 0,
      certifications: [],
      issuer: AUTH,
      didResolvable: true,
      reason: 'revoked',
    });
    expect(credentialLines()).toEqual([
      'credential valid (trustLevel 70)',
      'credential valid (trustLevel 75)',
      'credential invalid: revoked',
    ]);
    expect(w.engine.explain(did).factors.find((f) => f.factor === 'credential')?.contribution).toBe(0);
  });
});

describe('attestations and global trust', () => {
  it("count by the attester's global trust: a sybil ring lifts nobody, an established partner does", () => {
    const w = world();
    const honest = Array.from({ length: 30 }, (_, i) => `did:mesh:org:h${i}`);
    for (const h of honest) w.credential(h);
    // Honest meshes interact with each other; sybils only among themselves.
    for (let i = 0; i < honest.length; i++) {
      w.record({
        kind: 'interaction',
        subject: honest[(i + 1) % honest.length]!,
        counterpart: honest[i]!,
        outcome: 'delivered',
        count: 20,
      });
    }
    const sybils = Array.from({ length: 20 }, (_, i) => `did:mesh:org:s${i}`);
    for (let i = 0; i < sybils.length; i++) {
      w.record({
        kind: 'interaction',
        subject: sybils[(i + 1) % sybils.length]!,
        counterpart: sybils[i]!,
        outcome: 'delivered',
        count: 1000,
      });
    }
    w.engine.recomputeGlobal(true);
    const expires = w.now() + 30 * DAY;
    let n = 0;
    const attest = (attester: string, subject: string, score = 100) =>
      w.engine.record({
        kind: 'attestation',
        at: w.now(),
        attestation: {
          id: `00000000-0000-4000-8000-${String(n++).padStart(12, '0')}`,
          attester,
          subject,
          score,
          claim: 'trusted',
          issuedAt: w.now(),
          expiresAt: expires,
        },
      });
    for (let i = 0; i < sybils.length; i++) attest(sybils[i]!, sybils[(i + 1) % sybils.length]!);
    attest(honest[0]!, honest[5]!);
    w.engine.recomputeGlobal(true);
    expect(factor(w.engine, sybils[3]!, 'attestations')).toBeLessThan(1);
    expect(factor(w.engine, honest[5]!, 'attestations')).toBeGreaterThan(30);
  });

  it('an attester has a budget: spreading it thins every attestation, and it runs out', () => {
    const w = world({ attestationBudget: 4 });
    const a = 'did:mesh:org:a';
    const friends = [
      'did:mesh:org:f1',
      'did:mesh:org:f2',
      'did:mesh:org:f3',
      'did:mesh:org:f4',
      'did:mesh:org:f5',
    ];
    for (const d of [a, ...friends]) w.credential(d);
    w.engine.recomputeGlobal(true);
    const attest = (subject: string, i: number) =>
      w.engine.record({
        kind: 'attestation',
        at: w.now(),
        attestation: {
          id: `00000000-0000-4000-8000-00000000000${i}`,
          attester: a,
          subject,
          score: 100,
          claim: 'friend',
          issuedAt: w.now(),
          expiresAt: w.now() + DAY,
        },
      });
    attest(friends[0]!, 0);
    const alone = factor(w.engine, friends[0]!, 'attestations');
    for (let i = 1; i < 4; i++) attest(friends[i]!, i);
    expect(factor(w.engine, friends[0]!, 'attestations')).toBeLessThan(alone / 2);
    expect(() => attest(friends[4]!, 4)).toThrow(AttestationRefusedError);
    // Re-attesting an existing partner replaces, it does not spend more budget.
    expect(() => attest(friends[0]!, 5)).not.toThrow();
    expect(w.engine.attestationsBy(a)).toBe(4);
    // Expired attestations free the budget.
    w.advance(DAY + 1);
    expect(() => attest(friends[4]!, 6)).not.toThrow();
  });

  it('refuses self-attestation and expired ones', () => {
    const w = world();
    const at = w.now();
    const base = { claim: 'x', issuedAt: at, score: 50 };
    expect(() =>
      w.engine.record({
        kind: 'attestation',
        at,
        attestation: { ...base, id: 'a', attester: 'did:x:1', subject: 'did:x:1', expiresAt: at + 1 },
      }),
    ).toThrow(AttestationRefusedError);
    expect(() =>
      w.engine.record({
        kind: 'attestation',
        at,
        attestation: { ...base, id: 'b', attester: 'did:x:1', subject: 'did:x:2', expiresAt: at },
      }),
    ).toThrow(AttestationRefusedError);
  });
});

describe('anomalies', () => {
  it('a sudden burst of errors becomes a visible, decaying penalty and an event', () => {
    const w = world({ anomalyWindowMs: 1_000, anomaly: { warmupSamples: 20 } });
    const did = 'did:mesh:x:a';
    w.credential(did);
    const seen: string[] = [];
    w.engine.onAnomaly((a) => seen.push(a.signal));
    for (let i = 0; i < 60; i++) {
      w.advance(1_000);
      w.record({ kind: 'message', subject: did, messages: 100 + (i % 5), errors: i % 3 });
    }
    const before = w.engine.score(did);
    expect(seen).toEqual([]);
    w.advance(1_000);
    w.record({ kind: 'message', subject: did, messages: 5_000, errors: 4_000 });
    w.advance(1_000);
    w.record({ kind: 'message', subject: did, messages: 100, errors: 0 });
    expect(seen.length).toBeGreaterThan(0);
    expect(w.engine.score(did)).toBeLessThan(before);
    expect(w.engine.explain(did).anomalyPenalty).toBeGreaterThan(0);
    w.advance(10 * 3_600_000);
    expect(w.engine.explain(did).anomalyPenalty).toBeLessThan(0.1);
  });
});

describe('persistence', () => {
  it('restores subjects, edges and attestations to the same scores', () => {
    const w = world();
    const [a, b] = ['did:mesh:x:a', 'did:mesh:x:b'];
    w.credential(a, 70);
    w.credential(b, 90);
    w.record({ kind: 'interaction', subject: b, counterpart: a, outcome: 'delivered', count: 30 });
    w.record({ kind: 'violation', subject: a, violation: 'policy', detail: 'x' });
    w.engine.recomputeGlobal(true);
    w.engine.record({
      kind: 'attestation',
      at: w.now(),
      attestation: {
        id: 'att-1',
        attester: b,
        subject: a,
        score: 80,
        claim: 'ok',
        issuedAt: w.now(),
        expiresAt: w.now() + DAY,
      },
    });
    const dirty = JSON.parse(JSON.stringify(w.engine.takeDirty()));
    expect(w.engine.takeDirty().subjects).toEqual([]);
    const copy = new TrustEngine({ now: w.now, preTrusted: [AUTH] });
    const r = copy.restore({ ...dirty, subjects: [...dirty.subjects, ['did:x:broken', null]] });
    expect(r.skipped).toBe(1);
    copy.recomputeGlobal(true);
    w.engine.recomputeGlobal(true);
    expect(copy.score(a)).toBeCloseTo(w.engine.score(a), 1);
    expect(copy.score(b)).toBeCloseTo(w.engine.score(b), 1);
    expect(copy.explain(a).violations.count).toBe(1);
    expect(copy.graph().length).toBe(w.engine.graph().length);
  });
});

describe('persistence in chunks', () => {
  it('takes at most `limit` of each kind, and in chunks all of what one take would give', () => {
    const make = () => {
      const w = world();
      for (let i = 0; i < 7; i++) w.credential(`did:mesh:x:m${i}`, 60 + i);
      return w;
    };
    const whole = make().engine.takeDirty();
    const w = make();
    expect(w.engine.dirtyCount).toBe(whole.subjects.length + whole.edges.length + whole.attestations.length);
    const chunks: ReturnType<typeof w.engine.takeDirty>[] = [];
    while (w.engine.dirtyCount > 0) {
      const d = w.engine.takeDirty(3);
      expect(d.subjects.length).toBeLessThanOrEqual(3);
      expect(d.edges.length).toBeLessThanOrEqual(3);
      chunks.push(d);
    }
    expect(chunks.length).toBeGreaterThan(1);
    const byDid = (a: [string, unknown], b: [string, unknown]) => a[0].localeCompare(b[0]);
    expect(JSON.parse(JSON.stringify(chunks.flatMap((c) => c.subjects).sort(byDid)))).toEqual(
      JSON.parse(JSON.stringify([...whole.subjects].sort(byDid))),
    );
    expect(chunks.flatMap((c) => c.edges).length).toBe(whole.edges.length);
    expect(w.engine.takeDirty().subjects).toEqual([]);
  });
});

describe('persistence of routine changes', () => {
  it('keeps meshes changed only by answered heartbeats for takes that ask for them', () => {
    const w = world();
    const [a, b, c] = ['did:mesh:x:a', 'did:mesh:x:b', 'did:mesh:x:c'];
    for (const did of [a, b, c]) w.credential(did, 60);
    w.engine.takeDirty();
    expect(w.engine.dirtyCount).toBe(0);
    for (const did of [a, b, c]) w.record({ kind: 'heartbeat', subject: did, ok: true });
    // Answered heartbeats: routine, not news.
    expect(w.engine.dirtyCount).toBe(0);
    expect(w.engine.routineDirtyCount).toBe(3);
    expect(w.engine.takeDirty().subjects).toEqual([]);
    // News about b (a missed heartbeat) makes it dirty for every take; c's credential too.
    w.record({ kind: 'heartbeat', subject: b, ok: false });
    w.credential(c, 40);
    w.record({ kind: 'heartbeat', subject: c, ok: true });
    expect(w.engine.routineDirtyCount).toBe(1);
    expect(
      w.engine
        .takeDirty()
        .subjects.map(([did]) => did)
        .sort(),
    ).toEqual([b, c]);
    // A routine take brings the rest, with the state as it is now, in chunks of `limit`.
    const first = w.engine.takeDirty(1, { routine: true }).subjects;
    expect(first.map(([did]) => did)).toEqual([a]);
    expect(first[0]![1].counters['hbOk']!.value).toBeGreaterThan(0);
    expect(w.engine.routineDirtyCount).toBe(0);
    expect(w.engine.takeDirty(10, { routine: true }).subjects).toEqual([]);
  });
});

describe('levels', () => {
  it('say what a mesh may do', () => {
    const w = world();
    w.credential('did:mesh:x:low', 5, []);
    for (let i = 0; i < 3; i++)
      w.record({ kind: 'violation', subject: 'did:mesh:x:low', violation: 'invalid_signature', detail: 'x' });
    expect(w.engine.level('did:mesh:x:low')).toBe('Unverified');
    expect(w.engine.permissions('did:mesh:x:low')).toMatchObject({ discoverable: false, initiate: false });
    w.credential('did:mesh:x:ok', 85);
    expect(w.engine.permissions('did:mesh:x:ok')).toMatchObject({
      discoverable: true,
      initiate: true,
      accept: true,
    });
  });
});
