/**
 * `fmp demo --json` (what `npm start` runs, as JSON): real hub and node processes on loopback.
 * The JSON shape is a contract (issue #3).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = new URL('../packages/cli/bin/fmp.js', import.meta.url).pathname;

describe('fmp demo --json', () => {
  it('federates organizations over real hubs, delivers every message, and reports refusals', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'demo', '--json', '--messages', '4'], {
      timeout: 180_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!);
    expect(r.hubs).toHaveLength(3);
    for (const h of r.hubs) expect(Object.keys(h)).toEqual(expect.arrayContaining(['did', 'region', 'url']));
    expect(r.meshes).toHaveLength(5);
    for (const m of r.meshes)
      expect(Object.keys(m)).toEqual(expect.arrayContaining(['did', 'category', 'hub']));
    expect(r.federations.length).toBeGreaterThan(0);
    for (const f of r.federations) {
      expect(Object.keys(f)).toEqual(
        expect.arrayContaining(['federationId', 'source', 'target', 'status', 'path', 'handshakeMs']),
      );
      expect(f.status).toBe('active');
    }
    expect(r.refused.length).toBeGreaterThan(0);
    expect(
      r.refused.find((x: { source: string }) => x.source === 'did:mesh:enterprise:rogue-001').reason,
    ).toMatch(/untrusted_issuer/);
    expect(r.messages.sent).toBe(r.federations.length * 2 * 4);
    expect(r.messages.delivered).toBe(r.messages.sent);
    expect(r.messages.failed).toBe(0);
    expect(r.messages.p95Ms).toBeGreaterThanOrEqual(r.messages.p50Ms);
    expect(r.ok).toBe(true);
  }, 200_000);
});
