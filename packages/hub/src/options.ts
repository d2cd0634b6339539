/** Hub options: the scalar ones are checked with zod; defaults live here. */
import { didSchema, regionCodeSchema, zodIssues } from '@fmp/core';
import { z } from 'zod';
import { HubConfigError } from './errors.js';

export const DEFAULT_LIMITS = {
  maxFrameBytes: 1024 * 1024,
  maxSessions: 10_000,
  maxPendingHandshakesPerMesh: 16,
  /** A link with no inbound traffic (frames or pongs) for this long is closed. */
  idleTimeoutMs: 60_000,
  heartbeatMs: 15_000,
  /** How long a message waits for an offline target before `unreachable` goes to the source. */
  queueTtlMs: 60_000,
  maxQueuedPerMesh: 1_000,
  maxQueuedTotal: 100_000,
  /** Frames waiting on one link's outbound queue. */
  maxOutboundPerLink: 10_000,
  /** Frames waiting to be processed on one link (async steps such as signature checks). */
  maxInboundBacklog: 1_024,
  /** Hello to Authenticate. */
  authTimeoutMs: 10_000,
  /** Oldest envelope timestamp accepted at ingress. */
  maxMessageAgeMs: 5 * 60_000,
  maxIdentityBodyBytes: 256 * 1024,
  maxFederations: 100_000,
} as const;

export type HubLimits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

const positive = z.number().int().positive();
export const hubLimitsSchema = z.strictObject(
  Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((k) => [k, positive.optional()])) as Record<
    keyof HubLimits,
    z.ZodOptional<typeof positive>
  >,
);

export const hubScalarOptionsSchema = z.object({
  did: didSchema,
  region: regionCodeSchema,
  host: z.string().min(1).max(255).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  grpcPort: z.number().int().min(0).max(65535).optional(),
  publicUrl: z
    .string()
    .regex(/^wss?:\/\/\S+$/)
    .max(300)
    .optional(),
  trustedIssuers: z.array(didSchema).min(1).max(1024),
  limits: hubLimitsSchema.optional(),
  rateLimit: z.strictObject({ messagesPerSec: z.number().positive(), burst: positive }).optional(),
  identityRateLimit: z.strictObject({ requestsPerSec: z.number().positive(), burst: positive }).optional(),
  handshake: z
    .strictObject({
      minTrustScore: z.number().min(0).max(100).optional(),
      timeoutMs: positive.optional(),
      maxTtlSeconds: positive.optional(),
    })
    .optional(),
  clockSkewMs: positive.optional(),
  sweepMs: positive.optional(),
  credentialRecheckMs: positive.optional(),
  federationWriteDelayMs: z.number().int().min(0).max(60_000).optional(),
  adminToken: z.string().min(16).max(512).optional(),
  peers: z
    .array(
      z.strictObject({
        did: didSchema,
        url: z
          .string()
          .regex(/^(wss?|grpcs?):\/\/\S+$/)
          .max(300),
      }),
    )
    .max(256)
    .refine((p) => new Set(p.map((x) => x.did)).size === p.length, 'a peer is listed twice')
    .optional(),
  allowedPeers: z.array(didSchema).max(1024).optional(),
  peering: z
    .strictObject({
      pingIntervalMs: positive.optional(),
      reconnectBaseMs: positive.optional(),
      reconnectMaxMs: positive.optional(),
      authTimeoutMs: positive.optional(),
    })
    .optional(),
  verificationMethod: z.string().min(3).max(512).optional(),
});

export function checkScalarOptions(options: unknown): void {
  const result = hubScalarOptionsSchema.safeParse(options);
  if (!result.success) {
    const issues = zodIssues(result.error);
    throw new HubConfigError(
      `invalid hub options: ${issues[0]?.path ?? ''}: ${issues[0]?.message ?? ''}`,
      issues,
    );
  }
}
