/**
 * `fmp node start`: a mesh node from its config file, plus a loopback control API (bearer token)
 * through which `fmp discover|federate|send|federations` and the demo drive the running node.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { constantTimeEqual, FmpError, utf8, type VerifiableCredentialJson } from '@fmp/core';
import { jsonlMeshStore, MeshRegistry } from '@fmp/identity';
import { createMeshNode, type IncomingMessage, type MeshNode } from '@fmp/node';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import pino from 'pino';
import { z } from 'zod';
import { IDENTITY_LOG } from './commands/init.js';
import { type NodeConfig, resolvePath } from './config.js';
import { UsageError } from './errors.js';
import { readKeyFile } from './keyfile.js';
import { writeSecretFile } from './secrets.js';

/** Received messages kept for `GET /v1/messages` (the node's own application would subscribe instead). */
const INBOX_LIMIT = 10_000;

const FederateBody = z.strictObject({
  target: z.string().min(7).max(2048),
  capabilities: z.array(z.string().min(1).max(128)).max(64),
  purpose: z.string().min(1).max(256),
  ttlSeconds: z.number().int().positive().max(31_536_000).optional(),
  minTrustScore: z.number().min(0).max(100).optional(),
});
const SendBody = z.strictObject({
  type: z.string().regex(/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/),
  data: z.json(),
  priority: z.enum(['critical', 'high', 'normal', 'low']).optional(),
});

export interface RunningNode {
  node: MeshNode;
  controlUrl: string;
  token: string;
  stop(): Promise<void>;
}

export function controlTokenPath(config: NodeConfig & { configDir: string }): string {
  return resolvePath(config.configDir, config.controlTokenFile ?? 'control.token');
}

export async function startNodeProcess(config: NodeConfig & { configDir: string }): Promise<RunningNode> {
  const key = readKeyFile(resolvePath(config.configDir, config.keyFile));
  if (key.did !== config.did) throw new UsageError(`key file is for ${key.did}, config says ${config.did}`);
  const credentialFile = resolvePath(config.configDir, config.credentialFile);
  let credential: VerifiableCredentialJson;
  try {
    credential = JSON.parse(readFileSync(credentialFile, 'utf8'));
  } catch (cause) {
    throw new UsageError(`cannot read the credential ${credentialFile}`, { cause });
  }
  // The node's own did:mesh operations, uploaded to the hub at authentication.
  const logPath = join(config.configDir, IDENTITY_LOG);
  let meshLog: Record<string, unknown>[] | undefined;
  if (existsSync(logPath)) {
    const registry = await MeshRegistry.open({ store: jsonlMeshStore({ path: logPath }) });
    meshLog = registry.history(config.did) as unknown as Record<string, unknown>[];
    await registry.close();
  }
  const logger = pino({ level: config.logLevel, base: { mesh: config.did } });
  const node = createMeshNode({
    did: config.did,
    keyPair: key.keyPair,
    verificationMethod: key.verificationMethod,
    credential,
    capabilities: config.capabilities,
    region: config.region,
    hubUrl: config.hubUrl,
    trustedIssuers: config.trustedIssuers,
    ...(meshLog ? { meshLog } : {}),
    policy: {
      // Partners may ask for what this node offers unless the policy says otherwise.
      ...(config.policy.acceptCapabilities || config.capabilities.length
        ? { acceptCapabilities: config.policy.acceptCapabilities ?? config.capabilities }
        : {}),
      minPartnerTrust: config.policy.minPartnerTrust,
      ...(config.policy.allow ? { allow: config.policy.allow } : {}),
      deny: config.policy.deny,
    },
    logger,
  });
  const inbox: (IncomingMessage & { seq: number; receivedAt: number })[] = [];
  let seq = 0;
  node.onMessage((m) => {
    inbox.push({ ...m, seq: ++seq, receivedAt: Date.now() });
    if (inbox.length > INBOX_LIMIT) inbox.shift();
  });
  await node.start();

  const tokenFile = controlTokenPath(config);
  const token = existsSync(tokenFile)
    ? readFileSync(tokenFile, 'utf8').trim()
    : randomBytes(32).toString('base64url');
  if (!existsSync(tokenFile)) writeSecretFile(tokenFile, `${token}\n`);
  const expected = utf8(`Bearer ${token}`);

  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.use('/v1/*', async (c, next) => {
    if (!constantTimeEqual(utf8(c.req.header('authorization') ?? ''), expected)) {
      return c.json({ error: { code: 'unauthorized', message: 'bearer token required' } }, 401);
    }
    await next();
  });
  app.get('/v1/node', (c) =>
    c.json({ did: node.did, connected: node.connected, trustScore: node.trustScore }),
  );
  app.get('/v1/discovery', async (c) => {
    const q = c.req.query();
    const meshes = await node.discover({
      ...(q.region ? { region: q.region } : {}),
      ...(q.capability ? { capabilities: [q.capability] } : {}),
      ...(q.minTrustScore ? { minTrustScore: Number(q.minTrustScore) } : {}),
    });
    return c.json({ meshes });
  });
  app.get('/v1/federations', (c) => c.json({ federations: node.federations() }));
  app.post('/v1/federations', async (c) => {
    const body = FederateBody.parse(await c.req.json());
    const t = performance.now();
    const federation = await node.federate(body.target, {
      capabilities: body.capabilities,
      purpose: body.purpose,
      ...(body.ttlSeconds ? { ttlSeconds: body.ttlSeconds } : {}),
      ...(body.minTrustScore !== undefined ? { minTrustScore: body.minTrustScore } : {}),
    });
    return c.json({ federation, handshakeMs: Math.round((performance.now() - t) * 1000) / 1000 });
  });
  app.delete('/v1/federations/:id', async (c) => {
    await node.terminate(c.req.param('id'), 'terminated by operator');
    return c.json({ terminated: c.req.param('id') });
  });
  app.post('/v1/federations/:id/messages', async (c) => {
    const body = SendBody.parse(await c.req.json());
    const t = performance.now();
    const receipt = await node.send(c.req.param('id'), body.type, body.data, {
      ...(body.priority ? { priority: body.priority } : {}),
    });
    return c.json({ receipt, deliveredMs: Math.round((performance.now() - t) * 1000) / 1000 });
  });
  app.get('/v1/messages', (c) => {
    const since = Number(c.req.query('since') ?? 0);
    return c.json({ messages: inbox.filter((m) => m.seq > since) });
  });
  app.onError((err, c) => {
    if (err instanceof z.ZodError) {
      return c.json(
        { error: { code: 'malformed_request', message: err.issues[0]?.message ?? 'invalid body' } },
        400,
      );
    }
    const code = err instanceof FmpError ? err.code : 'internal_error';
    return c.json(
      { error: { code, message: err instanceof FmpError ? err.message : 'internal error' } },
      409,
    );
  });

  const server: Server = createServer(getRequestListener(app.fetch));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    node,
    token,
    controlUrl: `http://${config.listen.host}:${port}`,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await node.stop();
    },
  };
}
