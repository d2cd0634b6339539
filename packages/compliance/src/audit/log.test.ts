import { ValidationError } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import { type AuditEntry, type AuditRecord, verifyChain } from './chain.js';
import { AuditBusyError, AuditClosedError, AuditLog } from './log.js';
import { AuditConflictError, type AuditStorage, memoryAuditStorage } from './storage.js';

const T0 = Date.parse('2025-06-01T00:00:00.000Z');
const ACME = 'did:mesh:enterprise:acme-001';
const MIT = 'did:mesh:academic:mit-001';
const GOV = 'did:mesh:government:gov-001';
const FED_A = '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69';
const FED_B = '3b241101-e2bb-4255-8caf-4136c566a962';

function record(i: number, over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    at: T0 + i,
    kind: 'message',
    actor: ACME,
    subject: MIT,
    federationId: FED_A,
    actionId: `action-${i}`,
    decision: 'allow',
    context: { dataClassification: 'internal', auditTrail: true },
    ...over,
  };
}

/** Counts appendBatch calls and can fail chosen ones (before or after writing). */
function counting(inner: AuditStorage = memoryAuditStorage()) {
  const state = {
    calls: 0,
    sizes: [] as number[],
    failNext: undefined as undefined | 'before' | 'after',
  };
  const storage: AuditStorage = {
    async appendBatch(entries) {
      state.calls++;
      state.sizes.push(entries.length);
      const fail = state.failNext;
      state.failNext = undefined;
      if (fail === 'before') throw new Error('disk full');
      await inner.appendBatch(entries);
      if (fail === 'after') throw new Error('connection lost while committing');
    },
    head: () => inner.head(),
    range: (from, limit) => inner.range(from, limit),
    query: (q) => inner.query(q),
  };
  return { storage, state };
}

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setImmediate(r));
  expect(ok()).toBe(true);
}

