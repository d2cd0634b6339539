/**
 * `npm run bench` / `fmp bench`: measures, writes bench/results/latest.json and docs/benchmarks.md.
 * Options: --quick (smaller counts, well under 60 s), --json (print the JSON).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { benchCore } from './core.js';
import { benchHandshake } from './handshake.js';
import { benchIdentity } from './identity.js';
import { renderMarkdown } from './report.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const minMs = quick ? 300 : 1500;
const n = quick ? 1000 : 5000;

const started = Date.now();
const log = (s: string) => {
  if (!args.has('--json')) process.stderr.write(`${s}\n`);
};
log(`fmp bench (${quick ? 'quick' : 'full'}) on ${cpus().length} cores, Node ${process.version}`);
log('core: raw Ed25519 baseline and envelopes...');
const core = benchCore(minMs);
log('identity: DID resolution and credential verification...');
const identity = await benchIdentity(n);
log('handshake: in-memory, three parties, real credential checks...');
const handshake = await benchHandshake(quick ? 200 : 1000);

const results = {
  date: new Date().toISOString(),
  quick,
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  durationS: Math.round((Date.now() - started) / 100) / 10,
  ...core,
  ...identity,
  handshake,
};

const url = (p: string) => new URL(p, import.meta.url);
mkdirSync(url('./results/'), { recursive: true });
writeFileSync(url('./results/latest.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(url('../docs/benchmarks.md'), renderMarkdown(results));
if (args.has('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else log(`wrote docs/benchmarks.md and bench/results/latest.json in ${results.durationS} s`);
