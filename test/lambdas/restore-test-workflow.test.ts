import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployedWorkflowDefinition } from "../support/deployed-workflow";
import { testEnv, uniqueName } from "../support/env";
import { orderDocument } from "../support/seed";
import { runJobWorkflow, StepCrash } from "../support/workflow-driver";
import { createBucket, createSecret, credentialsFor } from "./support/aws";
import { captureOutput, coldStart, invoke } from "./support/invoke";

/**
 * The deployed restore-test workflow driving the real restore-test Lambda over a real backup with small
 * segments: every checkpoint is a stop, and one step inside a collection "crashes" after it went on past its
 * checkpoint, so that the workflow's retry of the same event meets documents already inserted.
 */
const services = testEnv();
const ORDERS = 1500;
let client: MongoClient;
const database = uniqueName("rtw").replace(/-/g, "_");
const bucket = uniqueName("restore-test-workflow");
const backupSecret = uniqueName("restore-test-workflow/backup-user");
const scratchSecret = uniqueName("restore-test-workflow/scratch-user");

beforeAll(async () => {
  client = new MongoClient(services.mongodbAuthUri);
  await client.connect();
  await client
    .db(database)
    .collection("orders")
    .insertMany(Array.from({ length: ORDERS }, (_, i) => orderDocument(i)));
  await client
    .db(database)
    .collection("users")
    .insertMany(Array.from({ length: 20 }, (_, i) => ({ email: `user${i}@example.com` })));
  await createBucket(bucket);
  await createSecret(backupSecret, credentialsFor(services.mongodbAuthUri, { database }));
  await createSecret(scratchSecret, credentialsFor(services.mongodbAuthUri, { database: "admin" }));
  const backup = await coldStart("lambdas/backup/handler", {
    MONGODB_SECRET_ID: backupSecret,
    BACKUP_BUCKET: bucket,
    BACKUP_DATABASES: database,
    BACKUP_SEGMENT_BYTES: String(64 * 1024),
  });
  const made = await invoke(
    backup,
    { kind: "monthly", scheduledTime: "2025-05-01T03:00:00Z" },
    "backup",
    900_000,
  );
  if (made.error) throw made.error;
}, 300_000);

afterAll(async () => {
  await client?.db(database).dropDatabase();
  await client?.close();
});

describe("restore-test workflow", () => {
  it("runs step by step from checkpoints, survives a crashed step that went past its checkpoint, and passes", async () => {
    const handler = await coldStart("lambdas/restore-test/handler", {
      MONGODB_SECRET_ID: scratchSecret,
      BACKUP_BUCKET: bucket,
      RESTORE_TEST_KIND: "monthly",
      PRODUCTION_MONGODB_HOSTS: "cluster0-shard-00-00.abcde.mongodb.net:27017",
      PRODUCTION_DATABASE: database,
    });
    const oneShot = await invoke(handler, { source: "aws.scheduler" }, "restore-test", 900_000);
    expect(oneShot.error).toBeUndefined();
    expect(oneShot.result).toMatchObject({ done: true, ok: true, documents: ORDERS + 20 });

    const definition = await deployedWorkflowDefinition("restore-test");
    let crashedOn: unknown;
    const { result: workflow } = await captureOutput(() =>
      runJobWorkflow(
        definition,
        async (event, context) => {
          const inside = (event as { restoreTest?: { stop: { inProgress?: { documents: number } } } })
            .restoreTest?.stop.inProgress;
          const result = await handler(event, context);
          // The first step resumed inside orders does its work, then dies before its answer arrives.
          if (crashedOn === undefined && inside && inside.documents > 0) {
            crashedOn = event;
            throw new StepCrash();
          }
          return result;
        },
        { source: "aws.scheduler" },
        { remainingMs: 1, deadLetter: async () => expect.fail("nothing goes to the dead-letter queue") },
      ),
    );
    expect(workflow.status, workflow.cause).toBe("SUCCEEDED");
    expect(crashedOn).toBeDefined();
    // The crashed step's event was run again.
    expect(
      workflow.events.filter((event) => JSON.stringify(event) === JSON.stringify(crashedOn)),
    ).toHaveLength(2);
    expect(workflow.events.length).toBeGreaterThan(5);
    const untimed = (result: unknown) => {
      const {
        restoreDurationMs: _r,
        verifyDurationMs: _v,
        backupAgeHours: _a,
        invocations: _i,
        restore: _x,
        ...rest
      } = result as Record<string, unknown>;
      return rest;
    };
    expect(untimed(workflow.output)).toEqual(untimed(oneShot.result));
    expect((workflow.output as { invocations: number }).invocations).toBeGreaterThan(5);
    const { databases } = await client.db("admin").admin().listDatabases({ nameOnly: true });
    expect(databases.map((db) => db.name)).not.toContain(`restoretest_${database}`);
  });
});
