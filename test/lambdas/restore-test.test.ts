import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMongoUri } from "../../lambdas/core/mongo/uri";
import { testEnv, uniqueName } from "../support/env";
import { createBucket, createSecret, credentialsFor } from "./support/aws";
import { coldStart, invoke, metricValue, type Env } from "./support/invoke";

const services = testEnv();
let client: MongoClient;
let database: string;
let bucket: string;
let scratchSecret: string;

beforeAll(async () => {
  database = uniqueName("rt").replace(/-/g, "_");
  bucket = uniqueName("restore-test");
  const backupSecret = uniqueName("restore-test/backup-user");
  scratchSecret = uniqueName("restore-test/scratch-user");
  client = new MongoClient(services.mongodbAuthUri);
  await client.connect();
  await client
    .db(database)
    .collection("orders")
    .insertMany(Array.from({ length: 40 }, (_, n) => ({ n, sku: `s${n}` })));
  await client.db(database).collection("orders").createIndex({ sku: 1 }, { unique: true });
  await client
    .db(database)
    .collection("users")
    .insertMany([{ name: "ada" }, { name: "grace" }]);
  await createBucket(bucket);
  await createSecret(backupSecret, credentialsFor(services.mongodbAuthUri, { database }));
  await createSecret(scratchSecret, credentialsFor(services.mongodbAuthUri, { database: "admin" }));
  const backup = await coldStart("lambdas/backup/handler", {
    MONGODB_SECRET_ID: backupSecret,
    BACKUP_BUCKET: bucket,
    BACKUP_DATABASES: database,
  });
  const made = await invoke(backup, { kind: "monthly", scheduledTime: "2025-05-01T03:00:00Z" });
  if (made.error) throw made.error;
});

afterAll(async () => {
  await client?.db(database).dropDatabase();
  await client?.close();
});

const restoreTest = async (env: Env = {}) => {
  const handler = await coldStart("lambdas/restore-test/handler", {
    MONGODB_SECRET_ID: scratchSecret,
    BACKUP_BUCKET: bucket,
    RESTORE_TEST_KIND: "monthly",
    PRODUCTION_MONGODB_HOSTS: "cluster0-shard-00-00.abcde.mongodb.net:27017",
    PRODUCTION_DATABASE: database,
    ...env,
  });
  return invoke(handler, { source: "aws.scheduler" });
};

async function databaseNames(): Promise<string[]> {
  const { databases } = await client.db("admin").admin().listDatabases({ nameOnly: true });
  return databases.map((db) => db.name);
}

describe("restore-test handler", () => {
  it("restores the newest backup into scratch databases, checks it, drops them and records RTO and RPO", async () => {
    const run = await restoreTest();

    expect(run.error).toBeUndefined();
    expect(metricValue(run, "RestoreTestSucceeded")).toBe(1);
    expect(metricValue(run, "RestoredDocuments")).toBe(42);
    expect(metricValue(run, "RestoredBytes")).toBeGreaterThan(0);
    expect(metricValue(run, "RestoreDurationMs")).toBeGreaterThan(0);
    const age = metricValue(run, "RestoredBackupAgeHours");
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(1);
    const result = run.result as {
      collections: { namespace: string; digestMatches: boolean }[];
      scratchDropped: boolean;
    };
    expect(result.collections.map((check) => [check.namespace, check.digestMatches])).toEqual(
      expect.arrayContaining([
        [`${database}.orders`, true],
        [`${database}.users`, true],
      ]),
    );
    expect(result.scratchDropped).toBe(true);
    expect(await databaseNames()).not.toContain(`restoretest_${database}`);
  });

  it("refuses to restore onto the production database", async () => {
    const host = parseMongoUri(services.mongodbAuthUri).hosts[0]!;
    const run = await restoreTest({
      PRODUCTION_MONGODB_HOSTS: host,
      PRODUCTION_DATABASE: `restoretest_${database}`,
    });

    expect(run.error?.message).toMatch(/refusing to run a restore test against the production database/);
    expect(metricValue(run, "RestoreTestSucceeded")).toBe(0);
    expect(await databaseNames()).not.toContain(`restoretest_${database}`);
  });

  it("fails when there is no backup of the kind to restore", async () => {
    const run = await restoreTest({ RESTORE_TEST_KIND: "weekly" });
    expect(run.error?.message).toBe(
      `restore test of the newest weekly backup failed: no committed weekly backup in s3://${bucket}/`,
    );
    expect(metricValue(run, "RestoreTestSucceeded")).toBe(0);
  });

  it("fails on a wrong password without showing it", async () => {
    const wrong = uniqueName("restore-test/wrong");
    await createSecret(
      wrong,
      credentialsFor(services.mongodbAuthUri, { database: "admin", password: "bad-pw-r2" }),
    );
    const run = await restoreTest({ MONGODB_SECRET_ID: wrong });
    expect(run.error?.message).toMatch(/authentication failed/);
    expect(run.lines.join("\n")).not.toContain("bad-pw-r2");
    expect(metricValue(run, "RestoreTestSucceeded")).toBe(0);
  });

  it("rejects a missing production setting naming the variable", async () => {
    const run = await restoreTest({ PRODUCTION_MONGODB_HOSTS: undefined });
    expect(run.error?.message).toBe("environment variable PRODUCTION_MONGODB_HOSTS is required but not set");
    const kind = await restoreTest({ RESTORE_TEST_KIND: "hourly" });
    expect(kind.error?.message).toMatch(/RESTORE_TEST_KIND must be one of daily, weekly, monthly/);
  });
});
