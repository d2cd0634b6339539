/**
 * The in-memory demo behind `npm start`: real identities in a did:mesh registry file, real
 * credentials, a revocation, a key rotation, a full federation handshake among a source mesh, a hub
 * and a target mesh, and sealed, signed messages both ways through the hub. Every step is checked;
 * the first step that does not hold aborts the demo with a non-zero exit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  type ClearPayload,
  canonicalJson,
  createEnvelope,
  type Ed25519KeyPair,
  ed25519,
  ed25519Signer,
  FmpError,
  HandshakeCoordinator,
  HandshakeInitiator,
  HandshakeResponder,
  hopForward,
  openPayload,
  randomBytes,
  runHandshakeInMemory,
  type Session,
  sealPayload,
  signEnvelope,
  type VerifiableCredentialJson,
  verifyEnvelope,
} from '@fmp/core';
import {
  authenticationKeyResolver,
  buildMeshCreate,
  buildMeshUpdate,
  handshakeCredentialVerifier,
  issueCredential,
  issueMeshAgentCredential,
  type MeshRegistry,
  StatusListRegistry,
  VerificationCache,
  verifyCredential,
} from '@fmp/identity';
import { localResolver, openMeshRegistry } from './data.js';

export interface DemoStep {
  step: string;
  ok: boolean;
  ms: number;
  detail: string;
}

export interface DemoResult {
  ok: boolean;
  dataDir: string;
  steps: DemoStep[];
}

class DemoCheckFailed extends FmpError {
  constructor(message: string) {
    super('demo_check_failed', message);
  }
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new DemoCheckFailed(message);
}

interface Org {
  did: string;
  key: Ed25519KeyPair;
  next: Ed25519KeyPair;
  vm: string;
}

export async function runDemo(
  options: { dataDir?: string; log?: (line: string) => void } = {},
): Promise<DemoResult> {
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'fmp-demo-'));
  const log = options.log ?? (() => {});
  const steps: DemoStep[] = [];
  const step = async (name: string, fn: () => Promise<string> | string): Promise<void> => {
    const t = performance.now();
    const detail = await fn();
    const ms = Math.round((performance.now() - t) * 100) / 100;
    steps.push({ step: name, ok: true, ms, detail });
    log(`  ok  ${name.padEnd(52)} ${String(ms).padStart(8)} ms  ${detail}`);
  };

  const registry: MeshRegistry = await openMeshRegistry(dir);
  try {
    const resolver = localResolver(registry);
    const resolveDid = (did: string) => resolver.resolveDocument(did);
    const orgs = new Map<string, Org>();
    const create = async (did: string, endpoint?: string) => {
      const org = {
        did,
        key: ed25519.generateKeyPair(),
        next: ed25519.generateKeyPair(),
        vm: `${did}#key-1`,
      };
      await registry.append(
        buildMeshCreate({
          did,
          key: org.key,
          nextPublicKey: org.next.publicKey,
          services: endpoint
            ? [{ id: '#federation', type: 'FederationEndpoint', serviceEndpoint: endpoint }]
            : [],
        }),
      );
      orgs.set(did, org);
      return org;
    };

    let foundation!: Org;
    let acme!: Org;
    let mit!: Org;
    let hub!: Org;
    await step('create did:mesh identities (registry file)', async () => {
      foundation = await create('did:mesh:authority:foundation');
      hub = await create('did:mesh:hub:eu-west', 'wss://hub-eu.mesh.local/federation');
      acme = await create('did:mesh:enterprise:acme-001', 'wss://mesh.acme.local/federation');
      mit = await create('did:mesh:academic:mit-001', 'wss://mesh.mit.local/federation');
      const doc = (await resolver.resolve(acme.did)).didDocument;
      check(doc?.id === acme.did, 'acme did:mesh must resolve');
      return `${orgs.size} DIDs in ${join(dir, 'did-mesh.jsonl')}`;
    });

    const signer = { keyPair: foundation.key, issuer: foundation.did, verificationMethod: foundation.vm };
    const statusList = await StatusListRegistry.create({
      id: 'https://hub-eu.mesh.local/status/1',
      signer,
      length: 1024,
    });
    const cache = new VerificationCache();
    cache.watch(statusList);
    const verifyOptions = {
      resolveDid,
      trustedIssuers: [foundation.did],
      statusListLoader: statusList.loader,
      cache,
    };
    const credentials = new Map<string, Awaited<ReturnType<typeof issueMeshAgentCredential>>>();
    await step('issue MeshAgentCredentials (Ed25519Signature2020)', async () => {
      for (const [org, caps, certs, level] of [
        [acme, ['ml.inference', 'data.processing'], ['GDPR', 'SOC2'], 85],
        [mit, ['ml.inference', 'data.analysis'], ['GDPR', 'ISO42001'], 92],
      ] as const) {
        credentials.set(
          org.did,
          await issueMeshAgentCredential({
            signer,
            subject: {
              id: org.did,
              meshCapabilities: [...caps],
              complianceCertifications: [...certs],
              trustLevel: level,
            },
            validUntil: new Date(Date.now() + 365 * 86_400_000),
            status: statusList.allocate(),
          }),
        );
      }
      return `issuer ${foundation.did}`;
    });

    await step('verify credentials (cold, then cached)', async () => {
      const t0 = performance.now();
      const cold = await verifyCredential(credentials.get(acme.did), verifyOptions);
      const t1 = performance.now();
      const warm = await verifyCredential(credentials.get(acme.did), verifyOptions);
      const t2 = performance.now();
      check(cold.verified && !cold.cached, `acme credential must verify: ${JSON.stringify(cold.errors)}`);
      check(warm.verified && warm.cached, 'second verification must come from the cache');
      return `cold ${(t1 - t0).toFixed(2)} ms, cached ${(t2 - t1).toFixed(3)} ms, trustLevel ${cold.meshAgent?.trustLevel}`;
    });

    await step('plain credential, eddsa-jcs-2022, VC 2.0', async () => {
      const agent = ed25519.generateKeyPair();
      const agentDid = (await import('@fmp/identity')).didKeyFromEd25519PublicKey(agent.publicKey);
      const vc = await issueCredential({
        signer,
        subject: { id: agentDid },
        suite: 'eddsa-jcs-2022',
        dataModel: '2.0',
      });
      const result = await verifyCredential(vc, { resolveDid });
      check(result.verified, `plain credential must verify: ${JSON.stringify(result.errors)}`);
      const tampered = { ...vc, issuer: acme.did };
      const bad = await verifyCredential(tampered, { resolveDid });
      check(!bad.verified, 'a credential with a changed issuer must not verify');
      return `subject ${agentDid.slice(0, 24)}..., tampered copy rejected (${bad.errors[0]?.code})`;
    });

    await step('revoke a credential (Bitstring Status List)', async () => {
      const rogueStatus = statusList.allocate();
      const rogue = await issueMeshAgentCredential({
        signer,
        subject: {
          id: 'did:mesh:enterprise:rogue-001',
          meshCapabilities: [],
          complianceCertifications: [],
          trustLevel: 40,
        },
        status: rogueStatus,
      });
      check(
        (await verifyCredential(rogue, verifyOptions)).verified,
        'rogue credential verifies before revocation',
      );
      await statusList.revoke(rogueStatus.statusListIndex);
      const after = await verifyCredential(rogue, verifyOptions);
      check(
        !after.verified && after.errors.some((e) => e.code === 'revoked'),
        'revoked credential must fail',
      );
      return `index ${rogueStatus.statusListIndex} revoked; verification now fails with "revoked"`;
    });

    await step('rotate a key (pre-rotation) and reject the old key', async () => {
      const head = registry.state(acme.did);
      check(head, 'acme has a registry state');
      const newNext = ed25519.generateKeyPair();
      const { head: newHead } = await registry.append(
        buildMeshUpdate({
          did: acme.did,
          key: acme.next,
          nextPublicKey: newNext.publicKey,
          previous: head.head,
        }),
      );
      let rejected = '';
      try {
        await registry.append(
          buildMeshUpdate({
            did: mit.did,
            key: mit.key,
            nextPublicKey: newNext.publicKey,
            previous: registry.state(mit.did)!.head,
          }),
        );
      } catch (err) {
        rejected = (err as FmpError).code;
      }
      check(rejected !== '', 'an update signed by the current (not the committed next) key must be rejected');
      acme.key = acme.next;
      acme.next = newNext;
      const doc = (await resolver.resolve(acme.did)).didDocument;
      acme.vm = `${acme.did}#${String(doc?.authentication?.[0]).split('#')[1]}`;
      return `acme now at seq ${newHead.seq} (${acme.vm.split('#')[1]}); mis-signed update rejected (${rejected})`;
    });

    const now = () => Date.now();
    const base = {
      now,
      randomBytes,
      resolveAuthenticationKey: authenticationKeyResolver(resolver),
      verifyCredential: handshakeCredentialVerifier(verifyOptions),
      // Until the trust engine lands, the score is the trustLevel the authority certified.
      trustScore: async (did: string) => {
        const vc = credentials.get(did);
        if (!vc) return 0;
        const r = await verifyCredential(vc, verifyOptions);
        return r.verified ? (r.meshAgent?.trustLevel ?? 0) : 0;
      },
    };
    let source!: Session;
    let target!: Session;
    await step('federation handshake acme -> hub -> mit', async () => {
      const initiator = new HandshakeInitiator(base, {
        meshId: acme.did,
        signer: ed25519Signer(acme.vm, acme.key),
        credential: credentials.get(acme.did) as unknown as VerifiableCredentialJson,
      });
      const coordinator = new HandshakeCoordinator(base, {
        routingEndpointBase: 'wss://hub-eu.mesh.local/fed',
      });
      const responder = new HandshakeResponder(
        { ...base, consent: (req) => req.capabilities.every((c) => c !== 'data.export') },
        { meshId: mit.did, signer: ed25519Signer(mit.vm, mit.key) },
      );
      const t = performance.now();
      ({ source, target } = await runHandshakeInMemory(
        { initiator, coordinator, responder },
        {
          targetMeshId: mit.did,
          capabilities: ['ml.inference', 'data.analysis'],
          metadata: { ttl: 86_400, purpose: 'research-collab' },
        },
      ));
      const ms = performance.now() - t;
      check(
        Buffer.from(source.sendKey).equals(Buffer.from(target.receiveKey)),
        'directional keys must match',
      );
      return `federation ${source.federationId.slice(0, 8)}... active, ${ms.toFixed(2)} ms incl. credential checks`;
    });

    await step('sealed, signed messages both ways via the hub', async () => {
      const exchange = (from: Org, to: Org, send: Session, receive: Session, data: ClearPayload['data']) => {
        const body: ClearPayload = { type: 'agent.task.request', data };
        const draft = createEnvelope(
          {
            type: body.type,
            federationId: send.federationId,
            sourceMeshId: from.did,
            targetMeshId: to.did,
            payload: body,
            priority: 'high',
            complianceContext: {
              dataClassification: 'internal',
              processingBasis: 'legitimate-interest',
              retentionPeriod: '90-days',
              geographicRestrictions: ['eu'],
              auditTrail: true,
            },
          },
          { now },
        );
        const envelope = signEnvelope(
          { ...draft, payload: sealPayload(send.sendKey, draft, body) },
          from.key,
        );
        const relayed = hopForward(envelope, hub.did);
        check(
          !JSON.stringify(relayed).includes(JSON.stringify(data).slice(1, -1)),
          'hub must not see the payload',
        );
        verifyEnvelope(relayed, from.key.publicKey);
        const opened = openPayload(receive.receiveKey, relayed);
        check(canonicalJson(opened.data) === canonicalJson(data), 'payload must arrive intact');
        return relayed;
      };
      exchange(acme, mit, source, target, { task: 'classify', input: 'molecule-42' });
      const reply = exchange(mit, acme, target, source, { result: 'class B', confidence: 0.93 });
      // A hub that edits a header breaks the seal.
      let tamperRejected = false;
      try {
        openPayload(source.receiveKey, { ...reply, priority: 'critical' });
      } catch {
        tamperRejected = true;
      }
      check(tamperRejected, 'an edited header must fail to open');
      return `2 messages, hops ${reply.hopCount}/${reply.maxHops}, header tampering detected`;
    });

    return { ok: true, dataDir: dir, steps };
  } finally {
    await registry.close();
    if (!options.dataDir) rmSync(dir, { recursive: true, force: true });
  }
}
