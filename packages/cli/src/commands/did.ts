/** `fmp did create` and `fmp did resolve`. The JSON shapes are a contract scripts depend on. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ed25519, encodeMultikey } from '@fmp/core';
import { buildMeshCreate, didKeyFromEd25519PublicKey } from '@fmp/identity';
import type { Command } from 'commander';
import { dataDir, localResolver, openMeshRegistry } from '../data.js';
import { UsageError } from '../errors.js';
import { writeKeyFile } from '../keyfile.js';
import type { CommandContext } from '../main.js';
import { collect } from '../options.js';

interface CreateOptions {
  method: string;
  name?: string;
  out: string;
  service?: string[];
  json?: boolean;
  dataDir?: string;
  force?: boolean;
}

export function registerDidCommands(program: Command, ctx: CommandContext): void {
  const did = program.command('did').description('create and resolve decentralized identifiers');

  did
    .command('create')
    .description('create a DID and write its key file (mode 0600)')
    .requiredOption('--method <method>', 'key | mesh')
    .requiredOption('--out <file>', 'where to write the key file')
    .option('--name <category:name>', 'for did:mesh, e.g. enterprise:acme-001')
    .option('--service <url>', 'for did:mesh, a FederationEndpoint service URL (repeatable)', collect)
    .option('--data-dir <dir>', 'local state (the did:mesh registry); default $FMP_DATA_DIR or ./.fmp')
    .option('--force', 'overwrite an existing key file')
    .option('--json', 'print JSON')
    .action(async (opts: CreateOptions) => {
      const out = resolve(opts.out);
      if (existsSync(out) && !opts.force) throw new UsageError(`${out} exists; pass --force to overwrite it`);
      const keyPair = ed25519.generateKeyPair();
      let didDocument: unknown;
      let didValue: string;
      let verificationMethod: string;
      let nextKeyPair: ReturnType<typeof ed25519.generateKeyPair> | undefined;
      if (opts.method === 'key') {
        didValue = didKeyFromEd25519PublicKey(keyPair.publicKey);
        verificationMethod = `${didValue}#${encodeMultikey('ed25519-pub', keyPair.publicKey)}`;
        const registry = await openMeshRegistry(dataDir(opts.dataDir));
        try {
          didDocument = (await localResolver(registry).resolve(didValue)).didDocument;
        } finally {
          await registry.close();
        }
      } else if (opts.method === 'mesh') {
        if (!opts.name) throw new UsageError('--method mesh needs --name <category:name>');
        didValue = `did:mesh:${opts.name}`;
        nextKeyPair = ed25519.generateKeyPair();
        const registry = await openMeshRegistry(dataDir(opts.dataDir));
        try {
          await registry.append(
            buildMeshCreate({
              did: didValue,
              key: keyPair,
              nextPublicKey: nextKeyPair.publicKey,
              services: (opts.service ?? []).map((url, i) => ({
                id: i === 0 ? '#federation' : `#federation-${i + 1}`,
                type: 'FederationEndpoint',
                serviceEndpoint: url,
              })),
            }),
          );
          const result = await localResolver(registry).resolve(didValue);
          didDocument = result.didDocument;
          const vm = (result.didDocument?.authentication ?? [])[0];
          verificationMethod = typeof vm === 'string' ? vm : (vm?.id ?? `${didValue}#key-1`);
          if (verificationMethod.startsWith('#')) verificationMethod = `${didValue}${verificationMethod}`;
        } finally {
          await registry.close();
        }
      } else {
        throw new UsageError(`--method must be key or mesh (got ${opts.method})`);
      }
      writeKeyFile(out, {
        did: didValue,
        verificationMethod,
        keyPair,
        ...(nextKeyPair ? { nextKeyPair } : {}),
      });
      if (opts.json) ctx.io.out(JSON.stringify({ did: didValue, didDocument, keyFile: out }, null, 2));
      else ctx.io.out(`${didValue}\nkey file: ${out}`);
    });

  did
    .command('resolve <did>')
    .description('resolve a DID to its document (W3C DID Resolution result)')
    .option('--data-dir <dir>', 'local state (the did:mesh registry)')
    .option('--version-id <n>', 'an earlier document: the one after operation n (did:mesh)')
    .option('--version-time <time>', 'an earlier document: the one in force at this RFC 3339 time')
    .option('--json', 'print the whole resolution result as JSON')
    .action(
      async (
        didValue: string,
        opts: { json?: boolean; dataDir?: string; versionId?: string; versionTime?: string },
      ) => {
        const registry = await openMeshRegistry(dataDir(opts.dataDir));
        try {
          const result = await localResolver(registry).resolve(didValue, {
            ...(opts.versionId !== undefined ? { versionId: opts.versionId } : {}),
            ...(opts.versionTime !== undefined ? { versionTime: opts.versionTime } : {}),
          });
          const { didDocument, didResolutionMetadata, didDocumentMetadata } = result;
          if (opts.json) {
            ctx.io.out(JSON.stringify({ didDocument, didResolutionMetadata, didDocumentMetadata }, null, 2));
          } else if (didResolutionMetadata.error) {
            ctx.io.err(`${didResolutionMetadata.error}: ${didResolutionMetadata.message ?? ''}`);
          } else {
            ctx.io.out(JSON.stringify(didDocument, null, 2));
          }
          if (didResolutionMetadata.error) ctx.exitCode = 1;
        } finally {
          await registry.close();
        }
      },
    );
}
