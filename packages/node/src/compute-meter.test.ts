import { ed25519 } from '@fmp/core';
import { didKeyFromEd25519PublicKey } from '@fmp/identity';
import { Ledger, MESH } from '@fmp/ledger';
import { describe, expect, it } from 'vitest';
import { ComputeMeter, type LedgerClient } from './compute-meter.js';

function party(seed: number) {
  const keyPair = ed25519.keyPairFromSeed(new Uint8Array(32).fill(seed));
  return { did: didKeyFromEd25519PublicKey(keyPair.publicKey), keyPair };
}

describe('ComputeMeter', () => {
  it('meters calls per provider and pays them on a real ledger; a refused payment stays owed', async () => {
    const operator = party(1);
    const payer = party(2);
    const provider = party(3);
    const hub = party(4);
    const poor = party(5);
    const ledger = await Ledger.open({
      origin: 'test/ledger',
      operator,
      genesis: {
        treasury: '0',
        accounts: [{ did: payer.did, balance: '100' }],
        coreMaintainers: [],
        auditors: [],
        keys: [],
      },
    });
    const client: LedgerClient = {
      nextSeq: async (did) => ledger.state.account(did).nextSeq,
      submit: (entry) => ledger.submit(entry),
    };
    const meter = new ComputeMeter();
    meter.record({ provider: provider.did, durationMs: 1_800_000, route: [hub.did] });
    meter.record({ provider: provider.did, durationMs: 1_800_000, route: [hub.did] });
    expect(meter.owed()).toEqual([{ provider: provider.did, computeMs: 3_600_000, calls: 2 }]);
    const r = await meter.settle(payer, client);
    expect(r.failed).toEqual([]);
    expect(meter.owed()).toEqual([]);
    // One hour: 100 MESH, of which 0.1% to the hub on the route.
    expect(ledger.state.account(payer.did).balance).toBe(0n);
    expect(ledger.state.account(provider.did).balance).toBe(100n * MESH - 100_000n);
    expect(ledger.state.account(hub.did).balance).toBe(100_000n);
    meter.record({ provider: provider.did, durationMs: 5 });
    const refused = await meter.settle(poor, client);
    expect(refused.failed[0]!.error).toMatch(/holds less/);
    expect(meter.owed()).toHaveLength(1);
  });
});