describe('AuditLog appends', () => {
  it('assigns consecutive seqs in append order and resolves once stored', async () => {
    const memory = memoryAuditStorage();
    const log = await AuditLog.open(memory);
    const entries = await Promise.all([0, 1, 2].map((i) => log.append(record(i))));
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(memory.entries).toEqual(entries);
    const next = log.append(record(3));
    // Not stored before its batch ran.
    expect(memory.entries).toHaveLength(3);
    const e = await next;
    expect(memory.entries[3]).toEqual(e);
    expect(log.head).toEqual({ seq: 4, hash: e.hash });
    expect(verifyChain(memory.entries).ok).toBe(true);
  });

  it('continues the stored chain when opened again', async () => {
    const memory = memoryAuditStorage();
    const first = await AuditLog.open(memory);
    await Promise.all([0, 1].map((i) => first.append(record(i))));
    await first.close();
    const again = await AuditLog.open(memory);
    expect(again.head).toEqual({ seq: 2, hash: memory.entries[1]!.hash });
    expect((await again.append(record(2))).seq).toBe(3);
    expect(await again.verify()).toMatchObject({ ok: true, checked: 3 });
  });

  it('group-commits 1,000 concurrent appends in a few batches', async () => {
    const { storage, state } = counting();
    const log = await AuditLog.open(storage);
    const entries = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(record(i))));
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(state.calls).toBeLessThanOrEqual(2);
    expect(log.stats()).toMatchObject({ appended: 1000, batches: state.calls, pending: 0 });
    expect(await log.verify()).toMatchObject({ ok: true, checked: 1000 });
  });

  it('keeps batches within maxBatch and batches appends that arrive during a write', async () => {
    const { storage, state } = counting();
    const log = await AuditLog.open(storage, { maxBatch: 100 });
    const first = Array.from({ length: 1000 }, (_, i) => log.append(record(i)));
    await first[0];
    const later = Array.from({ length: 50 }, (_, i) => log.append(record(1000 + i)));
    await Promise.all([...first, ...later]);
    expect(state.sizes.every((n) => n <= 100)).toBe(true);
    expect(state.calls).toBe(11);
    expect(await log.verify()).toMatchObject({ ok: true, checked: 1050 });
  });

  it('rejects every append of a failed batch and stays usable', async () => {
    const { storage, state } = counting();
    const log = await AuditLog.open(storage, { maxBatch: 10 });
    await Promise.all([0, 1, 2].map((i) => log.append(record(i))));
    state.failNext = 'before';
    const failed = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => log.append(record(10 + i))));
    expect(failed.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'disk full')).toBe(
      true,
    );
    expect(log.head?.seq).toBe(3);
    const after = await log.append(record(30));
    expect(after.seq).toBe(4);
    expect(await log.verify()).toMatchObject({ ok: true, checked: 4 });
  });

  it('after a batch failing once written (commit outcome unknown), re-reads the stored head', async () => {
    const { storage, state } = counting();
    const log = await AuditLog.open(storage);
    await log.append(record(0));
    state.failNext = 'after';
    await expect(log.append(record(1))).rejects.toThrow('connection lost');
    // The entry did commit: the next one follows it instead of clashing with it.
    expect((await log.append(record(2))).seq).toBe(3);
    expect(await log.verify()).toMatchObject({ ok: true, checked: 3 });
  });

  /** Batches are written at once and made durable only when the test says (or fails to). */
  function twoPhase(inner: AuditStorage = memoryAuditStorage()) {
    const syncs: { resolve: () => void; reject: (e: Error) => void; seqs: number[] }[] = [];
    const storage: AuditStorage = {
      async appendBatch(entries, onWritten) {
        await inner.appendBatch(entries);
        onWritten?.();
        await new Promise<void>((resolve, reject) => {
          syncs.push({ resolve, reject, seqs: entries.map((e) => e.seq) });
        });
      },
      head: () => inner.head(),
      range: (from, limit) => inner.range(from, limit),
      query: (q) => inner.query(q),
    };
    return { storage, syncs };
  }

  it('reports an entry written before durable, and writes the next batch meanwhile', async () => {
    const { storage, syncs } = twoPhase();
    const log = await AuditLog.open(storage);
    const events: string[] = [];
    const a = log
      .append(record(0), (e) => events.push(`written ${e.seq}`))
      .then((e) => events.push(`durable ${e.seq}`));
    await until(() => syncs.length === 1);
    expect(events).toEqual(['written 1']);
    const b = log
      .append(record(1), (e) => events.push(`written ${e.seq}`))
      .then((e) => events.push(`durable ${e.seq}`));
    // The second batch is written while the first is not yet durable (it chains from it).
    await until(() => syncs.length === 2);
    expect(events).toEqual(['written 1', 'written 2']);
    // Durable in order: the later sync finishing first reports nothing until the earlier one has.
    syncs[1]!.resolve();
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['written 1', 'written 2']);
    syncs[0]!.resolve();
    await Promise.all([a, b]);
    expect(events).toEqual(['written 1', 'written 2', 'durable 1', 'durable 2']);
    const flushed = log.append(record(2));
    await until(() => syncs.length === 3);
    let done = false;
    const flushing = log.flush().then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false); // flush waits for durable, not only written
    syncs[2]!.resolve();
    await flushing;
    await flushed;
    expect(await log.verify()).toMatchObject({ ok: true, checked: 3 });
  });

  it('rejects a written entry that cannot be made durable; the chain goes on from it', async () => {
    const { storage, syncs } = twoPhase();
    const log = await AuditLog.open(storage);
    let written: AuditEntry | undefined;
    const failing = log.append(record(0), (e) => {
      written = e;
    });
    await until(() => syncs.length === 1);
    syncs[0]!.reject(new Error('fsync failed'));
    await expect(failing).rejects.toThrow('fsync failed');
    expect(written?.seq).toBe(1);
    const next = log.append(record(1));
    await until(() => syncs.length === 2);
    syncs[1]!.resolve();
    expect((await next).seq).toBe(2);
    expect(await log.verify()).toMatchObject({ ok: true, checked: 2 });
  });

  it('never reports a batch written when it failed to commit', async () => {
    const { storage, state } = counting();
    const log = await AuditLog.open(storage);
    state.failNext = 'before';
    let written = false;
    await expect(
      log.append(record(0), () => {
        written = true;
      }),
    ).rejects.toThrow('disk full');
    expect(written).toBe(false);
  });

  it('a second writer cannot fork the chain: its batch is refused, then it follows the new head', async () => {
    const memory = memoryAuditStorage();
    const a = await AuditLog.open(memory);
    const b = await AuditLog.open(memory);
    await a.append(record(0, { actor: ACME }));
    await expect(b.append(record(1, { actor: GOV }))).rejects.toBeInstanceOf(AuditConflictError);
    expect((await b.append(record(2, { actor: GOV }))).seq).toBe(2);
    expect(memory.entries.map((e) => e.actor)).toEqual([ACME, GOV]);
    expect(await a.verify({ head: b.head! })).toMatchObject({ ok: true, checked: 2 });
  });

  it('validates records before queueing them', async () => {
    const { storage, state } = counting();
    const log = await AuditLog.open(storage);
    const bad = [
      { ...record(0), kind: '' },
      { ...record(0), actor: 'acme' },
      { ...record(0), data: { blob: 'x'.repeat(17 * 1024) } },
      { ...record(0), reasons: ['x'.repeat(1025)] },
      { ...record(0), extra: true },
      null,
    ];
    for (const input of bad) {
      await expect(log.append(input as AuditRecord)).rejects.toBeInstanceOf(ValidationError);
    }
    const err = (await log.append({ ...record(0), at: 1.5 }).catch((e: unknown) => e)) as ValidationError;
    expect(err.issues.map((i) => i.path)).toEqual(['at']);
    expect(state.calls).toBe(0);
    expect(log.stats().pending).toBe(0);
  });

  it('records what was appended even if the caller changes its objects afterwards', async () => {
    const memory = memoryAuditStorage();
    const log = await AuditLog.open(memory);
    const context: Record<string, unknown> = { dataClassification: 'internal', auditTrail: true };
    const reasons = ['first'];
    const pending = log.append(record(0, { context, reasons }));
    context['dataClassification'] = 'special-category';
    reasons.push('added later');
    const entry = await pending;
    expect(entry.context).toEqual({ dataClassification: 'internal', auditTrail: true });
    expect(entry.reasons).toEqual(['first']);
    expect(await log.verify()).toMatchObject({ ok: true });
  });

  it('refuses appends beyond the pending bound with AuditBusyError', async () => {
    const log = await AuditLog.open(memoryAuditStorage(), { maxPending: 10 });
    const ok = Array.from({ length: 10 }, (_, i) => log.append(record(i)));
    const err = await log.append(record(10)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditBusyError);
    expect(err).toMatchObject({ code: 'audit_busy', limit: 10 });
    await Promise.all(ok);
    expect((await log.append(record(11))).seq).toBe(11);
  });

  it('close waits for queued appends and refuses new ones', async () => {
    const memory = memoryAuditStorage();
    const log = await AuditLog.open(memory);
    const queued = Array.from({ length: 5 }, (_, i) => log.append(record(i)));
    await log.close();
    expect(memory.entries).toHaveLength(5);
    await Promise.all(queued);
    await expect(log.append(record(5))).rejects.toBeInstanceOf(AuditClosedError);
  });

  it('validates its options', async () => {
    await expect(AuditLog.open(memoryAuditStorage(), { maxBatch: 0 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(AuditLog.open(memoryAuditStorage(), { maxBatch: 10_001 })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});

describe('AuditLog verify', () => {
  async function filled(n: number) {
    const memory = memoryAuditStorage();
    const log = await AuditLog.open(memory);
    await Promise.all(Array.from({ length: n }, (_, i) => log.append(record(i))));
    return { memory, log };
  }

  it('walks the log in pages', async () => {
    const { log } = await filled(50);
    expect(await log.verify({ pageSize: 7 })).toMatchObject({ ok: true, checked: 50, head: log.head });
    expect(await log.verify({ pageSize: 50 })).toMatchObject({ ok: true, checked: 50 });
  });

  it('finds a changed, deleted or reordered entry wherever the page boundary falls', async () => {
    for (const pageSize of [1, 7, 50, 1000]) {
      const changed = await filled(30);
      changed.memory.entries[12] = { ...changed.memory.entries[12]!, subject: GOV };
      expect(await changed.log.verify({ pageSize })).toMatchObject({
        ok: false,
        problem: 'hash',
        firstBadSeq: 13,
      });

      const deleted = await filled(30);
      deleted.memory.entries.splice(20, 1);
      expect(await deleted.log.verify({ pageSize })).toMatchObject({
        ok: false,
        problem: 'gap',
        firstBadSeq: 21,
      });

      const swapped = await filled(30);
      const e = swapped.memory.entries;
      [e[5], e[6]] = [
        { ...e[6]!, seq: 6 },
        { ...e[5]!, seq: 7 },
      ];
      expect(await swapped.log.verify({ pageSize })).toMatchObject({ ok: false, firstBadSeq: 6 });
    }
  });

  it('detects a cut tail against its own head, or a head known from elsewhere', async () => {
    const { memory, log } = await filled(10);
    const head = log.head!;
    memory.entries.splice(8);
    expect(await log.verify()).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: 9 });
    const reopened = await AuditLog.open(memory);
    expect((await reopened.verify()).ok).toBe(true);
    expect(await reopened.verify({ head })).toMatchObject({ ok: false, problem: 'truncated' });
  });

  it('reports a row the storage cannot read as unreadable at its seq', async () => {
    const { memory } = await filled(20);
    const storage: AuditStorage = {
      ...memory,
      async range(from, limit) {
        const page = await memory.range(from, limit);
        if (page.some((e) => e.seq === 14)) throw new Error('stored audit entry body is not JSON');
        return page;
      },
    };
    const log = await AuditLog.open(storage);
    expect(await log.verify({ pageSize: 8 })).toMatchObject({
      ok: false,
      problem: 'unreadable',
      firstBadSeq: 14,
      checked: 13,
    });
  });
});

describe('AuditLog query and export', () => {
  async function sample() {
    const memory = memoryAuditStorage();
    const log = await AuditLog.open(memory);
    const records: AuditRecord[] = [
      record(0, { federationId: FED_A, actor: ACME, subject: MIT, kind: 'message' }),
      record(10, { federationId: FED_B, actor: GOV, subject: ACME, kind: 'tool_call' }),
      record(20, {
        federationId: FED_A,
        actor: MIT,
        subject: ACME,
        kind: 'compliance_denied',
        decision: 'deny',
      }),
      record(30, { federationId: undefined, actor: GOV, subject: MIT, kind: 'federation' }),
      record(40, { federationId: FED_A, actor: ACME, subject: MIT, kind: 'message' }),
    ];
    for (const r of records) await log.append(r);
    return log;
  }
  const seqs = (entries: AuditEntry[]) => entries.map((e) => e.seq);

  it('filters by federation, mesh, time and kind, in seq order, bounded', async () => {
    const log = await sample();
    expect(seqs(await log.query({ federationId: FED_A, limit: 100 }))).toEqual([1, 3, 5]);
    expect(seqs(await log.query({ mesh: GOV, limit: 100 }))).toEqual([2, 4]);
    expect(seqs(await log.query({ mesh: ACME, limit: 100 }))).toEqual([1, 2, 3, 5]);
    expect(seqs(await log.query({ since: T0 + 10, until: T0 + 40, limit: 100 }))).toEqual([2, 3, 4]);
    expect(seqs(await log.query({ kind: 'message', mesh: ACME, limit: 100 }))).toEqual([1, 5]);
    expect(seqs(await log.query({ mesh: ACME, afterSeq: 2, limit: 1 }))).toEqual([3]);
    await expect(log.query({ limit: 10_001 })).rejects.toBeInstanceOf(ValidationError);
    await expect(log.query({ mesh: 'acme', limit: 1 })).rejects.toBeInstanceOf(ValidationError);
  });

  it('exports JSON Lines that re-verify as a chain', async () => {
    const log = await sample();
    const lines: string[] = [];
    expect(await log.exportJsonl((l) => void lines.push(l), { pageSize: 2 })).toBe(5);
    expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
    const parsed = lines.map((l) => JSON.parse(l) as AuditEntry);
    expect(verifyChain(parsed, { head: log.head! })).toMatchObject({ ok: true, checked: 5 });

    const filtered: string[] = [];
    const n = await log.exportJsonl(
      async (l) => {
        await new Promise((r) => setImmediate(r));
        filtered.push(l);
      },
      { mesh: ACME, limit: 3, pageSize: 2 },
    );
    expect(n).toBe(3);
    expect(filtered.map((l) => (JSON.parse(l) as AuditEntry).seq)).toEqual([1, 2, 3]);
  });
});
