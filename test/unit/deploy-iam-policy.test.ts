/**
 * deploy/iam-policy.json holds exactly what the code needs, derived from the source at test time:
 * every `new XCommand(`, paginator and `new Upload(` of the AWS SDK in src/ and activities/ is mapped
 * to the IAM actions it needs and the resources it touches, plus what Athena does with the caller's
 * own permissions. The policy must grant every pair and nothing else; the CloudFormation role must
 * hold the same statements.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEPLOY,
  REPO,
  allowedPairs,
  asList,
  readTemplate,
  resolveIntrinsics,
  scanAwsCalls,
  type AwsCall,
  type PolicyDocument,
} from './deploy-support';

/**
 * The resources of deploy/iam-policy.json, written for the default names: bucket `ticklake` with
 * prefix `lake/`, Glue database `ticklake`, Athena workgroup `ticklake`, crawlers `ticklake-*` (the
 * default GLUE_CRAWLER_NAME is `ticklake-<database>-<table>`), roles under the IAM path /ticklake/.
 */
const SCOPES = {
  bucket: 'arn:aws:s3:::ticklake',
  lake: 'arn:aws:s3:::ticklake/lake/*',
  curated: 'arn:aws:s3:::ticklake/curated/*',
  results: 'arn:aws:s3:::ticklake/athena-results/*',
  catalog: 'arn:aws:glue:*:*:catalog',
  database: 'arn:aws:glue:*:*:database/ticklake',
  defaultDatabase: 'arn:aws:glue:*:*:database/default',
  tables: 'arn:aws:glue:*:*:table/ticklake/*',
  crawler: 'arn:aws:glue:*:*:crawler/ticklake-*',
  crawlerRole: 'arn:aws:iam::*:role/ticklake/*',
  workgroup: 'arn:aws:athena:*:*:workgroup/ticklake',
} as const;
type Scope = keyof typeof SCOPES;

interface Grant {
  action: string;
  on: Scope[];
}
const g = (action: string, ...on: Scope[]): Grant => ({ action, on });
const glueDb = (action: string) => g(action, 'catalog', 'database');
const glueTable = (action: string) => g(action, 'catalog', 'database', 'tables');

/**
 * Athena reads the tables, partitions and objects of a query and writes its results with the
 * permissions of the caller, so StartQueryExecution needs those too. The `default` database and the
 * catalog must allow GetDatabase and CreateDatabase for Athena to use the Glue Data Catalog at all.
 */
const ATHENA_AS_CALLER: Grant[] = [
  g('glue:GetDatabase', 'catalog', 'database', 'defaultDatabase'),
  g('glue:CreateDatabase', 'catalog', 'defaultDatabase'),
  glueTable('glue:GetTable'),
  glueTable('glue:GetPartitions'),
  glueTable('glue:GetPartition'),
  glueTable('glue:BatchGetPartition'),
  g('s3:GetBucketLocation', 'bucket'),
  g('s3:ListBucket', 'bucket'),
  g('s3:ListBucketMultipartUploads', 'bucket'),
  g('s3:GetObject', 'lake', 'curated', 'results'),
  g('s3:PutObject', 'results'),
  g('s3:AbortMultipartUpload', 'results'),
  g('s3:ListMultipartUploadParts', 'results'),
];

