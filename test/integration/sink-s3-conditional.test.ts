/**
 * What the sink's zombie fencing relies on, checked against the real S3 server: a PUT with
 * If-None-Match: * on an existing key is refused with 412 Precondition Failed, exactly one of many
 * racing conditional PUTs wins, and large objects go through multipart upload intact. Also the
 * cleanup helper of tests and benchmarks (a bucket and all its objects).
 */
import { randomBytes } from 'node:crypto';
import { PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { createAwsClients } from '../../src/adapters/aws';
import {
  bucketExists,
  ensureBucket,
  getObjectBytes,
  MULTIPART_THRESHOLD,
  putIfAbsent,
  putObject,
} from '../../src/adapters/s3';
import { s3SinkStorage } from '../../src/sink/storage';
import { deleteBucketAndObjects } from './sink-support';
import { uniqueConfig } from './support';

describe('S3 conditional writes (the manifest fence)', () => {
  const config = uniqueConfig('sink-s3');
  const { s3 } = createAwsClients(config.aws);
  const bucket = config.lake.bucket;
  beforeAll(async () => {
    await ensureBucket(s3, bucket);
  });

  it('answers 412 to If-None-Match: * on an existing key and keeps the first body', async () => {
    const key = 'fence/manifest.json';
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"end":"10"}', IfNoneMatch: '*' }));
    let status: number | undefined;
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"end":"99"}', IfNoneMatch: '*' }));
    } catch (err) {
      status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
    }
    expect(status).toBe(412);
    expect((await getObjectBytes(s3, bucket, key))!.toString()).toBe('{"end":"10"}');
    expect(await putIfAbsent(s3, bucket, key, '{"end":"7"}')).toBe(false);
    expect(await putIfAbsent(s3, bucket, 'fence/other.json', '{}')).toBe(true);
  });

  it('lets exactly one of many racing conditional writers win', async () => {
    const key = 'fence/race.json';
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => putIfAbsent(s3, bucket, key, JSON.stringify({ writer: i }))),
    );
    // Amazon S3 makes exactly one of them win. The local server (versitygw, posix backend) checks and
    // writes in two steps, so under load two racing writers can both be told yes; putIfAbsent's
    // read-back makes a writer whose body was overwritten see that it lost. What must hold on any
    // server: someone wins, and the stored body is a winner's.
    const winners = results.flatMap((won, i) => (won ? [i] : []));
    expect(winners.length).toBeGreaterThanOrEqual(1);
    const stored = JSON.parse((await getObjectBytes(s3, bucket, key))!.toString()) as { writer: number };
    expect(winners).toContain(stored.writer);
  });

  it('writes objects above the multipart threshold intact, and the sink storage reads manifests back', async () => {
    const body = randomBytes(MULTIPART_THRESHOLD + 3 * 1024 * 1024);
    await putObject(s3, bucket, 'big/object.json', body, 'application/x-ndjson');
    expect((await getObjectBytes(s3, bucket, 'big/object.json'))!.equals(body)).toBe(true);
    const storage = s3SinkStorage(s3, bucket);
    expect(await storage.putIfAbsent('m/1.json', '{"first":"1"}')).toBe(true);
    expect(await storage.getJson('m/1.json')).toEqual({ first: '1' });
    expect(await storage.getJson('m/missing.json')).toBeUndefined();
  }, 60_000);

  // Last: it removes this file's bucket.
  it('deletes a bucket with more objects than one listing page holds', async () => {
    const keys = Array.from({ length: 1_050 }, (_, i) => `many/${String(i).padStart(4, '0')}.json`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < keys.length) await putObject(s3, bucket, keys[next++], Buffer.from('{}'), 'application/json');
      }),
    );
    expect(await bucketExists(s3, bucket)).toBe(true);
    await deleteBucketAndObjects(s3, bucket);
    expect(await bucketExists(s3, bucket)).toBe(false);
    await deleteBucketAndObjects(s3, bucket); // a missing bucket is not an error
  }, 60_000);
});
