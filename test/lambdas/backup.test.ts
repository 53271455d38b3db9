import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testEnv, uniqueName } from "../support/env";
import { createBucket, createSecret, credentialsFor } from "./support/aws";
import { startFailingProxy } from "./support/failing-proxy";
import { applyEnv, coldStart, invoke, metricValue, type Env } from "./support/invoke";
import { listKeys } from "./support/s3";

const services = testEnv();
let client: MongoClient;
let s3: S3Client;
let database: string;
let bucket: string;
let secretId: string;
const prefix = "opendev/";

beforeAll(async () => {
  database = uniqueName("backup").replace(/-/g, "_");
  bucket = uniqueName("backups");
  secretId = uniqueName("backup/credentials");
  client = new MongoClient(services.mongodbAuthUri);
  await client.connect();
  await client
    .db(database)
    .collection("orders")
    .insertMany(Array.from({ length: 25 }, (_, n) => ({ n, total: n * 3, createdAt: new Date() })));
  await client
    .db(database)
    .collection("users")
    .insertMany([{ name: "ada" }, { name: "grace" }]);
  s3 = await createBucket(bucket);
  await createSecret(secretId, credentialsFor(services.mongodbAuthUri, { database }));
});

afterAll(async () => {
  await client?.db(database).dropDatabase();
  await client?.close();
});

function env(overrides: Env = {}): Env {
  return {
    APP_NAME: "shop",
    MONGODB_SECRET_ID: secretId,
    BACKUP_BUCKET: bucket,
    BACKUP_PREFIX: prefix,
    BACKUP_DATABASES: database,
    ...overrides,
  };
}