/** Operation → what it needs, per package. A new operation in the code fails the test until it is listed here. */
const MAPPING: Record<string, Record<string, Grant[]>> = {
  '@aws-sdk/client-s3': {
    HeadBucket: [g('s3:ListBucket', 'bucket')],
    ListObjectsV2: [g('s3:ListBucket', 'bucket')],
    // The raw lake (LAKE_PREFIX) and the curated Parquet zone (CURATED_PREFIX) are read and written alike.
    GetObject: [g('s3:GetObject', 'lake', 'curated')],
    HeadObject: [g('s3:GetObject', 'lake', 'curated')],
    PutObject: [g('s3:PutObject', 'lake', 'curated')],
    CopyObject: [g('s3:GetObject', 'lake', 'curated'), g('s3:PutObject', 'lake', 'curated')],
    DeleteObject: [g('s3:DeleteObject', 'lake', 'curated')],
    DeleteObjects: [g('s3:DeleteObject', 'lake', 'curated')],
    CreateMultipartUpload: [g('s3:PutObject', 'lake', 'curated')],
    UploadPart: [g('s3:PutObject', 'lake', 'curated')],
    CompleteMultipartUpload: [g('s3:PutObject', 'lake', 'curated')],
    AbortMultipartUpload: [g('s3:AbortMultipartUpload', 'lake', 'curated')],
    ListParts: [g('s3:ListMultipartUploadParts', 'lake')],
    GetBucketLocation: [g('s3:GetBucketLocation', 'bucket')],
    CreateBucket: [g('s3:CreateBucket', 'bucket')],
  },
  // Multipart: CreateMultipartUpload, UploadPart and CompleteMultipartUpload are s3:PutObject; a
  // failed upload is aborted.
  '@aws-sdk/lib-storage': {
    Upload: [g('s3:PutObject', 'lake', 'curated'), g('s3:AbortMultipartUpload', 'lake', 'curated')],
  },
  '@aws-sdk/client-glue': {
    CreateDatabase: [glueDb('glue:CreateDatabase')],
    GetDatabase: [glueDb('glue:GetDatabase')],
    GetTable: [glueTable('glue:GetTable')],
    GetTables: [glueTable('glue:GetTables')],
    CreateTable: [glueTable('glue:CreateTable')],
    UpdateTable: [glueTable('glue:UpdateTable')],
    DeleteTable: [glueTable('glue:DeleteTable')],
    GetPartition: [glueTable('glue:GetPartition')],
    GetPartitions: [glueTable('glue:GetPartitions')],
    BatchGetPartition: [glueTable('glue:BatchGetPartition')],
    CreatePartition: [glueTable('glue:CreatePartition')],
    BatchCreatePartition: [glueTable('glue:BatchCreatePartition')],
    UpdatePartition: [glueTable('glue:UpdatePartition')],
    BatchUpdatePartition: [glueTable('glue:BatchUpdatePartition')],
    DeletePartition: [glueTable('glue:DeletePartition')],
    BatchDeletePartition: [glueTable('glue:BatchDeletePartition')],
    GetCrawler: [g('glue:GetCrawler', 'crawler')],
    // Creating or changing a crawler passes its role (GLUE_CRAWLER_ROLE) to Glue.
    CreateCrawler: [g('glue:CreateCrawler', 'crawler'), g('iam:PassRole', 'crawlerRole')],
    UpdateCrawler: [g('glue:UpdateCrawler', 'crawler'), g('iam:PassRole', 'crawlerRole')],
    DeleteCrawler: [g('glue:DeleteCrawler', 'crawler')],
    StartCrawler: [g('glue:StartCrawler', 'crawler')],
    StopCrawler: [g('glue:StopCrawler', 'crawler')],
    ListCrawls: [g('glue:ListCrawls', 'crawler')],
  },
  '@aws-sdk/client-athena': {
    StartQueryExecution: [g('athena:StartQueryExecution', 'workgroup'), ...ATHENA_AS_CALLER],
    GetQueryExecution: [g('athena:GetQueryExecution', 'workgroup')],
    StopQueryExecution: [g('athena:StopQueryExecution', 'workgroup')],
    // Athena reads the result object from S3 with the caller's permissions.
    GetQueryResults: [g('athena:GetQueryResults', 'workgroup'), g('s3:GetObject', 'results')],
    GetQueryRuntimeStatistics: [g('athena:GetQueryRuntimeStatistics', 'workgroup')],
    GetWorkGroup: [g('athena:GetWorkGroup', 'workgroup')],
  },
};

/**
 * Calls that never run with TICKLAKE_PROFILE=aws, and the guard that proves it: on AWS the bucket
 * comes from the CloudFormation stack, so the worker's role may not create buckets.
 */
const LOCAL_ONLY: Record<string, { reason: string; callers: RegExp; guard: RegExp }> = {
  '@aws-sdk/client-s3 CreateBucket': {
    reason: 'ensureBucket() creates the bucket for the local profile only',
    callers: /\bensureBucket\(/,
    guard: /profile === 'local'.*\bensureBucket\(/,
  },
};

const SOURCE_DIRS = ['src', 'activities'];

function policy(): PolicyDocument {
  return JSON.parse(fs.readFileSync(path.join(DEPLOY, 'iam-policy.json'), 'utf8')) as PolicyDocument;
}

function grantsFor(call: AwsCall): Grant[] {
  const grants = MAPPING[call.pkg]?.[call.operation];
  if (!grants) {
    throw new Error(
      `${call.where}: ${call.pkg} ${call.operation} (${call.via}) has no IAM mapping. Add it to MAPPING in ` +
        `test/unit/deploy-iam-policy.test.ts (see the Service Authorization Reference for its actions and ` +
        `resources), then grant it in deploy/iam-policy.json and in the WorkerRole of deploy/cloudformation.yaml.`,
    );
  }
  return grants;
}

/** Every 'action @ resource' pair the code needs on AWS. */
function requiredPairs(calls: AwsCall[]): Map<string, string[]> {
  const pairs = new Map<string, string[]>();
  for (const call of calls) {
    if (LOCAL_ONLY[`${call.pkg} ${call.operation}`]) continue;
    for (const grant of grantsFor(call)) {
      for (const scope of grant.on) {
        const key = `${grant.action} @ ${SCOPES[scope]}`;
        pairs.set(key, [...(pairs.get(key) ?? []), call.where]);
      }
    }
  }
  return pairs;
}

function difference(a: Iterable<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x)).sort();
}

