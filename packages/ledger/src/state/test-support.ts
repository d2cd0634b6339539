/** Test helpers: actors with did:key identities that sign their own entries in sequence. */
import { type Ed25519KeyPair, ed25519 } from '@fmp/core';
import { didKeyFromEd25519PublicKey } from '@fmp/identity';
import { MemoryLogStorage } from '../log.js';
import { type EntryBody, type SignedEntry, type SignedEntryType, signEntry } from './entries.js';
import { type GenesisConfig, Ledger } from './ledger.js';

export interface TestActor {
  readonly did: string;
  readonly keyPair: Ed25519KeyPair;
  /** Signs the actor's next entry (its own seq counter; `seq` overrides it). */
  sign<T extends SignedEntryType>(type: T, body: EntryBody<T>, seq?: number): SignedEntry<T>;
}

export function testActor(seedByte: number): TestActor {
  const keyPair = ed25519.keyPairFromSeed(new Uint8Array(32).fill(seedByte));
  const did = didKeyFromEd25519PublicKey(keyPair.publicKey);
  let next = 0;
  return {
    did,
    keyPair,
    sign(type, body, seq) {
      const s = seq ?? next;
      next = s + 1;
      return signEntry({ type, actor: did, seq: s, body }, keyPair);
    },
  };
}

export const DAY = 86_400_000;

/** A ledger on a manual clock, in memory. */
export async function testLedger(genesis: GenesisConfig, start = Date.UTC(2026, 0, 1)) {
  const operator = testActor(200);
  const clock = { now: start };
  const storage = new MemoryLogStorage();
  const ledger = await Ledger.open({
    origin: 'test.example/ledger',
    operator: { did: operator.did, keyPair: operator.keyPair },
    storage,
    genesis,
    now: () => clock.now,
  });
  return {
    ledger,
    operator,
    storage,
    clock,
    advance(ms: number) {
      clock.now += ms;
    },
  };
}
