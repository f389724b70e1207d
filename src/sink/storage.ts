/** The sink's object store: the lake bucket through the S3 API. Thin I/O. */
import { DeleteObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { bucketExists, getJson, putIfAbsent, putObject } from '../adapters/s3';
import type { SinkStorage } from './partition-writer';

export function s3SinkStorage(s3: S3Client, bucket: string): SinkStorage {
  return {
    putIfAbsent: (key, body) => putIfAbsent(s3, bucket, key, body),
    getJson: (key) => getJson(s3, bucket, key),
    put: (key, body, contentType) => putObject(s3, bucket, key, body, contentType),
    async delete(key) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async list(prefix, startAfter) {
      const keys: string[] = [];
      for await (const page of paginateListObjectsV2(
        { client: s3 },
        { Bucket: bucket, Prefix: prefix, StartAfter: startAfter },
      )) {
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      }
      return keys;
    },
  };
}

/** Undefined when the bucket is there, else what to do about it. */
export async function bucketProblem(s3: S3Client, bucket: string): Promise<string | undefined> {
  return (await bucketExists(s3, bucket))
    ? undefined
    : `lake bucket '${bucket}' does not exist; create it (on AWS: deploy the stack) or set LAKE_BUCKET`;
}
