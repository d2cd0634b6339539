// Only the parts of the Digital Bazaar VC stack that @fmp/identity uses. These packages ship no types.

/** A JSON-LD document as the libraries see it. */
type JsonLdObject = Record<string, unknown>;

/** `documentLoader(url)` result, the jsonld.js RemoteDocument shape. */
interface JsonLdRemoteDocument {
  contextUrl: string | null;
  documentUrl: string;
  document: unknown;
  tag?: string;
}
type JsonLdDocumentLoader = (url: string) => Promise<JsonLdRemoteDocument>;

/** The signer shape every suite accepts: `sign({data})` returns the raw signature bytes. */
interface LdSigner {
  id: string;
  algorithm: string;
  sign(options: { data: Uint8Array }): Promise<Uint8Array>;
}

/** A suite instance (Ed25519Signature2020, DataIntegrityProof): opaque to us. */
interface LdSuite {
  readonly type: string;
  verificationMethod?: string;
}

interface LdProofPurpose {
  readonly term: string;
}

interface LdProofResult {
  proof: JsonLdObject;
  verified: boolean;
  verificationMethod?: JsonLdObject & { id?: string; controller?: unknown };
  purposeResult?: { valid: boolean; controller?: JsonLdObject & { id?: string }; error?: unknown };
  error?: unknown;
}

interface LdVerifyResult {
  verified: boolean;
  results?: LdProofResult[];
  error?: unknown;
}

interface LdCryptosuite {
  readonly name: string;
  readonly requiredAlgorithm: string | string[];
}

declare module '@digitalbazaar/vc' {
  export function issue(options: {
    credential: JsonLdObject;
    suite: LdSuite;
    documentLoader?: JsonLdDocumentLoader;
    now?: string | Date;
    maxClockSkew?: number;
  }): Promise<JsonLdObject>;
  export function verifyCredential(options: {
    credential: unknown;
    suite: LdSuite | LdSuite[];
    documentLoader?: JsonLdDocumentLoader;
    checkStatus?: (options: Record<string, unknown>) => Promise<{ verified: boolean }>;
    now?: string | Date;
    maxClockSkew?: number;
  }): Promise<LdVerifyResult & { statusResult?: unknown }>;
}

declare module 'jsonld-signatures' {
  class ProofPurpose implements LdProofPurpose {
    readonly term: string;
  }
  class AssertionProofPurpose extends ProofPurpose {
    constructor(options?: { controller?: JsonLdObject; date?: Date; maxTimestampDelta?: number });
  }
  const jsigs: {
    sign(
      document: JsonLdObject,
      options: { suite: LdSuite; purpose: LdProofPurpose; documentLoader: JsonLdDocumentLoader },
    ): Promise<JsonLdObject>;
    verify(
      document: JsonLdObject,
      options: { suite: LdSuite | LdSuite[]; purpose: LdProofPurpose; documentLoader: JsonLdDocumentLoader },
    ): Promise<LdVerifyResult>;
    purposes: { AssertionProofPurpose: typeof AssertionProofPurpose };
  };
  export default jsigs;
}

declare module '@digitalbazaar/ed25519-signature-2020' {
  export class Ed25519Signature2020 implements LdSuite {
    constructor(options?: { signer?: LdSigner; date?: string | Date });
    readonly type: string;
    verificationMethod?: string;
  }
}

declare module '@digitalbazaar/data-integrity' {
  export class DataIntegrityProof implements LdSuite {
    constructor(options: { cryptosuite: LdCryptosuite; signer?: LdSigner; date?: string | Date | null });
    readonly type: string;
    verificationMethod?: string;
  }
}

declare module '@digitalbazaar/eddsa-rdfc-2022-cryptosuite' {
  export const cryptosuite: LdCryptosuite;
}

declare module '@digitalbazaar/eddsa-jcs-2022-cryptosuite' {
  export function createSignCryptosuite(): LdCryptosuite;
  export function createVerifyCryptosuite(): LdCryptosuite;
}

declare module '@digitalbazaar/vc-bitstring-status-list' {
  export class BitstringStatusList {
    constructor(options: { length?: number; buffer?: Uint8Array });
    readonly length: number;
    setStatus(index: number, status: boolean): void;
    getStatus(index: number): boolean;
    encode(): Promise<string>;
  }
  export function createList(options: { length: number }): Promise<BitstringStatusList>;
  export function decodeList(options: { encodedList: string }): Promise<BitstringStatusList>;
  export function checkStatus(options: {
    credential: unknown;
    documentLoader: JsonLdDocumentLoader;
    suite: LdSuite | LdSuite[];
    verifyBitstringStatusListCredential?: boolean;
    verifyMatchingIssuers?: boolean;
  }): Promise<{ verified: boolean; results?: { verified: boolean; status: boolean }[]; error?: unknown }>;
}

/** The context packages all export a map of context URL to context document. */
declare module '@digitalbazaar/credentials-context' {
  export const contexts: ReadonlyMap<string, JsonLdObject>;
}
declare module '@digitalbazaar/vc-bitstring-status-list-context' {
  export const contexts: ReadonlyMap<string, JsonLdObject>;
  export const CONTEXT_URL: string;
}
declare module '@digitalbazaar/data-integrity-context' {
  export const contexts: ReadonlyMap<string, JsonLdObject>;
}
declare module '@digitalbazaar/multikey-context' {
  export const contexts: ReadonlyMap<string, JsonLdObject>;
}
declare module 'ed25519-signature-2020-context' {
  export const contexts: ReadonlyMap<string, JsonLdObject>;
}
declare module 'did-context' {
  export const contexts: ReadonlyMap<string, JsonLdObject>;
}