describe('deploy/iam-policy.json', () => {
  const calls = scanAwsCalls(SOURCE_DIRS);

  it('finds the AWS calls of the code (the scan works)', () => {
    const ops = new Set(calls.map((c) => `${c.pkg} ${c.operation}`));
    // A few calls that have long been in place; if the scan stopped seeing them, it would be blind.
    for (const known of [
      '@aws-sdk/client-s3 PutObject',
      '@aws-sdk/client-s3 GetObject',
      '@aws-sdk/client-s3 ListObjectsV2',
      '@aws-sdk/client-s3 HeadBucket',
      '@aws-sdk/lib-storage Upload',
      '@aws-sdk/client-glue GetPartitions',
      '@aws-sdk/client-glue BatchCreatePartition',
    ]) {
      expect(ops).toContain(known);
    }
    expect(calls.find((c) => c.operation === 'ListObjectsV2')?.via).toBe('paginator');
  });

  it('maps every AWS call of the code to IAM actions', () => {
    const unmapped = calls.filter((c) => !MAPPING[c.pkg]?.[c.operation]).map((c) => `${c.where} ${c.operation}`);
    expect(unmapped).toEqual([]);
  });

  it('is a valid policy document', () => {
    const doc = policy();
    expect(doc.Version).toBe('2012-10-17');
    expect(Array.isArray(doc.Statement)).toBe(true);
    const sids = doc.Statement.map((s) => s.Sid);
    expect(new Set(sids).size).toBe(sids.length);
    for (const s of doc.Statement) {
      for (const key of ['Effect', 'Action', 'Resource']) expect(Object.keys(s)).toContain(key);
      expect(s.Effect).toBe('Allow');
      expect(asList(s.Action).length).toBeGreaterThan(0);
      expect(asList(s.Resource).length).toBeGreaterThan(0);
      for (const key of Object.keys(s)) expect(['Sid', 'Effect', 'Action', 'Resource', 'Condition']).toContain(key);
      for (const a of asList(s.Action)) expect(a).toMatch(/^(s3|glue|athena|iam):[A-Za-z0-9]+$/);
      for (const r of asList(s.Resource)) expect(r).toMatch(/^arn:aws:(s3|glue|athena|iam):/);
    }
  });

  it('keeps each action on resources of its own service and kind', () => {
    const bucketLevel = new Set(['s3:ListBucket', 's3:GetBucketLocation', 's3:ListBucketMultipartUploads']);
    for (const s of policy().Statement) {
      for (const a of asList(s.Action)) {
        const service = a.split(':')[0];
        for (const r of asList(s.Resource)) {
          expect(`${a} @ ${r.split(':')[2]}`).toBe(`${a} @ ${service}`);
          if (service === 's3')
            expect(`${a} @ ${r.includes('/') ? 'object' : 'bucket'}`).toBe(
              `${a} @ ${bucketLevel.has(a) ? 'bucket' : 'object'}`,
            );
        }
      }
    }
  });

  it('grants exactly the actions the code needs on AWS, no more, no less', () => {
    const needed = new Set([...requiredPairs(calls).keys()].map((p) => p.split(' @ ')[0]));
    const granted = new Set(policy().Statement.flatMap((s) => asList(s.Action)));
    expect({ missingFromPolicy: difference(needed, granted), notUsedByCode: difference(granted, needed) }).toEqual({
      missingFromPolicy: [],
      notUsedByCode: [],
    });
  });

  it('grants each action on exactly the resources the code touches', () => {
    const required = requiredPairs(calls);
    const granted = allowedPairs(policy());
    expect({
      missingFromPolicy: difference(required.keys(), granted),
      notNeeded: difference(granted, new Set(required.keys())),
    }).toEqual({ missingFromPolicy: [], notNeeded: [] });
  });

  it('lets the worker pass a role to Glue only', () => {
    const pass = policy().Statement.filter((s) => asList(s.Action).includes('iam:PassRole'));
    expect(pass).toHaveLength(1);
    expect(pass[0].Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'glue.amazonaws.com' } });
  });

  it('leaves out calls that run with the local profile only, and they are guarded', () => {
    const files = SOURCE_DIRS.flatMap((d) => listFiles(path.join(REPO, d)));
    for (const [operation, rule] of Object.entries(LOCAL_ONLY)) {
      const [pkg, op] = operation.split(' ');
      const granted = new Set(policy().Statement.flatMap((s) => asList(s.Action)));
      for (const grant of MAPPING[pkg][op]) expect(granted).not.toContain(grant.action);
      // Every caller of the local-only helper is behind the profile guard (the definition aside).
      const callers = files.flatMap((f) =>
        fs
          .readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, where: `${path.relative(REPO, f)}:${i + 1}` }))
          .filter(({ line }) => rule.callers.test(line) && !/\bfunction\b/.test(line)),
      );
      expect(callers.length).toBeGreaterThan(0);
      for (const c of callers)
        expect(`${c.where} ${rule.guard.test(c.line) ? 'guarded' : c.line.trim()}`).toBe(`${c.where} guarded`);
    }
  });
});

