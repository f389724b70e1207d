/**
 * docs/aws.md stays true: its configuration examples load, its commands name what exists (template
 * parameters, deploy files, the search attributes the workflows set), its policy table names every
 * statement, and the README links it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { TEMPORAL_SEARCH_ATTRIBUTES } from '../../src/services/definitions';
import { DEPLOY, REPO, readTemplate, type PolicyDocument } from './deploy-support';

const doc = fs.readFileSync(path.join(REPO, 'docs', 'aws.md'), 'utf8');

/** The fenced block after each `<!-- env: kind -->` marker, as variables. */
function envExamples(kind: string): Record<string, string>[] {
  return [...doc.matchAll(/<!-- env: (\w+) -->\s*```sh\n([\s\S]*?)```/g)]
    .filter((m) => m[1] === kind)
    .map((m) =>
      Object.fromEntries(
        m[2]
          .split('\n')
          .filter((line) => line.trim() !== '' && !line.startsWith('#'))
          .map((line) => {
            const eq = line.indexOf('=');
            expect(`${line} ${eq > 0 ? 'KEY=value' : 'not KEY=value'}`).toBe(`${line} KEY=value`);
            const value = line.slice(eq + 1);
            // systemd's EnvironmentFile and a shell must read the same thing.
            expect(value).not.toMatch(/["'\s]/);
            return [line.slice(0, eq), value];
          }),
      ),
    );
}

describe('docs/aws.md', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-docs-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Certificate paths of the examples point at files that exist only on the instance: stand-ins here. */
  function withFiles(env: Record<string, string>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(env).map(([k, v]) => {
        if (!v.startsWith('/etc/ticklake/')) return [k, v];
        const file = path.join(dir, path.basename(v));
        fs.writeFileSync(file, 'stand-in\n');
        return [k, file];
      }),
    );
  }

  const [full] = envExamples('full');

  it('has a full /etc/ticklake/env that loads as an aws profile on Athena', () => {
    expect(full).toBeDefined();
    const c = loadConfig(full);
    expect(c.profile).toBe('aws');
    expect(c.query.engine).toBe('athena');
    expect(c.aws.s3Endpoint).toBeUndefined();
    expect(c.kafka.sasl?.mechanism).toBe('scram-sha-512');
    expect(c.kafka.replicationFactor).toBe(3);
  });

  it.each(envExamples('temporal').map((e, i) => [i, e] as const))('Temporal example %i loads', (_i, example) => {
    const base = Object.fromEntries(Object.entries(full).filter(([k]) => !k.startsWith('TEMPORAL_')));
    const c = loadConfig({ ...base, ...withFiles(example) });
    expect(c.temporal.address).toBe(example.TEMPORAL_ADDRESS);
    expect(c.temporal.namespace).toBe(example.TEMPORAL_NAMESPACE);
    expect(Boolean(c.temporal.apiKey) || Boolean(c.temporal.tls)).toBe(true);
  });

  it.each(envExamples('kafka').map((e, i) => [i, e] as const))('Kafka example %i loads', (_i, example) => {
    const base = Object.fromEntries(
      Object.entries(full).filter(([k]) => !/^KAFKA_(BROKERS|SSL|SASL_|REPLICATION)/.test(k)),
    );
    const c = loadConfig({ ...base, ...withFiles(example) });
    expect(c.kafka.brokers).toEqual(example.KAFKA_BROKERS.split(','));
    expect(c.kafka.ssl).toBe(example.KAFKA_SSL === 'true');
  });

  it('has examples of each kind', () => {
    expect(envExamples('temporal').length).toBeGreaterThanOrEqual(2);
    expect(envExamples('kafka').length).toBeGreaterThanOrEqual(3);
  });

  it('creates exactly the search attributes the workflows set, with their types', () => {
    const expected = Object.entries(TEMPORAL_SEARCH_ATTRIBUTES)
      .map(([name, type]) => `${name}=${type}`)
      .sort();
    // Each `create` command gives its names one type.
    const created = [...doc.matchAll(/temporal operator search-attribute create[^`]*?--type (\w+)/g)].flatMap((m) =>
      [...m[0].matchAll(/--name (\w+)/g)].map((n) => `${n[1]}=${m[1]}`),
    );
    expect(created.sort()).toEqual(expected);
    const tcld = /tcld namespace search-attributes add[^`]*/.exec(doc)![0];
    expect([...tcld.matchAll(/--sa (\w+=\w+)/g)].map((m) => m[1]).sort()).toEqual(expected);
  });

  it('deploys the template with parameters it has', () => {
    const deploy = /aws cloudformation deploy[^`]*?(?=\n\n)/.exec(doc)![0];
    expect(deploy).toContain('--template-file deploy/cloudformation.yaml');
    expect(deploy).toContain('--capabilities CAPABILITY_IAM');
    const params = Object.keys(readTemplate().Parameters);
    const given = [...deploy.matchAll(/(\w+)=\S+/g)].map((m) => m[1]);
    expect(given.length).toBeGreaterThan(0);
    for (const p of given) expect(params).toContain(p);
    expect(given).toContain('BucketName');
  });

  it('installs the unit that is in deploy/', () => {
    expect(doc).toContain('/opt/ticklake/deploy/ticklake-worker.service /etc/systemd/system/');
    expect(fs.existsSync(path.join(DEPLOY, 'ticklake-worker.service'))).toBe(true);
  });

  it('explains every statement of the policy', () => {
    const policy = JSON.parse(fs.readFileSync(path.join(DEPLOY, 'iam-policy.json'), 'utf8')) as PolicyDocument;
    for (const s of policy.Statement) expect(doc).toMatch(new RegExp(`^\\| \`${s.Sid}\` +\\|`, 'm'));
  });

  it('is linked from the README, before the documentation list', () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const aws = readme.indexOf('## Running on AWS');
    expect(aws).toBeGreaterThan(0);
    expect(aws).toBeLessThan(readme.indexOf('## Documentation'));
    expect(readme.slice(aws, readme.indexOf('## Documentation'))).toContain('(docs/aws.md)');
  });
});
