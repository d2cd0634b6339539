/**
 * The demo's part of the mesh ledger (issue #7): the NA hub runs the ledger on a manual clock, the EU
 * and APAC hubs mirror and witness it. The organizations pay for the federated compute they used,
 * earn attestation rewards, and take one parameter change (routes capped at 4 hops) through draft,
 * review, vote and rollout; the demo then checks that every hub applies it and that the state
 * rebuilt from the entries a mirror serves equals the live one.
 */
import { decodeMultikey, type Ed25519KeyPair } from '@fmp/core';
import {
  cosignatureVerifier,
  type EntryBody,
  type GenesisConfig,
  leafHash,
  logVerifier,
  MerkleTree,
  parseNote,
  replayLedger,
  type SignedEntryType,
  signEntry,
  verifyCheckpoint,
  verifyNote,
} from '@fmp/ledger';
import { LedgerClient } from './commands/ledger/client.js';
import { DemoError } from './demo-errors.js';

const DAY = 86_400_000;

export interface DemoLedgerResult {
  ledger: {
    size: number;
    rootHash: string;
    hub: string;
    stateRoot: string;
    /** Witness cosignatures on the checkpoint a mirror serves. */
    witnesses: number;
    /** The state replayed from the mirror's entries equals the sequencer's. */
    verified: boolean;
  };
  governance: {
    proposals: { id: string; status: string; for: string; against: string; quorumReached: boolean | null }[];
    /** The parameter the proposal changed, as each hub reports it after the rollout. */
    applied: { hub: string; maxHops: number }[];
  };
  token: { balances: { did: string; balance: string; bonded: string }[]; treasury: string };
}

export interface DemoLedgerInput {
  /** HTTP base URL of each hub by DID, the sequencer first. */
  hubs: { did: string; http: string }[];
  adminToken: string;
  /** Each organization's key and home hub DID. */
  orgs: { did: string; keyPair: Ed25519KeyPair; hub: string }[];
  /** Organizations that called partners' tools. */
  callers: string[];
  /** Asks a caller's node to pay for the compute it metered (its control API). */
  settle: (did: string) => Promise<{
    paid: { provider: string; computeMs: number; index: number }[];
    failed: { provider: string; error: string }[];
  }>;
  attestations: { attester: string; subject: string; score: number; claim: string }[];
  log: (line: string) => void;
}

/** The demo genesis: the organizations' holdings, the hubs' stakes, maintainers and an auditor. */
export function demoGenesis(
  orgs: readonly { did: string; balance: string }[],
  hubs: readonly string[],
  maintainers: readonly string[],
  auditor: string,
): GenesisConfig {
  return {
    treasury: '1000000',
    accounts: [
      ...orgs.map((o) => ({ did: o.did, balance: o.balance, stake: '1000' })),
      ...hubs.map((did) => ({ did, balance: '0', stake: '10000' })),
    ],
    coreMaintainers: [...maintainers],
    auditors: [auditor],
    keys: [],
  };
}

