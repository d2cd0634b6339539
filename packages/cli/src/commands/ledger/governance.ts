/** `fmp gov propose|vote|review|status|tally` and `fmp dispute open|rule|status`. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { CommandContext } from '../../main.js';
import { collect } from '../../options.js';
import { hubOf, LedgerClient, type ProposalView } from './client.js';
import { basisPoints, type ProposeOptions, proposalBody } from './entries.js';
import {
  guarded,
  iso,
  type ReadOptions,
  readOptions,
  type SignOptions,
  signOptions,
  submitEntry,
} from './shared.js';
import { tallyProposal } from './verify.js';

const PROPOSAL_ID = /^P-\d{1,15}$/;
const DISPUTE_ID = /^D-\d{1,15}$/;

function proposalId(text: string): string {
  if (!PROPOSAL_ID.test(text)) throw new UsageError(`${text}: a proposal id like P-12`);
  return text;
}

function disputeId(text: string): string {
  if (!DISPUTE_ID.test(text)) throw new UsageError(`${text}: a dispute id like D-40`);
  return text;
}

function oneOf<T extends string>(text: string, choices: readonly T[], what: string): T {
  if (!(choices as readonly string[]).includes(text))
    throw new UsageError(`${what}: one of ${choices.join(', ')}`);
  return text as T;
}

function tallyLine(p: ProposalView): string {
  return `for ${p.for}, against ${p.against}, abstain ${p.abstain} (${p.ballots} ballots)`;
}

function proposalLines(p: ProposalView): string[] {
  const reviews = Object.entries((p.reviews as Record<string, string> | undefined) ?? {});
  const quorum = p.quorumReached === null ? 'open' : p.quorumReached ? 'reached' : 'not reached';
  return [
    `${p.id} ${p.title}`,
    `  stage      ${p.status}`,
    `  kind       ${p.kind}, proposed by ${p.proposer}`,
    `  action     ${JSON.stringify(p.action)}`,
    `  created    ${iso(p.createdAt)}`,
    `  review     ${iso(p.reviewStart)}`,
    `  vote       ${iso(p.voteStart)} to ${iso(p.voteEnd)}`,
    `  effective  ${iso(p.effectiveAt)}`,
    `  tally      ${tallyLine(p)}`,
    `  quorum     ${quorum}${p.eligible !== undefined ? ` (eligible ${p.eligible})` : ''}`,
    ...reviews.map(([did, verdict]) => `  review by  ${did}: ${verdict}`),
    ...(p.reason ? [`  reason     ${p.reason}`] : []),
  ];
}

export function registerGovernanceCommands(program: Command, ctx: CommandContext): void {
  const gov = program
    .command('gov')
    .description('governance: proposals through draft, review, vote and rollout; ballots; recounts');

  signOptions(
    gov
      .command('propose')
      .description('a proposal: parameter changes, a treasury grant, or text')
      .requiredOption('--title <text>', 'the title (at most 200 characters)')
      .option('--description <text>', 'what and why')
      .option('--param <name=value>', 'a parameter change (repeatable), e.g. maxHops=3', collect)
      .option('--grant <did:amount>', 'a research grant from the treasury, e.g. did:key:z6Mk...:500')
      .option('--text', 'a text proposal (no action)'),
  ).action(
    guarded(ctx, async (opts: SignOptions & ProposeOptions) => {
      await submitEntry(ctx, opts, 'gov.propose', proposalBody(opts));
    }),
  );

  signOptions(
    gov
      .command('vote <proposalId> <choice>')
      .description('a ballot (for, against, abstain) in the vote stage'),
  ).action(
    guarded(ctx, async (id: string, choice: string, opts: SignOptions) => {
      await submitEntry(ctx, opts, 'gov.vote', {
        proposal: proposalId(id),
        choice: oneOf(choice, ['for', 'against', 'abstain'] as const, '<choice>'),
      });
    }),
  );

  signOptions(
    gov
      .command('review <proposalId> <verdict>')
      .description("a core maintainer's review (approve, reject) in the review stage"),
  ).action(
    guarded(ctx, async (id: string, verdict: string, opts: SignOptions) => {
      await submitEntry(ctx, opts, 'gov.review', {
        proposal: proposalId(id),
        verdict: oneOf(verdict, ['approve', 'reject'] as const, '<verdict>'),
      });
    }),
  );

  readOptions(
    gov.command('status [proposalId]').description('every proposal, or one: stage, times, tally'),
  ).action(
    guarded(ctx, async (id: string | undefined, opts: ReadOptions) => {
      const client = new LedgerClient(hubOf(opts));
      if (id !== undefined) {
        const p = await client.proposal(proposalId(id));
        ctx.io.out(opts.json ? JSON.stringify(p) : proposalLines(p).join('\n'));
        return;
      }
      const { proposals } = await client.proposals();
      if (opts.json) {
        ctx.io.out(JSON.stringify({ proposals }));
        return;
      }
      ctx.io.out(
        proposals
          .map(
            (p) =>
              `${p.id.padEnd(8)} ${p.status.padEnd(12)} vote ${iso(p.voteStart)} to ${iso(p.voteEnd)}  ${tallyLine(p)}  ${p.title}`,
          )
          .join('\n') || 'no proposals',
      );
    }),
  );

  readOptions(
    gov
      .command('tally <proposalId>')
      .description(
        "recounts the ballots from the checkpointed log and compares with the hub's figures (exit 1 if they differ)",
      ),
  )
    .option('--key <multikey>', "the log's Ed25519 public key (multikey)")
    .action(
      guarded(ctx, async (id: string, opts: ReadOptions) => {
        const report = await tallyProposal(new LedgerClient(hubOf(opts)), proposalId(id), opts.key);
        ctx.exitCode = report.agree ? 0 : 1;
        if (opts.json) {
          ctx.io.out(JSON.stringify(report));
          return;
        }
        const r = report.recomputed;
        ctx.io.out(
          [
            `${report.proposal}: recounted from ${report.leaves} entries`,
            `  ballots ${r.ballots}: for ${r.for}, against ${r.against}, abstain ${r.abstain}`,
            `  eligible at the snapshot ${r.eligible}, quorum ${r.quorumReached === null ? 'open' : r.quorumReached ? 'reached' : 'not reached'}`,
            ...report.differences.map((d) => `  DIFFERS ${d}`),
            report.agree ? "agrees with the hub's tally" : "DIFFERS from the hub's tally",
          ].join('\n'),
        );
      }),
    );

  const dispute = program
    .command('dispute')
    .description('disputes: opened with evidence, ruled by drawn arbitrators');
  signOptions(
    dispute
      .command('open <respondent>')
      .description('opens a dispute against a mesh; arbitrators are drawn by stake')
      .requiredOption('--claim <text>', 'what the respondent did')
      .option('--evidence <text>', 'evidence: a URL, a hash, a statement (repeatable)', collect)
      .requiredOption('--slash-bps <n>', "the slash asked for, in basis points of the respondent's stake"),
  ).action(
    guarded(
      ctx,
      async (
        respondent: string,
        opts: SignOptions & { claim: string; evidence?: string[]; slashBps: string },
      ) => {
        await submitEntry(ctx, opts, 'dispute.open', {
          respondent,
          claim: opts.claim,
          evidence: opts.evidence ?? [],
          slashBps: basisPoints(opts.slashBps),
        });
      },
    ),
  );
  signOptions(
    dispute
      .command('rule <disputeId> <decision>')
      .description("an arbitrator's ruling: uphold or dismiss")
      .option('--slash-bps <n>', 'when upholding: the slash, in basis points'),
  ).action(
    guarded(ctx, async (id: string, decision: string, opts: SignOptions & { slashBps?: string }) => {
      await submitEntry(ctx, opts, 'dispute.rule', {
        dispute: disputeId(id),
        decision: oneOf(decision, ['uphold', 'dismiss'] as const, '<decision>'),
        ...(opts.slashBps !== undefined ? { slashBps: basisPoints(opts.slashBps) } : {}),
      });
    }),
  );
  readOptions(
    dispute.command('status <disputeId>').description('a dispute: parties, arbitrators, rulings'),
  ).action(
    guarded(ctx, async (id: string, opts: ReadOptions) => {
      const d = await new LedgerClient(hubOf(opts)).dispute(disputeId(id));
      if (opts.json) {
        ctx.io.out(JSON.stringify(d));
        return;
      }
      ctx.io.out(
        [
          `${d.id} ${d.status}: ${d.claimant} against ${d.respondent}`,
          `  claim        ${d.claim}`,
          ...d.evidence.map((e) => `  evidence     ${e}`),
          `  asked        slash ${d.requestedBps} bps; slashed ${d.slashed} MESH`,
          `  opened       ${iso(d.openedAt)}, rulings due by ${iso(d.deadline)}`,
          `  arbitrators  ${d.arbitrators.join(', ') || 'none drawn'}`,
          ...Object.entries(d.rulings).map(
            ([did, r]) =>
              `  ruling       ${did}: ${r.decision}${r.decision === 'uphold' ? ` (${r.slashBps} bps)` : ''}`,
          ),
        ].join('\n'),
      );
    }),
  );
}
