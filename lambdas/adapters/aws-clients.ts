import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

/**
 * The one S3 client factory (other services need no factory: their SDK clients read region, credentials and
 * endpoint from the environment by themselves). SDK v3 already honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_S3; what it cannot
 * guess is that an IP or localhost endpoint (moto, MinIO, LocalStack) needs path-style addressing.
 */
export function createS3Client(config: S3ClientConfig = {}): S3Client {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return new S3Client({
    forcePathStyle: endpoint ? needsPathStyle(endpoint) : undefined,
    ...config,
  });
}

/** Virtual-hosted addressing needs a DNS name per bucket: impossible for an IP address or localhost. */
export function needsPathStyle(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === "localhost" || /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith("[");
}
