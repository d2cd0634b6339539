/** zod schemas for everything that crosses the store's boundary (arguments in, rows out). */
import {
  CapabilitiesSchema,
  capabilitySchema,
  didSchema,
  FederationRequestSchema,
  HandshakeDidSchema,
  HandshakeUuidSchema,
  regionCodeSchema,
  TimestampMsSchema,
  TrustScoreSchema,
  trustScoreSchema,
} from '@fmp/core';
import { z } from 'zod';
import type { FederationStatus, StoredFederation, StoredMesh } from './types.js';

export const FEDERATION_STATUSES = ['active', 'suspended', 'expired', 'terminated'] as const;
export const FederationStatusSchema: z.ZodType<FederationStatus> = z.enum(FEDERATION_STATUSES);

export const timestampSchema = TimestampMsSchema;
export const reasonSchema = z.string().max(256);
/** Spec 6.1: at most 5 hops, so a path names at most a handful of hubs; 16 leaves room. */
const pathSchema = z.array(HandshakeDidSchema).max(16);

export const StoredFederationSchema: z.ZodType<StoredFederation> = z
  .strictObject({
    federationId: HandshakeUuidSchema,
    handshakeId: HandshakeUuidSchema,
    sourceMeshId: HandshakeDidSchema,
    targetMeshId: HandshakeDidSchema,
    status: FederationStatusSchema,
    capabilities: CapabilitiesSchema,
    purpose: z.string().min(1).max(128),
    minTrustScore: TrustScoreSchema,
    routingEndpoint: FederationRequestSchema.shape.routingEndpoint,
    path: pathSchema,
    createdAt: timestampSchema,
    expiresAt: timestampSchema,
    updatedAt: timestampSchema,
    statusReason: reasonSchema.optional(),
  })
  .refine((f) => f.updatedAt >= f.createdAt, {
    message: 'updatedAt is before createdAt',
    path: ['updatedAt'],
  });

export const federationIdSchema = HandshakeUuidSchema;
export const meshDidSchema = didSchema;

export const StoredMeshSchema: z.ZodType<StoredMesh> = z
  .strictObject({
    meshId: didSchema,
    region: regionCodeSchema,
    capabilities: z
      .array(capabilitySchema)
      .max(64)
      .refine((a) => new Set(a).size === a.length, { message: 'capabilities must be unique' }),
    homeHub: didSchema,
    credentialIssuer: didSchema,
    credentialExpiresAt: timestampSchema,
    trustScore: trustScoreSchema,
    firstSeenAt: timestampSchema,
    lastSeenAt: timestampSchema,
  })
  .refine((m) => m.lastSeenAt >= m.firstSeenAt, {
    message: 'lastSeenAt is before firstSeenAt',
    path: ['lastSeenAt'],
  });

export const limitSchema = (max: number) => z.number().int().min(1).max(max);

export const MeshListOptionsSchema = z.strictObject({
  region: regionCodeSchema.optional(),
  capability: capabilitySchema.optional(),
  capabilities: z.array(capabilitySchema).max(64).optional(),
  minTrustScore: trustScoreSchema.optional(),
  credentialValidAt: timestampSchema.optional(),
  limit: limitSchema(1000),
});

export const UptimeWindowSchema = z
  .strictObject({ since: timestampSchema, now: timestampSchema })
  .refine((w) => w.since <= w.now, { message: 'since is after now', path: ['since'] });

export const StoreOptionsSchema = z.strictObject({
  maxPendingWrites: z.number().int().min(1).max(1_000_000).optional(),
  maxBatchSize: z.number().int().min(1).max(10_000).optional(),
  maxSessionsPerMesh: z.number().int().min(1).max(100_000).optional(),
});
