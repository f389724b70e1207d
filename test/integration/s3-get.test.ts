/**
 * The lean GET of src/adapters/s3-get.ts against the local S3 server: the same bytes as the SDK's
 * GetObject for keys with the characters the lake's keys hold, the SDK's error names and statuses
 * for a missing object and a changed ETag, and retries of a refused connection before it gives up.
 */
import { GetObjectCommand, PutObjectCommand, S3Client, type S3Client as S3 } from '@aws-sdk/client-s3';
import { createAwsClients } from '../../src/adapters/aws';
import { ensureBucket } from '../../src/adapters/s3';
import { encodeKeyPath, getObjectBuffer, S3GetError } from '../../src/adapters/s3-get';
import { loadConfig } from '../../src/config';
import { uniqueEnv } from './support';

describe('getObjectBuffer: a signed GET without the SDK middleware', () => {
  const config = loadConfig(uniqueEnv('s3get'));
  const bucket = config.lake.bucket;
  let s3: S3;

  beforeAll(async () => {
    ({ s3 } = createAwsClients(config.aws));
    await ensureBucket(s3, bucket);
  });

  it.each([
    'lake/ticks/year=2000/symbol_bucket=3/ticks+3+123.json.gz',
    "odd keys/with space, comma (parens) it's *star* ~tilde~ & %/ümlaut.bin",
  ])('reads %s byte for byte as the SDK does', async (key) => {
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    const got = await getObjectBuffer(s3, bucket, key);
    const sdk = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(got.equals(Buffer.from(await sdk.Body!.transformToByteArray()))).toBe(true);
    expect(got.equals(body)).toBe(true);
  });

  it('throws NoSuchKey (404) for a missing object, PreconditionFailed (412) for another ETag', async () => {
    const missing = await getObjectBuffer(s3, bucket, 'no/such/key.json').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(S3GetError);
    expect((missing as S3GetError).name).toBe('NoSuchKey');
    expect((missing as S3GetError).$metadata.httpStatusCode).toBe(404);

    const key = 'etag/object.json';
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"a":1}' }));
    expect((await getObjectBuffer(s3, bucket, key, { ifMatch: put.ETag })).toString()).toBe('{"a":1}');
    const changed = await getObjectBuffer(s3, bucket, key, { ifMatch: '"0123456789abcdef0123456789abcdef"' }).catch(
      (e: unknown) => e,
    );
    expect((changed as S3GetError).$metadata.httpStatusCode).toBe(412);
  });

  it('tries a refused connection again, then throws', async () => {
    const dead = new S3Client({
      region: config.aws.region,
      credentials: config.aws.credentials,
      endpoint: 'http://127.0.0.1:9', // the discard port: nothing listens there
      forcePathStyle: true,
    });
    const started = Date.now();
    const err = (await getObjectBuffer(dead, bucket, 'x').catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe('ECONNREFUSED');
    // Three waits between four attempts: 50 + 200 + 800 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('encodes a key as S3 signs it: segments percent-encoded, slashes kept', () => {
    expect(encodeKeyPath("a b/c+d=e/(f)!'*")).toBe('a%20b/c%2Bd%3De/%28f%29%21%27%2A');
  });
});
