/** Thin S3 helpers: conditional writes, JSON reads, bucket checks. */
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  NoSuchKey,
  PutObjectCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/** Objects larger than this go through multipart upload. */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;

function status(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

export async function bucketExists(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (err) {
    if (status(err) === 404 || (err as Error).name === 'NotFound' || (err as Error).name === 'NoSuchBucket')
      return false;
    throw err;
  }
}

/** Creates the bucket when missing (local profile only: on AWS the bucket comes from the CloudFormation stack). */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  if (await bucketExists(s3, bucket)) return;
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  }
}

/**
 * Writes an object only if no object exists under the key (If-None-Match: *).
 * Returns false when another writer got there first.
 *
 * On Amazon S3 the condition is atomic. Some S3-compatible servers (versitygw's posix backend among
 * them) check and write in two steps, so two writers racing on the same key can both be told yes; the
 * read-back below lets the writer whose body was overwritten learn that it lost. It narrows that race
 * on such servers but cannot close it: see docs/architecture.md.
 */
export async function putIfAbsent(s3: S3Client, bucket: string, key: string, body: string | Buffer): Promise<boolean> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, IfNoneMatch: '*' }));
  } catch (err) {
    // 409 ConditionalRequestConflict: a concurrent conditional write to the key is in flight on S3.
    if (status(err) === 412 || (err as Error).name === 'PreconditionFailed') return false;
    throw err;
  }
  const stored = await getObjectBytes(s3, bucket, key);
  return stored !== undefined && stored.equals(typeof body === 'string' ? Buffer.from(body) : body);
}

export async function putObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Buffer,
  contentType: string,
): Promise<void> {
  if (body.length >= MULTIPART_THRESHOLD) {
    await new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType },
      partSize: 8 * 1024 * 1024,
      queueSize: 2,
    }).done();
    return;
  }
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
}

/**
 * An object's bytes. A missing object (404), or one whose ETag is not `ifMatch` (412), throws the SDK's
 * error: callers branch on its `$metadata.httpStatusCode`.
 */
export async function getObjectBuffer(
  s3: S3Client,
  bucket: string,
  key: string,
  options: { ifMatch?: string } = {},
): Promise<Buffer> {
  const out = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, ...(options.ifMatch ? { IfMatch: options.ifMatch } : {}) }),
  );
  return Buffer.from(await out.Body!.transformToByteArray());
}

export async function getObjectBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    return await getObjectBuffer(s3, bucket, key);
  } catch (err) {
    if (err instanceof NoSuchKey || status(err) === 404) return undefined;
    throw err;
  }
}

export async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T | undefined> {
  const bytes = await getObjectBytes(s3, bucket, key);
  return bytes === undefined ? undefined : (JSON.parse(bytes.toString('utf8')) as T);
}
