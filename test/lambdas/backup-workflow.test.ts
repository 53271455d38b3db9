import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GetObjectCommand, ListMultipartUploadsCommand, type S3Client } from "@aws-sdk/client-s3";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Target } from "../../lambdas/adapters/s3-target";
import { verifyArchive } from "../../lambdas/core/verify/verify";
import { deployedWorkflowDefinition } from "../support/deployed-workflow";
import { testEnv, uniqueName } from "../support/env";
import { killedStep } from "../support/killed-step";
import { orderDocument } from "../support/seed";
import { runJobWorkflow, StepCrash } from "../support/workflow-driver";
import { createBucket, createSecret, credentialsFor } from "./support/aws";
import { captureOutput, coldStart, invoke, type Env } from "./support/invoke";
import { comparableManifest, rawDocuments } from "../support/documents";

const run = promisify(execFile);
const services = testEnv();
const ORDERS = 100_000;

/**
 * The deployed backup workflow (its definition from the Pulumi program) driving the real backup handler
 * over a database of 100,000 orders, each invocation told it has 8 seconds: several steps, one of them killed
 * mid-way and retried; the archive then verifies, and `tar -xzf` + the stock mongorestore give back the
 * source's documents byte for byte.
 */
describe("the backup workflow over many invocations", { timeout: 900_000 }, () => {
  let client: MongoClient;
  let s3: S3Client;
  let work: string;
  const database = uniqueName("bkflow").replace(/-/g, "_");
  const bucket = uniqueName("backups");
  const secretId = uniqueName("backup/credentials");
  const prefix = "opendev/";

  beforeAll(async () => {
    client = new MongoClient(services.mongodbAuthUri);
    await client.connect();
    const orders = client.db(database).collection("orders");
    for (let start = 0; start < ORDERS; start += 5000) {
      await orders.insertMany(Array.from({ length: 5000 }, (_, i) => orderDocument(start + i)));
    }
    await client
      .db(database)
      .collection("users")
      .insertMany(Array.from({ length: 200 }, (_, i) => ({ email: `user${i}@example.com` })));
    s3 = await createBucket(bucket);
    await createSecret(secretId, credentialsFor(services.mongodbAuthUri, { database }));
    work = await mkdtemp(join(tmpdir(), "backup-workflow-"));
  });

  afterAll(async () => {
    await client?.db(database).dropDatabase();
    await client?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const env: Env = {
    APP_NAME: "shop",
    MONGODB_SECRET_ID: secretId,
    BACKUP_BUCKET: bucket,
    BACKUP_PREFIX: prefix,
    BACKUP_DATABASES: database,
    // 2 MiB segments: checkpoints every ~2 MB, where a step told it has 8 s can stop.
    BACKUP_SEGMENT_BYTES: String(2 * 1024 * 1024),
  };

  it("runs as several steps, survives a step killed mid-way, and commits what a one-shot backup commits", async () => {
    const handler = await coldStart("lambdas/backup/handler", env);
    const definition = await deployedWorkflowDefinition("backup");
    const input = { kind: "daily", scheduledTime: "2025-06-01T04:30:00Z" };
    let killed = false;
    const { result: workflow } = await captureOutput(() =>
      runJobWorkflow(
        definition,
        async (event, context) => {
          // The third step dies mid-way, in a process of its own; the workflow retries it with the same event.
          if (!killed && (event as { continuation?: { step: number } }).continuation?.step === 2) {
            const child = await killedStep("lambdas/backup/handler", event, {
              env: env as Record<string, string>,
              // Time enough to read on well past the 4 s at which it is killed.
              remainingMs: 600_000,
              afterMs: 4000,
            });
            expect(child.killed, child.stderr).toBe(true);
            killed = true;
            throw new StepCrash();
          }
          return handler(event, context);
        },
        input,
        { remainingMs: 8000, deadLetter: async () => expect.fail("nothing goes to the dead-letter queue") },
      ),
    );
    expect(workflow.status, workflow.cause).toBe("SUCCEEDED");
    expect(killed).toBe(true);
    const steps = workflow.events.length;
    expect(steps).toBeGreaterThan(3);
    expect(workflow.output).toMatchObject({ done: true, documents: ORDERS + 200, alreadyDone: false });

    const target = new S3Target({ bucket, prefix, client: s3 });
    const [backup] = await target.list("daily");
    expect(backup!.name).toBe("shop_backup_20250601_043000");
    const orders = backup!.manifest.collections.find((entry) => entry.collection === "orders")!;
    expect(orders.segments!.length).toBeGreaterThan(3);
    const report = await verifyArchive(target, backup!.key);
    expect(report.problem).toBeUndefined();
    expect(report).toMatchObject({ ok: true, documents: ORDERS + 200 });
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    expect(uploads.Uploads ?? []).toEqual([]);

    // The same data backed up in one invocation with all the time it needs.
    const oneShot = await invoke(
      handler,
      { kind: "weekly", scheduledTime: "2025-06-01T04:00:00Z" },
      "backup",
      900_000,
    );
    expect(oneShot.error).toBeUndefined();
    const [weekly] = await target.list("weekly");
    // The kinds differ (daily, weekly); all else is the same.
    expect(comparableManifest({ ...backup!.manifest, kind: "weekly" })).toEqual(
      comparableManifest(weekly!.manifest),
    );

    // The guide's restore: tar -xzf, then the stock mongorestore (into a copy, to compare with the source).
    const archive = join(work, "backup.tar.gz");
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}${backup!.key}` }));
    await writeFile(archive, await object.Body!.transformToByteArray());
    await run("tar", ["-xzf", archive, "-C", work]);
    await run(services.mongorestore, [
      `--uri=${services.mongodbUri}`,
      `--nsFrom=${database}.*`,
      `--nsTo=${database}_copy.*`,
      "--noIndexRestore", // FerretDB refuses the "ns" index option mongorestore 100.11 sends
      join(work, backup!.name),
    ]);
    // The copy went to the test server without authentication; the source is on the authenticated one.
    const copies = new MongoClient(services.mongodbUri);
    try {
      for (const collection of ["orders", "users"]) {
        expect(await rawDocuments(copies, `${database}_copy`, collection)).toEqual(
          await rawDocuments(client, database, collection),
        );
      }
    } finally {
      await copies.db(`${database}_copy`).dropDatabase();
      await copies.close();
    }
  });

  it("verifies both archives the same way: a workflow of 8-second steps resuming at checkpoints, one killed mid-way", async () => {
    const verifyEnv: Env = { APP_NAME: "shop", BACKUP_BUCKET: bucket, BACKUP_PREFIX: prefix };
    const handler = await coldStart("lambdas/verify-backup/handler", verifyEnv);
    const definition = await deployedWorkflowDefinition("verify-backup");
    let killed = false;
    let crashed: unknown;
    const { result: workflow } = await captureOutput(() =>
      runJobWorkflow(
        definition,
        async (event, context) => {
          // A step inside an archive dies mid-way, in a process of its own; the workflow retries the event.
          if (!killed && (event as { current?: unknown }).current !== undefined) {
            // (If it ends first, its answer is lost all the same: the retry must give the same outcome.)
            const child = await killedStep("lambdas/verify-backup/handler", event, {
              env: verifyEnv as Record<string, string>,
              remainingMs: 600_000,
              afterMs: 3000,
            });
            expect(child.stderr).not.toMatch(/Error/);
            killed = true;
            crashed = event;
            throw new StepCrash();
          }
          return handler(event, context);
        },
        { scheduledTime: "2025-06-01T06:00:00Z" },
        { remainingMs: 8000, deadLetter: async () => expect.fail("nothing goes to the dead-letter queue") },
      ),
    );
    expect(workflow.status, workflow.cause).toBe("SUCCEEDED");
    expect(killed).toBe(true);
    expect(workflow.events.length).toBeGreaterThan(3);
    // The crashed step's event ran again.
    expect(workflow.events.filter((event) => JSON.stringify(event) === JSON.stringify(crashed))).toHaveLength(
      2,
    );
    const verified = (workflow.output as { verified: { ok: boolean; documents: number }[] }).verified;
    expect(verified.map((archive) => [archive.ok, archive.documents])).toEqual([
      [true, ORDERS + 200],
      [true, ORDERS + 200],
    ]);
  });
});
