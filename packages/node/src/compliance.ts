/**
 * The node's compliance enforcement points (spec 7, docs/compliance.md): egress (before a message
 * or tool call leaves), ingress (before a received one reaches the application), and the local
 * Cedar policy for federations and tool calls. Each decision is recorded in the audit trail with
 * the adapters, policies, reasons and obligations that made it; payload copies are kept (encrypted
 * per data subject) for as long as their retentionPeriod says, when the node is asked to keep them.
 */

import {
  type AuditLog,
  type AuditRecord,
  type ComplianceAdapter,
  type ComplianceDecision,
  type ComplianceTransaction,
  type ContentInspector,
  DEFAULT_ADAPTERS,
  DEFAULT_INSPECTORS,
  evaluateCompliance,
  inspectContent,
  jurisdictionOf,
  type Party,
  type PayloadVault,
  type PolicyDecision,
  type PolicyEngine,
  type PolicyRequest,
  retentionUntil,
} from '@fmp/compliance';
import { type ComplianceContext, FmpError } from '@fmp/core';

export interface NodeComplianceOptions {
  /** Jurisdiction adapters; default GDPR + AI Act, SOC 2 + CCPA, PIPEDA, ISO/IEC 42001. */
  readonly adapters?: readonly ComplianceAdapter[];
  /** Local policy (Cedar); absent: no local policy beyond the node's other rules. */
  readonly policy?: PolicyEngine;
  /** Inspectors run on received payloads; default: personal data where the context says none. */
  readonly inspectors?: readonly ContentInspector[];
  /** Where every decision is recorded (hash-chained). */
  readonly audit?: AuditLog;
  /** Keeps a copy of received payloads whose context has a retentionPeriod (encrypted per data subject). */
  readonly vault?: PayloadVault;
  /** The context of messages sent without one (without it, such messages are not evaluated). */
  readonly defaultContext?: ComplianceContext;
  /** Refuse received messages that carry no complianceContext. Default false. */
  readonly requireContext?: boolean;
  /**
   * When an action may go ahead after its audit entry: once the entry is written (committed: a
   * crash of the node keeps it), the default, or only once it is durable (on disk: a power loss
   * keeps it too). Whatever this says, nothing that acknowledges an action (a receipt, an answer to
   * the partner, a delivery receipt to the application, a refusal) leaves before its entry is durable.
   */
  readonly auditBefore?: 'written' | 'durable';
}

/**
 * An audit entry on its way to disk: the action it records may proceed (see auditBefore), and
 * `durable` settles once the entry survives a power loss (rejects if the storage cannot make it so).
 */
export interface Audited {
  readonly durable: Promise<unknown>;
}

const NOTHING_AUDITED: Audited = { durable: Promise.resolve() };

/** A transfer a compliance adapter or the local policy refused. */
export class ComplianceDeniedError extends FmpError {
  readonly decision: ComplianceDecision | undefined;
  readonly policy: PolicyDecision | undefined;
  constructor(message: string, decision?: ComplianceDecision, policy?: PolicyDecision) {
    super('compliance_denied', message);
    this.decision = decision;
    this.policy = policy;
  }
}

export interface GateParties {
  readonly self: () => Party;
  readonly partner: (did: string) => Party;
  readonly trustOf: (did: string) => number;
  readonly now: () => number;
}

export type IngressVerdict =
  | { readonly ok: true; readonly durable?: Promise<unknown> }
  | { readonly ok: false; readonly message: string };

const UNKNOWN_REGION = 'unknown';

/** A party as the node knows it; an unknown region counts as outside every adequate jurisdiction. */
export function partyOf(did: string, region: string | undefined, certifications: readonly string[]): Party {
  const r = region ?? UNKNOWN_REGION;
  return { did, region: r, jurisdiction: jurisdictionOf(r), certifications };
}

function meshCategory(did: string): string {
  return /^did:mesh:([a-z0-9-]+):/.exec(did)?.[1] ?? 'external';
}

export class ComplianceGate {
  readonly options: NodeComplianceOptions;
  private readonly p: GateParties;
  private readonly adapters: readonly ComplianceAdapter[];
  private readonly inspectors: readonly ContentInspector[];

  constructor(options: NodeComplianceOptions, parties: GateParties) {
    this.options = options;
    this.p = parties;
    this.adapters = options.adapters ?? DEFAULT_ADAPTERS;
    this.inspectors = options.inspectors ?? DEFAULT_INSPECTORS;
  }

  /** The context a send uses: its own, else the default; undefined: not evaluated. */
  contextFor(given: ComplianceContext | undefined): ComplianceContext | undefined {
    return given ?? this.options.defaultContext;
  }

  private tx(
    kind: ComplianceTransaction['kind'],
    source: Party,
    target: Party,
    context: ComplianceContext,
    type: string,
  ) {
    return { kind, context, source, target, route: [], messageType: type } satisfies ComplianceTransaction;
  }

