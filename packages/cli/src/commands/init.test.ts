import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HubConfigSchema, loadConfig, NodeConfigSchema } from '../config.js';
import { readKeyFile } from '../keyfile.js';
import { type Io, main } from '../main.js';

const dir = mkdtempSync(join(tmpdir(), 'fmp-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    readStdin: async () => '',
  };
}

describe('fmp init', () => {
  it('writes a hub whose config validates as written and whose key file is 0600', async () => {
    const io = capture();
    const code = await main(
      [
        'init',
        'hub',
        '--name',
        'eu-west',
        '--region',
        'eu',
        '--dir',
        join(dir, 'hub'),
        '--peer',
        'did:mesh:hub:na=ws://127.0.0.1:7401/v1/hub',
        '--json',
      ],
      io,
    );
    expect(code).toBe(0);
    const out = JSON.parse(io.stdout.join(''));
    expect(out.did).toBe('did:mesh:hub:eu-west');
    const config = loadConfig(out.config, HubConfigSchema);
    expect(config.peers).toEqual([{ did: 'did:mesh:hub:na', url: 'ws://127.0.0.1:7401/v1/hub' }]);
    expect(statSync(out.keyFile).mode & 0o777).toBe(0o600);
    expect(readKeyFile(out.keyFile).nextKeyPair).toBeDefined();
  });

  it('writes a node config that validates, and refuses to overwrite without --force', async () => {
    const args = [
      'init',
      'node',
      '--name',
      'enterprise:acme-001',
      '--region',
      'na',
      '--dir',
      join(dir, 'node'),
      '--hub',
      'ws://127.0.0.1:7400/v1/mesh',
      '--json',
    ];
    const io = capture();
    expect(await main(args, io)).toBe(0);
    const config = loadConfig(JSON.parse(io.stdout.join('')).config, NodeConfigSchema);
    expect(config.did).toBe('did:mesh:enterprise:acme-001');
    expect(await main(args, capture())).toBe(2);
    expect(
      await main(['init', 'node', '--name', 'x:y', '--region', 'na', '--dir', join(dir, 'n2')], capture()),
    ).toBe(2);
    expect(await main(['init', 'thing', '--name', 'x', '--region', 'na'], capture())).toBe(2);
  });
});
