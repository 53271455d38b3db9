import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bundleLambda,
  LAMBDA_NAMES,
  MAX_BUNDLE_BYTES,
  type BundleResult,
  type LambdaName,
} from "../../lambdas/bundle";
import { testEnv, uniqueName } from "../support/env";
import { createBucket, createSecret, createTopicWithQueue, credentialsFor } from "./support/aws";
import { startFakeCloudTrail } from "../support/fake-cloudtrail";
import { clusterNodes, startAtlasReviewFixture } from "./support/atlas-reviews";
import { startServer, type TestServer } from "./support/http-server";
import { applyEnv, captureOutput, invoke, metricValue, type Env, type Handler } from "./support/invoke";

/**
 * What is deployed is what is tested: each handler is bundled exactly as the deploy bundles it, loaded from
 * the bundle file with its environment, and invoked against the real services.
 */
const services = testEnv();
const load = createRequire(__filename);
let outDir: string;
const bundles = new Map<LambdaName, BundleResult>();
let client: MongoClient;
let database: string;
let bucket: string;
let secretId: string;
let health: TestServer;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), "lambda-bundles-"));
  for (const name of LAMBDA_NAMES) bundles.set(name, await bundleLambda(name, outDir));
  database = uniqueName("bundles").replace(/-/g, "_");
  bucket = uniqueName("bundles");
  secretId = uniqueName("bundles/credentials");
  client = new MongoClient(services.mongodbAuthUri);
  await client.connect();
  await client
    .db(database)
    .collection("orders")
    .insertMany(Array.from({ length: 12 }, (_, n) => ({ n })));
  await createBucket(bucket);
  await createSecret(secretId, credentialsFor(services.mongodbAuthUri, { database }));
  health = await startServer((_request, response) => response.end(JSON.stringify({ status: "ok" })));
});

