/**
 * The mesh ledger from the command line (docs/ledger.md, "CLI"): `fmp ledger checkpoint|verify|proof`
 * check a hub's log trusting it for nothing, `fmp token` and `fmp stake` sign entries for an
 * identity, and `fmp gov` / `fmp dispute` (./ledger/governance.ts) run governance.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CommandContext } from '../main.js';
import { didOf, hubOf, LedgerClient } from './ledger/client.js';
import { meshAmount } from './ledger/entries.js';
import { registerGovernanceCommands } from './ledger/governance.js';
import {
  guarded,
  iso,
  type ReadOptions,
  readOptions,
  type SignOptions,
  signOptions,
  submitEntry,
} from './ledger/shared.js';
import { fetchCheckpoint, proveEntry, verifyLedger } from './ledger/verify.js';

const KEY_HELP = "the log's Ed25519 public key (multikey); default: the key of the DID in the origin";

export function registerLedgerCommands(program: Command, ctx: CommandContext): void {
  const ledger = program
    .command('ledger')
    .description("a hub's verifiable ledger: its signed checkpoint, a full verification, inclusion proofs");

  readOptions(
    ledger
      .command('checkpoint')
      .description('the signed checkpoint: size, root, and the witnesses that cosigned it (checked)'),
  )
    .option('--key <multikey>', KEY_HELP)
    .action(
      guarded(ctx, async (opts: ReadOptions) => {
        const client = new LedgerClient(hubOf(opts));
        const cp = await fetchCheckpoint(client, opts.key);
        const witnesses = cp.witnesses.map((w) => ({
          name: w.name,
          ...(w.time !== undefined ? { time: iso(w.time * 1000) } : {}),
          status: w.status,
        }));
        // A witness that signed with its own key but whose signature fails is an alarm, not noise.
        if (cp.witnesses.some((w) => w.status === 'bad_signature')) ctx.exitCode = 1;
        if (opts.json) {
          ctx.io.out(
            JSON.stringify({
              origin: cp.origin,
              size: cp.size,
              rootHash: Buffer.from(cp.rootHash).toString('base64'),
              signedBy: cp.keySource,
              witnesses,
              note: cp.note,
            }),
          );
          return;
        }
        const lines = [
          `origin     ${cp.origin}`,
          `size       ${cp.size}`,
          `root       ${Buffer.from(cp.rootHash).toString('base64')}`,
          `signature  OK (${cp.keySource})`,
        ];
        if (witnesses.length === 0) lines.push('witnesses  none');
        for (const w of witnesses) lines.push(`witness    ${w.name} ${w.time ?? ''} ${w.status}`);
        ctx.io.out(lines.join('\n'));
      }),
    );

  readOptions(
    ledger
      .command('verify')
      .description(
        "downloads every entry: checks the checkpoint's signature and root, replays the state and compares it with the hub's (exit 1 on any mismatch)",
      ),
  )
    .option('--key <multikey>', KEY_HELP)
    .action(
      guarded(ctx, async (opts: ReadOptions) => {
        const report = await verifyLedger(new LedgerClient(hubOf(opts)), opts.key);
        ctx.exitCode = report.ok ? 0 : 1;
        if (opts.json) {
          ctx.io.out(JSON.stringify(report));
          return;
        }
        const lines = report.checks.map((c) => `${c.check.padEnd(10)} ${c.ok ? 'OK  ' : 'FAIL'} ${c.detail}`);
        if (report.counts) {
          const types = Object.entries(report.counts.byType)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([t, n]) => `${t} ${n}`)
            .join(', ');
          lines.push(`entries    ${report.counts.entries} (${types})`);
          lines.push(`proposals  ${report.counts.proposals}, disputes ${report.counts.disputes}`);
        }
        if (report.stateRoot) lines.push(`state root ${report.stateRoot}`);
        lines.push(report.ok ? 'OK' : 'FAIL');
        ctx.io.out(lines.join('\n'));
      }),
    );

  readOptions(
    ledger
      .command('proof <index>')
      .description("an entry with its inclusion proof, checked against the hub's signed checkpoint"),
  )
    .option('--key <multikey>', KEY_HELP)
    .action(
      guarded(ctx, async (indexText: string, opts: ReadOptions) => {
        if (!/^\d{1,15}$/.test(indexText)) throw new UsageError('<index>: an entry index (0, 1, ...)');
        const report = await proveEntry(new LedgerClient(hubOf(opts)), Number(indexText), opts.key);
        ctx.exitCode = report.ok ? 0 : 1;
        if (opts.json) {
          ctx.io.out(JSON.stringify(report));
          return;
        }
        const entry = report.decoded?.entry as { type: string; actor?: string; seq?: number } | undefined;
        ctx.io.out(
          [
            `entry      ${report.index}${entry ? ` ${entry.type}${entry.actor ? ` by ${entry.actor} (seq ${entry.seq})` : ''}` : ''}`,
            ...(report.decoded ? [`time       ${iso(report.decoded.time)}`] : []),
            `leaf hash  ${report.leafHash}`,
            `tree       size ${report.size}, root ${report.rootHash}`,
            `proof      ${report.proof.length} hashes`,
            ...report.proof.map((h) => `           ${h}`),
            `inclusion  ${report.ok ? 'OK' : `FAIL: ${report.problem}`}`,
            ...(report.decoded ? [JSON.stringify(report.decoded.entry, null, 2)] : []),
          ].join('\n'),
        );
      }),
    );

  const token = program.command('token').description('MESH balances and transfers on the ledger');
  signOptions(
    token
      .command('balance [did]')
      .description("an account: balance, stake, tier, next seq (default: the signer's)"),
  ).action(
    guarded(ctx, async (didArg: string | undefined, opts: SignOptions) => {
      const did = didArg ?? didOf(opts);
      if (!did)
        throw new UsageError('name the account: fmp token balance <did>, or --config / --key-file / --did');
      const a = await new LedgerClient(hubOf(opts)).account(did);
      if (opts.json) {
        ctx.io.out(JSON.stringify(a));
        return;
      }
      const lines = [
        `${a.did}`,
        `  balance   ${a.balance} MESH`,
        `  bonded    ${a.bonded} MESH (tier ${a.tier})`,
        ...a.unbonding.map((u) => `  unbonding ${u.amount} MESH until ${iso(u.releaseAt)}`),
        `  next seq  ${a.nextSeq}`,
      ];
      ctx.io.out(lines.join('\n'));
    }),
  );
  signOptions(token.command('transfer <to> <amount>').description('sends MESH to another account'))
    .option('--memo <text>', 'a note on the transfer (at most 200 characters)')
    .action(
      guarded(ctx, async (to: string, amount: string, opts: SignOptions & { memo?: string }) => {
        await submitEntry(ctx, opts, 'transfer', {
          to,
          amount: meshAmount(amount),
          ...(opts.memo !== undefined ? { memo: opts.memo } : {}),
        });
      }),
    );

  const stake = program.command('stake').description('bonded MESH: entry 100, certified 1,000, hub 10,000');
  signOptions(stake.command('bond <amount>').description('bonds MESH from the balance')).action(
    guarded(ctx, async (amount: string, opts: SignOptions) => {
      await submitEntry(ctx, opts, 'stake.bond', { amount: meshAmount(amount) });
    }),
  );
  signOptions(
    stake
      .command('unbond <amount>')
      .description('starts unbonding (slashable until the unbonding period ends)'),
  ).action(
    guarded(ctx, async (amount: string, opts: SignOptions) => {
      await submitEntry(ctx, opts, 'stake.unbond', { amount: meshAmount(amount) });
    }),
  );

  registerGovernanceCommands(program, ctx);
}
