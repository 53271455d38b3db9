import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CreateBucketCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { Binary, BSON, Int32, MongoClient, ObjectId, Timestamp, type Document } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../lambdas/adapters/aws-clients";
import { S3Target } from "../../lambdas/adapters/s3-target";
import { runBackup, runBackupStep, type BackupStep } from "../../lambdas/core/backup/backup";
import { testEnv, uniqueName } from "../support/env";
import { bsonDocuments, comparableManifest } from "../support/documents";

const run = promisify(execFile);
const env = testEnv();
const SEGMENT = 512 * 1024;
const DOCUMENT = 1024;
const COUNT = 1024; // two segments exactly: the last document closes the second one

/** `_id`s of many BSON types and odd values: objects, binData of several subtypes, dates before 1970. */
function oddId(index: number): unknown {
  switch (index % 8) {
    case 0:
      return new Int32(index - 500);
    case 1:
      return `s${String(index).padStart(5, "0")}`;
    case 2:
      return { a: index, b: "x" };
    case 3:
      return new Binary(Buffer.from([index & 255, index >> 8]), index % 3 === 0 ? 0 : 5);
    case 4:
      return new ObjectId(Buffer.from(index.toString(16).padStart(24, "0"), "hex"));
    case 5:
      return new Date(Date.UTC(1960, 0, 1) - index * 86_400_000);
    case 6:
      return new Timestamp({ t: 1_700_000_000 + index, i: 1 });
    default:
      return new Binary(Buffer.from(index.toString(16).padStart(32, "0"), "hex"), 4);
  }
}

/** A document of exactly DOCUMENT bytes. */
function sized(index: number): Document {
  const doc: Document = { _id: oddId(index), p: "" };
  doc.p = "x".repeat(DOCUMENT - BSON.calculateObjectSize(doc));
  expect(BSON.calculateObjectSize(doc)).toBe(DOCUMENT);
  return doc;
}

describe(
  "a backup in steps stopping where a collection's last document closes a segment",
  { timeout: 600_000 },
  () => {
    const s3 = createS3Client();
    const bucket = uniqueName("stepedge");
    const db = uniqueName("bkstepedge").replaceAll("-", "_");
    let client: MongoClient;
    let work: string;
    const target = () => new S3Target({ bucket, prefix: "app/", partSize: 5 * 1024 * 1024, client: s3 });

    beforeAll(async () => {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      client = await MongoClient.connect(env.mongodbUri);
      work = await mkdtemp(join(tmpdir(), "backup-step-edges-"));
      await client
        .db(db)
        .collection("exact")
        .insertMany(Array.from({ length: COUNT }, (_, i) => sized(i)));
      await client.db(db).createCollection("empty");
      await client
        .db(db)
        .collection("zz_after")
        .insertMany(Array.from({ length: 700 }, (_, i) => sized(i * 3 + 1)));
    });

    afterAll(async () => {
      await client?.db(db).dropDatabase();
      await client?.close();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it("resumes after the stop at the file's end, and writes the one-shot manifest and every document once", async () => {
      const common = { uri: env.mongodbUri, databases: [db], segmentBytes: SEGMENT };
      const oneShot = await runBackup({ ...common, target: target(), name: "edge-one-shot" });
      let step: BackupStep | undefined;
      let steps = 0;
      do {
        step = await runBackupStep({
          ...common,
          target: target(),
          name: "edge-steps",
          resume: step && !step.done ? step.continuation : undefined,
          remainingMs: () => 1000,
          marginMs: 10_000,
        });
        steps += 1;
        expect(steps).toBeLessThan(50);
      } while (!step.done);
      expect(steps).toBeGreaterThanOrEqual(3);
      expect(comparableManifest(step.result.manifest)).toEqual(comparableManifest(oneShot.manifest));
      const exact = step.result.manifest.collections.find((entry) => entry.collection === "exact")!;
      expect(exact.segments?.map((segment) => segment.bytes)).toEqual([SEGMENT, SEGMENT]);

      const object = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: "app/daily/edge-steps.tar.gz" }),
      );
      const archive = join(work, "edge-steps.tar.gz");
      await writeFile(archive, await object.Body!.transformToByteArray());
      await run("tar", ["-xzf", archive, "-C", work]);
      for (const collection of ["exact", "empty", "zz_after"]) {
        const docs: string[] = [];
        for await (const doc of client
          .db(db)
          .collection(collection)
          .find({}, { raw: true }) as AsyncIterable<Uint8Array>)
          docs.push(Buffer.from(doc).toString("hex"));
        const bson = await readFile(join(work, "edge-steps", db, `${collection}.bson`));
        expect(bsonDocuments(bson), collection).toEqual(docs.sort());
      }
    });
  },
);
