import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../lambdas/adapters/aws-clients";
import { S3Target } from "../../lambdas/adapters/s3-target";
import { runBackupStep, type BackupStep } from "../../lambdas/core/backup/backup";
import { BackupConflictError } from "../../lambdas/core/targets/target";
import type { ArchiveUpload, BackupTarget } from "../../lambdas/core/targets/target";
import { testEnv, uniqueName } from "../support/env";
import { orderDocument } from "../support/seed";
import { bsonDocuments, rawDocuments } from "../support/documents";

const run = promisify(execFile);
const env = testEnv();
const SEGMENT = 512 * 1024;

/** A target whose resumed upload fails its first write, as S3 does after the SDK's retries (503 SlowDown). */
function failingOnceOnResume(target: S3Target): BackupTarget {
  return new Proxy(target, {
    get(object, property, receiver) {
      if (property !== "resumeArchive") return Reflect.get(object, property, receiver) as unknown;
      return async (...args: Parameters<S3Target["resumeArchive"]>): Promise<ArchiveUpload> => {
        const upload = await object.resumeArchive(...args);
        let failed = false;
        return {
          ...upload,
          write: async (bytes) => {
            if (!failed) {
              failed = true;
              throw Object.assign(new Error("Please reduce your request rate."), { name: "SlowDown" });
            }
            return upload.write(bytes);
          },
        };
      };
    },
  });
}

describe("a backup in steps, when a step fails and is retried", { timeout: 600_000 }, () => {
  const s3 = createS3Client();
  const bucket = uniqueName("stepfail");
  const db = uniqueName("bkstepfail").replaceAll("-", "_");
  let client: MongoClient;
  let work: string;
  const target = () => new S3Target({ bucket, prefix: "app/", partSize: 5 * 1024 * 1024, client: s3 });
  const stepOptions = (name: string) => ({
    uri: env.mongodbUri,
    databases: [db],
    name,
    segmentBytes: SEGMENT,
    remainingMs: () => 1000,
    marginMs: 10_000,
  });

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    client = await MongoClient.connect(env.mongodbUri);
    work = await mkdtemp(join(tmpdir(), "backup-step-failures-"));
    const orders = Array.from({ length: 6000 }, (_, i) => orderDocument(i));
    for (let i = 0; i < orders.length; i += 1000)
      await client
        .db(db)
        .collection("orders")
        .insertMany(orders.slice(i, i + 1000));
  });

  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function finish(name: string, from: BackupStep): Promise<BackupStep & { done: true }> {
    let step = from;
    for (let steps = 0; !step.done; steps += 1) {
      expect(steps).toBeLessThan(200);
      step = await runBackupStep({ ...stepOptions(name), target: target(), resume: step.continuation });
    }
    return step;
  }

  it("a later step that fails (a transient S3 error) leaves the run's upload for its retry from the same event", async () => {
    const name = "transient";
    const first = await runBackupStep({ ...stepOptions(name), target: target() });
    expect(first.done).toBe(false);
    if (first.done) return;
    // The second step fails mid-way; the workflow retries it with the same event.
    await expect(
      runBackupStep({
        ...stepOptions(name),
        target: failingOnceOnResume(target()),
        resume: first.continuation,
      }),
    ).rejects.toThrow(/reduce your request rate/);
    const done = await finish(name, first);
    expect(done.result.documents).toBe(6000);

    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `app/daily/${name}.tar.gz` }));
    const archive = join(work, `${name}.tar.gz`);
    await writeFile(archive, await object.Body!.transformToByteArray());
    await run("mkdir", ["-p", join(work, name)]);
    await run("tar", ["-xzf", archive, "-C", join(work, name)]);
    const bson = await readFile(join(work, name, name, db, "orders.bson"));
    expect(bsonDocuments(bson)).toEqual(await rawDocuments(client, db, "orders"));
  });

  it("the result of a backup in steps gives the whole backup's duration, not its last step's", async () => {
    const name = "duration";
    const first = await runBackupStep({ ...stepOptions(name), target: target() });
    expect(first.done).toBe(false);
    if (first.done) return;
    // The workflow's steps are apart in time (Lambda start, Step Functions transitions).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const done = await finish(name, first);
    const manifest = done.result.manifest;
    const whole = Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt);
    expect(whole).toBeGreaterThanOrEqual(1500);
    expect(done.result.durationMs).toBeGreaterThanOrEqual(whole - 1000);
  });

  it("of two runs of one backup in steps, the one that lost leaves no upload open", async () => {
    const name = "two-runs";
    const runs: (BackupStep | Error | undefined)[] = [undefined, undefined];
    const finished = (step: BackupStep | Error | undefined) => step instanceof Error || step?.done === true;
    while (!runs.every(finished)) {
      for (const index of [0, 1]) {
        const step = runs[index];
        if (finished(step)) continue;
        runs[index] = await runBackupStep({
          ...stepOptions(name),
          target: target(),
          resume: step && !(step instanceof Error) && !step.done ? step.continuation : undefined,
        }).catch((error: Error) => error);
      }
    }
    expect((runs.find((step) => step instanceof Error) as Error).cause).toBeInstanceOf(BackupConflictError);
    const uploads = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `app/daily/${name}` }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it("keeps nothing of the connection string in a step's stored state or its result", async () => {
    const name = "no-secrets";
    const uri = new URL(env.mongodbAuthUri);
    const authDb = uniqueName("bkstepauth").replaceAll("-", "_");
    const auth = await MongoClient.connect(env.mongodbAuthUri);
    try {
      const orders = Array.from({ length: 3000 }, (_, i) => orderDocument(i));
      await auth.db(authDb).collection("orders").insertMany(orders);
      const first = await runBackupStep({
        ...stepOptions(name),
        uri: env.mongodbAuthUri,
        databases: [authDb],
        target: target(),
      });
      expect(first.done).toBe(false);
      if (first.done) return;
      const state = (await target().loadContinuation(first.continuation)).toString("latin1");
      for (const secret of [decodeURIComponent(uri.password), decodeURIComponent(uri.username), uri.host]) {
        expect(state).not.toContain(secret);
        expect(JSON.stringify(first)).not.toContain(secret);
      }
    } finally {
      await auth.db(authDb).dropDatabase();
      await auth.close();
    }
  });
});
