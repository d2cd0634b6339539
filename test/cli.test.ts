/**
 * The CLI contract (issue: scripts depend on it), exercised through real `fmp` processes: JSON
 * shapes, key file modes, exit codes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = new URL('../packages/cli/bin/fmp.js', import.meta.url).pathname;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;

async function fmp(...args: string[]): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, FMP_DATA_DIR: join(dir, 'data') },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fmp-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fmp did', () => {
  it('creates a did:key with a 0600 key file and resolves it', async () => {
    const out = join(dir, 'agent.key');
    const created = await fmp('did', 'create', '--method', 'key', '--out', out, '--json');
    expect(created.code).toBe(0);
    const json = JSON.parse(created.stdout);
    expect(json.did).toMatch(/^did:key:z6Mk/);
    expect(json.didDocument.id).toBe(json.did);
    expect(json.keyFile).toBe(out);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toContain('privateKeyMultibase');
    expect(created.stdout).not.toContain(JSON.parse(readFileSync(out, 'utf8')).privateKeyMultibase);

    const resolved = await fmp('did', 'resolve', json.did, '--json');
    expect(resolved.code).toBe(0);
    const result = JSON.parse(resolved.stdout);
    expect(Object.keys(result).sort()).toEqual([
      'didDocument',
      'didDocumentMetadata',
      'didResolutionMetadata',
    ]);
    expect(result.didDocument.keyAgreement).toHaveLength(1);
  });

  it('creates a did:mesh in the local registry and resolves it', async () => {
    const created = await fmp(
      'did',
      'create',
      '--method',
      'mesh',
      '--name',
      'enterprise:acme-001',
      '--service',
      'wss://mesh.acme.example/federation',
      '--out',
      join(dir, 'acme.key'),
      '--json',
    );
    expect(created.code).toBe(0);
    const { did } = JSON.parse(created.stdout);
    expect(did).toBe('did:mesh:enterprise:acme-001');
    const resolved = JSON.parse((await fmp('did', 'resolve', did, '--json')).stdout);
    expect(resolved.didDocument.service[0].serviceEndpoint).toBe('wss://mesh.acme.example/federation');
    // Its first version is this one; there is no second yet.
    const first = JSON.parse((await fmp('did', 'resolve', did, '--version-id', '0', '--json')).stdout);
    expect(first.didDocument).toEqual(resolved.didDocument);
    const none = await fmp('did', 'resolve', did, '--version-id', '1', '--json');
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout).didResolutionMetadata.error).toBe('notFound');
    // A second create of the same name is refused by the registry.
    const again = await fmp(
      'did',
      'create',
      '--method',
      'mesh',
      '--name',
      'enterprise:acme-001',
      '--out',
      join(dir, 'acme2.key'),
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists|duplicate/i);
  });

  it('exits 1 with didResolutionMetadata.error when resolution fails', async () => {
    const missing = await fmp('did', 'resolve', 'did:mesh:enterprise:nobody', '--json');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout).didResolutionMetadata.error).toBe('notFound');
    const invalid = await fmp('did', 'resolve', 'not-a-did', '--json');
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stdout).didResolutionMetadata.error).toBe('invalidDid');
    const unconfigured = await fmp(
      'did',
      'resolve',
      'did:ion:EiClkZMDxPKqC9c-umQfTkR8vvZ9JPhl_xLDI9Nfk38w5w',
      '--json',
    );
    expect(unconfigured.code).toBe(1);
    expect(JSON.parse(unconfigured.stdout).didResolutionMetadata.error).toBe('methodNotConfigured');
  });

  it('exits 2 on bad usage', async () => {
    expect((await fmp('did', 'create', '--method', 'web', '--out', join(dir, 'x.key'))).code).toBe(2);
    expect((await fmp('did', 'create', '--method', 'key')).code).toBe(2);
  });
});

describe('fmp vc', () => {
  let issuerKey: string;
  beforeAll(async () => {
    issuerKey = join(dir, 'authority.key');
    const r = await fmp(
      'did',
      'create',
      '--method',
      'mesh',
      '--name',
      'authority:foundation',
      '--out',
      issuerKey,
    );
    expect(r.code).toBe(0);
  });

  it('issues a MeshAgentCredential and verifies it; tampering makes verify exit 1', async () => {
    const issued = await fmp(
      'vc',
      'issue',
      '--key',
      issuerKey,
      '--subject',
      'did:mesh:enterprise:acme-001',
      '--type',
      'MeshAgentCredential',
      '--capability',
      'ml.inference',
      '--capability',
      'data.analysis',
      '--certification',
      'GDPR',
      '--trust-level',
      '85',
      '--expires',
      '2099-01-01T00:00:00Z',
    );
    expect(issued.code).toBe(0);
    const vc = JSON.parse(issued.stdout);
    expect(vc.type).toEqual(['VerifiableCredential', 'MeshAgentCredential']);
    expect(vc.credentialSubject).toMatchObject({
      meshCapabilities: ['ml.inference', 'data.analysis'],
      trustLevel: 85,
    });
    expect(vc.proof.type).toBe('Ed25519Signature2020');
    const file = join(dir, 'acme.vc.json');
    writeFileSync(file, issued.stdout);
    const ok = await fmp('vc', 'verify', file);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ verified: true, errors: [] });

    vc.credentialSubject.trustLevel = 100;
    writeFileSync(file, JSON.stringify(vc));
    const bad = await fmp('vc', 'verify', file);
    expect(bad.code).toBe(1);
    const result = JSON.parse(bad.stdout);
    expect(result.verified).toBe(false);
    expect(result.errors.length).toBeGreaterThan(0);
  });

  it('issues a plain credential with standard contexts only, with each proof suite', async () => {
    for (const suite of ['eddsa-rdfc-2022', 'eddsa-jcs-2022']) {
      const issued = await fmp(
        'vc',
        'issue',
        '--key',
        issuerKey,
        '--subject',
        'did:mesh:academic:mit-001',
        '--suite',
        suite,
      );
      expect(issued.code).toBe(0);
      const vc = JSON.parse(issued.stdout);
      for (const ctx of vc['@context']) expect(String(ctx)).toMatch(/^https:\/\/(www\.w3\.org|w3id\.org)\//);
      expect(vc.proof).toMatchObject({ type: 'DataIntegrityProof', cryptosuite: suite });
      const file = join(dir, `${suite}.json`);
      writeFileSync(file, issued.stdout);
      expect((await fmp('vc', 'verify', file)).code).toBe(0);
    }
  });

  it('exits 2 on unreadable or non-JSON input', async () => {
    expect((await fmp('vc', 'verify', join(dir, 'missing.json'))).code).toBe(2);
    const junk = join(dir, 'junk.json');
    writeFileSync(junk, '{not json');
    expect((await fmp('vc', 'verify', junk)).code).toBe(2);
  });

  it('refuses a key file that others can read', async () => {
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, readFileSync(issuerKey), { mode: 0o644 });
    const r = await fmp('vc', 'issue', '--key', loose, '--subject', 'did:mesh:academic:mit-001');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/chmod 600/);
  });
});

describe('fmp demo --in-memory', () => {
  it('runs every step and exits 0', async () => {
    const r = await fmp('demo', '--in-memory', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.ok).toBe(true);
    expect(result.steps.length).toBeGreaterThanOrEqual(8);
    expect(result.steps.every((s: { ok: boolean }) => s.ok)).toBe(true);
  });
});
