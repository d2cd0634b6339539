import { AuditLog, type AuditStorage, memoryAuditStorage } from '@fmp/compliance';
import { describe, expect, it } from 'vitest';
import { ComplianceDeniedError, ComplianceGate, type NodeComplianceOptions, partyOf } from './compliance.js';

const SELF = 'did:mesh:enterprise:acme-001';
const PARTNER = 'did:mesh:academic:mit-001';
const FED = '6f1c2e0a-8d44-4c5b-9e7a-1f2d3c4b5a69';
const ACTION = '3b241101-e2bb-4255-8caf-4136c566a962';
const internal = { dataClassification: 'internal' as const, auditTrail: true };

/** Entries are written at once and durable only once the test releases them. */
function heldStorage(): { storage: AuditStorage; release(): void } {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  return { storage: memoryAuditStorage({ beforeDurable: () => released }), release };
}

async function gateOver(storage: AuditStorage, options: Partial<NodeComplianceOptions> = {}) {
  const audit = await AuditLog.open(storage);
  return new ComplianceGate(
    { audit, ...options },
    {
      self: () => partyOf(SELF, 'eu-west', []),
      partner: (did) => partyOf(did, did.includes('far') ? undefined : 'eu-central', []),
      trustOf: () => 80,
      now: () => Date.now(),
    },
  );
}

/** Whether `p` settles within a few turns. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('the compliance gate and its audit entries', () => {
  it('lets a message go once its entry is written, and hands over the way to durable', async () => {
    const held = heldStorage();
    const gate = await gateOver(held.storage);
    const out = gate.egress(PARTNER, FED, ACTION, 'agent.notification', internal);
    expect(await settles(out)).toBe(true);
    const { durable, decision } = await out;
    expect(decision.allow).toBe(true);
    expect(await settles(durable)).toBe(false);
    const inbound = await gate.ingress(PARTNER, FED, ACTION, 'agent.notification', internal, { n: 1 });
    expect(inbound.ok).toBe(true);
    const inDurable = (inbound as { durable?: Promise<unknown> }).durable!;
    expect(await settles(inDurable)).toBe(false);
    held.release();
    await durable;
    await inDurable;
  });

  it("with auditBefore 'durable', waits for the fsync before the message may go", async () => {
    const held = heldStorage();
    const gate = await gateOver(held.storage, { auditBefore: 'durable' });
    const out = gate.egress(PARTNER, FED, ACTION, 'agent.notification', internal);
    expect(await settles(out)).toBe(false);
    held.release();
    await out;
  });

  it('answers a refusal only once its entry is durable', async () => {
    const held = heldStorage();
    const gate = await gateOver(held.storage);
    const personal = {
      dataClassification: 'personal-identifiable' as const,
      processingBasis: 'consent' as const,
      auditTrail: true,
    };
    // EU personal data to an unknown (non-adequate) region without a safeguard: refused.
    const gateOut = gate.egress('did:mesh:academic:far-001', FED, ACTION, 'agent.notification', personal);
    const refused = gateOut.catch((e: unknown) => e);
    expect(await settles(refused)).toBe(false);
    held.release();
    const err = await refused;
    expect(err).toBeInstanceOf(ComplianceDeniedError);
    expect((err as Error).message).toMatch(/GDPR/);
  });
});
