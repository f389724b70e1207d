/**
 * deploy/cloudformation.yaml: what the stack must create for the worker to run on AWS, checked on the
 * parsed template (with its !Ref/!Sub/!GetAtt tags). cfn-lint runs on it in
 * test/integration/deploy-cfn-lint.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { attemptMarkerPrefix, manifestKey } from '../../src/lake-layout';
import { DEPLOY, asList, readTemplate, type PolicyDocument } from './deploy-support';

const template = readTemplate();
const resources = template.Resources;
/** The value at a path of a resource's properties, e.g. at('LakeBucket', 'VersioningConfiguration', 'Status'). */
function at(resource: string, ...keys: (string | number)[]): unknown {
  let value: unknown = resources[resource].Properties;
  for (const key of keys) value = (value as Record<string | number, unknown> | undefined)?.[key];
  return value;
}
const PSEUDO = ['AWS::AccountId', 'AWS::Partition', 'AWS::Region', 'AWS::StackName', 'AWS::URLSuffix', 'AWS::NoValue'];

/** Every name a template refers to with Ref, GetAtt or ${} in Sub. */
function references(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => references(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === 'Ref') out.push(v as string);
      else if (k === 'Fn::GetAtt') out.push((v as string[])[0]);
      else if (k === 'Fn::Sub' && typeof v === 'string')
        for (const m of v.matchAll(/\$\{([^}!]+)\}/g)) out.push(m[1].split('.')[0]);
      references(v, out);
    }
  }
  return out;
}

