/**
 * GET of one S3 object, signed with the SDK's own SigV4 signer and the client's own credentials,
 * region and endpoint, over Node's http(s) with keep-alive, without the SDK's middleware stack.
 *
 * Why: the compaction reads every raw object and every sink manifest once (16,000 GETs for a lake of
 * 10 M rows), and `S3Client.send(GetObjectCommand)` costs about 1.4 ms of CPU a request on this
 * machine (endpoint rules, schema, serde, body collection), this path about 0.7 ms
 * (docs/benchmarks.md, "The curated zone"). Errors look like the SDK's to their callers: `name` is
 * S3's error code (`NoSuchKey`, `PreconditionFailed`, `AccessDenied`, ...) and
 * `$metadata.httpStatusCode` the status. Server errors (5xx) and dropped connections are tried again
 * up to {@link ATTEMPTS} times, as the SDK's standard retry does; then the error is thrown.
 *
 * Endpoints: a client with an `endpoint` (the local servers) is reached there, path-style when it has
 * `forcePathStyle`; otherwise the bucket's regional virtual-hosted name on AWS (path-style for a bucket
 * with dots). The SDK's FIPS, dual-stack and transfer-acceleration endpoints are not followed: the
 * clients of src/adapters/aws.ts set none of them.
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';

export const ATTEMPTS = 4;
const TIMEOUT_MS = 60_000;

function bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** The SDK's hash interface over node:crypto (the signer asks for SHA-256 and HMAC-SHA-256). */
class Sha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

interface Endpoint {
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
}

interface Target {
  signer: SignatureV4;
  /** The URL of `key` in `bucket`: protocol, host, port and path. */
  locate(bucket: string, key: string): Promise<{ protocol: string; host: string; port?: number; path: string }>;
}

const targets = new WeakMap<S3Client, Target>();
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** A key's path as S3 signs it: each segment percent-encoded (RFC 3986), slashes kept. */
export function encodeKeyPath(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

function target(s3: S3Client): Target {
  let t = targets.get(s3);
  if (t) return t;
  const config = s3.config as unknown as {
    region: () => Promise<string>;
    credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
    endpoint?: () => Promise<Endpoint>;
    forcePathStyle?: boolean;
  };
  const signer = new SignatureV4({
    service: 's3',
    region: config.region,
    credentials: config.credentials,
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  t = {
    signer,
    async locate(bucket, key) {
      const path = encodeKeyPath(key);
      if (config.endpoint) {
        const e = await config.endpoint();
        const base = e.path.endsWith('/') ? e.path.slice(0, -1) : e.path;
        return config.forcePathStyle
          ? { protocol: e.protocol, host: e.hostname, port: e.port, path: `${base}/${bucket}/${path}` }
          : { protocol: e.protocol, host: `${bucket}.${e.hostname}`, port: e.port, path: `${base}/${path}` };
      }
      const region = await config.region();
      // A bucket name with dots does not match the wildcard certificate of virtual-hosted names.
      return bucket.includes('.')
        ? { protocol: 'https:', host: `s3.${region}.amazonaws.com`, path: `/${bucket}/${path}` }
        : { protocol: 'https:', host: `${bucket}.s3.${region}.amazonaws.com`, path: `/${path}` };
    },
  };
  targets.set(s3, t);
  return t;
}

/** An S3 error response as the SDK would throw it: S3's code as the name, the status in $metadata. */
export class S3GetError extends Error {
  readonly $metadata: { httpStatusCode?: number };
  constructor(name: string, message: string, status?: number) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

const CODE_BY_STATUS: Record<number, string> = {
  403: 'AccessDenied',
  404: 'NoSuchKey',
  412: 'PreconditionFailed',
};

function once(
  url: { protocol: string; host: string; port?: number; path: string },
  headers: Record<string, string>,
): Promise<Buffer> {
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<Buffer>((resolve, reject) => {
    const req = mod.request(
      {
        method: 'GET',
        host: url.host,
        port: url.port,
        path: url.path,
        headers,
        agent: agents[url.protocol === 'https:' ? 'https:' : 'http:'],
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          if (status === 200) {
            const length = Number(res.headers['content-length']);
            if (!res.complete || (Number.isFinite(length) && length !== body.length))
              reject(new S3GetError('IncompleteBody', `${url.path}: ${body.length} of ${length} bytes received`));
            else resolve(body);
            return;
          }
          const text = body.toString('utf8');
          const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? CODE_BY_STATUS[status] ?? `Http${status}`;
          const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200);
          reject(new S3GetError(code, `GET ${url.path}: ${status} ${code}${message ? `: ${message}` : ''}`, status));
        });
      },
    );
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`GET ${url.path}: no answer in ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function transient(err: unknown): boolean {
  const status = (err as S3GetError).$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  return true; // a dropped connection, a timeout, a refused connection
}

/**
 * The bytes of s3://bucket/key. `ifMatch`: only if the object's ETag is this one (412
 * `PreconditionFailed` otherwise). Throws `NoSuchKey` (404) when there is no such object.
 */
export async function getObjectBuffer(
  s3: S3Client,
  bucket: string,
  key: string,
  options: { ifMatch?: string } = {},
): Promise<Buffer> {
  const t = target(s3);
  const url = await t.locate(bucket, key);
  for (let attempt = 1; ; attempt++) {
    const request = await t.signer.sign({
      method: 'GET',
      protocol: url.protocol,
      hostname: url.host,
      port: url.port,
      path: url.path,
      query: {},
      headers: {
        host: url.port ? `${url.host}:${url.port}` : url.host,
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        ...(options.ifMatch ? { 'if-match': options.ifMatch } : {}),
      },
    });
    try {
      return await once(url, request.headers);
    } catch (err) {
      if (attempt >= ATTEMPTS || !transient(err)) throw err;
      await new Promise((r) => setTimeout(r, 50 * 4 ** (attempt - 1)));
    }
  }
}