  private audit(record: AuditRecord): Promise<unknown> | undefined {
    return this.options.audit?.append(record);
  }

  /** Appends `record`; resolves when the action may proceed (auditBefore), with the way to durable. */
  private auditAction(record: AuditRecord): Promise<Audited> {
    const log = this.options.audit;
    if (!log) return Promise.resolve(NOTHING_AUDITED);
    return new Promise<Audited>((resolve, reject) => {
      let audited: Audited | undefined;
      const durable = log.append(record, () => {
        audited = { durable };
        if (this.options.auditBefore !== 'durable') resolve(audited);
      });
      // Whoever holds `durable` hears a late failure; unobserved, it must not end the process.
      durable.catch(() => undefined);
      durable.then(() => resolve(audited ?? { durable }), reject);
    });
  }

  private policyRequest(
    action: PolicyRequest['action'],
    principal: string,
    resource: string,
    context: ComplianceContext | undefined,
    extra: { capability?: string; purpose?: string } = {},
  ): PolicyRequest {
    const self = this.p.self();
    const mesh = (did: string) => {
      const party = did === self.did ? self : this.p.partner(did);
      return { type: 'Mesh' as const, id: did, attrs: { category: meshCategory(did), region: party.region } };
    };
    const partner = principal === self.did ? resource : principal;
    return {
      principal: mesh(principal),
      action,
      resource: mesh(resource),
      context: {
        trustScore: this.p.trustOf(partner),
        ...(extra.capability ? { capability: extra.capability } : {}),
        ...((extra.purpose ?? context?.purpose) ? { purpose: (extra.purpose ?? context?.purpose)! } : {}),
        ...(context ? { compliance: context } : {}),
      },
    };
  }

  /**
   * The local policy on a partner's tool call (`callTool`): the calling agent, its mesh, the tool.
   * Undefined when the node has no policy.
   */
  callTool(
    partner: string,
    agent: string,
    tool: { name: string; capability: string; server: string },
    trustScore: number,
    context: ComplianceContext | undefined,
  ): PolicyDecision | undefined {
    return this.options.policy?.authorize({
      principal: {
        type: 'Agent',
        id: agent,
        attrs: {
          mesh: {
            id: partner,
            attrs: { category: meshCategory(partner), region: this.p.partner(partner).region },
          },
        },
      },
      action: 'callTool',
      resource: { type: 'Tool', id: tool.name, attrs: { capability: tool.capability, server: tool.server } },
      context: {
        trustScore,
        capability: tool.capability,
        ...(context ? { compliance: context } : {}),
        ...(context?.purpose ? { purpose: context.purpose } : {}),
      },
    });
  }

  /**
   * Before a message leaves: the adapters (from this node's side) and the local policy (`send`).
   * Throws ComplianceDeniedError once the refusal's entry is durable. Resolves once the entry
   * allowing it is written (auditBefore), so nothing leaves unaudited, with the way to durable:
   * the sender's delivery receipt waits for it.
   */
  async egress(
    partner: string,
    federationId: string,
    actionId: string,
    type: string,
    context: ComplianceContext,
  ): Promise<Audited & { decision: ComplianceDecision }> {
    const now = this.p.now();
    const kind = type.startsWith('agent.task.') ? 'tool_call' : 'message';
    const decision = evaluateCompliance(
      this.tx(kind, this.p.self(), this.p.partner(partner), context, type),
      this.adapters,
    );
    const policy = this.options.policy?.authorize(
      this.policyRequest('send', this.p.self().did, partner, context),
    );
    const allow = decision.allow && (policy?.allow ?? true);
    const reasons = [...decision.reasons, ...(policy && !policy.allow ? policyReasons('send', policy) : [])];
    const record = this.decisionRecord(
      { at: now, kind, allow, actor: this.p.self().did, subject: partner, federationId, actionId },
      decision,
      policy,
      reasons,
      context,
      { direction: 'egress', type },
    );
    if (!allow) {
      // A refusal is reported to the caller: that acknowledgement waits for a durable entry.
      await this.audit(record);
      throw new ComplianceDeniedError(`${reasons.join('; ')}`.slice(0, 1000) || 'denied', decision, policy);
    }
    const audited = await this.auditAction(record);
    return { decision, durable: audited.durable };
  }

