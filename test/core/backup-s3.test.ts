import {
  CreateBucketCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../lambdas/adapters/aws-clients";
import { choosePartSize, S3Target } from "../../lambdas/adapters/s3-target";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { runBackup, type BackupResult } from "../../lambdas/core/backup/backup";
import { verifyArchive, type VerifyProgress } from "../../lambdas/core/verify/verify";
import { cuttingProxy } from "../support/cutting-proxy";
import { testEnv, uniqueName } from "../support/env";
import { seedRandomCollection } from "../support/seed";

const env = testEnv();
const PART = 5 * 1024 * 1024;

async function keysUnder(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

describe("choosePartSize (S3 allows 10,000 parts)", () => {
  const MiB = 1024 * 1024;
  it("keeps 8 MiB parts up to ~48 GB of data, then grows them so that 1.5x the data fits, up to 64 MiB", () => {
    expect(choosePartSize(undefined)).toBe(8 * MiB);
    expect(choosePartSize(1024 * MiB)).toBe(8 * MiB);
    expect(choosePartSize(100 * 1024 * MiB)).toBe(18 * MiB);
    expect(choosePartSize(100 * 1024 * MiB) * 10_000).toBeGreaterThan(1.5 * 100 * 1024 * MiB);
    expect(choosePartSize(10 * 1024 * 1024 * MiB)).toBe(64 * MiB);
  });
});

describe("S3 target (moto)", () => {
  const s3 = createS3Client();
  const bucket = uniqueName("backups");
  const db = uniqueName("bks3").replaceAll("-", "_");
  let client: MongoClient;
  let first: BackupResult;

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    client = await MongoClient.connect(env.mongodbUri);
    // Incompressible data above two part sizes, so the archive is a real multipart upload.
    await seedRandomCollection(client, db, "files", 2 * PART + 1024 * 1024);
    await client
      .db(db)
      .collection("small")
      .insertMany([{ a: 1 }, { a: 2 }]);
    first = await runBackup({
      uri: env.mongodbUri,
      target: new S3Target({ bucket, prefix: "opendev/", partSize: PART, client: s3 }),
      databases: [db],
      now: () => new Date("2024-05-01T03:00:00Z"),
    });
  });

  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
  });

  it("streams the archive as a multipart upload tagged with its kind, then the sidecar", async () => {
    expect(first.archive).toBe(`s3://${bucket}/opendev/daily/opendev_backup_20240501_030000.tar.gz`);
    const key = "opendev/daily/opendev_backup_20240501_030000.tar.gz";
    expect(await keysUnder(s3, bucket, "opendev/")).toEqual([key, `${key}.manifest.json`]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(first.bytes);
    expect(first.bytes).toBeGreaterThan(2 * PART);
    expect(head.ETag).toMatch(/-3"$/); // S3's ETag of a multipart object ends with its part count
    for (const k of [key, `${key}.manifest.json`]) {
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: k }));
      expect(tags.TagSet).toEqual([{ Key: "kind", Value: "daily" }]);
    }
  });

  it("encrypts the archive (every part) and the sidecar with the configured KMS key", async () => {
    // moto records the encryption asked for but does not check that the key exists; in AWS the bucket
    // policy refuses any put without this key (test/infra/stack.test.ts).
    const kmsKeyId = "arn:aws:kms:us-east-1:123456789012:key/0d5c8a4e-5b0e-4d4c-9a53-3f1f6f0b7a11";
    const target = new S3Target({ bucket, prefix: "sse/", partSize: PART, client: s3, kmsKeyId });
    const result = await runBackup({
      uri: env.mongodbUri,
      target,
      databases: [db],
      now: () => new Date("2024-05-03T03:00:00Z"),
    });
    expect(result.bytes).toBeGreaterThan(PART);
    const key = "sse/daily/opendev_backup_20240503_030000.tar.gz";
    for (const k of [key, `${key}.manifest.json`]) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: k }));
      expect(head.ServerSideEncryption, k).toBe("aws:kms");
      expect(head.SSEKMSKeyId, k).toBe(kmsKeyId);
    }
    const plain = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: "opendev/daily/opendev_backup_20240501_030000.tar.gz" }),
    );
    expect(plain.SSEKMSKeyId).toBeUndefined();
  });

  it("lists committed backups newest first from the sidecars, and finds the latest of a kind", async () => {
    const target = new S3Target({ bucket, prefix: "opendev", partSize: PART, client: s3 });
    const small = { uri: env.mongodbUri, target, databases: [db], memoryThreshold: 1024 * 1024 };
    await runBackup({ ...small, now: () => new Date("2024-05-02T03:00:00Z") });
    await runBackup({ ...small, kind: "weekly", now: () => new Date("2024-05-05T04:00:00Z") });
    expect((await target.list()).map((b) => `${b.kind}/${b.name}`)).toEqual([
      "weekly/opendev_backup_20240505_040000",
      "daily/opendev_backup_20240502_030000",
      "daily/opendev_backup_20240501_030000",
    ]);
    expect((await target.list("daily")).map((b) => b.name)).toEqual([
      "opendev_backup_20240502_030000",
      "opendev_backup_20240501_030000",
    ]);
    const latest = await target.latest("daily");
    expect(latest?.manifest.totals.documents).toBe(first.documents);
    expect(await target.latest("monthly")).toBeUndefined();
  });

  it("verifies an archive straight from S3", async () => {
    const { target, key } = await resolveArchive(first.archive);
    const progress: VerifyProgress[] = [];
    const report = await verifyArchive(target, key, key, { onProgress: (p) => progress.push(p) });
    expect(report.problem).toBeUndefined();
    expect(report).toMatchObject({ ok: true, sha256: first.sha256, documents: first.documents });
    // The object's size (ContentLength) is the total of the compressed bytes read.
    expect(progress.at(-1)).toMatchObject({
      documents: first.documents,
      archiveBytesRead: first.bytes,
      archiveBytes: first.bytes,
      expected: { documents: first.documents },
    });
  });

  it("opens an archive with the object's whole size, from an offset too (ranged read)", async () => {
    const { target, key } = await resolveArchive(first.archive);
    const opened = await target.openArchive(key, { start: 1000 });
    opened.stream.destroy();
    expect(opened.bytes).toBe(first.bytes);
  });

  it("fails on a missing bucket and stores nothing", async () => {
    const missing = uniqueName("no-such-bucket");
    await expect(
      runBackup({
        uri: env.mongodbUri,
        target: new S3Target({ bucket: missing, client: s3 }),
        databases: [db],
      }),
    ).rejects.toThrow(new RegExp(`s3://${missing}/daily/opendev_backup_.*NoSuchBucket`));
  });

  it("when the connection drops mid-upload: upload aborted, no archive, no sidecar", async () => {
    const proxy = await cuttingProxy(env.awsEndpointUrl, { requestBytes: 1024 * 1024 });
    try {
      const cut = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 2 });
      const target = new S3Target({ bucket, prefix: "cut/", partSize: PART, client: cut });
      const failure = await runBackup({ uri: env.mongodbUri, target, databases: [db] }).then(
        () => undefined,
        (error: Error) => error,
      );
      // The S3 call that failed, not the stream teardown that followed it.
      expect(failure?.message).toMatch(/failed: cannot upload part \d+ of s3:\/\/.*\/cut\/daily\//);
      expect(failure?.message).not.toMatch(/premature close/i);
      expect(await keysUnder(s3, bucket, "cut/")).toEqual([]);
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "cut/" }));
      expect(uploads.Uploads ?? []).toEqual([]);
    } finally {
      proxy.server.close();
    }
  });
});
