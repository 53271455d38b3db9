import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import type { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../lambdas/adapters/aws-clients";
import { S3Target } from "../../lambdas/adapters/s3-target";
import { runBackup, type BackupResult } from "../../lambdas/core/backup/backup";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import {
  runRestoreTest,
  runRestoreTestStep,
  type RestoreTestContinuation,
} from "../../lambdas/core/restore-test/restore-test";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import type { BackupTarget } from "../../lambdas/core/targets/target";
import { verifyArchive, verifyArchiveStep, type VerifyContinuation } from "../../lambdas/core/verify/verify";
import { testEnv, uniqueName } from "../support/env";
import { orderDocument } from "../support/seed";

/**
 * The readers on archives of the backup writer itself, with a small segment size so that a small database
 * has segments and checkpoints: verify and restore test, one-shot and step by step, from files and from S3.
 */
const SEGMENT = 16 * 1024;
const db = uniqueName("rws").replaceAll("-", "_");
const s3 = createS3Client();
const bucket = uniqueName("reader-writer");
let client: MongoClient;
let dir: string;
let fileBackup: BackupResult;
let s3Backup: BackupResult;
const targets = (): Record<string, BackupTarget> => ({
  file: new FileTarget(dir),
  s3: new S3Target({ bucket, prefix: "opendev/", client: s3 }),
});

beforeAll(async () => {
  client = await connectMongo(testEnv().mongodbUri, { appName: "atlas-ops/test-reader-writer" });
  await client
    .db(db)
    .collection("orders")
    .insertMany(Array.from({ length: 400 }, (_, i) => orderDocument(i)));
  await client
    .db(db)
    .collection<{ _id: number; email: string }>("users")
    .insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, email: `user${i}@example.com` })));
  await client
    .db(db)
    .collection("carts")
    .insertMany(Array.from({ length: 250 }, (_, i) => orderDocument(9000 + i)));
  dir = await mkdtemp(join(tmpdir(), "atlas-ops-reader-writer-"));
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const options = {
    uri: testEnv().mongodbUri,
    databases: [db],
    segmentBytes: SEGMENT,
    now: () => new Date("2026-01-02T03:00:00Z"),
  };
  fileBackup = await runBackup({ ...options, target: targets().file! });
  s3Backup = await runBackup({ ...options, target: targets().s3! });
}, 300_000);

afterAll(async () => {
  await client.db(db).dropDatabase();
  await client.db(`restoretest_${db}`).dropDatabase();
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

const keyOf = (backup: BackupResult) => `daily/${backup.name}.tar.gz`;

describe("archives of the backup writer, with segments and checkpoints", () => {
  it("have segmented files and checkpoints", () => {
    const orders = fileBackup.manifest.collections.find((c) => c.collection === "orders")!;
    expect(orders.segments!.length).toBeGreaterThan(3);
    expect(orders.sha256).toBeUndefined();
    expect(fileBackup.manifest.archive!.checkpoints!.length).toBeGreaterThan(5);
  });

  it.each(["file", "s3"])(
    "verify (%s): one-shot, and step by step from every checkpoint to the same result",
    async (kind) => {
      const target = targets()[kind]!;
      const backup = kind === "file" ? fileBackup : s3Backup;
      const oneShot = await verifyArchive(target, keyOf(backup));
      expect(oneShot.problem).toBeUndefined();
      expect(oneShot).toMatchObject({ ok: true, sha256: backup.sha256, documents: 670 });
      const continuations: VerifyContinuation[] = [];
      let resume: VerifyContinuation | undefined;
      for (;;) {
        const step = await verifyArchiveStep(target, keyOf(backup), keyOf(backup), {
          remainingMs: () => 1,
          marginMs: 0,
          resume,
        });
        if (step.done) {
          expect(step.report.problem).toBeUndefined();
          expect({ ...step.report, durationMs: 0, invocations: 0 }).toEqual({
            ...oneShot,
            sha256: undefined,
            durationMs: 0,
            invocations: 0,
          });
          break;
        }
        resume = JSON.parse(JSON.stringify(step.continuation)) as VerifyContinuation;
        continuations.push(resume);
      }
      expect(continuations.map((c) => c.checkpoint)).toEqual(
        backup.manifest.archive!.checkpoints!.map((_, i) => i),
      );
    },
  );

  it("restore test: step by step from every checkpoint, the same outcome as one-shot", async () => {
    const config = {
      target: targets().s3!,
      kind: "daily" as const,
      scratchUri: testEnv().mongodbUri,
      production: { hosts: ["cluster0.prod.example.net"], database: "opendev" },
    };
    const oneShot = await runRestoreTest(config);
    expect(oneShot.reason).toBeUndefined();
    let resume: RestoreTestContinuation | undefined;
    let steps = 0;
    for (;;) {
      const step = await runRestoreTestStep(config, { remainingMs: () => 1, marginMs: 0, resume });
      steps += 1;
      if (step.done) {
        expect(step.result.reason).toBeUndefined();
        const shape = (r: typeof oneShot) => ({
          ok: r.ok,
          documents: r.documents,
          bytes: r.bytes,
          collections: r.collections.map((c) => ({ ...c, missingIndexes: [] })),
          scratchDropped: r.scratchDropped,
        });
        expect(shape(step.result)).toEqual(shape(oneShot));
        break;
      }
      resume = JSON.parse(JSON.stringify(step.continuation)) as RestoreTestContinuation;
    }
    expect(steps).toBe(s3Backup.manifest.archive!.checkpoints!.length + 1);
    const left = await client.db(`restoretest_${db}`).listCollections().toArray();
    expect(left).toEqual([]);
  });
});