describe("backup handler", () => {
  it("backs up the configured databases under the kind's prefix, named by the scheduled time", async () => {
    const handler = await coldStart("lambdas/backup/handler", env());
    const event = { kind: "weekly", scheduledTime: "2025-03-02T03:00:00Z" };
    const run = await invoke(handler, event);

    expect(run.error).toBeUndefined();
    const archive = `${prefix}weekly/shop_backup_20250302_030000.tar.gz`;
    expect(await listKeys(s3, bucket, `${prefix}weekly/`)).toEqual([archive, `${archive}.manifest.json`]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: archive }));
    expect(metricValue(run, "BackupSucceeded")).toBe(1);
    expect(metricValue(run, "BackupDocuments")).toBe(27);
    expect(metricValue(run, "BackupBytes")).toBe(head.ContentLength);
    expect(metricValue(run, "BackupDurationMs")).toBeGreaterThan(0);
    expect(run.metrics.find((metric) => metric.name === "BackupSucceeded")!.dimensions).toEqual({
      service: "atlas-ops",
      App: "shop",
      Job: "backup",
    });

    // A retry of the same scheduled run (Lambda's async retry, or the schedule's) writes nothing new.
    const retry = await invoke(handler, event);
    expect(retry.error).toBeUndefined();
    expect(retry.result).toMatchObject({ alreadyDone: true, documents: 27 });
    expect(metricValue(retry, "BackupSucceeded")).toBe(1);
    expect(await listKeys(s3, bucket, `${prefix}weekly/`)).toEqual([archive, `${archive}.manifest.json`]);
  });

  it("two deliveries of one scheduled run at once: one backup, both report it, neither fails", async () => {
    // Two containers, as Lambda would run them (their output is captured together, so no metrics here).
    const first = await coldStart("lambdas/backup/handler", env({ BACKUP_PREFIX: "twice/" }));
    const second = await coldStart("lambdas/backup/handler", env({ BACKUP_PREFIX: "twice/" }));
    const event = { kind: "daily", scheduledTime: "2025-03-05T02:00:00Z" };
    const runs = await Promise.all([invoke(first, event), invoke(second, event)]);
    expect(runs.map((run) => run.error)).toEqual([undefined, undefined]);
    expect(runs.map((run) => (run.result as { alreadyDone: boolean }).alreadyDone).sort()).toEqual([
      false,
      true,
    ]);
    const archive = "twice/daily/shop_backup_20250305_020000.tar.gz";
    expect(await listKeys(s3, bucket, "twice/")).toEqual([archive, `${archive}.manifest.json`]);
  });

  it("names the archive by the current time when the event has no scheduled time", async () => {
    const handler = await coldStart("lambdas/backup/handler", env({ BACKUP_PREFIX: "adhoc" }));
    const run = await invoke(handler, { kind: "daily" });
    expect(run.error).toBeUndefined();
    const keys = await listKeys(s3, bucket, "adhoc/daily/");
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^adhoc\/daily\/shop_backup_\d{8}_\d{6}\.tar\.gz$/);
  });

  it("fails without leaving anything when the password is wrong", async () => {
    const wrong = uniqueName("backup/wrong");
    await createSecret(wrong, credentialsFor(services.mongodbAuthUri, { database, password: "wrong-pw-7q" }));
    const handler = await coldStart(
      "lambdas/backup/handler",
      env({ MONGODB_SECRET_ID: wrong, BACKUP_PREFIX: "wrong/" }),
    );
    const run = await invoke(handler, { kind: "daily", scheduledTime: "2025-03-03T03:00:00Z" });

    expect(run.error?.message).toMatch(/authentication failed/);
    expect(run.lines.join("\n")).not.toContain("wrong-pw-7q");
    expect(metricValue(run, "BackupSucceeded")).toBe(0);
    expect(await listKeys(s3, bucket, "wrong/")).toEqual([]);
  });

  it("fails naming the bucket when it does not exist", async () => {
    const missing = uniqueName("no-bucket");
    const handler = await coldStart("lambdas/backup/handler", env({ BACKUP_BUCKET: missing }));
    const run = await invoke(handler, { kind: "daily", scheduledTime: "2025-03-03T03:00:00Z" });
    expect(run.error?.message).toMatch(new RegExp(`s3://${missing}/.*NoSuchBucket`));
    expect(metricValue(run, "BackupSucceeded")).toBe(0);
  });

  it("leaves no archive that looks good when S3 fails while storing it", async () => {
    const proxy = await startFailingProxy(services.awsEndpointUrl, (method, path) => {
      return (
        method === "PUT" &&
        path.includes("/broken/") &&
        path.includes(".tar.gz") &&
        !path.includes("manifest")
      );
    });
    try {
      const handler = await coldStart("lambdas/backup/handler", env({ BACKUP_PREFIX: "broken/" }));
      const restore = applyEnv({ AWS_ENDPOINT_URL_S3: proxy.url });
      let run;
      try {
        run = await invoke(handler, { kind: "daily", scheduledTime: "2025-03-04T03:00:00Z" });
      } finally {
        restore();
      }
      expect(proxy.failed.length).toBeGreaterThan(0);
      expect(run.error?.message).toMatch(/InternalError|injected failure/);
      expect(metricValue(run, "BackupSucceeded")).toBe(0);
      expect((await listKeys(s3, bucket, "broken/")).filter((key) => key.endsWith(".manifest.json"))).toEqual(
        [],
      );
    } finally {
      await proxy.close();
    }
  });

  it("rejects a bad event or configuration naming the field or variable", async () => {
    const handler = await coldStart("lambdas/backup/handler", env());
    const noKind = await invoke(handler, {});
    expect(noKind.error?.message).toBe(
      'event field "kind" must be one of daily, weekly, monthly (got undefined)',
    );
    expect(metricValue(noKind, "BackupSucceeded")).toBe(0);
    const badTime = await invoke(handler, { kind: "daily", scheduledTime: "yesterday" });
    expect(badTime.error?.message).toMatch(/"scheduledTime" must be an ISO 8601 time/);

    const noBucket = await coldStart("lambdas/backup/handler", env({ BACKUP_BUCKET: undefined }));
    const run = await invoke(noBucket, { kind: "daily" });
    expect(run.error?.message).toBe("environment variable BACKUP_BUCKET is required but not set");
    expect(metricValue(run, "BackupSucceeded")).toBe(0);
  });
});
