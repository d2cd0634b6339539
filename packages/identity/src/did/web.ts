/**
 * did:web (https://w3c-ccg.github.io/did-method-web/): `did:web:example.com` →
 * `https://example.com/.well-known/did.json`; `did:web:example.com%3A8443:user:alice` →
 * `https://example.com:8443/user/alice/did.json`. The fetched document must name the DID as its id.
 */
import { DidHostRefusedError, InvalidDidDocumentError, InvalidDidError } from './errors.js';
import { fetchJson, type HttpOptions } from './http.js';
import type { DidMethod, DidMethodResolveOptions, DidMethodResult } from './method.js';
import { type ParsedDid, parseDid } from './parse.js';
import { type DidDocument, DidDocumentSchema, zodIssues } from './types.js';

export interface DidWebOptions extends HttpOptions {
  /**
   * Fetch `http://` for loopback hosts (localhost, 127.0.0.0/8, [::1]). For tests and local demos
   * only; everything else is always HTTPS.
   */
  readonly allowHttpLoopback?: boolean;
  /** Refuse hosts (e.g. internal names) before any request is made; return false to refuse. */
  readonly hostFilter?: (hostname: string) => boolean;
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`, 'i');
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' || hostname === '[::1]' || (IPV4.test(hostname) && hostname.startsWith('127.'))
  );
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (cause) {
    throw new InvalidDidError('did:web: bad percent-encoding', { cause });
  }
}

/** The HTTPS (or, for loopback with allowHttpLoopback, HTTP) URL of a did:web document. */
export function didWebToUrl(
  did: string | ParsedDid,
  options: Pick<DidWebOptions, 'allowHttpLoopback'> = {},
): URL {
  const parsed = typeof did === 'string' ? parseDid(did) : did;
  if (parsed.method !== 'web') throw new InvalidDidError('not a did:web');
  const [hostPart = '', ...pathParts] = parsed.id.split(':');
  const host = decodeSegment(hostPart);
  const portMatch = /^(.*?)(?::(\d{1,5}))?$/.exec(host)!;
  const hostname = portMatch[1]!.toLowerCase();
  const port = portMatch[2];
  const loopback = isLoopback(hostname);
  if (!(HOSTNAME.test(hostname) || hostname === '[::1]'))
    throw new InvalidDidError('did:web: invalid host name');
  if (IPV4.test(hostname) && !(loopback && options.allowHttpLoopback)) {
    throw new InvalidDidError('did:web: IP addresses are not accepted as hosts');
  }
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
    throw new InvalidDidError('did:web: bad port');
  const path = pathParts.map((segment) => {
    const decoded = decodeSegment(segment);
    if (decoded === '' || decoded === '.' || decoded === '..' || /[/\\?#]/.test(decoded)) {
      throw new InvalidDidError('did:web: invalid path segment');
    }
    return encodeURIComponent(decoded);
  });
  const scheme = loopback && options.allowHttpLoopback ? 'http' : 'https';
  const authority = port === undefined ? hostname : `${hostname}:${port}`;
  const pathname = path.length === 0 ? '/.well-known/did.json' : `/${path.join('/')}/did.json`;
  return new URL(`${scheme}://${authority}${pathname}`);
}

/** The did:web method driver. */
export function didWeb(options: DidWebOptions = {}): DidMethod {
  return {
    method: 'web',
    async resolve(did: ParsedDid, resolveOptions?: DidMethodResolveOptions): Promise<DidMethodResult> {
      const url = didWebToUrl(did, options);
      if (options.hostFilter && !options.hostFilter(url.hostname)) {
        throw new DidHostRefusedError(`did:web: host ${url.hostname} is refused by configuration`);
      }
      const body = await fetchJson(url.href, { ...options, signal: resolveOptions?.signal });
      const checked = DidDocumentSchema.safeParse(body);
      if (!checked.success) {
        throw new InvalidDidDocumentError(
          `did:web: ${url.href} is not a DID document`,
          zodIssues(checked.error),
        );
      }
      const document = checked.data as DidDocument;
      if (document.id !== did.did) {
        throw new InvalidDidDocumentError(`did:web: document id ${document.id} does not match ${did.did}`);
      }
      return { didDocument: document, didDocumentMetadata: {} };
    },
  };
}
