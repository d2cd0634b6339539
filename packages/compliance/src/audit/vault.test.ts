import { CryptoError, canonicalBytes, chacha20poly1305, sha256Hex, utf8, ValidationError } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import {
  MAX_VAULT_PAYLOAD_BYTES,
  memoryVaultStorage,
  PayloadVault,
  retentionUntil,
  VaultBusyError,
  VaultDuplicateError,
  type VaultStorage,
} from './vault.js';

const T0 = Date.parse('2025-06-01T00:00:00.000Z');
const DAY = 86_400_000;

function setup() {
  const storage = memoryVaultStorage();
  const clock = { now: T0 };
  const vault = new PayloadVault(storage, { now: () => clock.now });
  return { storage, clock, vault };
}

describe('retentionUntil', () => {
  it('adds the spec 7.2 retention period to the time', () => {
    expect(retentionUntil(T0, '90-days')).toBe(T0 + 90 * DAY);
    expect(retentionUntil(T0, '1-hour')).toBe(T0 + 3_600_000);
    expect(retentionUntil(T0, '2-years')).toBe(T0 + 730 * DAY);
    expect(() => retentionUntil(T0, '90 days')).toThrow(ValidationError);
    expect(() => retentionUntil(-1, '1-day')).toThrow(ValidationError);
  });
});

