/**
 * Two organizations federate through a hub and exchange a task, with the SDK alone: a did:mesh
 * authority issues their credentials, a hub accepts them, ACME federates with MIT (the spec 3.1
 * handshake over WebSocket), sends a signed, end-to-end encrypted task and MIT answers.
 * Run: npx tsx examples/federate.ts
 */
import { ed25519 } from '@fmp/core';
import { createHub } from '@fmp/hub';
import { buildMeshCreate, issueMeshAgentCredential, MeshRegistry } from '@fmp/identity';
import { createMeshNode } from '@fmp/node';
import pino from 'pino';

const quiet = pino({ level: 'silent' });

function identity(did: string) {
  const keyPair = ed25519.generateKeyPair();
  const op = buildMeshCreate({ did, key: keyPair, nextPublicKey: ed25519.generateKeyPair().publicKey });
  return { did, keyPair, op: op as unknown as Record<string, unknown> };
}

export async function main(): Promise<{ federationId: string; answer: unknown }> {
  const authority = identity('did:mesh:authority:foundation');
  const hubId = identity('did:mesh:hub:eu-west');
  const registry = await MeshRegistry.open();
  await registry.append(authority.op);
  await registry.append(hubId.op);
  const hub = createHub({
    did: hubId.did,
    keyPair: hubId.keyPair,
    region: 'eu',
    trustedIssuers: [authority.did],
    registry,
    logger: quiet,
  });
  const { url } = await hub.start();

  const signer = {
    keyPair: authority.keyPair,
    issuer: authority.did,
    verificationMethod: `${authority.did}#key-1`,
  };
  const node = async (did: string, capabilities: string[]) => {
    const me = identity(did);
    const credential = await issueMeshAgentCredential({
      signer,
      subject: {
        id: did,
        meshCapabilities: capabilities,
        complianceCertifications: ['GDPR'],
        trustLevel: 85,
      },
    });
    return createMeshNode({
      did,
      keyPair: me.keyPair,
      credential: credential as never,
      capabilities,
      region: 'eu',
      hubUrl: url,
      meshLog: [me.op],
      trustedIssuers: [authority.did],
    });
  };
  const acme = await node('did:mesh:enterprise:acme-001', ['data.processing']);
  const mit = await node('did:mesh:academic:mit-001', ['ml.inference']);
  await acme.start();
  await mit.start();
  try {
    // MIT answers every task request on the same federation.
    mit.onMessage(async (m) => {
      if (m.type === 'agent.task.request') {
        await mit.send(m.federationId, 'agent.task.response', { label: 'class B', for: m.messageId });
      }
    });
    const answered = new Promise<unknown>((resolve) =>
      acme.onMessage((m) => {
        if (m.type === 'agent.task.response') resolve(m.data);
      }),
    );
    const federation = await acme.federate(mit.did, {
      capabilities: ['ml.inference'],
      purpose: 'research-collab',
      ttlSeconds: 3600,
    });
    await acme.send(federation.federationId, 'agent.task.request', {
      task: 'classify',
      input: 'molecule-42',
    });
    return { federationId: federation.federationId, answer: await answered };
  } finally {
    await acme.stop();
    await mit.stop();
    await hub.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await main());
}
