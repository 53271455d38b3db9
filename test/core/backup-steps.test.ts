import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
} from "@aws-sdk/client-s3";
import { Binary, BSON, Double, Int32, Long, MongoClient, ObjectId } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../lambdas/adapters/aws-clients";
import { S3Target } from "../../lambdas/adapters/s3-target";
import type { BackupManifest } from "../../lambdas/core/archive/events";
import { abandonBackup, runBackup, runBackupStep, type BackupStep } from "../../lambdas/core/backup/backup";
import { BackupConflictError } from "../../lambdas/core/targets/target";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { verifyArchive } from "../../lambdas/core/verify/verify";
import { testEnv, uniqueName } from "../support/env";
import { orderDocument, seedRandomCollection } from "../support/seed";
import { bsonDocuments, comparableManifest, rawDocuments } from "../support/documents";

const run = promisify(execFile);
const env = testEnv();
const SEGMENT = 512 * 1024;

/** `_id`s of every type a collection may use, interleaved, so that resuming after an `_id` crosses types. */
function mixedId(index: number): unknown {
  switch (index % 6) {
    case 0:
      return new Int32(index);
    case 1:
      return `id-${String(index).padStart(6, "0")}`;
    case 2:
      return new ObjectId(Buffer.from(index.toString(16).padStart(24, "0"), "hex"));
    case 3:
      return new Date(Date.UTC(2020, 0, 1) + index * 1000);
    case 4:
      return new Double(index + 0.5);
    default:
      return Long.fromNumber(index * 1_000_000_007);
  }
}