describe('the AWS call scan', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-scan-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);

  it('sees commands, paginators and uploads under aliases, and skips type-only imports', () => {
    write(
      'a.ts',
      [
        "import { DeleteObjectCommand as Del, paginateListParts, type S3Client } from '@aws-sdk/client-s3';",
        "import type { GetTableCommand } from '@aws-sdk/client-glue';",
        "import { Upload } from '@aws-sdk/lib-storage';",
        'export async function f(s3: S3Client, t: GetTableCommand) {',
        "  await s3.send(new Del({ Bucket: 'b', Key: 'k' }));",
        "  for await (const p of paginateListParts({ client: s3 }, { Bucket: 'b', Key: 'k', UploadId: 'u' })) void p;",
        "  await new Upload({ client: s3, params: { Bucket: 'b', Key: 'k', Body: 'x' } }).done();",
        '  return t;',
        '}',
      ].join('\n'),
    );
    expect(scanAwsCalls([dir]).map((c) => `${c.operation}/${c.via}`)).toEqual([
      'DeleteObject/command',
      'ListParts/paginator',
      'Upload/upload',
    ]);
  });

  it('refuses what it cannot follow', () => {
    write(
      'ns.ts',
      "import * as s3 from '@aws-sdk/client-s3';\nexport const x = new s3.PutObjectCommand({ Bucket: 'b', Key: 'k' });\n",
    );
    write(
      'sts.ts',
      "import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';\nexport const y = new GetCallerIdentityCommand({});\n",
    );
    write('alias.ts', "import { PutObjectCommand } from '@aws-sdk/client-s3';\nexport const C = PutObjectCommand;\n");
    let message = '';
    try {
      scanAwsCalls([dir]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(
      message
        .split('\n')
        .slice(1)
        .map((l) => l.trim().replace(`${dir}${path.sep}`, '')),
    ).toEqual([
      "alias.ts:2: PutObjectCommand used other than in 'new PutObjectCommand(...)'; the scan cannot follow it",
      'ns.ts:1: namespace import from @aws-sdk/client-s3; use named imports so the scan sees each command',
      'sts.ts:1: imports @aws-sdk/client-sts, which the IAM policy test does not know; add it to AWS_PACKAGES and its operations to the mapping',
    ]);
  });

  it('names an operation that has no IAM mapping and says what to do', () => {
    write(
      'new.ts',
      "import { PutBucketPolicyCommand } from '@aws-sdk/client-s3';\nexport const p = new PutBucketPolicyCommand({ Bucket: 'b', Policy: '{}' });\n",
    );
    expect(() => requiredPairs(scanAwsCalls([dir]))).toThrow(
      /PutBucketPolicy \(command\) has no IAM mapping. Add it to MAPPING/,
    );
  });
});

describe('deploy/cloudformation.yaml WorkerRole', () => {
  /** The template's names, resolved to those deploy/iam-policy.json is written for. */
  const NAMES = {
    'AWS::Partition': 'aws',
    'AWS::Region': '*',
    'AWS::AccountId': '*',
    LakeBucket: 'ticklake',
    LakePrefix: 'lake/',
    CuratedPrefix: 'curated/',
    GlueDatabase: 'ticklake',
    AthenaWorkGroup: 'ticklake',
  };

  it('holds the same statements as deploy/iam-policy.json', () => {
    const role = readTemplate().Resources.WorkerRole;
    expect(role.Type).toBe('AWS::IAM::Role');
    const policies = role.Properties!.Policies as { PolicyName: string; PolicyDocument: unknown }[];
    expect(policies).toHaveLength(1);
    const inline = resolveIntrinsics(policies[0].PolicyDocument, NAMES) as PolicyDocument;
    const json = policy();
    expect(inline.Version).toBe(json.Version);
    const norm = (d: PolicyDocument) =>
      d.Statement.map((s) => ({
        Sid: s.Sid,
        Effect: s.Effect,
        Action: asList(s.Action).sort(),
        Resource: asList(s.Resource).sort(),
        Condition: s.Condition,
      }));
    expect(norm(inline)).toEqual(norm(json));
    expect(role.Properties!.ManagedPolicyArns).toBeUndefined();
  });
});

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? listFiles(path.join(dir, e.name)) : /\.ts$/.test(e.name) ? [path.join(dir, e.name)] : [],
    );
}
