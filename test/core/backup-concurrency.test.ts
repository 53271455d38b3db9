import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
} from "@aws-sdk/client-s3";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../lambdas/adapters/aws-clients";
import { S3Target } from "../../lambdas/adapters/s3-target";
import { runBackup, type BackupOptions, type BackupResult } from "../../lambdas/core/backup/backup";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import type { BackupTarget } from "../../lambdas/core/targets/target";
import { verifyArchive } from "../../lambdas/core/verify/verify";
import { cuttingProxy } from "../support/cutting-proxy";
import { testEnv, uniqueName } from "../support/env";
import { seedRandomCollection } from "../support/seed";

const env = testEnv();
const PART = 5 * 1024 * 1024;
const SAME_SECOND = () => new Date("2024-07-01T02:00:00Z");
const NAME = "opendev_backup_20240701_020000";

function outcome(promise: Promise<BackupResult>): Promise<BackupResult | Error> {
  return promise.then(
    (result) => result,
    (error: Error) => error,
  );
}

/** Two runs of the same backup at once: exactly one commits, and the committed pair is that run's. */
async function race(target: () => BackupTarget, base: Omit<BackupOptions, "target">) {
  const results = await Promise.all([
    outcome(runBackup({ ...base, target: target() })),
    outcome(runBackup({ ...base, target: target() })),
  ]);
  const won = results.filter((r): r is BackupResult => !(r instanceof Error));
  const lost = results.filter((r): r is Error => r instanceof Error);
  return { won, lost };
}

describe("two runs of one backup", () => {
  const s3 = createS3Client();
  const bucket = uniqueName("race");
  const db = uniqueName("bkrace").replaceAll("-", "_");
  let client: MongoClient;
  let work: string;

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
    client = await MongoClient.connect(env.mongodbUri);
    await seedRandomCollection(client, db, "files", PART + 1024 * 1024);
    await client
      .db(db)
      .collection("small")
      .insertMany([{ a: 1 }, { a: 2 }]);
    work = await mkdtemp(join(tmpdir(), "backup-concurrency-"));
  });
  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("to S3 in the same second: exactly one reports success, and the committed pair is consistent", async () => {
    const prefix = "same-second/";
    const { won, lost } = await race(() => new S3Target({ bucket, prefix, partSize: PART, client: s3 }), {
      uri: env.mongodbUri,
      databases: [db],
      memoryThreshold: 1024 * 1024,
      now: SAME_SECOND,
    });
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.message).toMatch(/already exists: another backup (stored|committed) it/);
    const key = `${prefix}daily/${NAME}.tar.gz`;
    // One version of each object: the losing run created nothing, not even a second version.
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
    expect((versions.Versions ?? []).map((v) => v.Key).sort()).toEqual([key, `${key}.manifest.json`]);
    expect(versions.DeleteMarkers ?? []).toEqual([]);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    expect(uploads.Uploads ?? []).toEqual([]);
    const sidecar = JSON.parse(
      await (
        await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${key}.manifest.json` }))
      ).Body!.transformToString(),
    );
    const archive = await (
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    ).Body!.transformToByteArray();
    expect(sidecar.archive).toEqual({
      sha256: createHash("sha256").update(archive).digest("hex"),
      bytes: archive.length,
    });
    expect(sidecar.archive.sha256).toBe(won[0]!.sha256);
    const report = await verifyArchive(new S3Target({ bucket, prefix, client: s3 }), `daily/${NAME}.tar.gz`);
    expect(report.problem).toBeUndefined();
  });

  it("a run that fails after another committed the same name removes nothing of the other's", async () => {
    const prefix = "kept/";
    const committed = await runBackup({
      uri: env.mongodbUri,
      target: new S3Target({ bucket, prefix, partSize: PART, client: s3 }),
      databases: [db],
      now: SAME_SECOND,
    });
    const before = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
    // The second run's connection to S3 drops mid-upload; it aborts, and must delete nothing it did not write.
    const proxy = await cuttingProxy(env.awsEndpointUrl, { requestBytes: 1024 * 1024 });
    try {
      const cut = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 2 });
      await expect(
        runBackup({
          uri: env.mongodbUri,
          target: new S3Target({ bucket, prefix, partSize: PART, client: cut }),
          databases: [db],
          now: SAME_SECOND,
        }),
      ).rejects.toThrow(/failed: /);
    } finally {
      proxy.server.close();
    }
    const after = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
    expect(after.Versions?.map((v) => `${v.Key}@${v.VersionId}`)).toEqual(
      before.Versions?.map((v) => `${v.Key}@${v.VersionId}`),
    );
    expect(after.DeleteMarkers ?? []).toEqual([]);
    const report = await verifyArchive(new S3Target({ bucket, prefix, client: s3 }), `daily/${NAME}.tar.gz`);
    expect(report).toMatchObject({ ok: true, sha256: committed.sha256 });
  });

  it("to a directory in the same second: exactly one reports success, and the other leaves nothing behind", async () => {
    const dir = join(work, "same-second");
    const { won, lost } = await race(() => new FileTarget(dir), {
      uri: env.mongodbUri,
      databases: [db],
      memoryThreshold: 1024 * 1024,
      now: SAME_SECOND,
    });
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.message).toMatch(/already exists: another backup (stored|committed) it/);
    expect((await readdir(join(dir, "daily"))).sort()).toEqual([
      `${NAME}.tar.gz`,
      `${NAME}.tar.gz.manifest.json`,
    ]);
    const stored = await readFile(join(dir, "daily", `${NAME}.tar.gz`));
    const sidecar = JSON.parse(await readFile(join(dir, "daily", `${NAME}.tar.gz.manifest.json`), "utf8"));
    expect(sidecar.archive).toEqual({
      sha256: createHash("sha256").update(stored).digest("hex"),
      bytes: stored.length,
    });
    const report = await verifyArchive(new FileTarget(dir), `daily/${NAME}.tar.gz`);
    expect(report.problem).toBeUndefined();
  });
});
