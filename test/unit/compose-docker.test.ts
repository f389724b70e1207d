import './support/default-ports';
/**
 * docker-compose.yml describes the same services as `npm run services`: same names, versions, host
 * ports (each published on 127.0.0.1 only) and Temporal search attributes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { LOCAL_PORTS, localPorts } from '../../src/config';
import { SERVICES, SERVICE_NAMES, TEMPORAL_SEARCH_ATTRIBUTES, VERSIONS } from '../../src/services/definitions';

interface ComposeService {
  image: string;
  command?: string[];
  ports?: string[];
}

const compose = parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'docker-compose.yml'), 'utf8'), {
  strict: true,
  uniqueKeys: true,
}) as { name?: string; services: Record<string, ComposeService> };

/** The native services' ports without TICKLAKE_PORT_OFFSET, which shifts them but not docker-compose.yml. */
const offset = LOCAL_PORTS.temporal - localPorts(0).temporal;
const nativePorts = (name: (typeof SERVICE_NAMES)[number]) => SERVICES[name].ports.map((p) => p.port - offset).sort();

/** '127.0.0.1:9092:9092' → host address, host port, container port. */
function published(spec: string): { host: string; hostPort: number; containerPort: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+):(\d+)(?:\/tcp)?$/.exec(spec);
  if (!m) throw new Error(`port '${spec}' is not of the form <address>:<host port>:<container port>`);
  return { host: m[1], hostPort: Number(m[2]), containerPort: Number(m[3]) };
}

describe('docker-compose.yml', () => {
  it('parses and has one service per native service', () => {
    expect(compose.name).toBe('ticklake');
    expect(Object.keys(compose.services).sort()).toEqual([...SERVICE_NAMES].sort());
  });

  it.each([...SERVICE_NAMES])('publishes the native host ports of %s, on 127.0.0.1 only', (name) => {
    const ports = (compose.services[name].ports ?? []).map(published);
    for (const p of ports) expect(p.host).toBe('127.0.0.1');
    // Same port inside and out, so the addresses the services advertise hold on both sides.
    for (const p of ports) expect(p.containerPort).toBe(p.hostPort);
    expect(ports.map((p) => p.hostPort).sort()).toEqual(nativePorts(name));
  });

  it('names the well-known ports: Temporal 7233 and UI 8233, Kafka 9092, S3 9000, moto 5000', () => {
    const all = new Set(
      Object.values(compose.services).flatMap((s) => (s.ports ?? []).map((p) => published(p).hostPort)),
    );
    const base = localPorts(0);
    for (const port of [base.temporal, base.temporalUi, base.kafka, base.s3, base.moto]) expect(all).toContain(port);
    expect([base.temporal, base.temporalUi, base.kafka, base.s3, base.moto]).toEqual([7233, 8233, 9092, 9000, 5000]);
  });

  it('runs the same versions', () => {
    const tag = (name: string) => compose.services[name].image.split(':')[1];
    expect(tag('temporal')).toBe(VERSIONS.temporal);
    expect(tag('kafka')).toBe(VERSIONS.kafka);
    expect(tag('s3')).toBe(`v${VERSIONS.versitygw}`);
    expect(tag('moto')).toBe(VERSIONS.moto);
  });

  it('registers the search attributes the workflows set', () => {
    const command = compose.services.temporal.command ?? [];
    const registered = command
      .filter((arg) => arg.startsWith('--search-attribute='))
      .map((arg) => arg.slice('--search-attribute='.length))
      .sort();
    expect(registered).toEqual(
      Object.entries(TEMPORAL_SEARCH_ATTRIBUTES)
        .map(([k, v]) => `${k}=${v}`)
        .sort(),
    );
  });
});
