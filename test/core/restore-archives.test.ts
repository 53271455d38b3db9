import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BSON, type Document, type MongoClient } from "mongodb";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../../lambdas/adapters/aws-clients";
import { S3Target } from "../../lambdas/adapters/s3-target";
import { resolveArchive, resolveTarget } from "../../lambdas/adapters/targets";
import { runBackup } from "../../lambdas/core/backup/backup";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { ArchiveReadError } from "../../lambdas/core/archive/events";
import { readArchive } from "../../lambdas/core/archive/read-archive";
import { restoreArchive } from "../../lambdas/core/restore/restore-archive";
import { NamespaceSelection } from "../../lambdas/core/restore/namespaces";
import { seedDatabases, type SeedResult } from "../support/seed";
import { cuttingProxy } from "../support/cutting-proxy";
import { testEnv, uniqueName } from "../support/env";

/**
 * Restores of archives made by the stock tools (mongodump directory tarred plain and --gzip, mongodump
 * --archive --gzip): what comes back equals the source, byte for byte, with options and indexes; broken
 * archives are reported with the exact state of every namespace.
 */
const run = promisify(execFile);
let client: MongoClient;
let seed: SeedResult;
let work: string;
const prefix = uniqueName("rsa");

async function rawById(db: string, collection: string): Promise<Map<string, string>> {
  const byId = new Map<string, string>();
  for await (const raw of client.db(db).collection(collection).find({}, { raw: true })) {
    const bytes = Buffer.from(raw as unknown as Uint8Array);
    const id = BSON.deserialize(bytes, { promoteValues: false })._id as unknown;
    byId.set(Buffer.from(BSON.serialize({ id })).toString("hex"), bytes.toString("hex"));
  }
  return byId;
}

async function describeCollection(db: string, collection: string): Promise<Document> {
  const [info] = (await client.db(db).listCollections({ name: collection }).toArray()) as Document[];
  const indexes = (await client.db(db).collection(collection).listIndexes().toArray())
    .map(({ v: _v, ns: _ns, ...rest }) => rest)
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
  return { options: info?.options, indexes };
}

/** Asserts every seeded namespace was restored under `<prefix>_<tag>_<a|b>` exactly as it is in the source. */
async function expectEqualToSource(tag: string, only?: string[]): Promise<void> {
  for (const ns of seed.namespaces) {
    if (only && !only.includes(ns.db)) continue;
    const restoredDb = ns.db.replace(prefix, `${prefix}_${tag}`);
    const where = `${restoredDb}.${ns.collection}`;
    expect(await rawById(restoredDb, ns.collection), where).toEqual(await rawById(ns.db, ns.collection));
    expect(await describeCollection(restoredDb, ns.collection), where).toEqual(
      await describeCollection(ns.db, ns.collection),
    );
  }
}

const renameTo = (tag: string) =>
  new NamespaceSelection({ renameFrom: [`${prefix}_*.*`], renameTo: [`${prefix}_${tag}_*.*`] });

async function dumpDirectoryTar(name: string, gzip: boolean): Promise<string> {
  const out = join(work, name);
  for (const db of seed.databases) {
    await run(testEnv().mongodump, [
      `--uri=${testEnv().mongodbUri}`,
      `--db=${db}`,
      `--out=${out}`,
      "--quiet",
      ...(gzip ? ["--gzip"] : []),
    ]);
  }
  const archive = join(work, `${name}.tar.gz`);
  await run("tar", ["-czf", archive, "-C", work, name]);
  return archive;
}

beforeAll(async () => {
  client = await connectMongo(testEnv().mongodbUri, { appName: "atlas-ops/test-restore-archives" });
  seed = await seedDatabases(client, { prefix, orders: 2000 });
  work = await mkdtemp(join(tmpdir(), "atlas-ops-restore-"));
});

afterAll(async () => {
  const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
  for (const { name } of databases as { name: string }[]) {
    if (name.startsWith(prefix)) await client.db(name).dropDatabase();
  }
  await client.close();
  await rm(work, { recursive: true, force: true });
});

