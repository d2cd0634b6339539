/**
 * The hub's HTTP API (hono): health, metrics, DID resolution (DIF Universal Resolver shape), the
 * did:mesh registry (op logs in and out), discovery, the routing table and admin endpoints. The
 * handlers parse, call the hub, and encode; one error boundary (`httpError`) maps failures.
 */
import {
  constantTimeEqual,
  didSchema,
  discoveryQuerySchema,
  NotImplementedError,
  sha256,
  ValidationError,
  zodIssues,
} from '@fmp/core';
import { formatMesh, type LedgerState, MAX_LEAF_BYTES, type Proposal } from '@fmp/ledger';
import type { HttpBindings } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import {
  AdminUnauthorizedError,
  httpError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
} from './errors.js';
import type { Hub, HubLogger } from './hub.js';
import type { HubLedger } from './ledger.js';
import type { FederationRow } from './persistence.js';
import type { RateLimiter } from './rate-limit.js';

export interface HttpContext {
  readonly hub: Hub;
  readonly isReady: () => boolean;
  readonly adminToken: string | undefined;
  readonly maxIdentityBodyBytes: number;
  readonly identityLimiter: RateLimiter;
  /** Ledger submissions and cosignatures, per address (a mirror forwards for many clients). */
  readonly ledgerLimiter: RateLimiter;
  readonly now: () => number;
  readonly listFederations: () => Promise<FederationRow[]>;
  readonly log: HubLogger;
}

const MAX_OPS_PER_REQUEST = 64;
const MAX_SSE_CLIENTS = 16;
const opsSchema = z.array(z.record(z.string().max(64), z.json())).max(MAX_OPS_PER_REQUEST);
const reasonSchema = z.strictObject({ reason: z.string().min(1).max(200).optional() });

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(`invalid ${what}`, zodIssues(result.error));
  return result.data;
}

function jsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('body is not JSON');
  }
}

function didParam(value: string | undefined): string {
  return parse(didSchema, value, 'DID');
}

const RESOLUTION_STATUS: Record<string, number> = {
  invalidDid: 400,
  invalidOptions: 400,
  notFound: 404,
  methodNotSupported: 501,
  notImplemented: 501,
  representationNotSupported: 406,
};

/** What `GET /v1/ledger/state` answers: where the ledger stands and its parameters. */
export function ledgerSummary(l: HubLedger): Record<string, unknown> {
  const state = l.state;
  return {
    origin: l.origin,
    role: l.role,
    operator: state.operator,
    size: l.size,
    rootHash: Buffer.from(l.rootHash()).toString('base64'),
    stateRoot: state.stateRoot(),
    time: state.time,
    treasury: formatMesh(state.treasury),
    supply: formatMesh(state.supply),
    params: state.params,
    coreMaintainers: state.coreMaintainers(),
    auditors: state.auditors(),
    ...(l.lastError ? { mirrorError: l.lastError } : {}),
    ...(l.evidence ? { equivocation: l.evidence } : {}),
  };
}

export function proposalJson(state: LedgerState, p: Proposal): Record<string, unknown> {
  return {
    id: p.id,
    kind: p.kind,
    title: p.title,
    proposer: p.proposer,
    status: state.stageOf(p),
    action: p.action,
    createdAt: p.createdAt,
    reviewStart: p.reviewStart,
    voteStart: p.voteStart,
    voteEnd: p.voteEnd,
    effectiveAt: p.effectiveAt,
    reviews: Object.fromEntries(p.reviews),
    ballots: p.ballots.size,
    for: formatMesh(p.for),
    against: formatMesh(p.against),
    abstain: formatMesh(p.abstain),
    ...(p.eligible === undefined ? {} : { eligible: formatMesh(p.eligible) }),
    quorumReached: p.quorumReached ?? null,
    ...(p.reason ? { reason: p.reason } : {}),
  };
}

