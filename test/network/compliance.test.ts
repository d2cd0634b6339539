/**
 * Compliance at the nodes (issue #6): egress and ingress enforcement with the jurisdiction
 * adapters, local Cedar policy and content inspection, every decision in the hash-chained audit
 * trail, payload copies kept for their retention period and shredded on an erasure request.
 * Real hub, real nodes on loopback; audit and vault in memory (their stores are tested in
 * packages/compliance and packages/store).
 */

import {
  AuditLog,
  type AuditStorage,
  type MemoryVaultStorage,
  memoryAuditStorage,
  memoryVaultStorage,
  PayloadVault,
  PolicyEngine,
} from '@fmp/compliance';
import type { ComplianceContext } from '@fmp/core';
import type { Hub } from '@fmp/hub';
import { ComplianceDeniedError, DeliveryError, type IncomingMessage, type MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, nodeFor, startHub, until, type World } from './fixtures.js';

const personal: ComplianceContext = {
  dataClassification: 'personal-identifiable',
  processingBasis: 'public-task',
  retentionPeriod: '90-days',
  purpose: 'humanitarian aid',
  auditTrail: true,
};

describe('compliance enforcement at the nodes', () => {
  let world: World;
  let hub: Hub;
  let gov: MeshNode;
  let ngo: MeshNode;
  let govAudit: AuditLog;
  let ngoAudit: AuditLog;
  let vaultStorage: MemoryVaultStorage;
  let vault: PayloadVault;
  let fedId: string;
  const received: IncomingMessage[] = [];
  let clock = Date.now();

  beforeAll(async () => {
    world = await createWorld();
    const started = await startHub(world);
    hub = started.hub;
    url = started.url;
    govAudit = await AuditLog.open(memoryAuditStorage());
    ngoAudit = await AuditLog.open(memoryAuditStorage());
    vaultStorage = memoryVaultStorage();
    vault = new PayloadVault(vaultStorage, { now: () => clock });
    // NGO's local policy: partners at 50 or more may send; special categories need explicit consent.
    const ngoPolicy = PolicyEngine.fromText(`
      @id("receive-from-partners") permit (principal, action == Fmp::Action::"receive", resource) when { context.trustScore >= 50 };
      @id("federate-partners") permit (principal, action == Fmp::Action::"federate", resource) when { context.trustScore >= 50 };
      @id("no-marketing") forbid (principal, action == Fmp::Action::"receive", resource)
        when { context has compliance.purpose && context.compliance.purpose == "marketing" };
    `);
    const govMember = await world.member('did:mesh:government:opendata-001', { trustLevel: 90 });
    const ngoMember = await world.member('did:mesh:ngo:relief-001', { trustLevel: 75 });
    gov = nodeFor(world, govMember, url, {
      region: 'eu-west',
      compliance: { audit: govAudit },
    });
    ngo = nodeFor(world, ngoMember, url, {
      region: 'apac',
      compliance: { audit: ngoAudit, vault, policy: ngoPolicy },
    });
    ngo.onMessage((m) => {
      received.push(m);
    });
    await gov.start();
    await ngo.start();
    const fed = await gov.federate(ngo.did, {
      capabilities: ['ml.inference'],
      purpose: 'relief coordination',
    });
    fedId = fed.federationId;
    await until(
      () => gov.partnerInfo(ngo.did) !== undefined && ngo.partnerInfo(gov.did) !== undefined,
      10_000,
      'partners known',
    );
  }, 60_000);
  let url = '';

  afterAll(async () => {
    await gov?.stop();
    await ngo?.stop();
    await hub?.stop();
  });

  it('refuses EU personal data to a non-adequate jurisdiction without a safeguard, at egress, and audits it', async () => {
    const err = await gov
      .send(fedId, 'agent.notification', { beneficiaries: 12 }, { complianceContext: personal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ComplianceDeniedError);
    expect((err as ComplianceDeniedError).decision?.decisions.find((d) => d.adapter === 'gdpr')?.allow).toBe(
      false,
    );
    expect((err as Error).message).toMatch(/GDPR Art\. 44-46/);
    const [denied] = await govAudit.query({ kind: 'compliance_denied', limit: 10 });
    expect(denied).toMatchObject({ actor: gov.did, subject: ngo.did, decision: 'deny', federationId: fedId });
  });

  it('allows it under standard contractual clauses, with obligations, on both sides, keeping an encrypted copy', async () => {
    const receipt = await gov.send(
      fedId,
      'agent.notification',
      { beneficiaries: 12, district: 'north' },
      {
        complianceContext: { ...personal, safeguards: ['scc'], dataSubject: 'household-4711' },
      },
    );
    await until(() => received.some((m) => m.messageId === receipt.messageId), 10_000, 'delivered');
    const [sent] = await govAudit.query({ kind: 'message', limit: 10 });
    expect(sent!.decision).toBe('allow');
    expect(sent!.obligations?.map((o) => o.kind)).toEqual(expect.arrayContaining(['retention', 'audit']));
    // The data subject is not written into the audit trail (an erasure must not leave it there).
    expect(JSON.stringify(sent)).not.toContain('household-4711');
    const [got] = await ngoAudit.query({ kind: 'message', limit: 10 });
    expect(got).toMatchObject({
      actor: gov.did,
      subject: ngo.did,
      decision: 'allow',
      policyIds: ['receive-from-partners'],
    });
    expect((got!.data as { payloadHash?: string }).payloadHash).toMatch(/^[0-9a-f]{64}$/);
    const copy = await vault.get(receipt.messageId);
    expect(JSON.parse(Buffer.from(copy!.payload).toString())).toEqual({
      beneficiaries: 12,
      district: 'north',
    });

    // Right to erasure: the subject's key is destroyed, its copies are gone.
    expect((await vault.erase('household-4711')).payloads).toBe(1);
    expect(await vault.get(receipt.messageId)).toBeUndefined();
    expect((await govAudit.verify()).ok).toBe(true);
    expect((await ngoAudit.verify()).ok).toBe(true);
  });

  it('purges payload copies past their retention period', async () => {
    const receipt = await gov.send(
      fedId,
      'agent.notification',
      { short: true },
      {
        complianceContext: { ...personal, safeguards: ['scc'], retentionPeriod: '1-hours' },
      },
    );
    await until(() => received.some((m) => m.messageId === receipt.messageId), 10_000, 'delivered');
    expect(await vault.get(receipt.messageId)).toBeDefined();
    clock += 2 * 3_600_000;
    expect(await vault.purgeExpired(clock)).toBeGreaterThanOrEqual(1);
    expect(await vault.get(receipt.messageId)).toBeUndefined();
  });

  it('the receiver refuses what its local policy forbids: the sender gets compliance_denied', async () => {
    const before = received.length;
    const err = await gov
      .send(
        fedId,
        'agent.notification',
        { offer: 'newsletter' },
        {
          complianceContext: { dataClassification: 'internal', purpose: 'marketing', auditTrail: true },
        },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).wireCode).toBe('compliance_denied');
    expect((err as DeliveryError).message).toContain('no-marketing');
    expect(received.length).toBe(before);
  });

  it('inspects content: personal data in a message declared public is refused', async () => {
    const err = await gov
      .send(
        fedId,
        'agent.notification',
        { contact: 'jane.doe@example.org' },
        {
          complianceContext: { dataClassification: 'public', auditTrail: false },
        },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).wireCode).toBe('compliance_denied');
    expect((err as DeliveryError).message).toMatch(/content: .*email/i);
    const denied = await ngoAudit.query({ kind: 'compliance_denied', limit: 10 });
    // The finding names where, never the value.
    expect(JSON.stringify(denied)).not.toContain('jane.doe');
  });

  it('decides federations with the local policy and records the policy ids', async () => {
    // Its credential (55) passes NGO's minPartnerTrust (50); its hub score (about 44) fails NGO's Cedar rule.
    const low = await world.member('did:mesh:public:low-001', { trustLevel: 55 });
    const lowNode = nodeFor(world, low, url, { region: 'eu', policy: { minPartnerTrust: 0 } });
    await lowNode.start();
    try {
      const err = await lowNode
        .federate(ngo.did, { capabilities: ['ml.inference'], purpose: 'anything' })
        .catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/local policy: no local policy permits it/);
      const decisions = await ngoAudit.query({ kind: 'policy_decision', limit: 10 });
      expect(decisions.some((d) => d.actor === low.did && d.decision === 'deny')).toBe(true);
      expect(
        decisions.some(
          (d) => d.actor === gov.did && d.decision === 'allow' && d.policyIds?.includes('federate-partners'),
        ),
      ).toBe(true);
    } finally {
      await lowNode.stop();
    }
  });
});

