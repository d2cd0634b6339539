/**
 * Two versions of a latency benchmark, compared on the same minutes of this shared machine:
 * `npx tsx bench/ab.ts <other checkout> [n] [mcp|handshake]` runs `bench/mcp.ts n` (the federated
 * tools/call, the default) or `bench/network.ts handshake n` (the wire handshake) here and in the
 * other checkout (a `git worktree` of the version to compare, with its node_modules) at the same
 * time, and lets them take turns call by call or handshake by handshake (bench/ab-turn.ts), so that
 * both see the same machine load; run one after the other, the same version moved by 2x between
 * runs here. Each prints its figures; the CPU per call of each process is its own.
 *
 * Not fair to a change that moves work to a timer (a receipt or a store write sent a few ms later):
 * that work then runs in the other version's turn and is charged to it. Such changes need runs one
 * after the other, several of each, alternated.
 */
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const [other, n = '500', what = 'mcp'] = process.argv.slice(2);
if (!other || (what !== 'mcp' && what !== 'handshake')) {
  throw new Error('usage: npx tsx bench/ab.ts <other checkout> [n] [mcp|handshake]');
}
const args = what === 'mcp' ? ['tsx', 'bench/mcp.ts', n] : ['tsx', 'bench/network.ts', 'handshake', n];
const dirs = [fileURLToPath(new URL('..', import.meta.url)), other];

// The coordinator: one turn at a time; whoever finished a turn goes after the other one waiting.
let holder = -1;
const queue: number[] = [];
const sockets: Socket[] = [];
const grant = () => {
  if (holder !== -1 || queue.length === 0) return;
  holder = queue.shift()!;
  sockets[holder]?.write('x');
};
const request = (id: number, count: number) => {
  for (let k = 0; k < count; k++) {
    if (holder === id) holder = -1;
    queue.push(id);
    queue.sort((x, y) => (x === id ? 1 : 0) - (y === id ? 1 : 0));
    grant();
  }
};
const server = createServer((s) => {
  s.setNoDelay(true);
  let id = -1;
  s.once('data', (d: Buffer) => {
    id = Number(String.fromCharCode(d[0]!));
    sockets[id] = s;
    if (d.length > 1) request(id, d.length - 1);
    s.on('data', (more: Buffer) => request(id, more.length));
  });
  s.on('close', () => {
    if (holder === id) holder = -1;
    const q = queue.indexOf(id);
    if (q >= 0) queue.splice(q, 1);
    grant();
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;

const outputs = await Promise.all(
  dirs.map(
    (dir, i) =>
      new Promise<string>((resolve) => {
        const child = spawn('npx', args, {
          cwd: dir,
          env: { ...process.env, FMP_BENCH_AB: String(port), FMP_BENCH_AB_ID: String(i) },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.on('exit', () => resolve(out));
      }),
  ),
);
server.close();
outputs.forEach((out, i) => {
  const start = out.indexOf('{');
  if (start < 0) {
    process.stdout.write(`${dirs[i]}: no result\n${out.slice(0, 2000)}\n`);
    return;
  }
  if (what === 'handshake') {
    const h = (
      JSON.parse(out.slice(start)) as {
        wsRtt: { p50Ms: number };
        handshake: { p50Ms: number; p95Ms: number; p99Ms: number; cpuMs: Record<string, number> };
      }
    ).handshake;
    const cpu = Object.entries(h.cpuMs)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ');
    process.stdout.write(
      `${dirs[i]}: handshake p50 ${h.p50Ms.toFixed(3)} ms, p95 ${h.p95Ms.toFixed(3)}, p99 ${h.p99Ms.toFixed(3)}; CPU ms per handshake: ${cpu}\n`,
    );
    return;
  }
  const r = JSON.parse(out.slice(start)) as {
    addedP50Ms: number;
    federated: { p50Ms: number };
    direct: { p50Ms: number };
    rawChain: { p50Ms: number };
    failures: number;
    cpuMsPerCall: Record<string, number>;
    /** Absent in versions before the stdio loop. */
    stdio?: { addedP50Ms: number; federated: { p50Ms: number }; direct: { p50Ms: number } };
  };
  const cpu = Object.entries(r.cpuMsPerCall)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  process.stdout.write(
    `${dirs[i]}: added p50 ${r.addedP50Ms.toFixed(3)} ms (federated ${r.federated.p50Ms.toFixed(3)}, direct ${r.direct.p50Ms.toFixed(3)}, raw chain ${r.rawChain.p50Ms.toFixed(3)}); CPU ms per call: ${cpu}; failures ${r.failures}${r.stdio ? `; stdio: added p50 ${r.stdio.addedP50Ms.toFixed(3)} ms (federated ${r.stdio.federated.p50Ms.toFixed(3)}, direct ${r.stdio.direct.p50Ms.toFixed(3)})` : ''}\n`,
  );
});