export function createHttpApp(ctx: HttpContext): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  const { hub } = ctx;
  const adminDigest = ctx.adminToken === undefined ? undefined : sha256(ctx.adminToken);
  let sseClients = 0;

  /** The per-address quota: one limiter, a bucket per endpoint family and address. */
  const takeQuota = (c: Context<{ Bindings: HttpBindings }>, family: string, limiter: RateLimiter) => {
    const client = c.env?.incoming?.socket?.remoteAddress ?? 'unknown';
    const decision = limiter.take(`${family}:${client}`, ctx.now());
    if (!decision.ok) throw new TooManyRequestsError(decision.retryAfterMs);
  };

  /** Middleware for a public POST: a body limit, then the per-address quota. */
  const limitedPost = (maxSize: number, family: string, limiter: RateLimiter = ctx.identityLimiter) =>
    [
      bodyLimit({
        maxSize,
        onError: () => {
          throw new PayloadTooLargeError(maxSize);
        },
      }),
      createMiddleware<{ Bindings: HttpBindings }>(async (c, next) => {
        takeQuota(c, family, limiter);
        await next();
      }),
    ] as const;

  app.onError((err, c) => {
    const mapped = httpError(err);
    if (mapped.status >= 500) ctx.log.error({ path: c.req.path, err: err.message }, 'http error');
    if (mapped.retryAfterMs !== undefined)
      c.header('Retry-After', String(Math.ceil(mapped.retryAfterMs / 1000)));
    return c.json(mapped.body, mapped.status as 400);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: 'no such endpoint' } }, 404));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) =>
    ctx.isReady() ? c.json({ status: 'ready' }) : c.json({ status: 'starting' }, 503),
  );
  app.get('/metrics', async (c) => {
    c.header('Content-Type', hub.metrics.registry.contentType);
    return c.body(await hub.metrics.registry.metrics());
  });

  app.get('/.well-known/did.json', async (c) => {
    const result = await hub.resolver.resolve(hub.did);
    if (!result.didDocument) throw new NotFoundError(`DID document of ${hub.did}`);
    return c.json(result.didDocument);
  });

  app.get('/1.0/identifiers/:did', async (c) => {
    const did = c.req.param('did');
    // DID Core's versionId / versionTime: an earlier document (did:mesh replays its operations up
    // to it, each verified again: metered per address like the identity writes).
    const versionId = c.req.query('versionId');
    const versionTime = c.req.query('versionTime');
    if (versionId !== undefined || versionTime !== undefined) takeQuota(c, 'versions', ctx.identityLimiter);
    const result = await hub.resolver.resolve(did, {
      ...(versionId !== undefined ? { versionId } : {}),
      ...(versionTime !== undefined ? { versionTime } : {}),
    });
    const error = result.didResolutionMetadata.error;
    return c.json(result, (error ? (RESOLUTION_STATUS[error] ?? 500) : 200) as 200);
  });

  app.get('/v1/identities/:did/log', (c) => {
    const did = didParam(c.req.param('did'));
    const log = hub.registry.history(did);
    if (log.length === 0) throw new NotFoundError(did);
    return c.json({ did, operations: log });
  });

  app.post('/v1/identities', ...limitedPost(ctx.maxIdentityBodyBytes, 'identities'), async (c) => {
    const ops = parse(opsSchema, jsonBody(await c.req.text()), 'operations');
    return c.json(await hub.registry.importLog(ops));
  });

  app.get('/v1/discovery', (c) => {
    const capabilities = c.req
      .queries('capability')
      ?.flatMap((v) => v.split(','))
      .filter((v) => v.length > 0);
    const region = c.req.query('region');
    const min = c.req.query('minTrustScore');
    const query = parse(
      discoveryQuerySchema,
      {
        ...(region ? { region } : {}),
        ...(capabilities && capabilities.length > 0 ? { capabilities } : {}),
        ...(min !== undefined ? { minTrustScore: Number(min) } : {}),
      },
      'discovery query',
    );
    return c.json({ meshes: hub.discover(query) });
  });

  // Federation routes, and the path-vector table (routes learned from peers: path, hops, latency).
  app.get('/v1/routes', (c) =>
    c.json({ hub: hub.did, routes: hub.routes(), peers: hub.connectedPeers(), peerRoutes: hub.peerRoutes() }),
  );

  // Trust (spec 5): the graph of spec 5.2 and each mesh's score explained.
  app.get('/v1/trust/graph', (c) => {
    const engine = hub.trustEngine;
    if (!engine) throw new NotImplementedError('this hub runs without the trust engine');
    const q = parse(
      z.strictObject({
        did: didSchema.optional(),
        limit: z.coerce.number().int().min(1).max(10_000).optional(),
      }),
      c.req.query(),
      'query',
    );
    return c.json({
      hub: hub.did,
      nodes: engine.subjectCount,
      edgeCount: engine.edgeCount,
      edges: engine.graph({ ...(q.did ? { did: q.did } : {}), limit: q.limit ?? 1000 }),
    });
  });
  app.get('/v1/trust/:did', (c) => {
    const did = didParam(c.req.param('did'));
    if (!hub.trustEngine) throw new NotImplementedError('this hub runs without the trust engine');
    const trust = hub.trustOf(did);
    if (!trust) throw new NotFoundError(`${did} is not known to this hub's trust engine`);
    return c.json(trust);
  });

  // The verifiable log (issue #7): signed checkpoint, entries, inclusion and consistency proofs.
  const ledger = () => {
    if (!hub.ledger) throw new NotImplementedError('this hub has no ledger yet (starting)');
    return hub.ledger;
  };
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  const count = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
  app.get('/v1/ledger/checkpoint', (c) => {
    c.header('Content-Type', 'text/plain; charset=utf-8');
    return c.body(ledger().checkpoint());
  });
  app.get('/v1/ledger/entries', async (c) => {
    const log = ledger();
    const q = parse(z.strictObject({ start: count, end: count.optional() }), c.req.query(), 'query');
    const end = Math.min(q.end ?? log.size, q.start + 1000, log.size);
    if (q.start > end) throw new ValidationError('start is past end (or past the log size)');
    const leaves = await log.entries(q.start, end);
    return c.json({
      size: log.size,
      entries: leaves.map((leaf, i) => {
        const { time, entry } = JSON.parse(Buffer.from(leaf).toString('utf8')) as {
          time: number;
          entry: unknown;
        };
        return { index: q.start + i, leaf: b64(leaf), time, entry };
      }),
    });
  });
  // Submissions: a signed entry (docs/ledger.md); a mirror forwards it to the sequencer.
  app.post('/v1/ledger/entries', ...limitedPost(MAX_LEAF_BYTES, 'ledger', ctx.ledgerLimiter), async (c) =>
    c.json(await ledger().submit(jsonBody(await c.req.text())), 201),
  );
  // Witnesses hand in their cosignatures; the sequencer serves them with its checkpoint.
  app.post('/v1/ledger/cosignatures', ...limitedPost(64 * 1024, 'cosign', ctx.ledgerLimiter), async (c) =>
    c.json(await ledger().addCosignatures(await c.req.text())),
  );
  app.get('/v1/ledger/state', (c) => c.json(ledgerSummary(ledger())));
  app.get('/v1/ledger/accounts/:did', (c) => {
    const did = didParam(c.req.param('did'));
    const state = ledger().state;
    const a = state.account(did);
    return c.json({
      did,
      balance: formatMesh(a.balance),
      bonded: formatMesh(a.bonded),
      unbonding: a.unbonding.map((u) => ({ amount: formatMesh(u.amount), releaseAt: u.releaseAt })),
      tier: a.tier,
      nextSeq: a.nextSeq,
      coreMaintainer: state.isCoreMaintainer(did),
      auditor: state.auditors().includes(did),
      certifications: state.certifications(did),
    });
  });
  app.get('/v1/ledger/proposals', (c) => {
    const state = ledger().state;
    return c.json({
      proposals: state
        .proposals()
        .slice(-1000)
        .map((p) => proposalJson(state, p)),
    });
  });
  app.get('/v1/ledger/proposals/:id', (c) => {
    const state = ledger().state;
    const id = parse(z.string().regex(/^P-\d{1,15}$/), c.req.param('id'), 'proposal id');
    const p = state.proposal(id);
    if (!p) throw new NotFoundError(`proposal ${id}`);
    return c.json(proposalJson(state, p));
  });
  app.get('/v1/ledger/disputes/:id', (c) => {
    const id = parse(z.string().regex(/^D-\d{1,15}$/), c.req.param('id'), 'dispute id');
    const d = ledger().state.dispute(id);
    if (!d) throw new NotFoundError(`dispute ${id}`);
    return c.json({ ...d, rulings: Object.fromEntries(d.rulings), slashed: formatMesh(d.slashed) });
  });
  app.get('/v1/ledger/proof/inclusion', (c) => {
    const log = ledger();
    const q = parse(z.strictObject({ index: count, size: count.optional() }), c.req.query(), 'query');
    const size = q.size ?? log.size;
    if (size > log.size || q.index >= size)
      throw new ValidationError('index must be below size, size at most the log size');
    return c.json({ index: q.index, size, hashes: log.inclusionProof(q.index, size).map(b64) });
  });
  app.get('/v1/ledger/proof/consistency', (c) => {
    const log = ledger();
    const q = parse(z.strictObject({ from: count, to: count.optional() }), c.req.query(), 'query');
    const to = q.to ?? log.size;
    if (to > log.size || q.from > to)
      throw new ValidationError('from must be at most to, to at most the log size');
    return c.json({ from: q.from, to, hashes: log.consistencyProof(q.from, to).map(b64) });
  });

  // Spec 7.3: explanation records of this hub's routing decisions for compliance.
  app.get('/v1/explanations/:id', (c) => {
    const id = parse(z.string().min(1).max(256), c.req.param('id'), 'action id');
    const e = hub.explanation(id);
    if (!e) throw new NotFoundError(`no explanation for ${id} at this hub`);
    return c.json(e);
  });

  // Admin: bearer token, compared in constant time over fixed-length digests.
  app.use('/v1/admin/*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!adminDigest || token.length === 0 || !constantTimeEqual(sha256(token), adminDigest)) {
      throw new AdminUnauthorizedError();
    }
    await next();
  });
  app.get('/v1/admin/federations', async (c) => c.json({ federations: await ctx.listFederations() }));
  app.get('/v1/admin/meshes', async (c) => c.json({ meshes: await hub.meshes() }));
  // Trust events (anomalies, level changes) as Server-Sent Events, for operators' tooling.
  app.get('/v1/admin/trust/events', (c) => {
    if (!hub.trustEngine) throw new NotImplementedError('this hub runs without the trust engine');
    if (sseClients >= MAX_SSE_CLIENTS) throw new TooManyRequestsError(5_000);
    sseClients++;
    return streamSSE(c, async (stream) => {
      const queue: string[] = [];
      let wake: (() => void) | undefined;
      const off = hub.onTrustEvent((e) => {
        if (queue.length < 1_000) queue.push(JSON.stringify(e));
        wake?.();
      });
      stream.onAbort(() => wake?.());
      try {
        await stream.writeSSE({ event: 'ready', data: JSON.stringify({ hub: hub.did }) });
        while (!stream.aborted && !stream.closed) {
          if (queue.length === 0) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, 15_000).unref();
            });
            wake = undefined;
            if (queue.length === 0 && !stream.aborted) await stream.writeSSE({ event: 'ping', data: '{}' });
            continue;
          }
          const data = queue.shift()!;
          await stream.writeSSE({ event: JSON.parse(data).type, data });
        }
      } finally {
        off();
        sseClients--;
      }
    });
  });
  app.post('/v1/admin/ledger/clock', async (c) => {
    const body = parse(
      z.strictObject({
        advanceMs: z
          .number()
          .int()
          .min(0)
          .max(400 * 86_400_000),
      }),
      await c.req.json().catch(() => undefined),
      'clock request',
    );
    return c.json(await ledger().advanceClock(body.advanceMs));
  });

  app.post('/v1/admin/federations/:id/:action', async (c) => {
    const id = parse(z.uuid(), c.req.param('id'), 'federation id');
    const action = parse(z.enum(['suspend', 'resume', 'terminate']), c.req.param('action'), 'action');
    const text = await c.req.text();
    const { reason } = parse(
      reasonSchema,
      text.length > 0 && text.length < 4096 ? safeJson(text) : {},
      'body',
    );
    const status = action === 'suspend' ? 'suspended' : action === 'resume' ? 'active' : 'terminated';
    const row = await hub.setFederationStatus(id, status, reason ?? `${action} by the hub operator`);
    return c.json({ federation: row });
  });

  return app;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('body is not JSON');
  }
}
