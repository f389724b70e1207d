/**
 * What every command group of the CLI is given: its options with the configuration, one Temporal
 * client for the whole run (connected on first use), and the check that a worker polls the task queue.
 */
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { TicklakeConfig } from '../config';
import { connectClient, loadConfig } from './lazy';
import type { OutputOptions } from './output';
import { livePollers, START_A_WORKER } from './worker-presence';

/** The global options (--json, --verbose) and the configuration. */
export interface Globals extends OutputOptions {
  config: TicklakeConfig;
}

export interface CliContext {
  globals(cmd: Command): Globals;
  /** The run's Temporal client, connected on the first call. */
  client(g: { config: TicklakeConfig }): Promise<Client>;
  /** Warns (on stderr) when no worker polls the task queue: workflows would wait forever. Returns whether one polls. */
  warnWithoutWorker(g: Globals): Promise<boolean>;
  /** Closes the client's connection, if one was made. */
  close(): Promise<void>;
}

export function createCliContext(): CliContext {
  let clientPromise: Promise<Client> | undefined;
  const client = (g: { config: TicklakeConfig }) => (clientPromise ??= connectClient(g.config.temporal));
  return {
    globals(cmd) {
      const o = cmd.optsWithGlobals<{ json?: boolean; verbose?: boolean }>();
      return { json: o.json, verbose: o.verbose, config: loadConfig() };
    },
    client,
    async warnWithoutWorker(g) {
      const c = await client(g);
      const res = await c.workflowService.describeTaskQueue({
        namespace: g.config.temporal.namespace,
        taskQueue: { name: g.config.temporal.taskQueue },
        taskQueueType: 1,
      });
      if (livePollers(res.pollers, Date.now()) === 0) {
        console.error(`note: no worker polls task queue '${g.config.temporal.taskQueue}'; ${START_A_WORKER}`);
        return false;
      }
      return true;
    },
    async close() {
      if (clientPromise) await (await clientPromise.catch(() => undefined))?.connection.close();
    },
  };
}
