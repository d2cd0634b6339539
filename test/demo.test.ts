/**
 * `fmp demo --json` (what `npm start` runs, as JSON): real hub and node processes on loopback.
 * The JSON shape is a contract (issue #3).
 */
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = new URL('../packages/cli/bin/fmp.js', import.meta.url).pathname;

describe('fmp demo --json', () => {
  it('federates organizations over real hubs, delivers every message, and reports refusals', async () => {
    // Parse the summary even when the demo exits 1, so a failure shows which part failed.
    const { stdout } = await run(process.execPath, [BIN, 'demo', '--json', '--messages', '4'], {
      timeout: 180_000,
    }).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }));
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

  it('--keep leaves everything running until SIGTERM, which stops every process', async () => {
    const child = spawn(process.execPath, [BIN, 'demo', '--json', '--keep', '--messages', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`demo exited early with ${code}`)));
    });
    const r = JSON.parse(line) as { hubs: { url: string }[]; meshes: { controlUrl: string }[] };
    const health = (url: string) =>
      fetch(`${url.replace(/^ws/, 'http')}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
        (res) => res.ok,
        () => false,
      );
    // Still up after the summary.
    expect(await Promise.all(r.hubs.map((h) => health(h.url)))).toEqual([true, true, true]);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    await exited;
    expect(await Promise.all(r.hubs.map((h) => health(h.url)))).toEqual([false, false, false]);
    expect(await Promise.all(r.meshes.map((m) => health(m.controlUrl)))).toEqual(r.meshes.map(() => false));
  }, 200_000);
});