describe("restoring stock mongodump archives", () => {
  it("restores a tar.gz of a plain mongodump directory", async () => {
    const archive = await dumpDirectoryTar("plain", false);
    const report = await restoreArchive(await resolveArchive(archive), client, {
      selection: renameTo("plain"),
    });
    expect(report.failure).toBeUndefined();
    expect(report.format).toBe("mongodump-directory");
    expect(report.namespaces.map((ns) => ns.status)).toEqual(report.namespaces.map(() => "completed"));
    expect(report.totals.documents).toBe(seed.namespaces.reduce((sum, ns) => sum + ns.documents, 0));
    await expectEqualToSource("plain");
  });

  it("restores a tar.gz of a mongodump --gzip directory", async () => {
    const archive = await dumpDirectoryTar("gzipped", true);
    const report = await restoreArchive(await resolveArchive(`file://${archive}`), client, {
      selection: renameTo("gz"),
    });
    expect(report.failure).toBeUndefined();
    await expectEqualToSource("gz");
  });

  it("restores a mongodump --archive --gzip", async () => {
    const archive = join(work, "dump.archive.gz");
    await run(testEnv().mongodump, [
      `--uri=${testEnv().mongodbUri}`,
      `--db=${prefix}_a`,
      `--archive=${archive}`,
      "--gzip",
      "--quiet",
    ]);
    const report = await restoreArchive(await resolveArchive(archive), client, {
      selection: renameTo("arch"),
    });
    expect(report.failure).toBeUndefined();
    expect(report.format).toBe("mongodump-archive");
    await expectEqualToSource("arch", [`${prefix}_a`]);
  });

  it("restores only the selected namespaces", async () => {
    const archive = join(work, "plain.tar.gz");
    const selection = new NamespaceSelection({
      include: [`${prefix}_a.*`],
      exclude: [`${prefix}_a.orders`],
      renameFrom: [`${prefix}_a.$name$`],
      renameTo: [`${prefix}_sel.copy_$name$`],
    });
    const report = await restoreArchive(await resolveArchive(archive), client, { selection });
    expect(report.ok).toBe(true);
    expect(report.namespaces.map((ns) => ns.target).sort()).toEqual(
      ["empty", "events", "types"].map((c) => `${prefix}_sel.copy_${c}`),
    );
    expect(report.skipped.map((skip) => skip.namespace)).toContain(`${prefix}_a.orders`);
    const names = (await client.db(`${prefix}_sel`).listCollections().toArray()).map((c) => c.name).sort();
    expect(names).toEqual(["copy_empty", "copy_events", "copy_types"]);
  });

  it("refuses a target holding data before writing anything, even without a manifest", async () => {
    const archive = join(work, "plain.tar.gz");
    // A first restore into tag "again" fills the targets; a second one must refuse and write nothing.
    expect(
      (await restoreArchive(await resolveArchive(archive), client, { selection: renameTo("again") })).ok,
    ).toBe(true);
    await client.db(`${prefix}_again_b`).collection("users").deleteMany({});
    await client
      .db(`${prefix}_again_a`)
      .collection("types")
      .insertOne({ _id: "extra" as never });
    const report = await restoreArchive(await resolveArchive(archive), client, {
      selection: renameTo("again"),
    });
    expect(report.ok).toBe(false);
    expect(report.conflicts).toContain(`${prefix}_again_a.types`);
    expect(report.failure?.message).toContain(`${prefix}_again_a.orders`);
    expect(report.namespaces.every((ns) => ns.status === "untouched")).toBe(true);
    // The emptied collection stays empty: nothing was written anywhere.
    expect(await client.db(`${prefix}_again_b`).collection("users").countDocuments()).toBe(0);
  });
});

