/**
 * Health checks: each answers "can a client use this service now?" quickly (a few seconds at most)
 * and says why not.
 */
import fs from 'node:fs';
import http from 'node:http';
import { Kafka, logLevel } from 'kafkajs';
import { LOCAL_PORTS } from '../config';
import { LOCAL_HOST, SERVICES, temporalBinaryIn, type ServiceName, type ServicePaths } from './definitions';
import { isPortOpen, runCaptured } from './process';

export interface HealthResult {
  healthy: boolean;
  /** Why it is not healthy. */
  reason?: string;
}

const HEALTHY: HealthResult = { healthy: true };

export async function checkHealth(name: ServiceName, paths: ServicePaths): Promise<HealthResult> {
  switch (name) {
    case 'temporal':
      return checkTemporal(paths);
    case 'kafka':
      return checkKafka();
    case 's3':
      return checkHttp(LOCAL_PORTS.s3);
    case 'moto':
      return checkHttp(LOCAL_PORTS.moto);
  }
}

async function checkTemporal(paths: ServicePaths): Promise<HealthResult> {
  const address = SERVICES.temporal.address;
  if (!(await isPortOpen(LOCAL_PORTS.temporal)))
    return { healthy: false, reason: `nothing accepts connections on ${address}` };
  const binary = temporalBinaryIn(paths.installDir);
  if (fs.existsSync(binary)) {
    // The frontend accepts connections before its services are ready; the health RPC knows.
    const result = await runCaptured(
      { command: binary, args: ['operator', 'cluster', 'health', '--address', address, '--output', 'json'] },
      { timeoutMs: 5000 },
    );
    const text = result.output.lines(20).join('\n');
    if (result.code !== 0 || !text.includes('SERVING')) {
      return {
        healthy: false,
        reason: `cluster health is not SERVING: ${text.split('\n')[0] || `exit code ${result.code}`}`,
      };
    }
  }
  const ui = await checkHttp(LOCAL_PORTS.temporalUi);
  return ui.healthy ? HEALTHY : { healthy: false, reason: `Web UI: ${ui.reason}` };
}

async function checkKafka(): Promise<HealthResult> {
  const broker = SERVICES.kafka.address;
  if (!(await isPortOpen(LOCAL_PORTS.kafka)))
    return { healthy: false, reason: `nothing accepts connections on ${broker}` };
  const kafka = new Kafka({
    clientId: 'ticklake-services-health',
    brokers: [broker],
    connectionTimeout: 2000,
    requestTimeout: 3000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) return { healthy: false, reason: 'no broker registered yet' };
    return HEALTHY;
  } catch (err) {
    return { healthy: false, reason: (err as Error).message };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Any HTTP response counts: S3 answers 403 to an anonymous request, which proves it is serving. */
function checkHttp(port: number, timeoutMs = 2000): Promise<HealthResult> {
  return new Promise((resolve) => {
    const request = http.get({ host: LOCAL_HOST, port, path: '/', agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(HEALTHY);
    });
    request.on('timeout', () => request.destroy(new Error(`no HTTP answer within ${timeoutMs} ms`)));
    request.on('error', (err) => resolve({ healthy: false, reason: `http://${LOCAL_HOST}:${port}/: ${err.message}` }));
  });
}
