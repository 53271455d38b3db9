import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Target } from "../../lambdas/adapters/s3-target";
import { runBackup } from "../../lambdas/core/backup/backup";
import { buildMongoUri } from "../../lambdas/core/mongo/credentials";
import { testEnv, uniqueName } from "../support/env";
import { segmentedArchive } from "../support/segmented-archive";
import { createBucket, createSecret, credentialsFor } from "./support/aws";
import { coldStart, invoke, metricValue, type Env } from "./support/invoke";
import { listKeys } from "./support/s3";

const services = testEnv();
let client: MongoClient;
let s3: S3Client;
let database: string;
let bucket: string;
let databaseUri: string;
let secretId: string;

beforeAll(async () => {
  database = uniqueName("verify").replace(/-/g, "_");
  bucket = uniqueName("verify");
  secretId = uniqueName("verify/credentials");
  client = new MongoClient(services.mongodbAuthUri);
  await client.connect();
  await client
    .db(database)
    .collection("orders")
    .insertMany(Array.from({ length: 10 }, (_, n) => ({ n })));
  s3 = await createBucket(bucket);
  const credentials = credentialsFor(services.mongodbAuthUri, { database });
  await createSecret(secretId, credentials);
  databaseUri = buildMongoUri(credentials as Parameters<typeof buildMongoUri>[0]);
  // Real backups made by the backup Lambda: two daily, one weekly.
  const backup = await coldStart("lambdas/backup/handler", {
    APP_NAME: "shop",
    MONGODB_SECRET_ID: secretId,
    BACKUP_BUCKET: bucket,
    BACKUP_DATABASES: database,
  });
  for (const event of [
    { kind: "daily", scheduledTime: "2025-04-01T03:00:00Z" },
    { kind: "daily", scheduledTime: "2025-04-02T03:00:00Z" },
    { kind: "weekly", scheduledTime: "2025-04-06T03:00:00Z" },
  ]) {
    const run = await invoke(backup, event);
    if (run.error) throw run.error;
  }
});

afterAll(async () => {
  await client?.db(database).dropDatabase();
  await client?.close();
});

const verify = async (env: Env = {}) => {
  const handler = await coldStart("lambdas/verify-backup/handler", {
    APP_NAME: "shop",
    BACKUP_BUCKET: bucket,
    ...env,
  });
  return invoke(handler, { source: "aws.scheduler" });
};