export async function runDemoLedger(input: DemoLedgerInput): Promise<DemoLedgerResult> {
  const { log } = input;
  const sequencer = input.hubs[0]!;
  const org = (did: string) => {
    const o = input.orgs.find((x) => x.did === did);
    if (!o) throw new DemoError(`no demo organization ${did}`);
    return o;
  };
  const clients = new Map(input.hubs.map((h) => [h.did, new LedgerClient(h.http)]));
  const at = (hubDid: string) => clients.get(hubDid)!;
  const seq = at(sequencer.did);
  /**
   * Signs the organization's next entry and submits it at its home hub (a mirror forwards it). The
   * next seq comes from the sequencer: a mirror may not hold yet the entries the organization's node
   * made itself (its compute payments, its attestations), and a seq read there is then one already
   * taken (ledger_replayed, seen under load).
   */
  const submit = async <T extends SignedEntryType>(did: string, type: T, body: EntryBody<T>) => {
    const o = org(did);
    const { nextSeq } = await seq.account(did);
    return at(o.hub).submit(signEntry({ type, actor: did, seq: nextSeq, body }, o.keyPair));
  };
  const advance = async (ms: number, label: string) => {
    await seq.advanceClock(ms, input.adminToken);
    log(`ledger clock: +${Math.round(ms / DAY)} days (${label})`);
  };
  // The organizations' did:mesh operations reach the ledger through the hubs' registries.
  await until(async () => {
    for (const o of input.orgs) {
      const a = await at(o.hub).account(o.did);
      if (a.balance === '0') return false;
    }
    return true;
  }, 'the mirrors to hold the genesis');

  // Compute credits (100 MESH an hour), metered by each caller's node on its federated tool calls
  // and paid by the node itself; 0.1% goes to the hubs on the federation's route.
  for (const caller of input.callers) {
    const r = await input.settle(caller);
    if (r.failed.length > 0) throw new DemoError(`${caller} could not pay: ${r.failed[0]!.error}`);
    for (const p of r.paid) {
      log(
        `ledger: ${caller} paid ${p.provider} for ${p.computeMs} ms of federated compute (entry ${p.index})`,
      );
    }
  }
  // The nodes put their attestations on the ledger themselves (POST /v1/attestations).
  log(
    `ledger: ${input.attestations.length} attestations recorded by the attesters' nodes, each rewarded from the treasury`,
  );

  // Governance: one parameter change through every stage.
  const [proposer, reviewer, ...voters] = input.orgs.map((o) => o.did);
  const proposal = await submit(proposer!, 'gov.propose', {
    title: 'Cap routes at 4 hops',
    description: 'Four hubs reach every region of the demo network; shorter routes keep latency down.',
    action: { kind: 'parameters', changes: { maxHops: 4 } },
  });
  const id = String(proposal.created);
  log(`governance: ${proposer} proposed ${id} (maxHops 5 -> 4), draft`);
  await advance(7 * DAY, 'draft ends');
  await submit(reviewer!, 'gov.review', { proposal: id, verdict: 'approve' });
  log(`governance: ${reviewer} (core maintainer) approved ${id} in review`);
  await advance(14 * DAY, 'review ends, vote opens');
  const against = voters.at(-1)!;
  for (const v of [proposer!, reviewer!, ...voters]) {
    await submit(v, 'gov.vote', { proposal: id, choice: v === against ? 'against' : 'for' });
  }
  await advance(7 * DAY, 'vote closes');
  const tallied = await seq.proposal(id);
  log(
    `governance: ${id} ${tallied.status}: for ${tallied.for}, against ${tallied.against} MESH, quorum ${tallied.quorumReached}`,
  );
  await advance(30 * DAY, 'staged rollout');
  const applied: DemoLedgerResult['governance']['applied'] = [];
  for (const h of input.hubs) {
    await until(async () => (await at(h.did).state()).params?.maxHops === 4, `${h.did} to apply maxHops`);
    applied.push({ hub: h.did, maxHops: 4 });
  }
  log(`governance: ${id} implemented; maxHops is 4 at all ${input.hubs.length} hubs`);

  // Anyone can check: the mirror's entries replay to the sequencer's state root.
  const mirror = input.hubs[1] ?? sequencer;
  const state = await seq.state();
  await until(async () => (await at(mirror.did).state()).size === state.size, 'the mirror to catch up');
  const leaves: Uint8Array[] = [];
  while (leaves.length < state.size) {
    const page = await at(mirror.did).entries(leaves.length, state.size);
    for (const e of page.entries as { leaf: string }[])
      leaves.push(new Uint8Array(Buffer.from(e.leaf, 'base64')));
  }
  const seqKey = await hubKey(seq, sequencer.did);
  const replayed = replayLedger(leaves, { operatorKey: seqKey });
  const tree = new MerkleTree();
  for (const l of leaves) tree.appendLeafHash(leafHash(l));
  // The sequencer serves its checkpoint with the mirrors' witness cosignatures once they caught up.
  const mirrors = input.hubs.length - 1;
  let note = '';
  await until(async () => {
    note = await seq.checkpoint();
    return parseNote(note).signatures.filter((s) => s.name.startsWith('fmp.witness/')).length >= mirrors;
  }, 'the witnesses to cosign');
  const checkpoint = verifyCheckpoint(note, logVerifier(`fmp.ledger/${sequencer.did}`, seqKey)).checkpoint;
  const verified =
    replayed.stateRoot() === state.stateRoot &&
    Buffer.from(tree.rootHash(checkpoint.size)).equals(Buffer.from(checkpoint.rootHash));
  if (!verified) throw new DemoError('the ledger replayed from a mirror does not match the sequencer');
  // Each witness cosignature is checked with the witness hub's key.
  const witnessNames = parseNote(note)
    .signatures.map((s) => s.name)
    .filter((n) => n.startsWith('fmp.witness/'));
  const verifiers = await Promise.all(
    witnessNames.map(async (n) => cosignatureVerifier(n, await hubKey(seq, n.slice('fmp.witness/'.length)))),
  );
  const witnesses = verifiers.length > 0 ? verifyNote(note, verifiers).verified.length : 0;
  log(
    `ledger: ${state.size} entries replayed from a mirror: state root matches; the checkpoint carries ${witnesses} verified witness cosignatures`,
  );

  const balances = [];
  for (const o of input.orgs) {
    const a = await seq.account(o.did);
    balances.push({ did: o.did, balance: a.balance, bonded: a.bonded });
  }
  const final = await seq.proposal(id);
  return {
    ledger: {
      size: state.size,
      rootHash: state.rootHash,
      hub: sequencer.did,
      stateRoot: state.stateRoot,
      witnesses,
      verified,
    },
    governance: {
      proposals: [
        {
          id,
          status: final.status,
          for: final.for,
          against: final.against,
          quorumReached: final.quorumReached,
        },
      ],
      applied,
    },
    token: { balances, treasury: String(state.treasury) },
  };
}

/** The hub's current Ed25519 key, from its DID document (served by the hub itself). */
async function hubKey(client: LedgerClient, did: string): Promise<Uint8Array> {
  const mb = (await client.resolve(did)).didDocument?.verificationMethod?.[0]?.publicKeyMultibase;
  if (!mb) throw new DemoError(`no key for ${did}`);
  return decodeMultikey(mb).key;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new DemoError(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
