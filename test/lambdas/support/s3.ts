import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

/** Every key under `prefix` in `bucket`, sorted. */
export async function listKeys(s3: S3Client, bucket: string, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }),
    );
    keys.push(...(page.Contents ?? []).map((object) => object.Key!));
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  return keys.sort();
}
