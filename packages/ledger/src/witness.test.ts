import { ed25519, utf8 } from '@fmp/core';
import { describe, expect, it } from 'vitest';
import {
  cosignatureTime,
  NoteBadSignatureError,
  NoteUnknownKeyError,
  signNote,
  verifyNote,
} from './checkpoint.js';
import { TransparencyLog } from './log.js';
import {
  verifyEquivocationEvidence,
  Witness,
  WitnessConflictError,
  WitnessUnknownLogError,
} from './witness.js';

const ORIGIN = 'hub-a.example/ledger';
const logKeys = ed25519.keyPairFromSeed(new Uint8Array(32).fill(3));
const witnessKeys = ed25519.keyPairFromSeed(new Uint8Array(32).fill(4));

async function logWith(entries: string[]): Promise<TransparencyLog> {
  const log = await TransparencyLog.open({ origin: ORIGIN, keyPair: logKeys });
  await Promise.all(entries.map((e) => log.append(utf8(e))));
  return log;
}

function newWitness(clock = { now: 1_700_000_000 }): Witness {
  return new Witness({
    name: 'hub-b.example/witness',
    keyPair: witnessKeys,
    logs: [{ origin: ORIGIN, publicKey: logKeys.publicKey }],
    now: () => clock.now,
  });
}

describe('Witness', () => {
  it('cosigns a first checkpoint, then only consistent growth, with tlog-cosignature lines', async () => {
    const clock = { now: 1_700_000_000 };
    const witness = newWitness(clock);
    const log = await logWith(['a', 'b', 'c']);
    const first = witness.cosign(log.checkpoint(), []);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    // The cosigned note keeps the log signature and adds the witness's.
    verifyNote(first.note, [log.verifier]);
    const byWitness = verifyNote(first.note, [witness.verifier]);
    expect(cosignatureTime(byWitness.verified[0]!.signature)).toBe(1_700_000_000);

    await Promise.all(['d', 'e', 'f', 'g'].map((e) => log.append(utf8(e))));
    clock.now += 60;
    const second = witness.cosign(log.checkpoint(), log.consistencyProof(3, 7));
    expect(second.ok && second.checkpoint.size).toBe(7);
    expect(witness.latest(ORIGIN)?.checkpoint.size).toBe(7);
    // The same checkpoint again is fine (a fresh timestamp), and so is an empty step.
    expect(witness.cosign(log.checkpoint(), []).ok).toBe(true);
  });

  it('refuses a growing checkpoint without a valid consistency proof from what it saw', async () => {
    const witness = newWitness();
    const log = await logWith(['a', 'b', 'c']);
    witness.cosign(log.checkpoint(), []);
    await log.append(utf8('d'));
    const r = witness.cosign(log.checkpoint(), log.consistencyProof(2, 4));
    expect(r.ok).toBe(false);
    expect(witness.latest(ORIGIN)?.checkpoint.size).toBe(3);
    // Not conclusive: the honest log answers with a valid proof, which clears it.
    if (r.ok) return;
    expect(verifyEquivocationEvidence(r.evidence, logKeys.publicKey, log.consistencyProof(3, 4))).toBe(false);
    expect(witness.cosign(log.checkpoint(), log.consistencyProof(3, 4)).ok).toBe(true);
  });

  it('catches a log that equivocates: same size, different roots (fork evidence)', async () => {
    const witness = newWitness();
    const honest = await logWith(['a', 'b', 'c']);
    const forked = await logWith(['a', 'b', 'X']);
    expect(witness.cosign(honest.checkpoint(), []).ok).toBe(true);
    const r = witness.cosign(forked.checkpoint(), []);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.evidence.kind).toBe('fork');
    expect(r.evidence.first).toBe(honest.checkpoint());
    expect(r.evidence.second).toBe(forked.checkpoint());
    expect(verifyEquivocationEvidence(r.evidence, logKeys.publicKey)).toBe(true);
    // Evidence signed by someone else's key is worthless.
    expect(verifyEquivocationEvidence(r.evidence, witnessKeys.publicKey)).toBe(false);
    // The witness keeps what it cosigned.
    expect(witness.latest(ORIGIN)?.note).toBe(honest.checkpoint());
  });

  it('catches a log that rewrote history: larger tree not consistent with the witnessed one', async () => {
    const witness = newWitness();
    const honest = await logWith(['a', 'b', 'c']);
    const rewritten = await logWith(['a', 'X', 'c', 'd', 'e']);
    witness.cosign(honest.checkpoint(), []);
    // The rewritten log's own proof from size 3 cannot link to the witnessed root.
    const r = witness.cosign(rewritten.checkpoint(), rewritten.consistencyProof(3, 5));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.evidence.kind).toBe('inconsistent');
    expect(verifyEquivocationEvidence(r.evidence, logKeys.publicKey, rewritten.consistencyProof(3, 5))).toBe(
      true,
    );
    // Were the two checkpoints consistent, a correct proof would clear the accusation.
    const grown = await logWith(['a', 'b', 'c', 'd', 'e']);
    const falseAlarm = { ...r.evidence, second: grown.checkpoint() };
    expect(verifyEquivocationEvidence(falseAlarm, logKeys.publicKey, grown.consistencyProof(3, 5))).toBe(
      false,
    );
  });

  it('rejects shrinking trees, unknown logs, forged and tampered checkpoints with typed errors', async () => {
    const witness = newWitness();
    const small = await logWith(['a']);
    const log = await logWith(['a', 'b']);
    witness.cosign(log.checkpoint(), []);
    expect(() => witness.cosign(small.checkpoint(), [])).toThrow(WitnessConflictError);

    const stranger = await TransparencyLog.open({ origin: 'other.example/log', keyPair: logKeys });
    expect(() => witness.cosign(stranger.checkpoint(), [])).toThrow(WitnessUnknownLogError);

    const impostor = await TransparencyLog.open({ origin: ORIGIN, keyPair: witnessKeys });
    await impostor.append(utf8('a'));
    expect(() => witness.cosign(impostor.checkpoint(), [])).toThrow(NoteUnknownKeyError);

    const tampered = log.checkpoint().replace('\n2\n', '\n3\n');
    expect(() => witness.cosign(tampered, [])).toThrow(NoteBadSignatureError);
    // Extra signatures from keys the witness does not know are ignored (signed-note).
    const resigned = signNote(log.checkpoint(), { name: 'someone.example/k', keyPair: witnessKeys });
    expect(witness.cosign(resigned, []).ok).toBe(true);
  });
});