describe(
  "a backup in steps (each invocation stops at a checkpoint and the next resumes)",
  { timeout: 600_000 },
  () => {
    const s3 = createS3Client();
    const bucket = uniqueName("steps");
    const db = uniqueName("bksteps").replaceAll("-", "_");
    let client: MongoClient;
    let work: string;
    const target = () => new S3Target({ bucket, prefix: "app/", partSize: 5 * 1024 * 1024, client: s3 });

    beforeAll(async () => {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      client = await MongoClient.connect(env.mongodbUri);
      work = await mkdtemp(join(tmpdir(), "backup-steps-"));
      const orders = Array.from({ length: 6000 }, (_, i) => orderDocument(i));
      for (let i = 0; i < orders.length; i += 1000)
        await client
          .db(db)
          .collection("orders")
          .insertMany(orders.slice(i, i + 1000));
      const mixed = Array.from({ length: 1200 }, (_, i) => ({
        _id: mixedId(i) as never,
        payload: new Binary(Buffer.alloc(600, i % 251)),
      }));
      await client.db(db).collection("mixed").insertMany(mixed);
      await client
        .db(db)
        .collection("users")
        .insertMany(Array.from({ length: 30 }, (_, i) => ({ email: `u${i}@x` })));
      await client.db(db).createCollection("empty");
      // Incompressible, above two 5 MiB parts: a step uploads parts before it ends.
      await seedRandomCollection(client, db, "blobs", 11 * 1024 * 1024);
    });

    afterAll(async () => {
      await client?.db(db).dropDatabase();
      await client?.close();
      await rm(work, { recursive: true, force: true });
    });

    async function stepped(
      name: string,
      first?: BackupStep,
    ): Promise<{ steps: number; manifest: BackupManifest }> {
      let step = first;
      let steps = first ? 1 : 0;
      for (;;) {
        step = await runBackupStep({
          uri: env.mongodbUri,
          target: target(),
          databases: [db],
          name,
          segmentBytes: SEGMENT,
          resume: step && !step.done ? step.continuation : undefined,
          // A margin above the time left: every step stops at its first checkpoint.
          remainingMs: () => 1000,
          marginMs: 10_000,
        });
        steps += 1;
        if (step.done) return { steps, manifest: step.result.manifest };
        expect(steps).toBeLessThan(200);
      }
    }

    async function partsStored(name: string): Promise<number> {
      const uploads = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `app/daily/${name}` }),
      );
      const upload = uploads.Uploads?.[0];
      if (!upload) return 0;
      const parts = await s3.send(
        new ListPartsCommand({ Bucket: bucket, Key: upload.Key!, UploadId: upload.UploadId! }),
      );
      return parts.Parts?.length ?? 0;
    }

    async function extract(name: string): Promise<string> {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `app/daily/${name}.tar.gz` }));
      const archive = join(work, `${name}.tar.gz`);
      await writeFile(archive, await object.Body!.transformToByteArray());
      const into = join(work, name);
      await run("mkdir", ["-p", into]);
      await run("gzip", ["-t", archive]);
      await run("tar", ["-xzf", archive, "-C", into]);
      return join(into, name, db);
    }

    it("writes, over many steps, an archive the stock tools extract into the source's exact documents, and the one-shot manifest", async () => {
      const oneShot = await runBackup({
        uri: env.mongodbUri,
        target: target(),
        databases: [db],
        name: "one-shot",
        segmentBytes: SEGMENT,
      });
      const { steps, manifest } = await stepped("in-steps");
      expect(steps).toBeGreaterThan(5);
      expect(comparableManifest(manifest)).toEqual(comparableManifest(oneShot.manifest));
      const orders = manifest.collections.find((entry) => entry.collection === "orders")!;
      expect(orders.segments!.length).toBeGreaterThan(2);
      expect(orders.sha256).toBeUndefined();
      expect(manifest.archive!.checkpoints!.some((point) => point.file?.path === orders.file)).toBe(true);

      const files = await extract("in-steps");
      for (const collection of ["orders", "mixed", "users", "empty", "blobs"]) {
        const bson = await readFile(join(files, `${collection}.bson`));
        expect(bsonDocuments(bson), collection).toEqual(await rawDocuments(client, db, collection));
      }
      expect((await readdir(files)).sort()).toEqual(
        ["blobs", "empty", "mixed", "orders", "users"]
          .flatMap((c) => [`${c}.bson`, `${c}.metadata.json`])
          .sort(),
      );
      // No upload is left open.
      const uploads = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "app/daily/in-steps" }),
      );
      expect(uploads.Uploads ?? []).toEqual([]);
    });

    it("survives a step killed mid-way and retried from the same continuation", async () => {
      const name = "crashed";
      const common = { uri: env.mongodbUri, target: target(), databases: [db], name, segmentBytes: SEGMENT };
      const first = await runBackupStep({ ...common, remainingMs: () => 1000, marginMs: 10_000 });
      expect(first.done).toBe(false);
      // The second step runs in a process of its own, killed once it has written documents (parts uploaded).
      const child = spawn(
        process.execPath,
        [
          // In this process (tsx's CLI would run the script in a child that a kill leaves running).
          "--import",
          "tsx",
          join(process.cwd(), "test/support/backup-step-child.ts"),
          JSON.stringify({
            ...common,
            target: undefined,
            bucket,
            prefix: "app/",
            resume: !first.done && first.continuation,
          }),
        ],
        { env: process.env, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
      // Killed once this step has stored parts of its own (beyond those of step 1).
      const before = await partsStored(name);
      let killed = false;
      while (child.exitCode === null) {
        if ((await partsStored(name)) >= before + 1) {
          killed = child.kill("SIGKILL");
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await exited;
      expect(killed, stderr).toBe(true);
      const { manifest } = await stepped(name, first);
      const oneShot = await runBackup({ ...common, name: "crash-reference" });
      expect(comparableManifest(manifest)).toEqual(comparableManifest(oneShot.manifest));
      const files = await extract(name);
      const orders = await readFile(join(files, "orders.bson"));
      expect(bsonDocuments(orders)).toEqual(await rawDocuments(client, db, "orders"));
    });

    it("two runs of the same backup in steps at once: their steps interleave, one commits, neither mixes the other's state", async () => {
      const name = "twice";
      const options = {
        uri: env.mongodbUri,
        target: target(),
        databases: [db],
        name,
        segmentBytes: SEGMENT,
        remainingMs: () => 1000,
        marginMs: 10_000,
      };
      const runs: (BackupStep | Error | undefined)[] = [undefined, undefined];
      const finished = (step: BackupStep | Error | undefined) => step instanceof Error || step?.done === true;
      while (!runs.every(finished)) {
        for (const index of [0, 1]) {
          const step = runs[index];
          if (finished(step)) continue;
          runs[index] = await runBackupStep({
            ...options,
            resume: step && !(step instanceof Error) && !step.done ? step.continuation : undefined,
          }).catch((error: Error) => error);
        }
      }
      const committed = runs.filter((step) => !(step instanceof Error));
      expect(committed).toHaveLength(1);
      expect((runs.find((step) => step instanceof Error) as Error).cause).toBeInstanceOf(BackupConflictError);
      const files = await extract(name);
      for (const collection of ["orders", "mixed", "blobs"]) {
        const bson = await readFile(join(files, `${collection}.bson`));
        expect(bsonDocuments(bson), collection).toEqual(await rawDocuments(client, db, collection));
      }
    });

    it("a file whose last document ends a segment: no checkpoint at the end of its data, and it verifies", async () => {
      const edge = `${db}_edge`;
      // 128 documents of exactly 1 KiB: the last one ends the second 64 KiB segment, at the end of the file.
      const documents = Array.from({ length: 128 }, (_, i) => ({
        _id: new Int32(i),
        p: new Binary(Buffer.alloc(1002, i)),
      }));
      expect(BSON.calculateObjectSize(documents[0]!)).toBe(1024);
      await client
        .db(edge)
        .collection("exact")
        .insertMany(documents as never);
      try {
        const local = new FileTarget(join(work, "edge"));
        const backup = await runBackup({
          uri: env.mongodbUri,
          target: local,
          databases: [edge],
          segmentBytes: 64 * 1024,
        });
        const entry = backup.manifest.collections[0]!;
        expect(entry.segments?.map((segment) => segment.bytes)).toEqual([64 * 1024, 64 * 1024]);
        expect(backup.manifest.archive!.checkpoints!.map((point) => point.file?.offset)).toEqual([64 * 1024]);
        const [stored] = await local.list("daily");
        const report = await verifyArchive(local, stored!.key);
        expect(report.problem).toBeUndefined();
        expect(report.ok).toBe(true);
      } finally {
        await client.db(edge).dropDatabase();
      }
    });

    it("aborts the open upload when the workflow gives up", async () => {
      const name = "given-up";
      const first = await runBackupStep({
        uri: env.mongodbUri,
        target: target(),
        databases: [db],
        name,
        segmentBytes: SEGMENT,
        remainingMs: () => 1000,
        marginMs: 10_000,
      });
      expect(first.done).toBe(false);
      const open = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `app/daily/${name}` }),
      );
      expect(open.Uploads?.length).toBe(1);
      await abandonBackup(target(), !first.done ? first.continuation : "");
      const after = await s3.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `app/daily/${name}` }),
      );
      expect(after.Uploads ?? []).toEqual([]);
    });
  },
);
