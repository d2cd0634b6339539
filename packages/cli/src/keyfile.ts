/**
 * Key files: one JSON document per identity, written with mode 0600 and refused when group- or
 * world-readable. The private key is the RFC 8032 seed as an `ed25519-priv` multikey. For did:mesh
 * the pre-committed next key (pre-rotation) is stored beside the current one.
 */
import { readFileSync, statSync } from 'node:fs';
import { decodeMultikey, type Ed25519KeyPair, ed25519, encodeMultikey } from '@fmp/core';
import { z } from 'zod';
import { KeyFileError } from './errors.js';
import { writeSecretFile } from './secrets.js';

const KeyFileSchema = z
  .object({
    version: z.literal(1),
    type: z.literal('Ed25519'),
    did: z.string().min(7).max(2048),
    verificationMethod: z.string().min(7).max(2048),
    publicKeyMultibase: z.string().startsWith('z').max(128),
    privateKeyMultibase: z.string().startsWith('z').max(128),
    nextPrivateKeyMultibase: z.string().startsWith('z').max(128).optional(),
  })
  .strict();
export type KeyFileContent = z.infer<typeof KeyFileSchema>;

export interface LoadedKey {
  did: string;
  verificationMethod: string;
  keyPair: Ed25519KeyPair;
  nextKeyPair?: Ed25519KeyPair;
}

function seedOf(text: string, what: string): Ed25519KeyPair {
  const { codec, key } = decodeMultikey(text);
  if (codec !== 'ed25519-priv') throw new KeyFileError(`${what} is not an ed25519-priv multikey`);
  return ed25519.keyPairFromSeed(key);
}

export function keyFileContent(key: LoadedKey): KeyFileContent {
  return {
    version: 1,
    type: 'Ed25519',
    did: key.did,
    verificationMethod: key.verificationMethod,
    publicKeyMultibase: encodeMultikey('ed25519-pub', key.keyPair.publicKey),
    privateKeyMultibase: encodeMultikey('ed25519-priv', key.keyPair.seed),
    ...(key.nextKeyPair
      ? { nextPrivateKeyMultibase: encodeMultikey('ed25519-priv', key.nextKeyPair.seed) }
      : {}),
  };
}

/** Writes atomically (temp file + rename) with mode 0600 from the first byte. */
export function writeKeyFile(path: string, key: LoadedKey): void {
  writeSecretFile(path, `${JSON.stringify(keyFileContent(key), null, 2)}\n`);
}

export function readKeyFile(path: string): LoadedKey {
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      throw new KeyFileError(
        `key file ${path} is accessible by others (mode ${mode.toString(8)}); run chmod 600`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    throw new KeyFileError(`cannot read key file ${path}`, { cause: err });
  }
  let parsed: KeyFileContent;
  try {
    parsed = KeyFileSchema.parse(JSON.parse(text));
  } catch (cause) {
    throw new KeyFileError(`key file ${path} is not a valid fmp key file`, { cause });
  }
  const keyPair = seedOf(parsed.privateKeyMultibase, 'privateKeyMultibase');
  if (encodeMultikey('ed25519-pub', keyPair.publicKey) !== parsed.publicKeyMultibase) {
    throw new KeyFileError(`key file ${path}: public key does not match the private key`);
  }
  return {
    did: parsed.did,
    verificationMethod: parsed.verificationMethod,
    keyPair,
    ...(parsed.nextPrivateKeyMultibase
      ? { nextKeyPair: seedOf(parsed.nextPrivateKeyMultibase, 'nextPrivateKeyMultibase') }
      : {}),
  };
}
