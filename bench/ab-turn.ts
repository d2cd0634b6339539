/**
 * Turn-taking with another benchmark process (bench/ab.ts): with FMP_BENCH_AB=<port>, a loopback
 * connection to the coordinator; `turn()` asks for the next turn and resolves when it is granted.
 * Without it, turn() resolves at once.
 */
import { connect, type Socket } from 'node:net';

let socket: Promise<Socket> | undefined;
let waiting: (() => void) | undefined;

export async function turn(): Promise<void> {
  const port = Number(process.env.FMP_BENCH_AB);
  if (!port) return;
  socket ??= new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(process.env.FMP_BENCH_AB_ID ?? '0');
      resolve(s);
    });
    s.setNoDelay(true);
    s.on('error', reject);
    s.on('data', (d) => {
      for (let i = 0; i < d.length; i++) {
        const w = waiting;
        waiting = undefined;
        w?.();
      }
    });
    s.unref();
  });
  const s = await socket;
  return new Promise((resolve) => {
    waiting = resolve;
    s.write('x');
  });
}
