/**
 * Hub and node configuration files (YAML or JSON), validated by a schema. An invalid file gets one
 * clear error naming the field and what was expected. Secrets never live here: keys are in key
 * files (0600) and the admin token in a token file.
 */

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { complianceContextSchema, FmpError } from '@fmp/core';
import { GenesisBodySchema } from '@fmp/ledger';
import { upstreamServerSchema } from '@fmp/node';
import { trustWeightsSchema } from '@fmp/trust';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UsageError } from './errors.js';

export class ConfigError extends FmpError {
  readonly field: string;
  constructor(file: string, field: string, message: string, options?: { cause?: unknown }) {
    super('invalid_config', `${file}: ${field ? `${field}: ` : ''}${message}`, options);
    this.field = field;
  }
}

const did = z
  .string()
  .regex(/^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$/, 'a DID such as did:mesh:enterprise:acme-001');
/** A link to a hub: WebSocket, or the hub's gRPC listener (`listen.grpcPort`). */
const linkUrl = z.string().regex(/^(wss?|grpcs?):\/\/[^\s]+$/, 'a ws://, wss://, grpc:// or grpcs:// URL');
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL');
const region = z.string().regex(/^[a-z]{2,8}(-[a-z0-9]{1,16})?$/, 'a region code such as eu, na, apac');
const capability = z
  .string()
  .regex(/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/, 'a dotted capability such as ml.inference');
const port = z.number().int().min(0).max(65535);

export const HubConfigSchema = z.strictObject({
  did,
  keyFile: z.string().min(1),
  region,
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.default(7400),
      /** Also serve mesh links over gRPC on this port (0: any free one); default WebSocket only. */
      grpcPort: port.optional(),
    })
    .default({
      host: '127.0.0.1',
      port: 7400,
    }),
  dataDir: z.string().min(1),
  store: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('sqlite') }),
      z.strictObject({
        kind: z.literal('postgres'),
        url: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL'),
        /** Tables go into this schema (one per hub, or per test). Default: the search_path. */
        schema: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
          .optional(),
      }),
    ])
    .default({ kind: 'sqlite' }),
  trustedIssuers: z.array(did).min(1, 'at least one credential issuer the hub trusts'),
  /** did:mesh operation logs (JSON Lines) to load at start, e.g. the authority's and peer hubs'. */
  importIdentities: z.array(z.string().min(1)).max(1024).default([]),
  /** Peer hubs: `ws://host:port/v1/hub`, or `grpc://host:port` (a peer's listen.grpcPort). */
  peers: z
    .array(z.strictObject({ did, url: linkUrl }))
    .max(64)
    .default([]),
  limits: z
    .strictObject({
      maxFrameBytes: z
        .number()
        .int()
        .min(1024)
        .max(16 * 1024 * 1024)
        .optional(),
      maxSessions: z.number().int().min(1).max(100_000).optional(),
      maxPendingHandshakesPerMesh: z.number().int().min(1).max(1024).optional(),
      idleTimeoutMs: z.number().int().min(1000).optional(),
      heartbeatMs: z.number().int().min(100).optional(),
      queueTtlMs: z.number().int().min(100).optional(),
      maxQueuedPerMesh: z.number().int().min(1).optional(),
    })
    .default({}),
  rateLimit: z
    .strictObject({
      messagesPerSec: z.number().positive(),
      burst: z.number().int().positive(),
    })
    .optional(),
  adminTokenFile: z.string().min(1).optional(),
  /** The trust engine (spec 5; docs/trust.md). */
  trust: z
    .strictObject({
      /** The factor weights (governance parameters); must sum to 1. */
      weights: trustWeightsSchema.optional(),
      /** EigenTrust recompute period. */
      recomputeMs: z.number().int().min(100).max(3_600_000).default(30_000),
      /** How often the engine's state is written to the store. */
      persistMs: z.number().int().min(100).max(3_600_000).default(5_000),
      /** How often meshes changed only by answered heartbeats are written too. */
      routinePersistMs: z.number().int().min(100).max(3_600_000).default(60_000),
      /** Active attestations per attester. */
      attestationBudget: z.number().int().min(1).max(10_000).default(64),
    })
    .default({ recomputeMs: 30_000, persistMs: 5_000, routinePersistMs: 60_000, attestationBudget: 64 }),
  /** The mesh ledger (docs/ledger.md): run it here, or mirror and witness another hub's. */
  ledger: z
    .strictObject({
      role: z.enum(['sequencer', 'mirror']).default('sequencer'),
      /** A mirror's sequencer: its HTTP base URL and DID (key from the registry, or `publicKey`). */
      sequencer: z
        .strictObject({
          url: z.string().regex(/^https?:\/\/[^\s]+$/, 'an http:// or https:// URL'),
          did,
          publicKey: z.string().min(1).max(100).optional(),
        })
        .optional(),
      /** The genesis a sequencer writes into an empty ledger. */
      genesis: GenesisBodySchema.omit({ ledger: true, operatorKey: true }).optional(),
      /** `manual`: the admin API advances the ledger clock (tests and demos only). */
      clock: z.enum(['system', 'manual']).default('system'),
      syncMs: z.number().int().min(50).max(600_000).optional(),
      /** How often staked meshes' availability is reported (uptime rewards); 0: never. */
      uptimeReportMs: z
        .number()
        .int()
        .min(0)
        .max(30 * 86_400_000)
        .optional(),
    })
    .refine((l) => l.role !== 'mirror' || l.sequencer !== undefined, {
      message: 'a mirror names its sequencer (url and did)',
      path: ['sequencer'],
    })
    .default({ role: 'sequencer', clock: 'system' }),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type HubConfig = z.infer<typeof HubConfigSchema>;

