/**
 * Compute credits (spec 9.1: 100 MESH = 1 hour of federated compute): the caller's node meters the
 * federated tool calls it makes, per provider, and settles them on the ledger as signed
 * `compute.payment` entries (the ledger moves the price to the provider, 0.1% of it to the hubs on
 * the route). Only calls that ran (ok or a tool error) are charged; refusals cost nothing.
 */
import type { Ed25519KeyPair } from '@fmp/core';
import { type SignedEntry, signEntry } from '@fmp/ledger';

interface Owed {
  computeMs: number;
  calls: number;
  federationId: string | undefined;
  route: readonly string[];
}

/** The most providers metered at once (a bound on the map). */
export const MAX_METERED_PROVIDERS = 10_000;

/** The ledger as the meter needs it (the CLI's node process passes its home hub's HTTP client). */
export interface LedgerClient {
  /** The actor's next entry sequence number on the ledger. */
  nextSeq(did: string): Promise<number>;
  submit(entry: SignedEntry): Promise<{ index: number }>;
}

export class ComputeMeter {
  readonly #owed = new Map<string, Owed>();

  /** Records one call the partner ran for `durationMs`. */
  record(call: {
    provider: string;
    durationMs: number;
    federationId?: string | undefined;
    route?: readonly string[] | undefined;
  }): void {
    const ms = Math.max(1, Math.ceil(call.durationMs));
    const owed = this.#owed.get(call.provider);
    if (owed) {
      owed.computeMs += ms;
      owed.calls++;
      if (call.route?.length) owed.route = call.route;
      return;
    }
    if (this.#owed.size >= MAX_METERED_PROVIDERS) return;
    this.#owed.set(call.provider, {
      computeMs: ms,
      calls: 1,
      federationId: call.federationId,
      route: call.route ?? [],
    });
  }

  /** What is owed, per provider. */
  owed(): { provider: string; computeMs: number; calls: number }[] {
    return [...this.#owed].map(([provider, o]) => ({ provider, computeMs: o.computeMs, calls: o.calls }));
  }

  /**
   * Signs one payment per provider and submits them; a provider's debt is cleared once its payment
   * is on the ledger (a refusal, e.g. insufficient funds, keeps it owed and is reported).
   */
  async settle(
    payer: { did: string; keyPair: Ed25519KeyPair },
    ledger: LedgerClient,
  ): Promise<{
    paid: { provider: string; computeMs: number; index: number }[];
    failed: { provider: string; error: string }[];
  }> {
    const paid: { provider: string; computeMs: number; index: number }[] = [];
    const failed: { provider: string; error: string }[] = [];
    for (const [provider, o] of [...this.#owed]) {
      try {
        const seq = await ledger.nextSeq(payer.did);
        const entry = signEntry(
          {
            type: 'compute.payment',
            actor: payer.did,
            seq,
            body: {
              provider,
              computeMs: Math.min(o.computeMs, 30 * 86_400_000),
              route: [...new Set(o.route)].slice(0, 5),
              calls: o.calls,
              ...(o.federationId ? { federationId: o.federationId } : {}),
            },
          },
          payer.keyPair,
        );
        const { index } = await ledger.submit(entry);
        this.#owed.delete(provider);
        paid.push({ provider, computeMs: o.computeMs, index });
      } catch (err) {
        failed.push({ provider, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return { paid, failed };
  }
}
