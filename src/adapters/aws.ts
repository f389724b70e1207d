/**
 * AWS SDK clients, created once per process and injected. Endpoint overrides only for local servers.
 *
 * Each client is created, and its SDK package loaded, when it is first used: a command that reads S3
 * alone (`ticklake status`) does not pay for loading Glue's and Athena's clients, about half a
 * megabyte of JavaScript.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a require() inside a getter is what defers the load */
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AwsEndpoints } from '../config';

// The pinned SDK release supports Node 20; its notice about future releases is not actionable here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface AwsClients {
  readonly s3: S3Client;
  readonly glue: GlueClient;
  readonly athena: AthenaClient;
}

export function createAwsClients(aws: AwsEndpoints): AwsClients {
  const common = { region: aws.region, credentials: aws.credentials, maxAttempts: 5 };
  let s3: S3Client | undefined;
  let glue: GlueClient | undefined;
  let athena: AthenaClient | undefined;
  return {
    get s3() {
      if (s3) return s3;
      const { S3Client } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
      return (s3 = new S3Client({
        ...common,
        ...(aws.s3Endpoint ? { endpoint: aws.s3Endpoint, forcePathStyle: true } : {}),
        // Local S3 servers do not all implement the newer default checksums.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }));
    },
    get glue() {
      if (glue) return glue;
      const { GlueClient } = require('@aws-sdk/client-glue') as typeof import('@aws-sdk/client-glue');
      return (glue = new GlueClient({ ...common, ...(aws.glueEndpoint ? { endpoint: aws.glueEndpoint } : {}) }));
    },
    get athena() {
      if (athena) return athena;
      const { AthenaClient } = require('@aws-sdk/client-athena') as typeof import('@aws-sdk/client-athena');
      return (athena = new AthenaClient({
        ...common,
        ...(aws.athenaEndpoint ? { endpoint: aws.athenaEndpoint } : {}),
      }));
    },
  };
}