export const NodeConfigSchema = z
  .strictObject({
    did,
    keyFile: z.string().min(1),
    credentialFile: z.string().min(1),
    hubUrl: linkUrl,
    /** The hub's HTTP API; default: hubUrl with http(s). Required when hubUrl is grpc(s)://. */
    hubHttpUrl: httpUrl.optional(),
    region,
    /** Issuers whose MeshAgentCredentials this node accepts from partners. */
    trustedIssuers: z.array(did).min(1, 'at least one credential issuer this node trusts'),
    capabilities: z.array(capability).max(64).default([]),
    /** The node's local control API and its MCP endpoint (`/mcp`). */
    listen: z.strictObject({ host: z.string().default('127.0.0.1'), port: port.default(7500) }).default({
      host: '127.0.0.1',
      port: 7500,
    }),
    controlTokenFile: z.string().min(1).optional(),
    policy: z
      .strictObject({
        acceptCapabilities: z.array(capability).optional(),
        minPartnerTrust: z.number().min(0).max(100).default(50),
        /** When present, only these meshes may federate with this node. */
        allow: z.array(did).optional(),
        deny: z.array(did).default([]),
      })
      .default({ minPartnerTrust: 50, deny: [] }),
    mcp: z
      .strictObject({
        /** The organization's MCP servers (stdio command or Streamable HTTP url), offered to partners. */
        servers: z.array(upstreamServerSchema).max(32).default([]),
        /** Who may call which tool; no rule = nobody (default deny). */
        access: z
          .array(
            z.strictObject({
              partners: z.union([z.literal('*'), z.array(did).min(1)]),
              tools: z.array(z.string().min(1).max(128)).min(1),
              minTrust: z.number().min(0).max(100).optional(),
            }),
          )
          .max(256)
          .default([]),
        /** complianceContext of calls whose `_meta` carries none. */
        complianceContext: complianceContextSchema.optional(),
        callTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
        maxConcurrentCalls: z.number().int().min(1).max(1024).default(32),
        partnerRate: z
          .strictObject({ ratePerSec: z.number().positive(), burst: z.number().int().positive() })
          .default({ ratePerSec: 20, burst: 40 }),
        /** Serve partners' tools at /mcp on the listen address. */
        endpoint: z.boolean().default(true),
        /** Require the control token (Authorization: Bearer) at /mcp too. */
        requireToken: z.boolean().default(false),
        /** Host names accepted at /mcp besides loopback (DNS-rebinding protection). */
        allowedHosts: z.array(z.string().min(1).max(253)).max(32).optional(),
        /** Explanation records (spec 7.3), JSON Lines, relative to the config file. */
        explanationsFile: z.string().min(1).default('explanations.jsonl'),
      })
      .default({
        servers: [],
        access: [],
        callTimeoutMs: 60_000,
        maxConcurrentCalls: 32,
        partnerRate: { ratePerSec: 20, burst: 40 },
        endpoint: true,
        requireToken: false,
        explanationsFile: 'explanations.jsonl',
      }),
    /** Receiving side (docs/link-protocol.md): how old a message may be, how many ids are remembered. */
    messages: z
      .strictObject({
        /** Oldest incoming message accepted, ms (must exceed the hub's queue TTL). */
        maxAgeMs: z.number().int().min(10_000).max(3_600_000).default(300_000),
        /** Message ids remembered for replay protection (16-22 bytes each when full). */
        replayCapacity: z.number().int().min(1_000).max(100_000_000).default(4_000_000),
      })
      .default({ maxAgeMs: 300_000, replayCapacity: 4_000_000 }),
    /** Compliance (spec 7; docs/compliance.md): adapters, local Cedar policy, audit trail, retention. */
    compliance: z
      .strictObject({
        /** Evaluate and audit transactions that carry a complianceContext. */
        enabled: z.boolean().default(true),
        /** Cedar policy files (relative to the config file); none: no local policy. */
        policies: z.array(z.string().min(1)).max(64).default([]),
        /** Extra adapter modules (default export: a ComplianceAdapter). */
        adapters: z.array(z.string().min(1)).max(16).default([]),
        /** The context of messages sent without one. */
        defaultContext: complianceContextSchema.optional(),
        /** Refuse received messages without a complianceContext. */
        requireContext: z.boolean().default(false),
        /** Keep encrypted copies of received payloads for their retentionPeriod (erasable per data subject). */
        storePayloads: z.boolean().default(false),
        /** The audit trail and payload vault (SQLite), relative to the config file. */
        auditFile: z.string().min(1).default('node.db'),
        /**
         * When an audit entry counts as durable: \`full\`, fsynced (survives a power loss); \`normal\`,
         * handed to the operating system (survives the node crashing; a power loss may drop the last
         * entries). Receipts and answers wait for the entries they acknowledge. docs/compliance.md.
         */
        auditSync: z.enum(['full', 'normal']).default('full'),
        /**
         * What a message waits for before it is sent or delivered: its audit entry \`written\`
         * (committed; a crash of the node keeps it) or \`durable\` (as auditSync says).
         */
        auditBefore: z.enum(['written', 'durable']).default('written'),
        /** How often payloads past their retention are purged. */
        purgeIntervalMs: z.number().int().min(1_000).max(86_400_000).default(60_000),
      })
      .default({
        enabled: true,
        policies: [],
        adapters: [],
        requireContext: false,
        storePayloads: false,
        auditFile: 'node.db',
        auditSync: 'full',
        auditBefore: 'written',
        purgeIntervalMs: 60_000,
      }),
    /** The mesh ledger: how often the federated compute this node used is paid (0: only on request). */
    ledger: z
      .strictObject({ settleMs: z.number().int().min(0).max(86_400_000).default(3_600_000) })
      .default({ settleMs: 3_600_000 }),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((c) => !/^grpcs?:/.test(c.hubUrl) || c.hubHttpUrl !== undefined, {
    path: ['hubHttpUrl'],
    message: "the hub's http(s):// URL, required when hubUrl is a grpc(s):// URL",
  });
export type NodeConfig = z.infer<typeof NodeConfigSchema>;

/** `ws://host:port/v1/mesh` or `http://host:port/` to the hub's HTTP base `http://host:port`. */
export function httpBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${url} is not a URL`);
  }
  const protocol = { 'ws:': 'http:', 'wss:': 'https:', 'http:': 'http:', 'https:': 'https:' }[u.protocol];
  if (!protocol) throw new UsageError(`${url}: the hub URL is http(s):// or ws(s)://`);
  const path = u.pathname.replace(/\/v1\/mesh\/?$/, '').replace(/\/$/, '');
  return `${protocol}//${u.host}${path}`;
}

/** The node's hub HTTP API base: hubHttpUrl, else hubUrl with http(s) (httpBase). */
export function hubHttpBase(config: { hubUrl: string; hubHttpUrl?: string | undefined }): string {
  return httpBase(config.hubHttpUrl ?? config.hubUrl);
}

function describeIssue(issue: z.core.$ZodIssue): { field: string; message: string } {
  const field = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return { field, message: `unknown field(s) ${issue.keys.join(', ')}` };
  }
  if (issue.code === 'invalid_type') {
    return { field, message: `expected ${issue.expected}${issue.input === undefined ? ' (missing)' : ''}` };
  }
  return { field, message: `expected ${issue.message}` };
}

/** Reads and validates a config file; paths inside it are resolved relative to the file. */
export function loadConfig<S extends z.ZodType>(file: string, schema: S): z.infer<S> & { configDir: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(file, '', 'cannot read the file', { cause });
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new ConfigError(
      file,
      '',
      `not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const first = result.error.issues[0];
    const { field, message } = first ? describeIssue(first) : { field: '', message: 'invalid' };
    throw new ConfigError(file, field, message, { cause: result.error });
  }
  return { ...(result.data as object), configDir: dirname(resolve(file)) } as z.infer<S> & {
    configDir: string;
  };
}

export function resolvePath(configDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(configDir, path);
}