describe('deploy/cloudformation.yaml', () => {
  const defaults = loadConfig({});

  it('is a template whose references all resolve', () => {
    expect(template.AWSTemplateFormatVersion).toBe('2010-09-09');
    const known = new Set([...Object.keys(template.Parameters), ...Object.keys(resources), ...PSEUDO]);
    const unknown = references({ Resources: resources, Outputs: template.Outputs }).filter((r) => !known.has(r));
    expect(unknown).toEqual([]);
  });

  it('takes the bucket, database and workgroup names as parameters, defaulting like the configuration', () => {
    const p = template.Parameters;
    expect(Object.keys(p)).toEqual(
      expect.arrayContaining(['BucketName', 'DatabaseName', 'WorkGroupName', 'LakePrefix']),
    );
    expect(p.BucketName.Default).toBeUndefined(); // bucket names are global: the user chooses one
    expect(p.DatabaseName.Default).toBe(defaults.glue.database);
    expect(p.LakePrefix.Default).toBe(defaults.lake.prefix);
    // The same names the configuration accepts are accepted here.
    expect(new RegExp(p.BucketName.AllowedPattern!).test('ticklake-123456789012-eu-west-1')).toBe(true);
    expect(new RegExp(p.BucketName.AllowedPattern!).test('Ticklake')).toBe(false);
    expect(new RegExp(p.DatabaseName.AllowedPattern!).test('ticklake')).toBe(true);
    expect(new RegExp(p.DatabaseName.AllowedPattern!).test('tick-lake')).toBe(false);
    for (const ok of ['', 'lake/', 'a/b/']) expect(new RegExp(p.LakePrefix.AllowedPattern!).test(ok)).toBe(true);
    expect(new RegExp(p.LakePrefix.AllowedPattern!).test('lake')).toBe(false);
  });

  it('creates a versioned, encrypted, private bucket that survives the stack', () => {
    const bucket = resources.LakeBucket;
    expect(bucket.Type).toBe('AWS::S3::Bucket');
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(at('LakeBucket', 'BucketName')).toEqual({ Ref: 'BucketName' });
    expect(at('LakeBucket', 'VersioningConfiguration')).toEqual({ Status: 'Enabled' });
    expect(
      at(
        'LakeBucket',
        'BucketEncryption',
        'ServerSideEncryptionConfiguration',
        0,
        'ServerSideEncryptionByDefault',
        'SSEAlgorithm',
      ),
    ).toMatch(/^(AES256|aws:kms)$/);
    expect(at('LakeBucket', 'PublicAccessBlockConfiguration')).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const deny = (at('LakeBucketPolicy', 'PolicyDocument') as PolicyDocument).Statement.find(
      (s) => s.Effect === 'Deny',
    );
    expect(deny?.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
  });

  it("expires the sink's attempt markers, where the sink writes them, and nothing else of the lake", () => {
    const rules = at('LakeBucket', 'LifecycleConfiguration', 'Rules') as {
      Id: string;
      Prefix?: string | { 'Fn::Sub': string };
      ExpirationInDays?: number;
    }[];
    const expiring = rules.filter((r) => r.ExpirationInDays !== undefined);
    const markers = expiring.find((r) => r.Id === 'expire-sink-attempt-markers');
    expect(markers?.ExpirationInDays).toBe(1);
    // The rule's prefix, with the stack's LakePrefix, is the folder the sink writes markers under.
    const prefix = (markers?.Prefix as { 'Fn::Sub': string })['Fn::Sub'].replace('${LakePrefix}', defaults.lake.prefix);
    const lake = defaults.lake.prefix;
    expect(attemptMarkerPrefix(lake, 'group', 'ticks', 'w')).toBe(`${prefix}group/ticks/w/`);
    expect(manifestKey(lake, 'group', 'ticks', 0, '0').startsWith(prefix)).toBe(false);
    // Every other expiring rule is outside the lake prefix (Athena results).
    for (const r of expiring.filter((x) => x !== markers)) {
      expect(typeof r.Prefix === 'string' && !r.Prefix.startsWith(defaults.lake.prefix)).toBe(true);
    }
  });

  it('creates the Glue database and an Athena workgroup writing its results into the bucket', () => {
    expect(resources.GlueDatabase.Type).toBe('AWS::Glue::Database');
    expect(at('GlueDatabase', 'DatabaseInput', 'Name')).toEqual({ Ref: 'DatabaseName' });
    expect(resources.AthenaWorkGroup.Type).toBe('AWS::Athena::WorkGroup');
    expect(at('AthenaWorkGroup', 'Name')).toEqual({ Ref: 'WorkGroupName' });
    expect(at('AthenaWorkGroup', 'WorkGroupConfiguration', 'EnforceWorkGroupConfiguration')).toBe(true);
    const location = at('AthenaWorkGroup', 'WorkGroupConfiguration', 'ResultConfiguration', 'OutputLocation') as {
      'Fn::Sub': string;
    };
    expect(location['Fn::Sub']).toMatch(/^s3:\/\/\$\{LakeBucket\}\/[^$]+\/$/);
    // The worker's policy allows Athena to write exactly there.
    const resultsPrefix = location['Fn::Sub'].replace('s3://${LakeBucket}/', '');
    const policy = JSON.parse(fs.readFileSync(path.join(DEPLOY, 'iam-policy.json'), 'utf8')) as PolicyDocument;
    const results = policy.Statement.find((s) => s.Sid === 'AthenaResults')!;
    expect(asList(results.Resource)).toEqual([`arn:aws:s3:::ticklake/${resultsPrefix}*`]);
  });

  it('gives the EC2 worker a role and an instance profile', () => {
    expect(at('WorkerRole', 'AssumeRolePolicyDocument', 'Statement')).toEqual([
      { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
    expect(resources.WorkerInstanceProfile.Type).toBe('AWS::IAM::InstanceProfile');
    expect(at('WorkerInstanceProfile', 'Roles')).toEqual([{ Ref: 'WorkerRole' }]);
  });

  it('puts the managed crawler role where the worker may pass it', () => {
    expect(at('GlueCrawlerRole', 'AssumeRolePolicyDocument', 'Statement')).toEqual([
      { Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
    const policy = JSON.parse(fs.readFileSync(path.join(DEPLOY, 'iam-policy.json'), 'utf8')) as PolicyDocument;
    const pass = policy.Statement.find((s) => asList(s.Action).includes('iam:PassRole'))!;
    expect(asList(pass.Resource)).toEqual([`arn:aws:iam::*:role${at('GlueCrawlerRole', 'Path') as string}*`]);
  });

  it('outputs what the worker configuration needs', () => {
    expect(Object.keys(template.Outputs ?? {})).toEqual(
      expect.arrayContaining([
        'LakeBucketName',
        'LakePrefix',
        'GlueDatabaseName',
        'AthenaWorkGroupName',
        'WorkerInstanceProfileName',
        'GlueCrawlerRoleArn',
      ]),
    );
  });
});