afterAll(async () => {
  await health?.close();
  await client?.db(database).dropDatabase();
  await client?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/** Loads a bundle as the Lambda runtime would (`index.handler`), with the function's environment. */
async function fromBundle(name: LambdaName, env: Env): Promise<{ handler: Handler; restore: () => void }> {
  const restore = applyEnv({ APP_NAME: "bundled", ...env });
  const { result } = await captureOutput(async () => load(bundles.get(name)!.file) as { handler: Handler });
  return { handler: result.handler, restore };
}

async function invokeBundle(name: LambdaName, env: Env, event: unknown) {
  const { handler, restore } = await fromBundle(name, env);
  try {
    return await invoke(handler, event, `bundled-${name}`);
  } finally {
    restore();
  }
}

describe("Lambda bundles", () => {
  it("bundles every Lambda into one file within the size limit", () => {
    for (const name of LAMBDA_NAMES) {
      const bundle = bundles.get(name)!;
      expect(bundle.file).toBe(join(outDir, name, "index.js"));
      expect(bundle.bytes).toBeGreaterThan(0);
      expect(bundle.bytes, `${name} is ${bundle.bytes} bytes`).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
    }
  });

  it("health-check bundle probes the endpoint", async () => {
    const run = await invokeBundle(
      "health-check",
      { HEALTH_CHECK_URL: health.url, HEALTH_CHECK_EXPECT: "status=ok" },
      {},
    );
    expect(run.error).toBeUndefined();
    expect(metricValue(run, "HealthCheckUp")).toBe(1);
    expect(run.metrics[0]!.dimensions).toEqual({ service: "atlas-ops", App: "bundled", Job: "health-check" });
  });

  it("db-stats bundle reads the secret and measures the database", async () => {
    const run = await invokeBundle(
      "db-stats",
      { MONGODB_SECRET_ID: secretId, STATS_DATABASES: database },
      {},
    );
    expect(run.error).toBeUndefined();
    expect(metricValue(run, "Documents", { Database: database })).toBe(12);
  });

  it("backup, verify-backup and restore-test bundles make, check and restore a backup", async () => {
    const common = { BACKUP_BUCKET: bucket, BACKUP_PREFIX: "bundled/" };
    const backup = await invokeBundle(
      "backup",
      { ...common, MONGODB_SECRET_ID: secretId, BACKUP_DATABASES: database },
      { kind: "daily", scheduledTime: "2025-06-01T03:00:00Z" },
    );
    expect(backup.error).toBeUndefined();
    expect(metricValue(backup, "BackupSucceeded")).toBe(1);
    expect(metricValue(backup, "BackupDocuments")).toBe(12);

    const verify = await invokeBundle("verify-backup", common, {});
    expect(verify.error).toBeUndefined();
    expect(metricValue(verify, "BackupVerified")).toBe(1);

    const scratch = uniqueName("bundles/scratch");
    await createSecret(scratch, credentialsFor(services.mongodbAuthUri, { database: "admin" }));
    const restore = await invokeBundle(
      "restore-test",
      {
        ...common,
        MONGODB_SECRET_ID: scratch,
        PRODUCTION_MONGODB_HOSTS: "cluster0.abcde.mongodb.net",
        PRODUCTION_DATABASE: database,
      },
      {},
    );
    expect(restore.error).toBeUndefined();
    expect(metricValue(restore, "RestoreTestSucceeded")).toBe(1);
    expect(metricValue(restore, "RestoredDocuments")).toBe(12);
  });

  it("daily-report bundle publishes to SNS", async () => {
    const topic = await createTopicWithQueue(uniqueName("bundles-report"));
    const run = await invokeBundle(
      "daily-report",
      { REPORT_TOPIC_ARN: topic.topicArn, METRICS_NAMESPACE: "BundleTest" },
      {},
    );
    expect(run.error).toBeUndefined();
    const [sent] = await topic.receive();
    expect(sent!.Subject).toMatch(/^\[bundled\] maintenance report /);
  });

  it("security-review and performance-review bundles read Atlas and CloudTrail and mail their review", async () => {
    const atlas = await startAtlasReviewFixture([
      "GROUP_READ_ONLY",
      "GROUP_MONITORING_ADMIN",
      "GROUP_OBSERVABILITY_VIEWER",
    ]);
    const trail = await startFakeCloudTrail();
    try {
      atlas.state.processes.push(...clusterNodes());
      atlas.state.accessLogs.push({
        authResult: false,
        username: "x",
        ipAddress: "192.0.2.1",
        timestamp: new Date().toISOString(),
      });
      const topic = await createTopicWithQueue(uniqueName("bundles-reviews"));
      const security = await invokeBundle(
        "security-review",
        { ...atlas.env, SECURITY_TOPIC_ARN: topic.topicArn, AWS_ENDPOINT_URL_CLOUDTRAIL: trail.url },
        {},
      );
      expect(security.error).toBeUndefined();
      expect(metricValue(security, "FailedLogins")).toBe(1);
      expect(trail.requests).toHaveLength(1);
      const performance = await invokeBundle(
        "performance-review",
        { ...atlas.env, REPORT_TOPIC_ARN: topic.topicArn, METRICS_NAMESPACE: "BundleTest" },
        { review: "monthly" },
      );
      expect(performance.error).toBeUndefined();
      const subjects = (await topic.receive()).map((m) => m.Subject);
      expect(subjects.length).toBeGreaterThan(0);
      expect(subjects[0]).toMatch(/^\[bundled\] weekly security review: /);
    } finally {
      await trail.close();
      await atlas.atlas.close();
    }
  });

  it("rotation bundles load and export a handler", async () => {
    for (const name of ["rotate-app-secret", "rotate-mongodb-password"] as const) {
      const { handler, restore } = await fromBundle(name, {
        ATLAS_ADMIN_SECRET_ID: "atlas-admin",
        ATLAS_PROJECT_ID: "0123456789abcdef01234567",
      });
      restore();
      expect(typeof handler, name).toBe("function");
    }
  });
});