/**
 * Two audit storages whose syncs the test holds: an entry is written at once and durable only when
 * released. A message may go (and reach the application) on its written entry; whatever
 * acknowledges it waits for the durable one.
 */
describe('audit entries: written before the action, durable before its acknowledgement', () => {
  function heldStorage(): { storage: AuditStorage; hold(): () => void } {
    let held: Promise<void> | undefined;
    return {
      storage: memoryAuditStorage({ beforeDurable: () => held }),
      hold() {
        let release!: () => void;
        held = new Promise<void>((r) => {
          release = r;
        });
        return () => {
          held = undefined;
          release();
        };
      },
    };
  }

  let hub: Hub;
  let sender: MeshNode;
  let receiver: MeshNode;
  let fedId = '';
  const got: IncomingMessage[] = [];
  const senderStorage = heldStorage();
  const receiverStorage = heldStorage();

  beforeAll(async () => {
    const world = await createWorld();
    const started = await startHub(world);
    hub = started.hub;
    const a = await world.member('did:mesh:enterprise:sender-001', { trustLevel: 90 });
    const b = await world.member('did:mesh:enterprise:receiver-001', { trustLevel: 90 });
    sender = nodeFor(world, a, started.url, {
      compliance: { audit: await AuditLog.open(senderStorage.storage) },
    });
    receiver = nodeFor(world, b, started.url, {
      compliance: { audit: await AuditLog.open(receiverStorage.storage) },
    });
    receiver.onMessage((m) => {
      got.push(m);
    });
    await sender.start();
    await receiver.start();
    fedId = (
      await sender.federate(receiver.did, { capabilities: ['ml.inference'], purpose: 'durability test' })
    ).federationId;
  }, 60_000);

  afterAll(async () => {
    await sender?.stop();
    await receiver?.stop();
    await hub?.stop();
  });

  it('delivers on written entries and acknowledges only durable ones', async () => {
    const context = { dataClassification: 'internal' as const, auditTrail: true };
    // Once with the receiver's entry durable first, once with the sender's: either alone is not enough.
    for (const first of ['receiver', 'sender'] as const) {
      const releaseSender = senderStorage.hold();
      const releaseReceiver = receiverStorage.hold();
      const before = got.length;
      let settled = false;
      const sent = sender
        .send(fedId, 'agent.notification', { first }, { complianceContext: context })
        .finally(() => {
          settled = true;
        });
      // Both entries are written, none durable: the message left and reached the application...
      await until(() => got.length === before + 1, 10_000, 'delivered on written entries');
      // ...but nothing acknowledges it yet: the receiver's receipt and the sender's delivery
      // receipt each wait for their own side's entry.
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false);
      (first === 'receiver' ? releaseReceiver : releaseSender)();
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false);
      (first === 'receiver' ? releaseSender : releaseReceiver)();
      const receipt = await sent;
      expect(receipt.messageId).toBe(got[before]!.messageId);
    }
  });

  it('an answer to a received message waits for the entry of that message to be durable', async () => {
    const release = receiverStorage.hold();
    const answers: IncomingMessage[] = [];
    sender.onMessage((m) => {
      answers.push(m);
    });
    const off = receiver.onMessage((m) => {
      if (m.type === 'agent.question') void receiver.send(m.federationId, 'agent.answer', { ok: true });
    });
    try {
      // Its receipt, like the answer, waits for the entry: not awaited here.
      const asked = sender
        .send(
          fedId,
          'agent.question',
          { q: 1 },
          { complianceContext: { dataClassification: 'internal', auditTrail: true } },
        )
        .catch(() => undefined);
      await until(() => got.some((m) => m.type === 'agent.question'), 10_000, 'the question');
      await new Promise((r) => setTimeout(r, 300));
      expect(answers).toHaveLength(0);
      release();
      await until(() => answers.length === 1, 10_000, 'the answer');
      await asked;
    } finally {
      off();
    }
  });
});