describe("restoring our own archives", () => {
  it("round trip from a file target: bytes, options and indexes equal, checked against the sidecar", async () => {
    const target = new FileTarget(join(work, "ours"));
    const backup = await runBackup({ uri: testEnv().mongodbUri, target, databases: seed.databases });
    const report = await restoreArchive({ target, key: `daily/${backup.name}.tar.gz` }, client, {
      selection: renameTo("ours"),
    });
    expect(report.failure).toBeUndefined();
    expect(report.format).toBe("atlas-ops");
    expect(report.manifest?.name).toBe(backup.name);
    expect(report.totals.documents).toBe(backup.documents);
    await expectEqualToSource("ours");
  });

  it("streams an archive from S3 (s3:// URL) into the target", async () => {
    const bucket = uniqueName("rsa-bucket");
    await createS3Client().send(new CreateBucketCommand({ Bucket: bucket }));
    const backup = await runBackup({
      uri: testEnv().mongodbUri,
      target: await resolveTarget(`s3://${bucket}/backups/`),
      databases: seed.databases,
    });
    const url = `s3://${bucket}/backups/daily/${backup.name}.tar.gz`;
    const report = await restoreArchive(await resolveArchive(url), client, { selection: renameTo("s3") });
    expect(report.failure).toBeUndefined();
    expect(report.format).toBe("atlas-ops");
    await expectEqualToSource("s3");
  });

  it("when the connection to S3 drops mid-download: the failure is reported and completed means complete", async () => {
    const bucket = uniqueName("rsa-cut");
    await createS3Client().send(new CreateBucketCommand({ Bucket: bucket }));
    const backup = await runBackup({
      uri: testEnv().mongodbUri,
      target: await resolveTarget(`s3://${bucket}/`),
      databases: seed.databases,
    });
    expect(backup.bytes).toBeGreaterThan(32 * 1024); // far larger than the sidecar read before it
    // Stalls 60% into the download and drops it once a first collection is complete (or after 20 s).
    const proxy = await cuttingProxy(testEnv().awsEndpointUrl, {
      responseBytes: Math.floor(backup.bytes * 0.6),
      stallMs: 20_000,
    });
    const cutClient = createS3Client({ endpoint: proxy.endpoint, maxAttempts: 1 });
    try {
      const target = new S3Target({ bucket, client: cutClient });
      const report = await restoreArchive({ target, key: `daily/${backup.name}.tar.gz` }, client, {
        selection: renameTo("s3cut"),
        drop: true,
        onProgress: (progress) => {
          if (progress.completedNamespaces > 0) proxy.cut();
        },
      });
      expect(report.ok).toBe(false);
      expect(report.namespaces.map((ns) => ns.source).sort()).toEqual(
        seed.namespaces.map((ns) => `${ns.db}.${ns.collection}`).sort(),
      );
      expect(report.failure?.message).toBe("reading the archive stopped: aborted");
      const statuses = new Set(report.namespaces.map((ns) => ns.status));
      expect(statuses.has("completed")).toBe(true);
      expect(statuses.size).toBeGreaterThan(1);
      for (const ns of report.namespaces) {
        const sourceDb = ns.source.split(".")[0]!;
        const collection = ns.source.slice(sourceDb.length + 1);
        const restored = await rawById(ns.target.split(".")[0]!, collection);
        if (ns.status === "completed")
          expect(restored, ns.target).toEqual(await rawById(sourceDb, collection));
        if (ns.status === "untouched") expect(restored.size, ns.target).toBe(0);
        if (ns.status === "partial") expect(restored.size, ns.target).toBe(ns.documents);
      }
    } finally {
      cutClient.destroy();
      proxy.server.close();
    }
  });
});

