import './support/default-ports';
/**
 * The configuration for running on AWS: profile `aws` (real endpoints, default credential chain,
 * Athena), Temporal Cloud over mTLS or an API key, Kafka with SSL and SASL/SCRAM (Amazon MSK).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

/** The least an `aws` profile needs; each test adds or removes what it is about. */
const AWS: NodeJS.ProcessEnv = {
  TICKLAKE_PROFILE: 'aws',
  TEMPORAL_ADDRESS: 'temporal.internal:7233',
  KAFKA_BROKERS: 'b-1.kafka.internal:9092,b-2.kafka.internal:9092',
  LAKE_BUCKET: 'acme-ticklake-lake',
  AWS_REGION: 'eu-west-1',
};

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

let dir: string;
let cert: string;
let key: string;
let ca: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-config-'));
  [cert, key, ca] = ['client.pem', 'client.key', 'ca.pem'].map((name) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, '-----BEGIN TEST-----\n-----END TEST-----\n');
    return file;
  });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('profile aws', () => {
  it('sets no endpoint and no static credentials, so the SDK talks to AWS with the default chain', () => {
    const c = loadConfig(AWS);
    expect(c.profile).toBe('aws');
    expect(c.aws).toEqual({
      region: 'eu-west-1',
      s3Endpoint: undefined,
      glueEndpoint: undefined,
      athenaEndpoint: undefined,
      credentials: undefined,
    });
  });

  it('queries with Athena by default, DuckDB on request', () => {
    expect(loadConfig(AWS).query.engine).toBe('athena');
    expect(loadConfig({ ...AWS, QUERY_ENGINE: 'duckdb' }).query.engine).toBe('duckdb');
    expect(loadConfig({}).query.engine).toBe('duckdb');
  });

  it('keeps a single endpoint override (an S3-compatible store, a VPC endpoint)', () => {
    const c = loadConfig({ ...AWS, S3_ENDPOINT: 'https://bucket.vpce-0123.s3.eu-west-1.vpce.amazonaws.com' });
    expect(c.aws.s3Endpoint).toBe('https://bucket.vpce-0123.s3.eu-west-1.vpce.amazonaws.com');
    expect(c.aws.glueEndpoint).toBeUndefined();
    expect(c.aws.credentials).toBeUndefined();
  });

  it('takes the workgroup and an s3:// result location', () => {
    const c = loadConfig({
      ...AWS,
      ATHENA_WORKGROUP: 'ticklake',
      ATHENA_OUTPUT_LOCATION: 's3://acme-ticklake-lake/athena-results/',
    });
    expect(c.athena).toEqual({ workgroup: 'ticklake', outputLocation: 's3://acme-ticklake-lake/athena-results/' });
    expect(configError({ ...AWS, ATHENA_OUTPUT_LOCATION: 'https://acme/athena/' })).toMatch(
      /ATHENA_OUTPUT_LOCATION must be an s3:\/\/ URL/,
    );
  });

  it('asks for the Temporal address, the brokers and the bucket instead of pointing at 127.0.0.1', () => {
    const { TEMPORAL_ADDRESS: _t, KAFKA_BROKERS: _k, LAKE_BUCKET: _b, ...bare } = AWS;
    expect(configError(bare)).toBe(
      'TICKLAKE_PROFILE=aws needs TEMPORAL_ADDRESS, KAFKA_BROKERS, LAKE_BUCKET: their defaults point at the local services; see docs/aws.md',
    );
    expect(configError({ ...AWS, KAFKA_BROKERS: '' })).toMatch(/needs KAFKA_BROKERS:/);
    // The local profile keeps its defaults.
    expect(loadConfig({}).kafka.brokers).toEqual(['127.0.0.1:9092']);
  });
});

