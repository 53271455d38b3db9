import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abandonBackup, runBackupStep, type BackupStep } from "../../lambdas/core/backup/backup";
import { decodeContinuation } from "../../lambdas/core/backup/continuation";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { verifyArchive } from "../../lambdas/core/verify/verify";
import { testEnv, uniqueName } from "../support/env";
import { orderDocument } from "../support/seed";

const env = testEnv();
const SEGMENT = 512 * 1024;

describe("a backup in steps to a directory, when a step is retried", { timeout: 300_000 }, () => {
  const db = uniqueName("bkstepfile").replaceAll("-", "_");
  let client: MongoClient;
  let root: string;

  beforeAll(async () => {
    client = await MongoClient.connect(env.mongodbUri);
    root = await mkdtemp(join(tmpdir(), "backup-steps-file-"));
    const orders = Array.from({ length: 3000 }, (_, i) => orderDocument(i));
    await client.db(db).collection("orders").insertMany(orders);
  });

  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("stores the archive a retry wrote, whatever a crashed attempt left beyond it in the partial file", async () => {
    const target = new FileTarget(root);
    const options = { uri: env.mongodbUri, target, databases: [db], name: "retried", segmentBytes: SEGMENT };
    const first = await runBackupStep({ ...options, remainingMs: () => 1000, marginMs: 10_000 });
    expect(first.done).toBe(false);
    if (first.done) return;
    // A crashed attempt of the next step wrote on past the first step's end: more than the rest of the archive
    // the retry writes (documents deleted meanwhile, as a backup without a snapshot allows).
    const { upload } = decodeContinuation(await target.loadContinuation(first.continuation), "step 1");
    await appendFile(upload.fields.partial as string, Buffer.alloc(8 * 1024 * 1024, 7));
    let step: BackupStep = first;
    while (!step.done)
      step = await runBackupStep({ ...options, resume: step.continuation, remainingMs: () => 1e9 });
    const [backup] = await target.list("daily");
    const report = await verifyArchive(target, backup!.key);
    expect(report.problem).toBeUndefined();
    expect(report.ok).toBe(true);
  });

  it("abandons a run twice (the abandon call is retried) without failing", async () => {
    const target = new FileTarget(root);
    const options = {
      uri: env.mongodbUri,
      target,
      databases: [db],
      name: "abandoned",
      segmentBytes: SEGMENT,
    };
    const first = await runBackupStep({ ...options, remainingMs: () => 1000, marginMs: 10_000 });
    expect(first.done).toBe(false);
    if (first.done) return;
    await abandonBackup(target, first.continuation);
    await expect(abandonBackup(target, first.continuation)).resolves.toBeUndefined();
  });
});
