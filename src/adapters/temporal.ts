/** Temporal connections from the configuration (local dev server, self-hosted, or Temporal Cloud). */
import fs from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import type { TemporalConfig } from '../config';

function tlsOptions(cfg: TemporalConfig): ConnectionOptions['tls'] {
  if (!cfg.tls) return cfg.apiKey ? true : undefined;
  return {
    clientCertPair: { crt: fs.readFileSync(cfg.tls.certPath), key: fs.readFileSync(cfg.tls.keyPath) },
    serverRootCACertificate: cfg.tls.caPath ? fs.readFileSync(cfg.tls.caPath) : undefined,
  };
}

export async function connectClient(cfg: TemporalConfig): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: cfg.address,
      tls: tlsOptions(cfg),
      apiKey: cfg.apiKey,
      connectTimeout: '5 seconds',
    });
  } catch (err) {
    throw new Error(
      `cannot reach Temporal at ${cfg.address} (${(err as Error).message}); start the local services with 'npm run services -- up' or set TEMPORAL_ADDRESS`,
    );
  }
  return new Client({ connection, namespace: cfg.namespace });
}

export async function connectWorker(cfg: TemporalConfig): Promise<NativeConnection> {
  // Required here, not at the top: the worker's native library takes a third of a second to load, and
  // the CLI, which only connects clients, never needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NativeConnection: Native } = require('@temporalio/worker') as typeof import('@temporalio/worker');
  const options: NativeConnectionOptions = { address: cfg.address, tls: tlsOptions(cfg), apiKey: cfg.apiKey };
  try {
    return await Native.connect(options);
  } catch (err) {
    throw new Error(
      `cannot reach Temporal at ${cfg.address} (${(err as Error).message}); start the local services with 'npm run services -- up' or set TEMPORAL_ADDRESS`,
    );
  }
}
