/**
 * `fmp init hub|node`: a key file (0600, with the pre-committed next key), the identity's signed
 * did:mesh create operation in a local log, and a commented config that validates as written.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ed25519 } from '@fmp/core';
import { buildMeshCreate, jsonlMeshStore, MeshRegistry } from '@fmp/identity';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { writeKeyFile } from '../keyfile.js';
import type { CommandContext } from '../main.js';
import { collect } from '../options.js';

export const IDENTITY_LOG = 'identity.jsonl';

interface InitOptions {
  name: string;
  region: string;
  dir: string;
  port?: string;
  hub?: string;
  issuer?: string[];
  peer?: string[];
  force?: boolean;
  json?: boolean;
}

/** Creates the DID's key file and its signed create operation; returns the DID. */
export async function initIdentity(dir: string, did: string, serviceEndpoint?: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const keyPair = ed25519.generateKeyPair();
  const nextKeyPair = ed25519.generateKeyPair();
  const registry = await MeshRegistry.open({ store: jsonlMeshStore({ path: join(dir, IDENTITY_LOG) }) });
  try {
    await registry.append(
      buildMeshCreate({
        did,
        key: keyPair,
        nextPublicKey: nextKeyPair.publicKey,
        services: serviceEndpoint ? [{ id: '#federation', type: 'FederationEndpoint', serviceEndpoint }] : [],
      }),
    );
  } finally {
    await registry.close();
  }
  writeKeyFile(join(dir, 'identity.key'), { did, verificationMethod: `${did}#key-1`, keyPair, nextKeyPair });
  return did;
}

function hubConfig(o: InitOptions, did: string, port: number): string {
  const issuers = o.issuer?.length ? o.issuer : ['did:mesh:authority:foundation'];
  const peers = (o.peer ?? []).map((p) => {
    const [peerDid, url] = p.split('=');
    if (!peerDid || !url) throw new UsageError(`--peer must be <did>=<ws url>, got ${p}`);
    return `  - did: ${peerDid}\n    url: ${url}`;
  });
  return `# fmp hub configuration (fmp hub start --config hub.yaml). Paths are relative to this file.
# The hub's DID; its key lives in the key file (mode 0600), never here.
did: ${did}
keyFile: identity.key
# Region this hub serves (na, eu, apac, ...): discovery filters on it.
region: ${o.region}
# One port for HTTP (health, metrics, discovery, DID resolution) and WebSocket (/v1/mesh, /v1/hub).
listen:
  host: 127.0.0.1
  port: ${port}
  # Also serve mesh links over gRPC on this port (nodes then use hubUrl: grpc://host:port).
  # grpcPort: ${port + 1}
# SQLite database, identities and federations live here.
dataDir: data
store:
  kind: sqlite
# Issuers whose MeshAgentCredentials this hub accepts from mesh nodes.
trustedIssuers:
${issuers.map((d) => `  - ${d}`).join('\n')}
# Other regional hubs to peer with (they must list this hub too).
peers:${peers.length ? `\n${peers.join('\n')}` : ' []'}
limits:
  maxFrameBytes: 1048576
  maxSessions: 20000
  maxPendingHandshakesPerMesh: 16
  heartbeatMs: 15000
  idleTimeoutMs: 60000
  queueTtlMs: 30000
  maxQueuedPerMesh: 10000
# Per-federation message quota (token bucket).
rateLimit:
  messagesPerSec: 5000
  burst: 10000
# Bearer token for /v1/admin (a file with mode 0600); omit to disable the admin API.
# adminTokenFile: admin.token
logLevel: info
`;
}

function nodeConfig(o: InitOptions, did: string, port: number): string {
  if (!o.hub)
    throw new UsageError(
      'fmp init node needs --hub <ws url of the home hub>, e.g. ws://127.0.0.1:7400/v1/mesh',
    );
  return `# fmp mesh node configuration (fmp node start --config node.yaml). Paths are relative to this file.
did: ${did}
keyFile: identity.key
# A MeshAgentCredential for this DID from an issuer the hub trusts:
#   fmp vc issue --key <authority key> --subject ${did} --type MeshAgentCredential ... > credential.json
credentialFile: credential.json
# The home hub's WebSocket URL; or its gRPC link listener, grpc://host:port, with
# hubHttpUrl: http://host:port (its HTTP API) beside it.
hubUrl: ${o.hub}
region: ${o.region}
# Issuers whose MeshAgentCredentials this node accepts from partners.
trustedIssuers:
${(o.issuer?.length ? o.issuer : ['did:mesh:authority:foundation']).map((d) => `  - ${d}`).join('\n')}
# Capabilities this mesh offers to partners.
capabilities: []
# Local control API (loopback only).
listen:
  host: 127.0.0.1
  port: ${port}
policy:
  # Capabilities partners may request; omit to accept what this node offers.
  # acceptCapabilities: [ml.inference]
  minPartnerTrust: 50
  # Only these meshes may federate with this node (omit to allow any that pass the checks above).
  # allow: [did:mesh:academic:mit-001]
  deny: []
logLevel: info
`;
}

export function registerInitCommand(program: Command, ctx: CommandContext): void {
  program
    .command('init <kind>')
    .description('create a hub or mesh node: key file, did:mesh identity and a commented config')
    .requiredOption('--name <name>', 'hub: e.g. eu-west (did:mesh:hub:<name>); node: <category:name>')
    .requiredOption('--region <region>', 'region code, e.g. eu, na, apac')
    .option('--dir <dir>', 'where to write the files', '.')
    .option('--port <port>', 'listen port (default 7400 for hubs, 7500 for nodes)')
    .option('--hub <url>', 'node: the home hub WebSocket URL')
    .option(
      '--issuer <did>',
      'a trusted credential issuer (repeatable; default did:mesh:authority:foundation)',
      collect,
    )
    .option('--peer <did=url>', 'hub: a peer hub (repeatable)', collect)
    .option('--force', 'overwrite existing files')
    .option('--json', 'print JSON')
    .action(async (kind: string, opts: InitOptions) => {
      if (kind !== 'hub' && kind !== 'node') throw new UsageError('fmp init takes hub or node');
      const dir = resolve(opts.dir);
      const configFile = join(dir, `${kind}.yaml`);
      if (!opts.force && (existsSync(configFile) || existsSync(join(dir, 'identity.key')))) {
        throw new UsageError(`${dir} already holds a ${kind}; pass --force to overwrite`);
      }
      const port = opts.port === undefined ? (kind === 'hub' ? 7400 : 7500) : Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0-65535');
      const did = kind === 'hub' ? `did:mesh:hub:${opts.name}` : `did:mesh:${opts.name}`;
      const config = kind === 'hub' ? hubConfig(opts, did, port) : nodeConfig(opts, did, port);
      await initIdentity(dir, did);
      writeFileSync(configFile, config);
      const result = {
        did,
        config: configFile,
        keyFile: join(dir, 'identity.key'),
        identityLog: join(dir, IDENTITY_LOG),
      };
      ctx.io.out(
        opts.json
          ? JSON.stringify(result)
          : `${kind} ${did}\n  config   ${configFile}\n  key file ${result.keyFile}`,
      );
    });
}
