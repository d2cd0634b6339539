/**
 * A hub restarted from its config keeps its identities registry and its still-valid federations
 * (issue #3), on SQLite and, when FMP_TEST_POSTGRES_URL is set, on PostgreSQL. Real `fmp hub start`
 * and `fmp node start` processes on loopback.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { issueMeshAgentCredential } from '@fmp/identity';
import { signEntry } from '@fmp/ledger';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { IDENTITY_LOG, initIdentity } from '../packages/cli/src/commands/init.js';
import { readKeyFile } from '../packages/cli/src/keyfile.js';

const BIN = new URL('../packages/cli/bin/fmp.js', import.meta.url).pathname;
const AUTHORITY = 'did:mesh:authority:foundation';
const PG_URL = process.env.FMP_TEST_POSTGRES_URL;
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function start(args: string[]): Promise<{ child: ChildProcess; ready: Record<string, string> }> {
  const child = spawn(process.execPath, [BIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: Record<string, string> };
      if (msg.ready) resolve({ child, ready: msg.ready });
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function control(
  ready: Record<string, string>,
  dir: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const token = readFileSync(join(dir, 'control.token'), 'utf8').trim();
  const res = await fetch(`${ready.controlUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

const backends: [string, ((schema: string) => Record<string, string>) | undefined][] = [
  ['sqlite', () => ({ kind: 'sqlite' })],
  ['postgres', PG_URL ? (schema) => ({ kind: 'postgres', url: PG_URL, schema }) : undefined],
];

describe.each(backends)('hub restart on %s', (name, storeConfig) => {
  it.skipIf(!storeConfig)(
    `keeps identities, federations and trust state (${storeConfig ? 'running' : 'FMP_TEST_POSTGRES_URL not set'})`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), `fmp-restart-${name}-`));
      dirs.push(dir);
      const schema = `fmp_restart_${randomBytes(6).toString('hex')}`;
      await initIdentity(join(dir, 'authority'), AUTHORITY);
      await initIdentity(join(dir, 'hub'), 'did:mesh:hub:eu-west');
      const port = await freePort();
      writeFileSync(
        join(dir, 'hub', 'hub.json'),
        JSON.stringify({
          did: 'did:mesh:hub:eu-west',
          keyFile: 'identity.key',
          region: 'eu',
          listen: { host: '127.0.0.1', port },
          dataDir: 'data',
          store: storeConfig!(schema),
          trustedIssuers: [AUTHORITY],
          importIdentities: [join(dir, 'authority', IDENTITY_LOG)],
          ledger: {
            genesis: {
              treasury: '1000',
              accounts: [{ did: 'did:mesh:enterprise:acme-001', balance: '500' }],
              coreMaintainers: [],
              auditors: [],
              keys: [],
            },
          },
          logLevel: 'warn',
        }),
      );
      const authority = readKeyFile(join(dir, 'authority', 'identity.key'));
      const meshes = ['did:mesh:enterprise:acme-001', 'did:mesh:academic:mit-001'];
      for (const did of meshes) {
        const d = join(dir, did.split(':')[3]!);
        await initIdentity(d, did);
        const vc = await issueMeshAgentCredential({
          signer: {
            keyPair: authority.keyPair,
            issuer: AUTHORITY,
            verificationMethod: authority.verificationMethod,
          },
          subject: {
            id: did,
            meshCapabilities: ['ml.inference'],
            complianceCertifications: [],
            trustLevel: 80,
          },
        });
        writeFileSync(join(d, 'credential.json'), JSON.stringify(vc));
        writeFileSync(
          join(d, 'node.json'),
          JSON.stringify({
            did,
            keyFile: 'identity.key',
            credentialFile: 'credential.json',
            hubUrl: `ws://127.0.0.1:${port}/v1/mesh`,
            region: 'eu',
            trustedIssuers: [AUTHORITY],
            capabilities: ['ml.inference'],
            listen: { host: '127.0.0.1', port: 0 },
            logLevel: 'warn',
          }),
        );
      }
      const hubConfig = join(dir, 'hub', 'hub.json');
      let hub = await start(['hub', 'start', '--config', hubConfig]);
      const acmeDir = join(dir, 'acme-001');
      const mitDir = join(dir, 'mit-001');
      const acme = await start(['node', 'start', '--config', join(acmeDir, 'node.json')]);
      const mit = await start(['node', 'start', '--config', join(mitDir, 'node.json')]);
      const fed = (await control(acme.ready, acmeDir, 'POST', '/v1/federations', {
        target: meshes[1],
        capabilities: ['ml.inference'],
        purpose: 'restart-test',
        ttlSeconds: 3600,
      })) as { federation: { federationId: string } };
      const id = fed.federation.federationId;
      // Trust state (issue #5): an attestation and the interactions behind the graph.
      await control(acme.ready, acmeDir, 'POST', '/v1/attestations', {
        subject: meshes[1],
        score: 90,
        claim: 'restart test partner',
      });
      // The ledger (issue #7): a signed transfer, durable in the hub's store.
      const acmeKey = readKeyFile(join(acmeDir, 'identity.key'));
      const transfer = signEntry(
        { type: 'transfer', actor: meshes[0]!, seq: 0, body: { to: meshes[1]!, amount: '42' } },
        acmeKey.keyPair,
      );
      const posted = await fetch(`${hub.ready.httpUrl}/v1/ledger/entries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(transfer),
      });
      expect(posted.status, await posted.clone().text()).toBe(201);
      const ledgerBefore = (await (await fetch(`${hub.ready.httpUrl}/v1/ledger/state`)).json()) as {
        size: number;
        stateRoot: string;
        rootHash: string;
      };
      await stop(acme.child);
      await stop(mit.child);
      await stop(hub.child);

      hub = await start(['hub', 'start', '--config', hubConfig]);
      const http = hub.ready.httpUrl;
      const ledgerAfter = (await (await fetch(`${http}/v1/ledger/state`)).json()) as typeof ledgerBefore;
      expect(ledgerAfter).toMatchObject(ledgerBefore);
      const mit42 = (await (await fetch(`${http}/v1/ledger/accounts/${meshes[1]}`)).json()) as {
        balance: string;
      };
      expect(mit42.balance).toBe('42');
      const routes = (await (await fetch(`${http}/v1/routes`)).json()) as {
        routes: { federationId: string }[];
      };
      expect(routes.routes.map((r) => r.federationId)).toContain(id);
      const trust = (await (await fetch(`${http}/v1/trust/${meshes[1]}`)).json()) as {
        attestations: { attester: string }[];
        factors: { factor: string; value: number }[];
      };
      expect(trust.attestations.map((a) => a.attester)).toEqual([meshes[0]]);
      expect(trust.factors.find((f) => f.factor === 'credential')?.value).toBe(80);
      const graph = (await (await fetch(`${http}/v1/trust/graph`)).json()) as {
        edges: { from: string; to: string }[];
      };
      expect(graph.edges).toContainEqual(expect.objectContaining({ from: meshes[0], to: meshes[1] }));
      for (const did of [...meshes, AUTHORITY]) {
        const res = await fetch(`${http}/1.0/identifiers/${did}`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as { didDocument: { id: string } }).didDocument.id).toBe(did);
      }
      await stop(hub.child);
      if (name === 'postgres') {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
    90_000,
  );
});
