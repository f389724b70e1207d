/**
 * What the sink's zombie fencing relies on, checked against the real S3 server: a PUT with
 * If-None-Match: * on an existing key is refused with 412 Precondition Failed, exactly one of many
 * racing conditional PUTs wins (round after round: the server must evaluate the condition
 * atomically, as Amazon S3 does), and large objects go through multipart upload intact. Also the
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

  it('lets exactly one of many racing conditional writers win, round after round', async () => {
    // versitygw 1.7.0 checked the condition and wrote in two steps: in 39 of 200 rounds of 12 racing
    // writers, 2 to 7 were told yes. 1.8.0 evaluates it under a per-object publish lock, as S3 does.
    const rounds = 40;
    const problems: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const key = `fence/race-${round}.json`;
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          s3
            .send(
              new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify({ writer: i }), IfNoneMatch: '*' }),
            )
            .then(
              () => true,
              (err: unknown) => {
                const code = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
                // 409 ConditionalRequestConflict: S3's answer to a conditional write racing another.
                if (code === 412 || code === 409) return false;
                throw err;
              },
            ),
        ),
      );
      const winners = answers.flatMap((won, i) => (won ? [i] : []));
      const stored = JSON.parse((await getObjectBytes(s3, bucket, key))!.toString()) as { writer: number };
      if (winners.length !== 1 || winners[0] !== stored.writer) {
        problems.push(
          `round ${round}: writers ${winners.join(', ')} were told yes, the stored body is writer ${stored.writer}'s`,
        );
      }
    }
    expect(problems).toEqual([]);
    // putIfAbsent (what the sink calls) agrees: one of racing callers gets true.
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => putIfAbsent(s3, bucket, 'fence/race.json', JSON.stringify({ writer: i }))),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  }, 120_000);

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
