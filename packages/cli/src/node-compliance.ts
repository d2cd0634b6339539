/**
 * A node's compliance machinery from its config (docs/compliance.md): the adapters (built in and
 * the operator's modules), the Cedar policy files, and the audit trail and payload vault in a SQLite
 * file next to the config. Used by `fmp node start` and the `fmp audit` commands.
 */
import {
  AuditLog,
  type ComplianceAdapter,
  DEFAULT_ADAPTERS,
  loadAdapterModule,
  PayloadVault,
  PolicyEngine,
} from '@fmp/compliance';
import type { NodeComplianceOptions } from '@fmp/node';
import { openStore, type Store } from '@fmp/store';
import { type NodeConfig, resolvePath } from './config.js';

export interface NodeCompliance {
  readonly options: NodeComplianceOptions;
  readonly audit: AuditLog;
  readonly vault: PayloadVault | undefined;
  close(): Promise<void>;
}

/** The audit store of a node config (SQLite), opened on its own (for `fmp audit`). */
export async function openAuditStore(config: NodeConfig & { configDir: string }): Promise<Store> {
  return openStore({
    kind: 'sqlite',
    path: resolvePath(config.configDir, config.compliance.auditFile),
    synchronous: config.compliance.auditSync,
  });
}

export async function openNodeCompliance(
  config: NodeConfig & { configDir: string },
): Promise<NodeCompliance | undefined> {
  const c = config.compliance;
  if (!c.enabled) return undefined;
  // Policies and adapter modules first: a broken file stops the start before anything opens.
  const policy =
    c.policies.length > 0
      ? PolicyEngine.fromFiles(c.policies.map((p) => resolvePath(config.configDir, p)))
      : undefined;
  const extra: ComplianceAdapter[] = [];
  for (const p of c.adapters) extra.push(await loadAdapterModule(resolvePath(config.configDir, p)));
  const store = await openAuditStore(config);
  try {
    const audit = await AuditLog.open(store.audit);
    const vault = c.storePayloads ? new PayloadVault(store.vault) : undefined;
    return {
      options: {
        adapters: [...DEFAULT_ADAPTERS, ...extra],
        ...(policy ? { policy } : {}),
        audit,
        ...(vault ? { vault } : {}),
        ...(c.defaultContext ? { defaultContext: c.defaultContext } : {}),
        requireContext: c.requireContext,
        auditBefore: c.auditBefore,
      },
      audit,
      vault,
      async close() {
        await audit.close().catch(() => {});
        await store.close().catch(() => {});
      },
    };
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
}