describe("broken archives", () => {
  it("a truncated archive, even with --drop: the failing file is named and nothing is written", async () => {
    // A tar with the orders collection last, stopped in the middle of orders.bson (an interrupted copy),
    // inside a gzip stream that is itself valid.
    const files = (await run("find", ["plain", "-type", "f"], { cwd: work })).stdout
      .trim()
      .split("\n")
      .sort();
    const orders = files.filter((f) => f.includes("/orders.")).reverse(); // metadata.json, then .bson
    const ordered = [...files.filter((f) => !f.includes("/orders.")), ...orders];
    const tarPath = join(work, "ordered.tar");
    await run("tar", ["-cf", tarPath, "-C", work, ...ordered]);
    const tar = await readFile(tarPath);
    const truncated = join(work, "truncated.tar.gz");
    await writeFile(truncated, gzipSync(tar.subarray(0, Math.floor(tar.length * 0.9))));
    const report = await restoreArchive(await resolveArchive(truncated), client, {
      selection: renameTo("cut"),
      drop: true,
    });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toMatch(/truncated|end/i);
    expect(report.failure?.message).toContain("nothing was written");
    expect(report.failure?.where).toContain("orders.bson");
    // The planning pass reads a stock archive whole before writing, with --drop too: every namespace of the
    // archive is listed, and none was touched.
    const statusOf = Object.fromEntries(report.namespaces.map((ns) => [ns.source, ns.status]));
    const expected = Object.fromEntries(
      seed.namespaces.map((ns) => [`${ns.db}.${ns.collection}`, "untouched"]),
    );
    expect(statusOf).toEqual(expected);
    const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
    expect((databases as { name: string }[]).filter(({ name }) => name.startsWith(`${prefix}_cut`))).toEqual(
      [],
    );
  });

  it("our archive with one document altered (still valid BSON): the file check stops it, reported exactly", async () => {
    const target = new FileTarget(join(work, "altered"));
    const backup = await runBackup({ uri: testEnv().mongodbUri, target, databases: seed.databases });
    const path = join(work, "altered", "daily", `${backup.name}.tar.gz`);
    const tar = gunzipSync(await readFile(path));
    const at = tar.indexOf("ORD-00001000");
    expect(at).toBeGreaterThan(0);
    tar.write("X", at + 4, "latin1"); // same length: the document still parses
    await writeFile(path, gzipSync(tar));
    const report = await restoreArchive({ target, key: `daily/${backup.name}.tar.gz` }, client, {
      selection: renameTo("altered"),
    });
    expect(report.ok).toBe(false);
    expect(report.failure?.where).toMatch(/orders\.bson$/);
    expect(report.failure?.message).toMatch(/sha-?256|checksum|differs/i);
    const orders = report.namespaces.find((ns) => ns.source === `${prefix}_a.orders`);
    // Written into a temporary collection only, dropped after the failure: the target never appeared.
    expect(orders?.status).toBe("untouched");
    expect(await client.db(`${prefix}_altered_a`).listCollections({ name: "orders" }).toArray()).toEqual([]);
    // Every namespace is accounted for, and the completed ones hold exactly the source's documents.
    expect(report.namespaces.map((ns) => ns.source).sort()).toEqual(
      seed.namespaces.map((ns) => `${ns.db}.${ns.collection}`).sort(),
    );
    for (const ns of report.namespaces.filter((n) => n.status === "completed")) {
      const sourceDb = ns.source.split(".")[0]!;
      const collection = ns.source.slice(sourceDb.length + 1);
      expect(await rawById(ns.target.split(".")[0]!, collection), ns.target).toEqual(
        await rawById(sourceDb, collection),
      );
    }
  });

  it("a corrupted gzip stream: nothing is written and the report says so", async () => {
    const good = await readFile(join(work, "plain.tar.gz"));
    const corrupted = Buffer.from(good);
    for (let i = Math.floor(corrupted.length / 2); i < Math.floor(corrupted.length / 2) + 64; i += 1)
      corrupted[i] = corrupted[i]! ^ 0xff;
    const path = join(work, "corrupted.tar.gz");
    await writeFile(path, corrupted);
    expect((await stat(path)).size).toBe(good.length);
    const report = await restoreArchive(await resolveArchive(path), client, { selection: renameTo("bad") });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toContain("nothing was written");
    expect(report.totals.documents).toBe(0);
    // Without --drop the planning pass reads the whole archive first: a broken one leaves the target untouched.
    expect(report.namespaces.every((ns) => ns.status === "untouched")).toBe(true);
    const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
    expect((databases as { name: string }[]).filter(({ name }) => name.startsWith(`${prefix}_bad`))).toEqual(
      [],
    );
  });

  it("a source that fails mid-read is named as such, compressed or not, never as a damaged archive", async () => {
    const gzipped = await readFile(join(work, "gzipped.tar.gz"));
    const tar = gunzipSync(gzipped); // a stock --gzip directory: .bson.gz entries inside a gzip stream
    for (const bytes of [tar, gzipped]) {
      async function* failingHalfway(): AsyncGenerator<Buffer> {
        yield bytes.subarray(0, Math.floor(bytes.length / 2));
        throw new Error("the disk went away");
      }
      const reading = (async () => {
        for await (const _event of readArchive(failingHalfway())) void _event;
      })();
      await expect(reading).rejects.toThrow(/^reading the archive stopped: the disk went away$/);
      await expect(reading).rejects.toBeInstanceOf(ArchiveReadError);
    }
  });
});
