/**
 * `fmp hub start`: a federation hub from its config file: the store (SQLite under dataDir, or
 * PostgreSQL), the did:mesh registry over it (with this hub's own identity and any configured logs
 * imported), and the hub server on one port.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHub, type Hub, hubStoreFrom, ledgerOrigin } from '@fmp/hub';
import { jsonlMeshStore, MeshRegistry } from '@fmp/identity';
import { openStore } from '@fmp/store';
import pino from 'pino';
import { IDENTITY_LOG } from './commands/init.js';
import { type HubConfig, resolvePath } from './config.js';
import { UsageError } from './errors.js';
import { readKeyFile } from './keyfile.js';

export interface RunningHub {
  hub: Hub;
  url: string;
  httpUrl: string;
  stop(): Promise<void>;
}

async function readLog(path: string): Promise<unknown[]> {
  const registry = await MeshRegistry.open({ store: jsonlMeshStore({ path }) });
  try {
    return registry.exportLog();
  } finally {
    await registry.close();
  }
}

export async function startHubProcess(config: HubConfig & { configDir: string }): Promise<RunningHub> {
  const key = readKeyFile(resolvePath(config.configDir, config.keyFile));
  if (key.did !== config.did) throw new UsageError(`key file is for ${key.did}, config says ${config.did}`);
  const dataDir = resolvePath(config.configDir, config.dataDir);
  const store = await openStore(
    config.store.kind === 'postgres'
      ? {
          kind: 'postgres',
          url: config.store.url,
          ...(config.store.schema ? { schema: config.store.schema } : {}),
        }
      : { kind: 'sqlite', path: join(dataDir, 'hub.db') },
  );
  try {
    const registry = await MeshRegistry.open({ store: store.meshOperations });
    const logs = [
      join(config.configDir, IDENTITY_LOG),
      ...config.importIdentities.map((p) => resolvePath(config.configDir, p)),
    ];
    for (const path of logs) {
      if (!existsSync(path)) {
        if (path === logs[0]) continue;
        throw new UsageError(`importIdentities: ${path} does not exist`);
      }
      await registry.importLog(await readLog(path));
    }
    const adminToken = config.adminTokenFile
      ? readFileSync(resolvePath(config.configDir, config.adminTokenFile), 'utf8').trim()
      : undefined;
    const hub = createHub({
      did: config.did,
      keyPair: key.keyPair,
      region: config.region,
      host: config.listen.host,
      port: config.listen.port,
      ...(config.listen.grpcPort === undefined ? {} : { grpcPort: config.listen.grpcPort }),
      trustedIssuers: config.trustedIssuers,
      peers: config.peers,
      registry,
      store: hubStoreFrom(store),
      limits: config.limits,
      ...(config.rateLimit ? { rateLimit: config.rateLimit } : {}),
      ...(adminToken ? { adminToken } : {}),
      trust: {
        recomputeMs: config.trust.recomputeMs,
        persistMs: config.trust.persistMs,
        routinePersistMs: config.trust.routinePersistMs,
        options: {
          attestationBudget: config.trust.attestationBudget,
          ...(config.trust.weights ? { weights: config.trust.weights } : {}),
        },
      },
      logger: pino({ level: config.logLevel, base: { hub: config.did } }),
      ledger: {
        ...config.ledger,
        // The ledger's leaves live in the hub's store, under the log's origin.
        storage: store.ledgerLogs.open(
          ledgerOrigin(config.ledger.role === 'mirror' ? config.ledger.sequencer!.did : config.did),
        ),
      },
    });
    let started: { url: string; httpUrl: string };
    try {
      started = await hub.start();
    } catch (err) {
      await hub.stop().catch(() => {});
      throw err;
    }
    const { url, httpUrl } = started;
    return {
      hub,
      url,
      httpUrl,
      async stop() {
        await hub.stop();
        await registry.close().catch(() => {});
        await store.close().catch(() => {});
      },
    };
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
}
