/**
 * Governance parameters: every number the ledger, the economy and the running hubs read that the DAO
 * may change (spec 8, 9). Amounts are MESH strings, rates basis points (1 bps = 0.01%), durations
 * milliseconds. Each has bounds, so neither a proposal nor an emergency patch can set a value that
 * breaks the network (a zero quorum, a 0-hop route, a 10-year unbonding).
 */
import { ValidationError } from '@fmp/core';
import { z } from 'zod';
import { AmountOrZeroSchema, AmountSchema } from './amount.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

const ms = (min: number, max: number) => z.number().int().min(min).max(max);
const bps = (min = 0, max = 10_000) => z.number().int().min(min).max(max);

export const TrustWeightsBpsSchema = z
  .strictObject({
    credential: bps(),
    behavior: bps(),
    attestations: bps(),
    compliance: bps(),
    uptime: bps(),
  })
  .refine((w) => w.credential + w.behavior + w.attestations + w.compliance + w.uptime === 10_000, {
    message: 'the trust weights must sum to 10,000 bps',
  });

export const ParamsSchema = z.strictObject({
  // Stakes (spec 5.3)
  entryStake: AmountSchema,
  certifiedStake: AmountSchema,
  hubStake: AmountSchema,
  unbondingMs: ms(HOUR, 90 * DAY),
  // Proposal stages (spec 8.2)
  proposalMinStake: AmountOrZeroSchema,
  draftMs: ms(60_000, 60 * DAY),
  reviewMs: ms(60_000, 60 * DAY),
  voteMs: ms(60_000, 60 * DAY),
  implementationMinMs: ms(0, 365 * DAY),
  implementationMaxMs: ms(0, 365 * DAY),
  quorumBps: bps(100, 10_000),
  /** Share of for / (for + against) a proposal needs. */
  approvalBps: bps(5_000, 10_000),
  coreMaintainerTermMs: ms(DAY, 10 * 365 * DAY),
  // Emergency patches (spec 8.3)
  emergencyThreshold: z.number().int().min(1).max(100),
  emergencyRatifyMs: ms(HOUR, 30 * DAY),
  // Economy (spec 9)
  computePricePerHour: AmountSchema,
  facilitationFeeBps: bps(0, 1_000),
  attestationReward: AmountOrZeroSchema,
  attestationRewardPeriodMs: ms(HOUR, 365 * DAY),
  attestationRewardsPerPeriod: z.number().int().min(0).max(10_000),
  uptimeApyBps: bps(0, 2_000),
  uptimeThresholdPpm: z.number().int().min(900_000).max(1_000_000),
  // Slashing and disputes
  equivocationSlashBps: bps(),
  faultPeriodMs: ms(60_000, 365 * DAY),
  maxDisputeSlashBps: bps(),
  arbitratorsPerDispute: z.number().int().min(1).max(21),
  arbitratorMinStake: AmountOrZeroSchema,
  disputeRulingMs: ms(HOUR, 90 * DAY),
  // Network: read by running hubs
  maxHops: z.number().int().min(1).max(5),
  federationRatePerSec: z.number().int().min(1).max(1_000_000),
  federationBurst: z.number().int().min(1).max(10_000_000),
  trustWeightsBps: TrustWeightsBpsSchema,
});
export type Params = z.infer<typeof ParamsSchema>;
export type ParamName = keyof Params;
export const PARAM_NAMES = Object.keys(ParamsSchema.shape) as ParamName[];

