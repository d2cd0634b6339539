import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, HubConfigSchema, hubHttpBase, loadConfig, NodeConfigSchema } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'fmp-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const hubYaml = `# a hub
did: did:mesh:hub:eu-west
keyFile: hub.key
region: eu
dataDir: data
trustedIssuers: [did:mesh:authority:foundation]
peers:
  - did: did:mesh:hub:na-east
    url: ws://127.0.0.1:7401/v1/hub
`;

/** The required fields of a node config. */
const nodeJson = {
  did: 'did:mesh:enterprise:acme-001',
  keyFile: 'acme.key',
  credentialFile: 'acme.vc.json',
  hubUrl: 'ws://127.0.0.1:7400/v1/mesh',
  region: 'na',
  trustedIssuers: ['did:mesh:authority:foundation'],
};

describe('config files', () => {
  it('loads a YAML hub config with defaults and resolves its directory', () => {
    const config = loadConfig(write('hub.yaml', hubYaml), HubConfigSchema);
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 7400 });
    expect(config.store).toEqual({ kind: 'sqlite' });
    expect(config.peers).toHaveLength(1);
    expect(config.configDir).toBe(dir);
  });

  it("takes the trust engine's write cadences, routine changes once a minute by default", () => {
    expect(loadConfig(write('hub-trust.yaml', hubYaml), HubConfigSchema).trust).toMatchObject({
      persistMs: 5_000,
      routinePersistMs: 60_000,
    });
    const set = `${hubYaml}trust:\n  persistMs: 2000\n  routinePersistMs: 300000\n`;
    expect(loadConfig(write('hub-trust2.yaml', set), HubConfigSchema).trust).toMatchObject({
      persistMs: 2_000,
      routinePersistMs: 300_000,
    });
    const bad = errorOf(() =>
      loadConfig(write('hub-trust3.yaml', `${hubYaml}trust:\n  routinePersistMs: 5\n`), HubConfigSchema),
    );
    expect(bad.field).toBe('trust.routinePersistMs');
  });

  it('takes a gRPC hub link: the hub listens with grpcPort, a node needs the hub HTTP URL beside it', () => {
    const hub = loadConfig(
      write('hub-grpc.yaml', `${hubYaml}listen:\n  port: 7400\n  grpcPort: 7410\n`),
      HubConfigSchema,
    );
    expect(hub.listen).toEqual({ host: '127.0.0.1', port: 7400, grpcPort: 7410 });
    const node = loadConfig(
      write(
        'node-grpc.json',
        JSON.stringify({ ...nodeJson, hubUrl: 'grpc://127.0.0.1:7410', hubHttpUrl: 'http://127.0.0.1:7400' }),
      ),
      NodeConfigSchema,
    );
    expect(hubHttpBase(node)).toBe('http://127.0.0.1:7400');
    expect(hubHttpBase({ hubUrl: 'wss://hub.example:8443/v1/mesh' })).toBe('https://hub.example:8443');
    // A hub behind a path keeps it (the ledger and trust commands and the node's ledger client alike).
    expect(hubHttpBase({ hubUrl: 'wss://gw.example/fmp/v1/mesh' })).toBe('https://gw.example/fmp');
    const missing = errorOf(() =>
      loadConfig(
        write('node-grpc2.json', JSON.stringify({ ...nodeJson, hubUrl: 'grpc://127.0.0.1:7410' })),
        NodeConfigSchema,
      ),
    );
    expect(missing.field).toBe('hubHttpUrl');
    const wrong = errorOf(() =>
      loadConfig(
        write('node-grpc3.json', JSON.stringify({ ...nodeJson, hubUrl: 'tcp://127.0.0.1:7410' })),
        NodeConfigSchema,
      ),
    );
    expect(wrong.field).toBe('hubUrl');
  });

  it('loads a JSON node config', () => {
    const file = write('node.json', JSON.stringify({ ...nodeJson, capabilities: ['ml.inference'] }));
    const config = loadConfig(file, NodeConfigSchema);
    expect(config.policy.minPartnerTrust).toBe(50);
    expect(config.messages).toEqual({ maxAgeMs: 300_000, replayCapacity: 4_000_000 });
  });

  it("takes the audit trail's durability, full (fsynced) by default, and names a bad one", () => {
    expect(
      loadConfig(write('node-audit.json', JSON.stringify(nodeJson)), NodeConfigSchema).compliance,
    ).toMatchObject({ auditSync: 'full', auditBefore: 'written' });
    const normal = write(
      'node-audit2.json',
      JSON.stringify({ ...nodeJson, compliance: { auditSync: 'normal' } }),
    );
    expect(loadConfig(normal, NodeConfigSchema).compliance.auditSync).toBe('normal');
    const bad = errorOf(() =>
      loadConfig(
        write('node-audit3.json', JSON.stringify({ ...nodeJson, compliance: { auditSync: 'sometimes' } })),
        NodeConfigSchema,
      ),
    );
    expect(bad.field).toBe('compliance.auditSync');
    const strict = write(
      'node-audit4.json',
      JSON.stringify({ ...nodeJson, compliance: { auditBefore: 'durable' } }),
    );
    expect(loadConfig(strict, NodeConfigSchema).compliance.auditBefore).toBe('durable');
    const worse = errorOf(() =>
      loadConfig(
        write('node-audit5.json', JSON.stringify({ ...nodeJson, compliance: { auditBefore: 'never' } })),
        NodeConfigSchema,
      ),
    );
    expect(worse.field).toBe('compliance.auditBefore');
  });

  it('takes the receiving limits, and names a bad one', () => {
    const node = nodeJson;
    const ok = write(
      'node-limits.json',
      JSON.stringify({ ...node, messages: { replayCapacity: 10_000_000 } }),
    );
    expect(loadConfig(ok, NodeConfigSchema).messages).toEqual({
      maxAgeMs: 300_000,
      replayCapacity: 10_000_000,
    });
    const bad = errorOf(() =>
      loadConfig(
        write('node-bad.json', JSON.stringify({ ...node, messages: { replayCapacity: 10 } })),
        NodeConfigSchema,
      ),
    );
    expect(bad.field).toBe('messages.replayCapacity');
  });

  it('names the field and the expected value', () => {
    const bad = errorOf(() =>
      loadConfig(write('bad1.yaml', hubYaml.replace('region: eu', 'region: 42')), HubConfigSchema),
    );
    expect(bad.field).toBe('region');
    expect(bad.message).toMatch(/region: expected string/);

    const peer = errorOf(() =>
      loadConfig(
        write('bad2.yaml', hubYaml.replace('ws://127.0.0.1:7401', 'http://127.0.0.1:7401')),
        HubConfigSchema,
      ),
    );
    expect(peer.field).toBe('peers.0.url');
    expect(peer.message).toMatch(/a ws:\/\/, wss:\/\/, grpc:\/\/ or grpcs:\/\/ URL/);

    const missing = errorOf(() =>
      loadConfig(write('bad3.yaml', hubYaml.replace('keyFile: hub.key\n', '')), HubConfigSchema),
    );
    expect(missing.field).toBe('keyFile');
    expect(missing.message).toMatch(/missing/);

    const unknown = errorOf(() =>
      loadConfig(write('bad4.yaml', `${hubYaml}secretKey: abc\n`), HubConfigSchema),
    );
    expect(unknown.message).toMatch(/unknown field\(s\) secretKey/);
  });

  it('reports unreadable and unparsable files', () => {
    expect(errorOf(() => loadConfig(join(dir, 'nope.yaml'), HubConfigSchema)).message).toMatch(/cannot read/);
    expect(errorOf(() => loadConfig(write('bad.json', '{'), HubConfigSchema)).message).toMatch(
      /not valid JSON/,
    );
    expect(errorOf(() => loadConfig(write('bad.yaml', 'a: [1'), HubConfigSchema)).message).toMatch(
      /not valid YAML/,
    );
  });
});
