/**
 * How a node resolves DIDs: did:key locally; did:mesh by fetching the DID's operation log from
 * its hub (`GET /v1/identities/{did}/log`) and re-verifying every operation locally with
 * verifyMeshLog, so a hub can withhold a log but cannot forge keys.
 */
import {
  createDidResolver,
  DidFetchError,
  DidFetchTimeoutError,
  type DidMethod,
  DidNotFoundError,
  type DidResolver,
  DidResponseTooLargeError,
  didKey,
  type FetchFunction,
  missingVersion,
  operationsThrough,
  parseMeshVersion,
  verifyMeshLog,
} from '@fmp/identity';

export interface HubMeshMethodOptions {
  /** The hub's HTTP base URL (http://host:port). */
  readonly hubHttpUrl: string;
  readonly fetch?: FetchFunction;
  /** Default 5,000 ms. */
  readonly timeoutMs?: number;
  /** Default 1 MiB. */
  readonly maxResponseBytes?: number;
}

/** did:mesh resolved through the hub's op log, verified here. */
export function hubMeshMethod(options: HubMeshMethodOptions): DidMethod {
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  const base = options.hubHttpUrl.replace(/\/+$/, '');
  return {
    method: 'mesh',
    versions: true,
    async resolve(parsed, resolveOptions) {
      const version = parseMeshVersion(resolveOptions);
      const url = `${base}/v1/identities/${encodeURIComponent(parsed.did)}/log`;
      let response: Response;
      try {
        response = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (cause) {
        if (cause instanceof Error && cause.name === 'TimeoutError') {
          throw new DidFetchTimeoutError(`${url} did not answer in ${timeoutMs} ms`, { cause });
        }
        throw new DidFetchError(`cannot fetch ${url}`, undefined, { cause });
      }
      if (response.status === 404) throw new DidNotFoundError(`${parsed.did} is not registered at the hub`);
      if (!response.ok) throw new DidFetchError(`${url} answered ${response.status}`, response.status);
      const text = await response.text();
      if (text.length > maxBytes)
        throw new DidResponseTooLargeError(`${url} answered more than ${maxBytes} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (cause) {
        throw new DidFetchError(`${url} did not answer JSON`, response.status, { cause });
      }
      const ops = (body as { operations?: unknown })?.operations;
      if (!Array.isArray(ops)) throw new DidFetchError(`${url} did not answer an operation list`);
      // Every operation re-verified here (MeshLogCorruptError when the hub sent a forged log); an
      // earlier version is the log up to it, verified the same way.
      const n = version ? operationsThrough(ops as { timestamp: string }[], version) : ops.length;
      if (version && n === 0) throw missingVersion(parsed.did, version);
      const state = verifyMeshLog(ops.slice(0, n)).get(parsed.did);
      if (!state) throw new DidNotFoundError(`${parsed.did} is not in the log the hub sent`);
      return { didDocument: state.document, didDocumentMetadata: state.documentMetadata };
    },
  };
}

export function hubBackedResolver(options: HubMeshMethodOptions): DidResolver {
  return createDidResolver({
    methods: [hubMeshMethod(options), didKey()],
    cache: { ttlMs: 300_000, maxEntries: 10_000 },
  });
}