/** The spec's numbers (5.3, 8, 9) and our operational defaults. */
export const DEFAULT_PARAMS: Params = Object.freeze({
  entryStake: '100',
  certifiedStake: '1000',
  hubStake: '10000',
  unbondingMs: 21 * DAY,
  proposalMinStake: '100',
  draftMs: 7 * DAY,
  reviewMs: 14 * DAY,
  voteMs: 7 * DAY,
  implementationMinMs: 30 * DAY,
  implementationMaxMs: 90 * DAY,
  quorumBps: 6_000,
  approvalBps: 5_000,
  coreMaintainerTermMs: 730 * DAY,
  emergencyThreshold: 2,
  emergencyRatifyMs: 72 * HOUR,
  computePricePerHour: '100',
  facilitationFeeBps: 10,
  attestationReward: '10',
  attestationRewardPeriodMs: 30 * DAY,
  attestationRewardsPerPeriod: 10,
  uptimeApyBps: 100,
  uptimeThresholdPpm: 999_000,
  equivocationSlashBps: 5_000,
  faultPeriodMs: DAY,
  maxDisputeSlashBps: 5_000,
  arbitratorsPerDispute: 3,
  arbitratorMinStake: '100',
  disputeRulingMs: 14 * DAY,
  maxHops: 5,
  federationRatePerSec: 1_000,
  federationBurst: 2_000,
  trustWeightsBps: {
    credential: 3_000,
    behavior: 2_500,
    attestations: 2_000,
    compliance: 1_500,
    uptime: 1_000,
  },
});

/** A set of changes: some parameters with new values (checked against the whole set on apply). */
export const ParamChangesSchema = z
  .record(z.string(), z.unknown())
  .refine((c) => Object.keys(c).length > 0 && Object.keys(c).length <= PARAM_NAMES.length, {
    message: 'name between 1 and all parameters',
  })
  .superRefine((changes, ctx) => {
    for (const [name, value] of Object.entries(changes)) {
      const schema = (ParamsSchema.shape as Record<string, z.ZodType>)[name];
      if (!schema) {
        ctx.addIssue({ code: 'custom', path: [name], message: `unknown parameter "${name}"` });
        continue;
      }
      const r = schema.safeParse(value);
      if (!r.success) ctx.addIssue({ code: 'custom', path: [name], message: r.error.issues[0]!.message });
    }
  });
export type ParamChanges = Partial<Params>;

/** The parameters after `changes`, validated as a whole (cross-field rules included). */
export function applyParamChanges(params: Params, changes: ParamChanges): Params {
  const next = ParamsSchema.safeParse({ ...params, ...changes });
  if (!next.success) {
    const issue = next.error.issues[0]!;
    throw new ValidationError(`parameters: ${issue.path.join('.')}: ${issue.message}`);
  }
  if (next.data.implementationMinMs > next.data.implementationMaxMs) {
    throw new ValidationError('parameters: implementationMinMs must not exceed implementationMaxMs');
  }
  return next.data;
}

/**
 * What an emergency patch may touch, and how far: numbers within a factor of 2 of the current value,
 * the trust weights by at most 1,000 bps each. Anything else waits for a full proposal.
 */
export const EMERGENCY_PARAMS: readonly ParamName[] = [
  'maxHops',
  'federationRatePerSec',
  'federationBurst',
  'trustWeightsBps',
  'facilitationFeeBps',
  'attestationReward',
  'uptimeApyBps',
];

export function checkEmergencyBounds(current: Params, changes: ParamChanges): void {
  for (const [name, value] of Object.entries(changes) as [ParamName, unknown][]) {
    if (!EMERGENCY_PARAMS.includes(name)) {
      throw new ValidationError(`an emergency patch may not change "${name}"`);
    }
    const before = current[name];
    if (name === 'trustWeightsBps') {
      const a = before as Params['trustWeightsBps'];
      const b = value as Params['trustWeightsBps'];
      for (const k of Object.keys(a) as (keyof typeof a)[]) {
        if (Math.abs(a[k] - b[k]) > 1_000) {
          throw new ValidationError(`an emergency patch moves trust weight "${k}" by at most 1,000 bps`);
        }
      }
      continue;
    }
    const x = typeof before === 'string' ? Number(before) : (before as number);
    const y = typeof value === 'string' ? Number(value) : (value as number);
    if (x === 0 ? y !== 0 : y > x * 2 || y < x / 2) {
      throw new ValidationError(`an emergency patch changes "${name}" by at most a factor of 2`);
    }
  }
}
