import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync, inflateRawSync } from "node:zlib";
import { createHash } from "node:crypto";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
} from "@aws-sdk/client-s3";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../lambdas/adapters/aws-clients";
import { S3Target } from "../../lambdas/adapters/s3-target";
import { runBackup } from "../../lambdas/core/backup/backup";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { verifyArchive } from "../../lambdas/core/verify/verify";
import { testEnv, uniqueName } from "../support/env";
import { seedRandomCollection } from "../support/seed";
import { rawDocuments } from "../support/documents";
import { cuttingProxy } from "../support/cutting-proxy";

const run = promisify(execFile);
const env = testEnv();
const PART = 5 * 1024 * 1024;
const NOW = () => new Date("2024-06-01T02:00:00Z");

/** How many gzip members a stream holds (each inflated by zlib to find where it ends; no extra fields). */
function memberCount(gz: Buffer): number {
  let count = 0;
  for (let rest = gz; rest.length > 0; count += 1) {
    const result = inflateRawSync(rest.subarray(10), { info: true }) as unknown as {
      engine: { bytesWritten: number };
    };
    rest = rest.subarray(10 + result.engine.bytesWritten + 8);
  }
  return count;
}

describe("a collection larger than the read-ahead streams into the archive, with no copy anywhere", () => {
  const s3 = createS3Client();
  const bucket = uniqueName("stream");
  const db = uniqueName("bkstream").replaceAll("-", "_");
  let client: MongoClient;
  let work: string;
  let blockedTmp: string;
  const savedTmp = process.env.TMPDIR;

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    client = await MongoClient.connect(env.mongodbUri);
    // Incompressible, so the streamed entry spans four 5 MiB parts of the upload.
    await seedRandomCollection(client, db, "big", 3 * PART + 2 * 1024 * 1024);
    await client
      .db(db)
      .collection("small")
      .insertMany([{ a: 1 }, { a: 2 }]);
    work = await mkdtemp(join(tmpdir(), "backup-streaming-"));
    // A temp directory nobody can write into (even root: its parent is a file). The old writer spooled
    // every collection above the read-ahead there and failed.
    await writeFile(join(work, "a-file"), "");
    blockedTmp = join(work, "a-file", "tmp");
    process.env.TMPDIR = blockedTmp;
  });
  afterAll(async () => {
    process.env.TMPDIR = savedTmp;
    await client?.db(db).dropDatabase();
    await client?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("to S3: the header part goes up after the data parts, the object verifies, and the stock tools restore it byte for byte", async () => {
    // The order parts go up in, observed on the real requests.
    const observed = createS3Client();
    const partsSent: number[] = [];
    observed.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "UploadPartCommand")
          partsSent.push((args.input as { PartNumber: number }).PartNumber);
        return next(args);
      },
      { step: "initialize" },
    );
    const target = new S3Target({ bucket, prefix: "p/", partSize: PART, client: observed });
    const result = await runBackup({
      uri: env.mongodbUri,
      target,
      databases: [db],
      memoryThreshold: 1024 * 1024,
      // At most ~3 MiB of the entry in the compressor when it ends: part 2 is surely up by then.
      gzip: { concurrency: 2 },
      now: NOW,
    });
    const key = `p/daily/${result.name}.tar.gz`;
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ETag).toMatch(/-4"$/);
    // Part 1 holds the big entry's header, known only once its data had gone up in the later parts.
    expect([...partsSent].sort()).toEqual([1, 2, 3, 4]);
    expect(partsSent.indexOf(2)).toBeLessThan(partsSent.indexOf(1));
    const stored = Buffer.from(
      await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray(),
    );
    expect(stored.length).toBe(result.bytes);
    expect(createHash("sha256").update(stored).digest("hex")).toBe(result.sha256);
    expect(memberCount(stored)).toBeGreaterThan(3);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);

    const report = await verifyArchive(target, `daily/${result.name}.tar.gz`);
    expect(report.problem).toBeUndefined();
    expect(report.ok).toBe(true);

    const extract = join(work, "s3-extract");
    await mkdir(extract);
    await writeFile(join(work, "from-s3.tar.gz"), stored);
    const restoredDb = `${db}_r`;
    await run("tar", ["-xzf", join(work, "from-s3.tar.gz"), "-C", extract]);
    await run(env.mongorestore, [
      `--uri=${env.mongodbUri}`,
      `--nsFrom=${db}.*`,
      `--nsTo=${restoredDb}.*`,
      join(extract, result.name),
    ]);
    try {
      for (const collection of ["big", "small"]) {
        expect(await rawDocuments(client, restoredDb, collection), collection).toEqual(
          await rawDocuments(client, db, collection),
        );
      }
    } finally {
      await client.db(restoredDb).dropDatabase();
    }
  });

  it("reads a collection the server reports larger than the read-ahead once, not its start twice", async () => {
    // Every byte the server sends, counted at the socket.
    const proxy = await cuttingProxy(`http://${new URL(env.mongodbUri).host}`, {});
    try {
      const result = await runBackup({
        uri: `mongodb://${new URL(proxy.endpoint).host}/`,
        target: new FileTarget(join(work, "read-once")),
        databases: [db],
        memoryThreshold: 1024 * 1024,
        now: NOW,
      });
      const big = result.manifest.collections.find((c) => c.collection === "big")!;
      // Before, the first ~4 MiB were read ahead, dropped at the threshold, and read again when streamed.
      expect(proxy.bytesFromServer()).toBeGreaterThan(big.bytes);
      expect(proxy.bytesFromServer()).toBeLessThan(big.bytes + 1024 * 1024);
    } finally {
      proxy.server.close();
    }
  });

  it("to a file: the tar inside is byte for byte the one written when every size is known first", async () => {
    // Collections read at once enter the archive in the order they end; one at a time fixes the order.
    const streamed = await runBackup({
      uri: env.mongodbUri,
      target: new FileTarget(join(work, "streamed")),
      databases: [db],
      memoryThreshold: 1024 * 1024,
      parallelCollections: 1,
      now: NOW,
    });
    const buffered = await runBackup({
      uri: env.mongodbUri,
      target: new FileTarget(join(work, "buffered")),
      databases: [db],
      memoryThreshold: 64 * 1024 * 1024,
      parallelCollections: 1,
      now: NOW,
    });
    const streamedGz = await readFile(join(work, "streamed", "daily", `${streamed.name}.tar.gz`));
    const bufferedGz = await readFile(join(work, "buffered", "daily", `${buffered.name}.tar.gz`));
    expect(createHash("sha256").update(streamedGz).digest("hex")).toBe(streamed.sha256);
    // Different gzip members (the streamed header is a member of its own), the same tar.
    expect(streamedGz.equals(bufferedGz)).toBe(false);
    expect(gunzipSync(streamedGz).equals(gunzipSync(bufferedGz))).toBe(true);
    const listing = await run("tar", ["-tvzf", join(work, "streamed", "daily", `${streamed.name}.tar.gz`)]);
    const big = streamed.manifest.collections.find((c) => c.collection === "big")!;
    expect(listing.stdout).toMatch(new RegExp(` ${big.bytes} .*${big.file.replaceAll(".", "\\.")}\\n`));
    expect(await readdir(join(work, "streamed", "daily"))).toEqual([
      `${streamed.name}.tar.gz`,
      `${streamed.name}.tar.gz.manifest.json`,
    ]);
    const report = await verifyArchive(
      new FileTarget(join(work, "streamed")),
      `daily/${streamed.name}.tar.gz`,
    );
    expect(report.problem).toBeUndefined();
  });
});
