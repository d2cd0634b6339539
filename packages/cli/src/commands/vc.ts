/** `fmp vc issue` and `fmp vc verify`. Output shapes and exit codes are a contract scripts depend on. */
import { readFileSync } from 'node:fs';
import {
  issueCredential,
  issueMeshAgentCredential,
  PROOF_SUITES,
  type ProofSuiteName,
  verifyCredential,
} from '@fmp/identity';
import type { Command } from 'commander';
import { dataDir, localResolver, openMeshRegistry } from '../data.js';
import { UsageError } from '../errors.js';
import { readKeyFile } from '../keyfile.js';
import type { CommandContext } from '../main.js';
import { collect } from '../options.js';

interface IssueOptions {
  key: string;
  subject: string;
  type?: string;
  capability?: string[];
  certification?: string[];
  trustLevel?: string;
  suite: string;
  expires?: string;
  dataModel: string;
  dataDir?: string;
}

function parseDate(text: string, what: string): Date {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new UsageError(`${what} is not an ISO date: ${text}`);
  return date;
}

export function registerVcCommands(program: Command, ctx: CommandContext): void {
  const vc = program.command('vc').description('issue and verify verifiable credentials');

  vc.command('issue')
    .description('issue a credential signed with a key file; prints the credential as JSON')
    .requiredOption('--key <file>', "the issuer's key file")
    .requiredOption('--subject <did>', 'the credential subject')
    .option('--type <type>', 'MeshAgentCredential for the fmp claims; plain otherwise')
    .option('--capability <name>', 'meshCapabilities entry (repeatable)', collect)
    .option('--certification <name>', 'complianceCertifications entry (repeatable)', collect)
    .option('--trust-level <0-100>', 'trustLevel')
    .option('--suite <suite>', PROOF_SUITES.join(' | '), 'Ed25519Signature2020')
    .option('--expires <iso-date>', 'expiration (validUntil)')
    .option('--data-model <version>', '1.1 | 2.0', '1.1')
    .option('--data-dir <dir>', 'local state (unused by issue; accepted for symmetry)')
    .action(async (opts: IssueOptions) => {
      if (!(PROOF_SUITES as readonly string[]).includes(opts.suite)) {
        throw new UsageError(`--suite must be one of ${PROOF_SUITES.join(', ')}`);
      }
      if (opts.dataModel !== '1.1' && opts.dataModel !== '2.0')
        throw new UsageError('--data-model must be 1.1 or 2.0');
      if (
        opts.type !== undefined &&
        opts.type !== 'MeshAgentCredential' &&
        opts.type !== 'VerifiableCredential'
      ) {
        throw new UsageError(
          '--type must be MeshAgentCredential (or VerifiableCredential for a plain credential)',
        );
      }
      const key = readKeyFile(opts.key);
      const signer = { keyPair: key.keyPair, issuer: key.did, verificationMethod: key.verificationMethod };
      const common = {
        signer,
        suite: opts.suite as ProofSuiteName,
        dataModel: opts.dataModel as '1.1' | '2.0',
        ...(opts.expires ? { validUntil: parseDate(opts.expires, '--expires') } : {}),
      };
      const fmpClaims =
        opts.type === 'MeshAgentCredential' ||
        opts.capability !== undefined ||
        opts.certification !== undefined ||
        opts.trustLevel !== undefined;
      let credential: unknown;
      if (fmpClaims) {
        const trustLevel = opts.trustLevel === undefined ? 0 : Number(opts.trustLevel);
        if (!Number.isInteger(trustLevel) || trustLevel < 0 || trustLevel > 100) {
          throw new UsageError('--trust-level must be an integer from 0 to 100');
        }
        credential = await issueMeshAgentCredential({
          ...common,
          subject: {
            id: opts.subject,
            meshCapabilities: opts.capability ?? [],
            complianceCertifications: opts.certification ?? [],
            trustLevel,
          },
        });
      } else {
        credential = await issueCredential({ ...common, subject: { id: opts.subject } });
      }
      ctx.io.out(JSON.stringify(credential, null, 2));
    });

  vc.command('verify <file>')
    .description('verify a credential (a file, or - for stdin); exit 0 verified, 1 not, 2 unreadable')
    .option('--trusted-issuer <did>', 'accept only these issuers (repeatable)', collect)
    .option('--data-dir <dir>', 'local state (the did:mesh registry used to resolve issuers)')
    .action(async (file: string, opts: { trustedIssuer?: string[]; dataDir?: string }) => {
      let text: string;
      try {
        text = file === '-' ? await ctx.io.readStdin() : readFileSync(file, 'utf8');
      } catch (cause) {
        throw new UsageError(`cannot read ${file}`, { cause });
      }
      let credential: unknown;
      try {
        credential = JSON.parse(text);
      } catch (cause) {
        throw new UsageError(`${file} is not JSON`, { cause });
      }
      const registry = await openMeshRegistry(dataDir(opts.dataDir));
      try {
        const resolver = localResolver(registry);
        const result = await verifyCredential(credential, {
          resolveDid: (did) => resolver.resolveDocument(did),
          ...(opts.trustedIssuer ? { trustedIssuers: opts.trustedIssuer } : {}),
        });
        ctx.io.out(JSON.stringify({ verified: result.verified, errors: result.errors }, null, 2));
        ctx.exitCode = result.verified ? 0 : 1;
      } finally {
        await registry.close();
      }
    });
}
