/**
 * The ledger commands against a real hub started in this process (sequencer on a manual clock, a
 * did:mesh hub identity, a did:mesh and a did:key member), run through the CLI's entry point:
 * balances and transfers, a refused transfer, a proposal through review and vote, a recount that
 * agrees, a full verification, and the same verification failing through a proxy that flips one
 * byte of one leaf. A mirror hub shows its witness cosignature.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519, encodeMultikey } from '@fmp/core';
import { createHub, type Hub } from '@fmp/hub';
import { buildMeshCreate, didKeyFromEd25519PublicKey, MeshRegistry } from '@fmp/identity';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKeyFile } from '../keyfile.js';
import { type Io, main } from '../main.js';

const DAY = 86_400_000;
const ADMIN = 'admin-token-for-cli-ledger-tests-0123';
const HUB_DID = 'did:mesh:hub:cli-ledger';
const ACME = 'did:mesh:enterprise:acme-001';

interface Ran {
  code: number;
  out: string;
  err: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON output, checked by the assertions
  json: () => Record<string, any>;
}

async function fmp(...args: string[]): Promise<Ran> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: Io = { out: (t) => stdout.push(t), err: (t) => stderr.push(t), readStdin: async () => '' };
  const code = await main(args, io);
  const out = stdout.join('\n');
  return { code, out, err: stderr.join('\n'), json: () => JSON.parse(out) };
}

describe('fmp ledger, token, stake, gov and dispute against a live hub', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmp-ledger-cli-'));
  const hubKey = ed25519.generateKeyPair();
  const acmeKey = ed25519.generateKeyPair();
  const bobKey = ed25519.generateKeyPair();
  const bob = didKeyFromEd25519PublicKey(bobKey.publicKey);
  const carolKey = ed25519.generateKeyPair();
  const carol = didKeyFromEd25519PublicKey(carolKey.publicKey);
  const mirrorKey = ed25519.generateKeyPair();
  const mirrorDid = didKeyFromEd25519PublicKey(mirrorKey.publicKey);
  const acmeConfig = join(dir, 'acme', 'node.yaml');
  const bobKeyFile = join(dir, 'bob.key');
  let hub: Hub;
  let mirror: Hub;
  let http: string;
  let mirrorHttp: string;
  let proxy: Server;
  let proxyUrl: string;
  /** The leaf the proxy flips a byte of. */
  let tampered = -1;
  let proposal = '';
  /** Who signs as bob: his key file, his DID, the hub. */
  let asBob: string[];
  let asCarol: string[];

  const advance = async (ms: number) => {
    const res = await fetch(`${http}/v1/admin/ledger/clock`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMs: ms }),
    });
    expect(res.status, await res.text()).toBe(200);
  };

  beforeAll(async () => {
    const registry = await MeshRegistry.open();
    await registry.append(
      buildMeshCreate({ did: HUB_DID, key: hubKey, nextPublicKey: ed25519.generateKeyPair().publicKey }),
    );
    const acmeNext = ed25519.generateKeyPair();
    await registry.append(buildMeshCreate({ did: ACME, key: acmeKey, nextPublicKey: acmeNext.publicKey }));
    hub = createHub({
      did: HUB_DID,
      keyPair: hubKey,
      region: 'eu',
      trustedIssuers: [HUB_DID],
      registry,
      logger: pino({ level: 'silent' }),
      adminToken: ADMIN,
      identityRateLimit: { requestsPerSec: 1000, burst: 1000 },
      ledger: {
        clock: 'manual',
        genesis: {
          treasury: '100000',
          accounts: [
            { did: ACME, balance: '6000' },
            { did: bob, balance: '4000' },
            // Staked, so she can be drawn as an arbitrator.
            { did: carol, balance: '1000', stake: '500' },
          ],
          coreMaintainers: [ACME],
          auditors: [],
          keys: [],
        },
      },
    });
    const started = await hub.start();
    http = started.httpUrl;

    mkdirSync(join(dir, 'acme'));
    writeKeyFile(join(dir, 'acme', 'acme.key'), {
      did: ACME,
      verificationMethod: `${ACME}#key-1`,
      keyPair: acmeKey,
      nextKeyPair: acmeNext,
    });
    writeFileSync(
      acmeConfig,
      [
        `did: ${ACME}`,
        'keyFile: acme.key',
        'credentialFile: acme.vc.json',
        `hubUrl: ${started.url}/v1/mesh`,
        'region: eu',
        'trustedIssuers: [did:mesh:hub:cli-ledger]',
        '',
      ].join('\n'),
    );
    writeKeyFile(bobKeyFile, {
      did: bob,
      verificationMethod: `${bob}#${encodeMultikey('ed25519-pub', bobKey.publicKey)}`,
      keyPair: bobKey,
    });
    asBob = ['--key-file', bobKeyFile, '--did', bob, '--hub', http];
    const carolKeyFile = join(dir, 'carol.key');
    writeKeyFile(carolKeyFile, {
      did: carol,
      verificationMethod: `${carol}#${encodeMultikey('ed25519-pub', carolKey.publicKey)}`,
      keyPair: carolKey,
    });
    // The key file names the DID, and the hub is given as its WebSocket URL.
    asCarol = ['--key-file', carolKeyFile, '--hub', `${started.url}/v1/mesh`];

    mirror = createHub({
      did: mirrorDid,
      keyPair: mirrorKey,
      region: 'na',
      trustedIssuers: [HUB_DID],
      logger: pino({ level: 'silent' }),
      ledger: {
        role: 'mirror',
        sequencer: { url: http, did: HUB_DID, publicKey: encodeMultikey('ed25519-pub', hubKey.publicKey) },
        syncMs: 100,
      },
    });
    mirrorHttp = (await mirror.start()).httpUrl;

    // A hub that serves the real ledger with one byte of one leaf flipped.
    proxy = createServer((req, res) => {
      void (async () => {
        const upstream = await fetch(`${http}${req.url}`);
        let body = Buffer.from(await upstream.arrayBuffer());
        if (req.url?.startsWith('/v1/ledger/entries') && upstream.ok) {
          const page = JSON.parse(body.toString('utf8')) as { entries: { index: number; leaf: string }[] };
          for (const e of page.entries) {
            if (e.index !== tampered) continue;
            const leaf = Buffer.from(e.leaf, 'base64');
            leaf[leaf.length >> 1]! ^= 0x01;
            e.leaf = leaf.toString('base64');
          }
          body = Buffer.from(JSON.stringify(page));
        }
        res.writeHead(upstream.status, {
          'content-type': upstream.headers.get('content-type') ?? 'text/plain',
        });
        res.end(body);
      })().catch(() => {
        res.writeHead(502).end();
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    await mirror?.stop();
    await hub?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the checkpoint verified with the key of the hub DID in its origin', async () => {
    const r = await fmp('ledger', 'checkpoint', '--hub', http, '--json');
    expect(r.code, r.err).toBe(0);
    const cp = r.json();
    expect(cp.origin).toBe(`fmp.ledger/${HUB_DID}`);
    expect(cp.size).toBeGreaterThanOrEqual(3);
    expect(cp.signedBy).toBe(`${HUB_DID}#key-1`);
    expect(cp.witnesses).toEqual([]);
    const text = await fmp('ledger', 'checkpoint', '--config', acmeConfig);
    expect(text.out).toMatch(/^signature {2}OK/m);
    // A pinned key that is not the log's: nothing verifies.
    const wrong = encodeMultikey('ed25519-pub', ed25519.generateKeyPair().publicKey);
    const bad = await fmp('ledger', 'checkpoint', '--hub', http, '--key', wrong);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^note_unknown_key: /);
  });

  it('shows balances and takes a transfer signed with the identity of a node config', async () => {
    const before = await fmp('token', 'balance', ACME, '--hub', http, '--json');
    expect(before.code, before.err).toBe(0);
    expect(before.json()).toMatchObject({ balance: '6000', bonded: '0', nextSeq: 0 });
    const t = await fmp(
      'token',
      'transfer',
      bob,
      '500',
      '--memo',
      'shared compute',
      '--config',
      acmeConfig,
      '--json',
    );
    expect(t.code, t.err).toBe(0);
    expect(t.json()).toMatchObject({ type: 'transfer', actor: ACME, seq: 0 });
    tampered = t.json().index;
    const after = await fmp('token', 'balance', ...asBob);
    expect(after.code, after.err).toBe(0);
    expect(after.out).toMatch(/balance {3}4500 MESH/);
    const mine = await fmp('token', 'balance', '--config', acmeConfig, '--json');
    expect(mine.json()).toMatchObject({ did: ACME, balance: '5500', nextSeq: 1 });
  });

  it('prints what the hub refused as code: message and exits 1; bad input exits 2', async () => {
    const r = await fmp('token', 'transfer', bob, '99999', '--config', acmeConfig);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^ledger_insufficient_funds: /);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect((await fmp('token', 'transfer', bob, '-5', '--config', acmeConfig)).code).toBe(2);
    expect((await fmp('token', 'transfer', 'nobody', '5', '--config', acmeConfig)).code).toBe(2);
    expect((await fmp('gov', 'vote', 'P-1', 'maybe', ...asBob)).code).toBe(2);
    expect(
      (await fmp('gov', 'propose', '--title', 'x', '--text', '--param', 'maxHops=3', ...asBob)).code,
    ).toBe(2);
    expect((await fmp('gov', 'propose', '--title', 'x', '--param', 'maxHops=9', ...asBob)).code).toBe(2);
    const unknown = await fmp('gov', 'status', 'P-99999', '--hub', http);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^not_found: /);
  });

  it('runs a parameter proposal through review and vote; the recount agrees with the hub', async () => {
    const bond = await fmp('stake', 'bond', '100', '--config', acmeConfig);
    expect(bond.code, bond.err).toBe(0);
    expect(bond.out).toMatch(/^stake\.bond accepted: entry \d+ at \d{4}-/);
    await advance(60_000);
    const p = await fmp(
      'gov',
      'propose',
      '--title',
      'Cap routes at 3 hops',
      '--description',
      'Shorter paths keep latency down.',
      '--param',
      'maxHops=3',
      '--param',
      'entryStake=150',
      '--config',
      acmeConfig,
      '--json',
    );
    expect(p.code, p.err).toBe(0);
    const id = p.json().created as string;
    expect(id).toMatch(/^P-\d+$/);
    proposal = id;
    const draft = await fmp('gov', 'status', id, '--hub', http, '--json');
    expect(draft.json()).toMatchObject({
      status: 'draft',
      action: { changes: { maxHops: 3, entryStake: '150' } },
    });

    // Reviews only in the review stage: the hub says why.
    const early = await fmp('gov', 'review', id, 'approve', '--config', acmeConfig);
    expect(early.code).toBe(1);
    expect(early.err).toMatch(/^ledger_\w+: /);
    await advance(7 * DAY);
    expect((await fmp('gov', 'review', id, 'approve', '--config', acmeConfig)).code).toBe(0);
    await advance(14 * DAY);
    expect((await fmp('gov', 'vote', id, 'for', '--config', acmeConfig)).code).toBe(0);
    expect((await fmp('gov', 'vote', id, 'against', ...asBob)).code).toBe(0);
    const twice = await fmp('gov', 'vote', id, 'for', ...asBob);
    expect(twice.code).toBe(1);

    const voting = await fmp('gov', 'status', '--hub', http);
    expect(voting.code).toBe(0);
    expect(voting.out).toContain(`${id}`);
    expect(voting.out).toMatch(
      /vote\s+vote \d{4}-\d\d-\d\dT.*for 5500, against 4500, abstain 0 \(2 ballots\)/,
    );
    const open = await fmp('gov', 'tally', id, '--hub', http, '--json');
    expect(open.code, open.err).toBe(0);
    expect(open.json()).toMatchObject({
      agree: true,
      recomputed: { ballots: 2, for: '5500', against: '4500', quorumReached: null },
    });

    await advance(7 * DAY);
    const closed = await fmp('gov', 'status', id, '--config', acmeConfig);
    expect(closed.out).toMatch(/stage {6}implementing/);
    expect(closed.out).toMatch(/quorum {5}reached \(eligible 11500\)/);
    const tally = await fmp('gov', 'tally', id, '--hub', http);
    expect(tally.code, tally.err).toBe(0);
    expect(tally.out).toMatch(/agrees with the hub's tally$/);
    expect(tally.out).toContain('eligible at the snapshot 11500, quorum reached');
  });

  it("opens a dispute, takes the drawn arbitrator's ruling and shows it", async () => {
    expect((await fmp('stake', 'bond', '100', ...asBob)).code).toBe(0);
    const opened = await fmp(
      'dispute',
      'open',
      ACME,
      '--claim',
      'answered with another mesh’s data',
      '--evidence',
      'sha256:0f1e',
      '--slash-bps',
      '500',
      ...asBob,
      '--json',
    );
    expect(opened.code, opened.err).toBe(0);
    const id = opened.json().created as string;
    expect(id).toMatch(/^D-\d+$/);
    const status = await fmp('dispute', 'status', id, '--hub', http, '--json');
    expect(status.json()).toMatchObject({
      id,
      claimant: bob,
      respondent: ACME,
      status: 'open',
      requestedBps: 500,
      arbitrators: [carol],
    });
    // Only a drawn arbitrator may rule; bob is the claimant.
    const refused = await fmp('dispute', 'rule', id, 'uphold', '--slash-bps', '500', ...asBob);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^ledger_not_allowed: /);
    const ruled = await fmp('dispute', 'rule', id, 'uphold', '--slash-bps', '500', ...asCarol);
    expect(ruled.code, ruled.err).toBe(0);
    const shown = await fmp('dispute', 'status', id, '--hub', http);
    expect(shown.out).toContain(`ruling       ${carol}: uphold (500 bps)`);
    expect(shown.out).toMatch(/^D-\d+ upheld: /);
  });

  it('proves an entry against the checkpoint', async () => {
    const r = await fmp('ledger', 'proof', String(tampered), '--hub', http, '--json');
    expect(r.code, r.err).toBe(0);
    expect(r.json()).toMatchObject({
      ok: true,
      index: tampered,
      decoded: { entry: { type: 'transfer', actor: ACME } },
    });
    expect(r.json().proof.length).toBeGreaterThan(0);
  });

  it('verifies the whole ledger: checkpoint, root, replayed state', async () => {
    const r = await fmp('ledger', 'verify', '--hub', http);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^checkpoint OK/m);
    expect(r.out).toMatch(/^tree {7}OK/m);
    expect(r.out).toMatch(/^replay {5}OK/m);
    expect(r.out).toMatch(/^state {6}OK/m);
    expect(r.out).toMatch(/^OK$/m);
    const json = (await fmp('ledger', 'verify', '--hub', http, '--json')).json();
    expect(json.ok).toBe(true);
    expect(json.stateRoot).toBe(json.hubStateRoot);
    expect(json.counts.byType).toMatchObject({
      genesis: 1,
      transfer: 1,
      'gov.vote': 2,
      'dispute.open': 1,
      'dispute.rule': 1,
    });
    expect(json.counts.proposals).toBe(1);
  });

  it('fails verification, proof and recount when one byte of one leaf is flipped', async () => {
    const r = await fmp('ledger', 'verify', '--hub', proxyUrl);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^tree {7}FAIL/m);
    expect(r.out).toMatch(/^replay {5}FAIL leaf \d+ does not apply/m);
    expect(r.out).toMatch(/^FAIL$/m);
    const proof = await fmp('ledger', 'proof', String(tampered), '--hub', proxyUrl, '--json');
    expect(proof.code).toBe(1);
    expect(proof.json().ok).toBe(false);
    const tally = await fmp('gov', 'tally', proposal, '--hub', proxyUrl);
    expect(tally.code).toBe(1);
    expect(tally.err).toMatch(/^ledger_mismatch: /);
  });

  it("shows a mirror's witness cosignature, verified with the witness DID's key", async () => {
    await mirror.ledger!.syncNow();
    const key = encodeMultikey('ed25519-pub', hubKey.publicKey);
    const r = await fmp('ledger', 'checkpoint', '--hub', mirrorHttp, '--key', key, '--json');
    expect(r.code, r.err).toBe(0);
    expect(r.json().witnesses).toEqual([
      expect.objectContaining({ name: `fmp.witness/${mirrorDid}`, status: 'verified' }),
    ]);
    const v = await fmp('ledger', 'verify', '--hub', mirrorHttp, '--key', key, '--json');
    expect(v.code, JSON.stringify(v.json().checks)).toBe(0);
  });
});