  /**
   * Before a received message reaches the application: the adapters (from this node's side), the
   * local policy (`receive`) and content inspection of the decrypted payload. An allowed message
   * may be handed on once its entry is written (auditBefore); `durable` is when the node may
   * acknowledge it (its receipt, its answer). A refusal returns once its entry is durable.
   */
  async ingress(
    partner: string,
    federationId: string,
    actionId: string,
    type: string,
    context: ComplianceContext | undefined,
    data: unknown,
  ): Promise<IngressVerdict> {
    if (!context) {
      if (!this.options.requireContext) return { ok: true };
      await this.audit({
        at: this.p.now(),
        kind: 'compliance_denied',
        actor: partner,
        subject: this.p.self().did,
        federationId,
        actionId,
        decision: 'deny',
        reasons: ['a complianceContext is required on every message'],
        data: { direction: 'ingress', type },
      });
      return { ok: false, message: 'this mesh requires a complianceContext on every message' };
    }
    const now = this.p.now();
    const kind = type.startsWith('agent.task.') ? 'tool_call' : 'message';
    const decision = evaluateCompliance(
      this.tx(kind, this.p.partner(partner), this.p.self(), context, type),
      this.adapters,
    );
    const policy = this.options.policy?.authorize(
      this.policyRequest('receive', partner, this.p.self().did, context),
    );
    const findings = inspectContent(data, context, this.inspectors);
    const reasons = [
      ...decision.reasons,
      ...(policy && !policy.allow ? policyReasons('receive', policy) : []),
      ...findings.slice(0, 8).map((f) => `content: ${f.kind} at ${f.path} (${f.detail})`),
    ];
    const allow = decision.allow && (policy?.allow ?? true) && findings.length === 0;
    let payloadHash: string | undefined;
    if (allow && this.options.vault && context.retentionPeriod) {
      const stored = await this.options.vault.put({
        actionId,
        ...(context.dataSubject ? { dataSubject: context.dataSubject } : {}),
        retainUntil: retentionUntil(now, context.retentionPeriod),
        payload: Buffer.from(JSON.stringify(data)),
      });
      payloadHash = stored.payloadHash;
    }
    const record = this.decisionRecord(
      { at: now, kind, allow, actor: partner, subject: this.p.self().did, federationId, actionId },
      decision,
      policy,
      reasons,
      context,
      { direction: 'ingress', type, ...(payloadHash ? { payloadHash } : {}) },
    );
    if (!allow) {
      // The refusal goes back to the sender (an error receipt): after a durable entry.
      await this.audit(record);
      return { ok: false, message: reasons.join('; ').slice(0, 1000) };
    }
    const audited = await this.auditAction(record);
    return { ok: true, durable: audited.durable };
  }

  /** The audit entry for a transaction's decision: who, the deciding adapters and policies, why, what follows. */
  private decisionRecord(
    who: {
      at: number;
      kind: string;
      allow: boolean;
      actor: string;
      subject: string;
      federationId: string;
      actionId: string;
    },
    decision: ComplianceDecision,
    policy: PolicyDecision | undefined,
    reasons: readonly string[],
    context: ComplianceContext,
    data: Record<string, unknown>,
  ): AuditRecord {
    return {
      at: who.at,
      kind: who.allow ? who.kind : 'compliance_denied',
      actor: who.actor,
      subject: who.subject,
      federationId: who.federationId,
      actionId: who.actionId,
      decision: who.allow ? 'allow' : 'deny',
      ...(reasons.length ? { reasons: reasons.slice(0, 32) } : {}),
      adapters: decision.decisions.map((d) => d.adapter).slice(0, 16),
      ...(policy?.policyIds.length ? { policyIds: [...policy.policyIds].slice(0, 64) } : {}),
      ...(who.allow && decision.obligations.length
        ? { obligations: [...decision.obligations].slice(0, 32) }
        : {}),
      context: auditContext(context),
      data,
    };
  }

  /** The local policy on a federation request (`federate`): undefined when there is no policy. */
  async federate(
    partner: string,
    capabilities: readonly string[],
    purpose: string,
  ): Promise<PolicyDecision | undefined> {
    const engine = this.options.policy;
    if (!engine) return undefined;
    let last: PolicyDecision | undefined;
    // Each capability asked for must be allowed.
    for (const capability of capabilities.length ? capabilities : [undefined]) {
      const d = engine.authorize(
        this.policyRequest('federate', partner, this.p.self().did, undefined, {
          ...(capability ? { capability } : {}),
          purpose,
        }),
      );
      last = d;
      if (!d.allow) break;
    }
    await this.audit({
      at: this.p.now(),
      kind: 'policy_decision',
      actor: partner,
      subject: this.p.self().did,
      decision: last!.allow ? 'allow' : 'deny',
      ...(last!.policyIds.length ? { policyIds: [...last!.policyIds].slice(0, 64) } : {}),
      ...(last!.allow ? {} : { reasons: policyReasons('federate', last!) }),
      data: { action: 'federate', capabilities: [...capabilities].slice(0, 64), purpose },
    });
    return last;
  }
}

function policyReasons(action: string, d: PolicyDecision): string[] {
  if (d.policyIds.length > 0) return [`local policy forbids ${action} (${d.policyIds.join(', ')})`];
  if (d.errors.length > 0) return [`local policy could not decide ${action}: ${d.errors[0]}`];
  return [`no local policy permits ${action}`];
}

/** The context as audited: without the data-subject id (an erasure must not leave it in the log). */
function auditContext(c: ComplianceContext): Record<string, unknown> {
  const { dataSubject: _s, ...rest } = c;
  return rest as Record<string, unknown>;
}