describe('Temporal connection', () => {
  it('reads an mTLS pair (and a CA) from files that exist', () => {
    const c = loadConfig({ ...AWS, TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: ca });
    expect(c.temporal.tls).toEqual({ certPath: cert, keyPath: key, caPath: ca });
    expect(c.temporal.apiKey).toBeUndefined();
  });

  it('wants the certificate and the key together', () => {
    expect(configError({ ...AWS, TEMPORAL_TLS_CERT: cert })).toMatch(
      /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together/,
    );
    expect(configError({ ...AWS, TEMPORAL_TLS_KEY: key })).toMatch(
      /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together/,
    );
  });

  it('refuses a CA without a client pair, which would be ignored', () => {
    expect(configError({ ...AWS, TEMPORAL_TLS_CA: ca, TEMPORAL_API_KEY: 'k' })).toMatch(
      /TEMPORAL_TLS_CA is only used with TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY/,
    );
  });

  it('names a certificate file it cannot read', () => {
    const missing = path.join(dir, 'missing.pem');
    expect(configError({ ...AWS, TEMPORAL_TLS_CERT: missing, TEMPORAL_TLS_KEY: key })).toBe(
      `TEMPORAL_TLS_CERT: cannot read '${missing}' (ENOENT); give the path of a PEM file this user can read`,
    );
  });

  it('takes an API key alone (TLS is then on, with the system CAs)', () => {
    const c = loadConfig({
      ...AWS,
      TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233',
      TEMPORAL_NAMESPACE: 'ticklake.a1b2c',
      TEMPORAL_API_KEY: 'secret-key',
    });
    expect(c.temporal).toMatchObject({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      namespace: 'ticklake.a1b2c',
      apiKey: 'secret-key',
      tls: undefined,
    });
  });

  it('wants credentials and a namespace for Temporal Cloud', () => {
    const cloud = { ...AWS, TEMPORAL_ADDRESS: 'ticklake.a1b2c.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ticklake.a1b2c' };
    expect(configError(cloud)).toBe(
      'TEMPORAL_ADDRESS ticklake.a1b2c.tmprl.cloud:7233 is Temporal Cloud: set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (mTLS) or TEMPORAL_API_KEY',
    );
    expect(configError({ ...cloud, TEMPORAL_NAMESPACE: undefined, TEMPORAL_API_KEY: 'k' })).toMatch(
      /is Temporal Cloud: set TEMPORAL_NAMESPACE to your namespace id/,
    );
    expect(loadConfig({ ...cloud, TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key }).temporal.namespace).toBe(
      'ticklake.a1b2c',
    );
  });
});

describe('Kafka security', () => {
  const scram = { KAFKA_SSL: 'true', KAFKA_SASL_USERNAME: 'ticklake', KAFKA_SASL_PASSWORD: 'pw' };

  it('takes SASL/SCRAM over SSL, the mechanism in any case (MSK writes SCRAM-SHA-512)', () => {
    const c = loadConfig({ ...AWS, ...scram, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512' });
    expect(c.kafka.ssl).toBe(true);
    expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'ticklake', password: 'pw' });
    expect(loadConfig({ ...AWS, ...scram, KAFKA_SASL_MECHANISM: 'scram-sha-256' }).kafka.sasl?.mechanism).toBe(
      'scram-sha-256',
    );
  });

  it('takes SSL alone (MSK with TLS and unauthenticated access)', () => {
    const c = loadConfig({ ...AWS, KAFKA_SSL: 'true' });
    expect(c.kafka).toMatchObject({ ssl: true, sasl: undefined });
  });

  it('refuses MSK IAM (kafkajs does not speak it) and recommends SCRAM', () => {
    expect(configError({ ...AWS, KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'aws' })).toMatch(
      /^KAFKA_SASL_MECHANISM=aws is not supported: kafkajs has no built-in support for Amazon MSK's IAM authentication\. .* KAFKA_SASL_MECHANISM=scram-sha-512/,
    );
    expect(configError({ ...AWS, KAFKA_SASL_MECHANISM: 'AWS' })).toMatch(/KAFKA_SASL_MECHANISM=aws is not supported/);
  });

  it('names the mechanisms it knows', () => {
    expect(configError({ ...AWS, KAFKA_SASL_MECHANISM: 'gssapi' })).toMatch(
      /KAFKA_SASL_MECHANISM: KAFKA_SASL_MECHANISM must be 'plain', 'scram-sha-256' or 'scram-sha-512'/,
    );
  });

  it('wants the username and the password with a mechanism, and a mechanism with them', () => {
    expect(
      configError({ ...AWS, KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' }),
    ).toBe(
      'KAFKA_SASL_MECHANISM=scram-sha-512 needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (on MSK: the secret associated with the cluster)',
    );
    expect(configError({ ...AWS, ...scram })).toMatch(
      /KAFKA_SASL_USERNAME\/KAFKA_SASL_PASSWORD are set but KAFKA_SASL_MECHANISM is not/,
    );
  });

  it('refuses a clear-text password on AWS', () => {
    expect(configError({ ...AWS, ...scram, KAFKA_SSL: 'false', KAFKA_SASL_MECHANISM: 'plain' })).toMatch(
      /KAFKA_SASL_MECHANISM=plain sends the password in clear text: set KAFKA_SSL=true/,
    );
    expect(loadConfig({ ...AWS, ...scram, KAFKA_SASL_MECHANISM: 'plain' }).kafka.sasl?.mechanism).toBe('plain');
  });
});
