/** Baselines (raw Ed25519) and the envelope: sign, verify, seal, open, per second on one core. */
import {
  createEnvelope,
  ed25519,
  openPayload,
  randomBytes,
  sealPayload,
  signEnvelope,
  type UnsignedEnvelope,
  verifyEnvelope,
} from '@fmp/core';
import { throughput } from './lib.js';

export interface CoreResults {
  baseline: { ed25519SignPerSec: number; ed25519VerifyPerSec: number };
  envelope: {
    signPerSec: number;
    verifyPerSec: number;
    sealAndSignPerSec: number;
    verifyAndOpenPerSec: number;
    bytes: number;
  };
}

export function benchCore(minMs: number): CoreResults {
  const keys = ed25519.generateKeyPair();
  const msg = randomBytes(1024);
  const sig = ed25519.sign(msg, keys);
  const ed25519SignPerSec = throughput(() => ed25519.sign(msg, keys), minMs).opsPerSec;
  const ed25519VerifyPerSec = throughput(() => ed25519.verify(sig, msg, keys.publicKey), minMs).opsPerSec;

  // A 1 KB task payload, as in DESIGN.md's measurements.
  const body = { type: 'agent.task.request', data: { task: 'summarize', text: 'x'.repeat(1000) } };
  const draft: UnsignedEnvelope = createEnvelope(
    {
      type: body.type,
      federationId: '5f0c6f8e-8a4b-4c1e-9a51-0d3c1b7e2f10',
      sourceMeshId: 'did:mesh:enterprise:acme-001',
      targetMeshId: 'did:mesh:academic:mit-001',
      payload: body,
    },
    { now: () => Date.now() },
  );
  const sessionKey = randomBytes(32);
  const signed = signEnvelope(draft, keys);
  const sealed = signEnvelope({ ...draft, payload: sealPayload(sessionKey, draft, body) }, keys);
  return {
    baseline: { ed25519SignPerSec, ed25519VerifyPerSec },
    envelope: {
      signPerSec: throughput(() => signEnvelope(draft, keys), minMs).opsPerSec,
      verifyPerSec: throughput(() => verifyEnvelope(signed, keys.publicKey), minMs).opsPerSec,
      sealAndSignPerSec: throughput(
        () => signEnvelope({ ...draft, payload: sealPayload(sessionKey, draft, body) }, keys),
        minMs,
      ).opsPerSec,
      verifyAndOpenPerSec: throughput(() => {
        verifyEnvelope(sealed, keys.publicKey);
        openPayload(sessionKey, sealed);
      }, minMs).opsPerSec,
      bytes: JSON.stringify(sealed).length,
    },
  };
}
