/**
 * A peering hub as its own process, for the multi-hub process tests (run with node --import tsx):
 *   hub-proc.ts <config.json>  -> prints {"url","httpUrl"} then serves until SIGTERM (or is killed)
 * The config holds the hub's seed and did:mesh create operation, the issuer's, peers and allowedPeers.
 */
import { readFileSync } from 'node:fs';
import { ed25519 } from '@fmp/core';
import { createHub } from '@fmp/hub';
import { MeshRegistry } from '@fmp/identity';
import pino from 'pino';

interface HubProcConfig {
  issuer: { did: string; op: Record<string, unknown> };
  hub: { did: string; seed: string; op: Record<string, unknown> };
  peers?: { did: string; url: string }[];
  allowedPeers?: string[];
  /** Trust engine parameters (short periods for tests). */
  trust?: { recomputeMs?: number; options?: Record<string, unknown> };
  adminToken?: string;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as HubProcConfig;
const registry = await MeshRegistry.open();
await registry.append(config.issuer.op);
await registry.append(config.hub.op);
const hub = createHub({
  did: config.hub.did,
  keyPair: ed25519.keyPairFromSeed(new Uint8Array(Buffer.from(config.hub.seed, 'hex'))),
  region: 'eu',
  trustedIssuers: [config.issuer.did],
  registry,
  logger: pino({ level: 'silent' }),
  sweepMs: 50,
  peering: { pingIntervalMs: 200, reconnectBaseMs: 100, reconnectMaxMs: 500 },
  ...(config.peers ? { peers: config.peers } : {}),
  ...(config.allowedPeers ? { allowedPeers: config.allowedPeers } : {}),
  ...(config.trust ? { trust: config.trust } : {}),
  ...(config.adminToken ? { adminToken: config.adminToken } : {}),
});
const { url, httpUrl } = await hub.start();
process.stdout.write(`${JSON.stringify({ url, httpUrl })}\n`);
const stop = async () => {
  await hub.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