describe("verify-backup handler", () => {
  it("verifies the newest archive of each kind and every recent one, and reports the newest age per kind", async () => {
    const run = await verify();

    expect(run.error).toBeUndefined();
    expect(metricValue(run, "BackupVerified")).toBe(1);
    const verified = (run.result as { verified: { url: string; ok: boolean; documents: number }[] }).verified;
    expect(verified.map((report) => report.url.replace(`s3://${bucket}/`, ""))).toEqual([
      "daily/shop_backup_20250402_030000.tar.gz",
      "daily/shop_backup_20250401_030000.tar.gz",
      "weekly/shop_backup_20250406_030000.tar.gz",
    ]);
    expect(verified.every((report) => report.ok && report.documents === 10)).toBe(true);
    const dailyAge = metricValue(run, "NewestBackupAgeHours", { Kind: "daily" });
    expect(dailyAge).toBeGreaterThanOrEqual(0);
    expect(dailyAge).toBeLessThan(1);
    expect(run.metrics.find((m) => m.name === "NewestBackupAgeHours")!.dimensions).toEqual({
      service: "atlas-ops",
      App: "shop",
      Job: "verify-backup",
      Kind: "daily",
    });
    expect(
      run.metrics.filter((m) => m.name === "NewestBackupAgeHours" && m.dimensions.Kind === "monthly"),
    ).toEqual([]);
  });

  it("verifies older archives only within VERIFY_MAX_AGE_HOURS, but always the newest of each kind", async () => {
    const prefix = "window/";
    const target = new S3Target({ bucket, prefix });
    const tenDaysAgo = new Date(Date.now() - 240 * 3600_000);
    await runBackup({
      uri: databaseUri,
      target,
      app: "shop",
      kind: "daily",
      databases: [database],
      now: () => tenDaysAgo,
    });
    const fresh = await runBackup({
      uri: databaseUri,
      target,
      app: "shop",
      kind: "daily",
      databases: [database],
    });
    const urls = (run: Awaited<ReturnType<typeof verify>>) =>
      (run.result as { verified: { url: string }[] }).verified.map((report) => report.url);

    const weekWindow = await verify({ BACKUP_PREFIX: prefix });
    expect(weekWindow.error).toBeUndefined();
    expect(urls(weekWindow)).toEqual([fresh.archive]);

    const wideWindow = await verify({ BACKUP_PREFIX: prefix, VERIFY_MAX_AGE_HOURS: "300" });
    expect(urls(wideWindow)).toEqual([fresh.archive, expect.stringContaining("daily/shop_backup_")]);
    expect(urls(wideWindow)[1]).not.toBe(fresh.archive);
  });

  it("fails naming the archive when its bytes no longer match the manifest", async () => {
    const key = "daily/shop_backup_20250401_030000.tar.gz";
    const original = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await original.Body!.transformToByteArray());
    const damaged = Buffer.from(bytes);
    const middle = Math.floor(damaged.length / 2);
    damaged[middle] = damaged[middle]! ^ 0xff;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: damaged }));
    try {
      const run = await verify();
      expect(run.error?.message).toMatch(
        new RegExp(`1 of 3 backup\\(s\\) failed verification: s3://${bucket}/${key.replace(/\./g, "\\.")}: `),
      );
      expect(metricValue(run, "BackupVerified")).toBe(0);
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    }
  });

  it("fails when the bucket holds no committed backup, or does not exist", async () => {
    const empty = uniqueName("verify-empty");
    await createBucket(empty);
    const run = await verify({ BACKUP_BUCKET: empty });
    expect(run.error?.message).toBe(`no committed backup found in s3://${empty}/`);
    expect(metricValue(run, "BackupVerified")).toBe(0);
    expect(await listKeys(s3, empty)).toEqual([]);

    const missing = uniqueName("verify-missing");
    const gone = await verify({ BACKUP_BUCKET: missing });
    expect(gone.error?.message).toMatch(new RegExp(`s3://${missing}/.*NoSuchBucket`));
    expect(metricValue(gone, "BackupVerified")).toBe(0);
  });

  it("skips and reports unreadable sidecars, and still verifies and backs up (issue 13 item 14)", async () => {
    const prefix = "broken/";
    const target = new S3Target({ bucket, prefix });
    const good = await runBackup({
      uri: databaseUri,
      target,
      app: "shop",
      kind: "daily",
      databases: [database],
    });
    const sidecarKey = `${prefix}daily/${good.name}.tar.gz.manifest.json`;
    const sidecar = await (
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: sidecarKey }))
    ).Body!.transformToString();
    const future = { ...JSON.parse(sidecar), formatVersion: 2 };
    const broken = {
      [`${prefix}daily/shop_backup_20990101_000000.tar.gz.manifest.json`]: JSON.stringify(future),
      [`${prefix}daily/shop_backup_20990102_000000.tar.gz.manifest.json`]: sidecar.slice(
        0,
        sidecar.length / 2,
      ),
    };
    for (const [Key, Body] of Object.entries(broken))
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));

    const run = await verify({ BACKUP_PREFIX: prefix });
    expect(run.error).toBeUndefined();
    expect(metricValue(run, "BackupVerified")).toBe(1);
    expect(metricValue(run, "UnreadableSidecars")).toBe(2);
    const outcome = run.result as {
      verified: { url: string }[];
      unreadableSidecars: { url: string; reason: string }[];
    };
    expect(outcome.verified.map((report) => report.url)).toEqual([good.archive]);
    expect(outcome.unreadableSidecars).toEqual([
      {
        url: `s3://${bucket}/${Object.keys(broken)[0]}`,
        reason: expect.stringMatching(/unsupported formatVersion 2/),
      },
      { url: `s3://${bucket}/${Object.keys(broken)[1]}`, reason: expect.stringMatching(/not valid JSON/) },
    ]);
    const warnings = run.logs.filter((log) => log.message === "sidecar skipped: it cannot be read");
    expect(warnings.map((log) => log.sidecar)).toEqual(outcome.unreadableSidecars.map((u) => u.url));

    // The next scheduled backup of that kind lists the same folder: it skips them too and succeeds.
    const backup = await coldStart("lambdas/backup/handler", {
      APP_NAME: "shop",
      MONGODB_SECRET_ID: secretId,
      BACKUP_BUCKET: bucket,
      BACKUP_PREFIX: prefix,
      BACKUP_DATABASES: database,
    });
    const scheduled = await invoke(backup, { kind: "daily", scheduledTime: "2025-05-01T03:00:00Z" });
    expect(scheduled.error).toBeUndefined();
    expect(metricValue(scheduled, "BackupSucceeded")).toBe(1);
    expect(metricValue(scheduled, "UnreadableSidecars")).toBe(2);
  });

  it("rejects a bad VERIFY_MAX_AGE_HOURS naming the variable", async () => {
    const run = await verify({ VERIFY_MAX_AGE_HOURS: "0" });
    expect(run.error?.message).toBe("environment variable VERIFY_MAX_AGE_HOURS must be at least 1 (got 0)");
  });

  it("goes on over invocations when time runs short, from checkpoints and between archives, to the one-shot outcome", async () => {
    const prefix = "segmented/";
    const layout = {
      collections: [
        { db: "app", collection: "orders", documents: 300 },
        { db: "app", collection: "users", documents: 10, first: 5000 },
      ],
      segmentBytes: 16 * 1024,
      checkpointTarBytes: 1,
      memberBytes: 8192,
    };
    const recent = new Date(Date.now() - 3600_000);
    for (const [name, finishedAt] of [
      ["shop_backup_20250501_030000", recent.toISOString()],
      ["shop_backup_20250502_030000", new Date(recent.getTime() + 60_000).toISOString()],
    ] as const) {
      const archive = segmentedArchive({ ...layout, name, finishedAt });
      const key = `${prefix}daily/${name}.tar.gz`;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: archive.gz }));
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${key}.manifest.json`,
          Body: JSON.stringify(archive.sidecar),
        }),
      );
    }
    const handler = await coldStart("lambdas/verify-backup/handler", {
      APP_NAME: "shop",
      BACKUP_BUCKET: bucket,
      BACKUP_PREFIX: prefix,
    });
    const oneShot = await invoke(handler, { source: "aws.scheduler" });
    expect(oneShot.error).toBeUndefined();
    expect(oneShot.result).toMatchObject({ done: true });

    let event: unknown = { source: "aws.scheduler" };
    const steps: unknown[] = [];
    for (let step = 0; step < 100; step += 1) {
      // A context with 1 ms left: every checkpoint, and every archive boundary, is a stop.
      const run = await invoke(handler, event, "verify-backup", 1);
      expect(run.error).toBeUndefined();
      steps.push(run.result);
      if ((run.result as { done: boolean }).done) break;
      // The workflow passes the result on as the next event, through JSON.
      event = JSON.parse(JSON.stringify(run.result));
    }
    const last = steps[steps.length - 1] as { done: boolean };
    expect(last.done).toBe(true);
    expect(last).toEqual(oneShot.result);
    // Checkpoints of both archives were stops, and a stop between them.
    const progress = steps.slice(0, -1) as { current?: { checkpoint: number }; verified: unknown[] }[];
    expect(progress.filter((p) => p.current).length).toBeGreaterThan(8);
    expect(progress.some((p) => !p.current && p.verified.length === 1)).toBe(true);
    expect(Math.max(...steps.map((s) => JSON.stringify(s).length))).toBeLessThan(256 * 1024);

    const middle = JSON.parse(JSON.stringify(progress[3]));
    const again = await invoke(handler, middle, "verify-backup", 1);
    // A retried step (the same event again) ends the same way, but for the times it measured.
    const untimed = (result: unknown) =>
      JSON.parse(JSON.stringify(result), (key, value: unknown) =>
        key === "durationMs" || key === "longestIntervalMs" ? 0 : value,
      ) as unknown;
    expect(untimed(again.result)).toEqual(untimed(steps[4]));
  });
});