describe('PayloadVault', () => {
  it('stores payloads encrypted and gives them back, with their hash', async () => {
    const { storage, vault } = setup();
    const payload = utf8('{"patient":"alice","diagnosis":"..."}');
    const { payloadHash } = await vault.put({
      actionId: 'a1',
      dataSubject: 'alice',
      retainUntil: T0 + DAY,
      payload,
    });
    expect(payloadHash).toBe(sha256Hex(payload));
    const row = storage.payloads.get('a1')!;
    expect(row.subject).toBe('subject:alice');
    expect(Buffer.from(row.ciphertext).includes(Buffer.from('alice'))).toBe(false);
    expect(await vault.get('a1')).toEqual({
      actionId: 'a1',
      dataSubject: 'alice',
      retainUntil: T0 + DAY,
      payload,
    });
    expect(await vault.get('missing')).toBeUndefined();
  });

  it('uses one key per data subject and a key of its own for a payload without one', async () => {
    const { storage, vault } = setup();
    await vault.put({ actionId: 'a1', dataSubject: 'alice', retainUntil: T0 + DAY, payload: utf8('1') });
    await vault.put({ actionId: 'a2', dataSubject: 'alice', retainUntil: T0 + DAY, payload: utf8('2') });
    await vault.put({ actionId: 'a3', dataSubject: 'bob', retainUntil: T0 + DAY, payload: utf8('3') });
    await vault.put({ actionId: 'a4', retainUntil: T0 + DAY, payload: utf8('4') });
    expect([...storage.keys.keys()].sort()).toEqual(['record:a4', 'subject:alice', 'subject:bob']);
    expect(await vault.get('a4')).toEqual({ actionId: 'a4', retainUntil: T0 + DAY, payload: utf8('4') });
    // A data subject that looks like a record owner does not share its key.
    await vault.put({ actionId: 'a5', dataSubject: 'record:a4', retainUntil: T0 + DAY, payload: utf8('5') });
    expect(storage.keys.get('subject:record:a4')).not.toEqual(storage.keys.get('record:a4'));
  });

  it('refuses a second payload for an action', async () => {
    const { vault } = setup();
    await vault.put({ actionId: 'a1', retainUntil: T0 + DAY, payload: utf8('first') });
    const err = await vault
      .put({ actionId: 'a1', retainUntil: T0 + DAY, payload: utf8('second') })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultDuplicateError);
    expect((await vault.get('a1'))!.payload).toEqual(utf8('first'));
  });

  it('erasure shreds the subject key: payloads, and any copy of their ciphertext, are unreadable', async () => {
    const { storage, vault } = setup();
    for (const [id, subject] of [
      ['a1', 'alice'],
      ['a2', 'alice'],
      ['b1', 'bob'],
    ] as const) {
      await vault.put({
        actionId: id,
        dataSubject: subject,
        retainUntil: T0 + DAY,
        payload: utf8(`secret ${id}`),
      });
    }
    // A backup taken before the erasure, which the key then held opens.
    const backup = structuredClone(
      [...storage.payloads.values()].filter((r) => r.subject === 'subject:alice'),
    );
    const aad = (row: (typeof backup)[number]) => canonicalBytes(['fmp-vault-v1', row.actionId, row.subject]);
    const aliceKey = storage.keys.get('subject:alice')!;
    expect(chacha20poly1305.open(aliceKey, backup[0]!.nonce, backup[0]!.ciphertext, aad(backup[0]!))).toEqual(
      utf8('secret a1'),
    );
    expect(await vault.erase('alice')).toEqual({ payloads: 2 });
    expect(await vault.get('a1')).toBeUndefined();
    expect(await vault.get('a2')).toBeUndefined();
    expect(storage.keys.has('subject:alice')).toBe(false);
    // No key left opens the old ciphertexts.
    for (const row of backup) {
      for (const key of storage.keys.values()) {
        expect(() => chacha20poly1305.open(key, row.nonce, row.ciphertext, aad(row))).toThrow(CryptoError);
      }
    }
    expect((await vault.get('b1'))!.payload).toEqual(utf8('secret b1'));
    expect(await vault.erase('alice')).toEqual({ payloads: 0 });
    // Data stored after the erasure gets a new key.
    await vault.put({ actionId: 'a3', dataSubject: 'alice', retainUntil: T0 + DAY, payload: utf8('new') });
    expect((await vault.get('a3'))!.payload).toEqual(utf8('new'));
  });

  it('purges payloads past their retention, and keys left without payloads', async () => {
    const { storage, clock, vault } = setup();
    await vault.put({ actionId: 'old', dataSubject: 'alice', retainUntil: T0 + DAY, payload: utf8('1') });
    await vault.put({
      actionId: 'kept',
      dataSubject: 'alice',
      retainUntil: T0 + 3 * DAY,
      payload: utf8('2'),
    });
    await vault.put({ actionId: 'bob', dataSubject: 'bob', retainUntil: T0 + DAY, payload: utf8('3') });
    await vault.put({ actionId: 'anon', retainUntil: T0 + DAY, payload: utf8('4') });
    clock.now = T0 + DAY;
    // Past retention but not yet purged: no longer served.
    expect(await vault.get('old')).toBeUndefined();
    expect(await vault.purgeExpired()).toBe(3);
    expect([...storage.payloads.keys()]).toEqual(['kept']);
    expect([...storage.keys.keys()]).toEqual(['subject:alice']);
    expect((await vault.get('kept'))!.payload).toEqual(utf8('2'));
    expect(await vault.purgeExpired()).toBe(0);
    expect(await vault.purgeExpired(T0 + 3 * DAY)).toBe(1);
    expect(await storage.count()).toEqual({ keys: 0, payloads: 0 });
  });

  it('purges in bounded steps', async () => {
    const { storage, vault } = setup();
    for (let i = 0; i < 25; i++) {
      await vault.put({ actionId: `p${i}`, retainUntil: T0 + i, payload: utf8(`${i}`) });
    }
    expect(await vault.purgeExpired(T0 + DAY, 10)).toBe(10);
    expect(await vault.purgeExpired(T0 + DAY, 10)).toBe(10);
    expect(await vault.purgeExpired(T0 + DAY, 10)).toBe(5);
    expect(await storage.count()).toEqual({ keys: 0, payloads: 0 });
    await expect(vault.purgeExpired(T0, 0)).rejects.toBeInstanceOf(ValidationError);
  });

  it('detects altered or swapped ciphertexts', async () => {
    const { storage, vault } = setup();
    await vault.put({ actionId: 'a1', dataSubject: 'alice', retainUntil: T0 + DAY, payload: utf8('one') });
    await vault.put({ actionId: 'a2', dataSubject: 'alice', retainUntil: T0 + DAY, payload: utf8('two') });
    const [a1, a2] = [storage.payloads.get('a1')!, storage.payloads.get('a2')!];
    // Same key, but the associated data names the action: a swapped row does not open.
    storage.payloads.set('a1', { ...a2, actionId: 'a1' });
    await expect(vault.get('a1')).rejects.toBeInstanceOf(CryptoError);
    const flipped = Uint8Array.from(a1.ciphertext);
    flipped[0]! ^= 1;
    storage.payloads.set('a1', { ...a1, ciphertext: flipped });
    await expect(vault.get('a1')).rejects.toBeInstanceOf(CryptoError);
  });

  it('never stores a payload under a key erased while it was being sealed', async () => {
    const inner = memoryVaultStorage();
    let erasures = 0;
    const racing: VaultStorage = {
      ...inner,
      async putPayload(row, key) {
        // An erasure request lands between reading the key and storing the payload.
        if (erasures < 1) {
          erasures++;
          await inner.eraseSubject(row.subject);
        }
        return inner.putPayload(row, key);
      },
    };
    const vault = new PayloadVault(racing, { now: () => T0 });
    await vault.put({ actionId: 'a1', dataSubject: 'alice', retainUntil: T0 + DAY, payload: utf8('x') });
    expect((await vault.get('a1'))!.payload).toEqual(utf8('x'));
    expect(inner.keys.size).toBe(1);

    const always: VaultStorage = {
      ...inner,
      async putPayload(row, key) {
        await inner.eraseSubject(row.subject);
        return inner.putPayload(row, key);
      },
    };
    const err = await new PayloadVault(always)
      .put({ actionId: 'a2', dataSubject: 'bob', retainUntil: T0 + DAY, payload: utf8('y') })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultBusyError);
    expect(inner.payloads.has('a2')).toBe(false);
  });

  it('validates its input', async () => {
    const { vault } = setup();
    const bad = [
      { actionId: '', retainUntil: T0, payload: utf8('x') },
      { actionId: 'a', retainUntil: -1, payload: utf8('x') },
      { actionId: 'a', retainUntil: T0, payload: 'not bytes' },
      { actionId: 'a', retainUntil: T0, payload: new Uint8Array(MAX_VAULT_PAYLOAD_BYTES + 1) },
      { actionId: 'a', dataSubject: 'x\u0000', retainUntil: T0, payload: utf8('x') },
      { actionId: 'a', retainUntil: T0, payload: utf8('x'), extra: 1 },
    ];
    for (const input of bad) {
      await expect(vault.put(input as never)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(vault.erase('')).rejects.toBeInstanceOf(ValidationError);
    await expect(vault.get('x'.repeat(257))).rejects.toBeInstanceOf(ValidationError);
  });
});
