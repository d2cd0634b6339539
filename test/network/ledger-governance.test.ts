/**
 * The mesh ledger across two hubs (issue #7): the sequencer hub runs it on a manual clock, a second
 * hub mirrors and witnesses it. Meshes sign entries with their did:mesh keys and submit them to the
 * mirror, which forwards them; a parameter-change proposal goes through every stage and both hubs
 * apply the new parameter; the state replayed from the served entries equals both hubs' states.
 */

import { ed25519, encodeMultikey } from '@fmp/core';
import { createHub, type Hub } from '@fmp/hub';
import { didKeyFromEd25519PublicKey } from '@fmp/identity';
import {
  cosignatureVerifier,
  type EntryBody,
  replayLedger,
  type SignedEntryType,
  signEntry,
  verifyNote,
} from '@fmp/ledger';
import type { MeshNode } from '@fmp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type Member, nodeFor, startHub, until, type World } from './fixtures.js';

const DAY = 86_400_000;
const ADMIN = 'admin-token-for-tests-0123456789';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('the mesh ledger on a sequencer and a mirror hub', () => {
  let world: World;
  let sequencer: Hub;
  let mirror: Hub;
  let seqHttp: string;
  let mirrorHttp: string;
  let acme: Member;
  let mit: Member;
  const nodes: MeshNode[] = [];
  const mirrorKey = ed25519.generateKeyPair();
  const mirrorDid = didKeyFromEd25519PublicKey(mirrorKey.publicKey);

  const call = async (base: string, path: string, body?: unknown, admin = false) => {
    const res = await fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        'content-type': 'application/json',
        ...(admin ? { authorization: `Bearer ${ADMIN}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) as Record<string, any> };
  };
  /** Signs `who`'s next entry, reading its sequence number from the ledger. */
  const signed = async <T extends SignedEntryType>(who: Member, type: T, body: EntryBody<T>) => {
    const account = (await call(mirrorHttp, `/v1/ledger/accounts/${who.did}`)).json();
    return signEntry({ type, actor: who.did, seq: account.nextSeq as number, body }, who.keyPair);
  };
  const submit = async <T extends SignedEntryType>(who: Member, type: T, body: EntryBody<T>) => {
    const r = await call(mirrorHttp, '/v1/ledger/entries', await signed(who, type, body));
    expect(r.status, r.text).toBe(201);
    return r.json();
  };
  const advance = async (ms: number) => {
    const r = await call(seqHttp, '/v1/admin/ledger/clock', { advanceMs: ms }, true);
    expect(r.status, r.text).toBe(200);
    await mirror.ledger!.syncNow();
  };

  beforeAll(async () => {
    world = await createWorld();
    acme = await world.member('did:mesh:enterprise:acme-001');
    mit = await world.member('did:mesh:academic:mit-001');
    ({ hub: sequencer, httpUrl: seqHttp } = await startHub(world, {
      adminToken: ADMIN,
      ledger: {
        clock: 'manual',
        genesis: {
          treasury: '100000',
          accounts: [
            { did: acme.did, balance: '16000' },
            { did: mit.did, balance: '14000' },
            // The hub stake: hubs report uptime.
            { did: world.hub.did, balance: '0', stake: '10000' },
          ],
          coreMaintainers: [acme.did],
          auditors: [mit.did],
          keys: [],
        },
      },
    }));
    const url = seqHttp.replace('http', 'ws');
    for (const m of [acme, mit]) {
      const n = nodeFor(world, m, url);
      nodes.push(n);
      await n.start();
    }
    mirror = createHub({
      did: mirrorDid,
      keyPair: mirrorKey,
      region: 'na',
      trustedIssuers: [world.issuer.did],
      logger: silent,
      ledger: {
        role: 'mirror',
        sequencer: {
          url: seqHttp,
          did: world.hub.did,
          publicKey: encodeMultikey('ed25519-pub', world.hub.keyPair.publicKey),
        },
        syncMs: 100,
      },
    });
    ({ httpUrl: mirrorHttp } = await mirror.start());
    // The members' did:mesh operations reach the ledger through the sequencer's registry.
    await until(async () => sequencer.ledger!.state.mesh.get(mit.did) !== undefined, 10_000, 'did ops');
    await mirror.ledger!.syncNow();
  });

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await mirror?.stop();
    await sequencer?.stop();
  });

  it('takes signed transfers through the mirror and shows them at once', async () => {
    await submit(acme, 'transfer', { to: mit.did, amount: '500', memo: 'shared compute' });
    const a = (await call(mirrorHttp, `/v1/ledger/accounts/${mit.did}`)).json();
    expect(a.balance).toBe('14500');
  });

  it('answers refused entries with 422 and the reason, malformed ones with 400', async () => {
    const entry = await signed(acme, 'transfer', { to: mit.did, amount: '99999' });
    const r = await call(mirrorHttp, '/v1/ledger/entries', entry);
    expect(r.status).toBe(422);
    expect(r.json().error.code).toBe('ledger_insufficient_funds');
    const forged = { ...(await signed(mit, 'transfer', { to: acme.did, amount: '1' })), actor: acme.did };
    const f = await call(seqHttp, '/v1/ledger/entries', forged);
    expect(f.json().error.code).toBe('ledger_bad_signature');
    const bad = await call(seqHttp, '/v1/ledger/entries', { v: 1, type: 'transfer', body: {} });
    expect(bad.status).toBe(400);
    expect((await call(seqHttp, '/v1/ledger/proposals/P-99999')).status).toBe(404);
    expect((await call(seqHttp, '/v1/admin/ledger/clock', { advanceMs: 1 })).status).toBe(401);
    expect((await call(mirrorHttp, '/v1/admin/ledger/clock', { advanceMs: 1 }, true)).status).not.toBe(200);
  });

  it('runs a parameter change through draft, review, vote and rollout; both hubs apply it', async () => {
    await submit(acme, 'stake.bond', { amount: '100' });
    await advance(60_000);
    const { created: id } = await submit(acme, 'gov.propose', {
      title: 'Cap routes at 3 hops',
      description: 'Shorter paths keep latency down.',
      action: { kind: 'parameters', changes: { maxHops: 3 } },
    });
    expect((await call(mirrorHttp, `/v1/ledger/proposals/${id}`)).json().status).toBe('draft');
    await advance(7 * DAY);
    await submit(acme, 'gov.review', { proposal: id, verdict: 'approve' });
    expect((await call(mirrorHttp, `/v1/ledger/proposals/${id}`)).json().status).toBe('review');
    await advance(14 * DAY);
    await submit(acme, 'gov.vote', { proposal: id, choice: 'for' });
    await submit(mit, 'gov.vote', { proposal: id, choice: 'for' });
    await advance(7 * DAY);
    const voted = (await call(mirrorHttp, `/v1/ledger/proposals/${id}`)).json();
    expect(voted).toMatchObject({ status: 'implementing', quorumReached: true, for: '30000' });
    expect(sequencer.ledgerParams?.maxHops).toBe(5);
    await advance(30 * DAY);
    expect((await call(seqHttp, `/v1/ledger/proposals/${id}`)).json().status).toBe('implemented');
    expect(sequencer.ledgerParams?.maxHops).toBe(3);
    expect(mirror.ledgerParams?.maxHops).toBe(3);
  });

  it('serves the checkpoint cosigned by the mirror as witness, and a replay gives both state roots', async () => {
    await mirror.ledger!.syncNow();
    const note = (await call(mirrorHttp, '/v1/ledger/checkpoint')).text;
    const verified = verifyNote(note, [cosignatureVerifier(`fmp.witness/${mirrorDid}`, mirrorKey.publicKey)]);
    expect(verified.verified).toHaveLength(1);
    // The sequencer serves the witness's cosignature with its own checkpoint, and refuses forgeries.
    const seqNote = (await call(seqHttp, '/v1/ledger/checkpoint')).text;
    const atSequencer = verifyNote(seqNote, [
      cosignatureVerifier(`fmp.witness/${mirrorDid}`, mirrorKey.publicKey),
    ]);
    expect(atSequencer.verified).toHaveLength(1);
    const forged = note.replace(
      /(fmp\.witness\/\S+ )(\S)/,
      (_m, p: string, c: string) => `${p}${c === 'A' ? 'B' : 'A'}`,
    );
    const refused = await fetch(`${seqHttp}/v1/ledger/cosignatures`, { method: 'POST', body: forged });
    expect(refused.status).toBe(400);
    const seqState = (await call(seqHttp, '/v1/ledger/state')).json();
    const mirState = (await call(mirrorHttp, '/v1/ledger/state')).json();
    expect(mirState.stateRoot).toBe(seqState.stateRoot);
    expect(mirState.rootHash).toBe(seqState.rootHash);
    const leaves: Uint8Array[] = [];
    while (leaves.length < seqState.size) {
      const page = (await call(seqHttp, `/v1/ledger/entries?start=${leaves.length}`)).json();
      for (const e of page.entries as { leaf: string }[])
        leaves.push(new Uint8Array(Buffer.from(e.leaf, 'base64')));
    }
    const replayed = replayLedger(leaves, { operatorKey: world.hub.keyPair.publicKey });
    expect(replayed.stateRoot()).toBe(seqState.stateRoot);
  });

  it("reports its staked meshes' availability to the ledger (uptime rewards)", async () => {
    // The first round only takes a baseline; the second reports the time since.
    expect(await sequencer.reportUptime()).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(await sequencer.reportUptime()).toBe(1);
    const entries = (await call(seqHttp, `/v1/ledger/entries?start=${sequencer.ledger!.size - 1}`)).json();
    expect(entries.entries[0].entry).toMatchObject({
      type: 'uptime.report',
      actor: world.hub.did,
      body: { subject: acme.did, availabilityPpm: 1_000_000 },
    });
  });

  it("puts the did:mesh operations a mirror's registry accepts on the ledger (no peering needed)", async () => {
    const ngo = await world.member('did:mesh:ngo:relief-001');
    const r = await call(mirrorHttp, '/v1/identities', [ngo.op]);
    expect(r.status, r.text).toBe(200);
    await until(
      async () => sequencer.ledger!.state.mesh.get(ngo.did) !== undefined,
      10_000,
      'the op on the ledger',
    );
  });

  it('shows standards certifications signed on the ledger by an auditor in discovery', async () => {
    const expires = sequencer.ledger!.state.time + 365 * DAY;
    await submit(mit, 'cert.issue', { subject: acme.did, standard: 'SOC2', expires });
    const found = (await call(seqHttp, '/v1/discovery?capability=ml.inference')).json();
    const entry = (found.meshes as { meshId: string; certifications?: string[] }[]).find(
      (m) => m.meshId === acme.did,
    );
    expect(entry?.certifications).toContain('SOC2');
    const refused = await call(
      mirrorHttp,
      '/v1/ledger/entries',
      await signed(acme, 'cert.issue', { subject: mit.did, standard: 'SOC2', expires }),
    );
    expect(refused.json().error.code).toBe('ledger_not_allowed');
  });

  it('answers 502 when a mirror cannot reach the sequencer, and keeps serving reads', async () => {
    const lonely = createHub({
      did: didKeyFromEd25519PublicKey(ed25519.generateKeyPair().publicKey),
      keyPair: ed25519.generateKeyPair(),
      region: 'na',
      trustedIssuers: [world.issuer.did],
      logger: silent,
      ledger: {
        role: 'mirror',
        sequencer: {
          url: 'http://127.0.0.1:9',
          did: world.hub.did,
          publicKey: encodeMultikey('ed25519-pub', world.hub.keyPair.publicKey),
        },
        syncMs: 60_000,
      },
    });
    const { httpUrl } = await lonely.start();
    try {
      const r = await call(
        httpUrl,
        '/v1/ledger/entries',
        await signed(acme, 'transfer', { to: mit.did, amount: '1' }),
      );
      expect(r.status).toBe(502);
      expect(r.json().error.code).toBe('ledger_sequencer_unreachable');
      const state = (await call(httpUrl, '/v1/ledger/state')).json();
      expect(state).toMatchObject({ role: 'mirror', size: 0 });
      expect(state.mirrorError).toBeDefined();
    } finally {
      await lonely.stop();
    }
  });

  it('takes bursts of submissions from one address (a mirror forwards for all its clients)', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async () => (await call(seqHttp, '/v1/ledger/entries', { v: 1 })).status),
    );
    // Refused for their content (400), none for the address's quota (429).
    expect(new Set(statuses)).toEqual(new Set([400]));
  });
});
