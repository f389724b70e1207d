/** AWS SDK clients, created once per process and injected. Endpoint overrides only for local servers. */
import { AthenaClient } from '@aws-sdk/client-athena';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import type { AwsEndpoints } from '../config';

// The pinned SDK release supports Node 20; its notice about future releases is not actionable here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface AwsClients {
  s3: S3Client;
  glue: GlueClient;
  athena: AthenaClient;
}

export function createAwsClients(aws: AwsEndpoints): AwsClients {
  const common = { region: aws.region, credentials: aws.credentials, maxAttempts: 5 };
  return {
    s3: new S3Client({
      ...common,
      ...(aws.s3Endpoint ? { endpoint: aws.s3Endpoint, forcePathStyle: true } : {}),
      // Local S3 servers do not all implement the newer default checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    glue: new GlueClient({ ...common, ...(aws.glueEndpoint ? { endpoint: aws.glueEndpoint } : {}) }),
    athena: new AthenaClient({ ...common, ...(aws.athenaEndpoint ? { endpoint: aws.athenaEndpoint } : {}) }),
  };
}
