import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { BSON, Long, Timestamp, type Document, type MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { runBackup } from "../../lambdas/core/backup/backup";
import { Crc64 } from "../../lambdas/core/archive/crc64";
import { MEMORY_SPOOL_ENTRY_BYTES } from "../../lambdas/core/archive/entry-spool";
import { readArchive } from "../../lambdas/core/archive/read-archive";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { NamespaceSelection } from "../../lambdas/core/restore/namespaces";
import { restoreArchive } from "../../lambdas/core/restore/restore-archive";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { verifyArchive, verifyStream } from "../../lambdas/core/verify/verify";
import { testEnv, uniqueName } from "../support/env";
import { seedDatabases, type SeedResult } from "../support/seed";
import { chunks, tarOf } from "../support/tar";

/**
 * Archives made elsewhere (the maintenance guide's own backups, mongodump --oplog, a .bson without metadata)
 * are read the way mongorestore reads them; archives holding nothing, or built to exhaust memory or disk, get
 * a clear error naming the file and the limit.
 */
const run = promisify(execFile);
const env = testEnv();
const prefix = uniqueName("odd").replaceAll("-", "_");
let client: MongoClient;
let seed: SeedResult;
let work: string;

const countsOf = (report: { collections: { db: string; collection: string; documents: number }[] }) =>
  Object.fromEntries(report.collections.map((c) => [`${c.db}.${c.collection}`, c.documents]));
const seededCounts = () =>
  Object.fromEntries(seed.namespaces.map((ns) => [`${ns.db}.${ns.collection}`, ns.documents]));
const copyTo = (tag: string) =>
  new NamespaceSelection({ renameFrom: [`${prefix}_*.*`], renameTo: [`${prefix}_${tag}_*.*`] });

async function ids(db: string, collection: string): Promise<string[]> {
  const docs = await client.db(db).collection(collection).find({}).toArray();
  return docs.map((doc) => JSON.stringify(doc._id)).sort();
}

/** `mongodump --out DIR/NAME` of the seeded databases, exactly as the guide's backup-db.sh does. */
async function stockDump(name: string): Promise<string> {
  const out = join(work, name);
  for (const db of seed.databases) {
    await run(env.mongodump, [`--uri=${env.mongodbUri}`, `--db=${db}`, `--out=${out}`, "--quiet"]);
  }
  return out;
}

/** `tar -czf DIR/NAME.tar.gz -C DIR NAME`: the guide's archive of a dump directory. */
async function tarDump(name: string): Promise<string> {
  const archive = join(work, `${name}.tar.gz`);
  await run("tar", ["-czf", archive, "-C", work, name]);
  return archive;
}

beforeAll(async () => {
  client = await connectMongo(env.mongodbUri, { appName: "atlas-ops/test-odd-archives" });
  seed = await seedDatabases(client, { prefix, orders: 300 });
  work = await mkdtemp(join(tmpdir(), "atlas-ops-odd-"));
});

afterAll(async () => {
  const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
  for (const { name } of databases as { name: string }[]) {
    if (name.startsWith(prefix)) await client.db(name).dropDatabase();
  }
  await client.close();
  await rm(work, { recursive: true, force: true });
});

describe("the maintenance guide's own backups (issue 13 item 1)", () => {
  it("verifies and restores opendev_backup_YYYYMMDD_HHMMSS.tar.gz made by mongodump --out and tar -czf", async () => {
    const name = "opendev_backup_20260101_020000";
    await stockDump(name);
    const archive = await tarDump(name);
    const verified = await verifyArchive(new FileTarget(work), `${name}.tar.gz`);
    expect(verified.problem).toBeUndefined();
    expect(verified.format).toBe("mongodump-directory");
    expect(countsOf(verified)).toEqual(seededCounts());

    const report = await restoreArchive(await resolveArchive(archive), client, {
      selection: copyTo("guide"),
      drop: true,
    });
    expect(report.failure).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.format).toBe("mongodump-directory");
    expect(report.namespaces.every((ns) => ns.status === "completed")).toBe(true);
    for (const ns of seed.namespaces) {
      const target = ns.db.replace(prefix, `${prefix}_guide`);
      expect(await ids(target, ns.collection), `${target}.${ns.collection}`).toEqual(
        await ids(ns.db, ns.collection),
      );
    }
  });

  it("a stock dump holding its own manifest.json file is still a stock dump", async () => {
    const name = "opendev_backup_20260102_020000";
    const out = await stockDump(name);
    await writeFile(join(out, "manifest.json"), JSON.stringify({ createdBy: "backup-db.sh", files: 6 }));
    const archive = await tarDump(name);
    const listing = (await run("tar", ["-tzf", archive])).stdout.split("\n");
    expect(listing).toContain(`${name}/manifest.json`);
    const verified = await verifyArchive(new FileTarget(work), `${name}.tar.gz`);
    expect(verified.problem).toBeUndefined();
    expect(verified.format).toBe("mongodump-directory");
    expect(countsOf(verified)).toEqual(seededCounts());
  });

  it("our own archive is still ours without its sidecar, told by its manifest entry", async () => {
    const dir = join(work, "ours");
    const backup = await runBackup({
      uri: env.mongodbUri,
      target: new FileTarget(dir),
      databases: seed.databases,
    });
    const bytes = await readFile(join(dir, "daily", `${backup.name}.tar.gz`));
    const report = await verifyStream(chunks(bytes), undefined, "ours.tar.gz");
    expect(report.problem).toBeUndefined();
    expect(report.format).toBe("atlas-ops");
  });
});

/** Oplog entries as mongodump --oplog writes them (a no-op and an insert). */
function oplogEntries(db: string): Document[] {
  return [
    {
      ts: new Timestamp({ t: 1_767_225_600, i: 1 }),
      t: Long.fromNumber(1),
      v: Long.fromNumber(2),
      op: "n",
      ns: "",
      o: { msg: "periodic noop" },
      wall: new Date(0),
    },
    {
      ts: new Timestamp({ t: 1_767_225_600, i: 2 }),
      t: Long.fromNumber(1),
      v: Long.fromNumber(2),
      op: "i",
      ns: `${db}.late`,
      o: { _id: 1 },
      wall: new Date(0),
    },
  ];
}

describe("a stock tar holding a dump file twice (issue 13 review, reader finding 1)", () => {
  it("is refused naming the duplicated entry, not miscounted", async () => {
    const name = "opendev_backup_20260102_020000";
    await stockDump(name);
    const ns = seed.namespaces.find((n) => n.documents > 0)!;
    const entry = `${name}/${ns.db}/${ns.collection}.bson`;
    const tar = join(work, `${name}.tar`);
    await run("tar", ["-cf", tar, "-C", work, name]);
    await run("tar", ["-rf", tar, "-C", work, entry]); // GNU tar appends a second copy of the entry
    const listing = (await run("tar", ["-tf", tar])).stdout.split("\n");
    expect(listing.filter((line) => line === entry)).toHaveLength(2);
    await run("gzip", ["-f", tar]);

    const verified = await verifyArchive(new FileTarget(work), `${name}.tar.gz`);
    expect(verified.problem).toEqual({
      file: entry,
      namespace: undefined,
      reason: `archive holds ${entry} twice: refused, as it is unclear which copy to restore`,
    });

    const report = await restoreArchive(await resolveArchive(`${tar}.gz`), client, {
      selection: copyTo("twice"),
      drop: true,
    });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toContain(`archive holds ${entry} twice`);
    // Every collection is staged and renamed only at the end: the refusal leaves every target untouched.
    expect(report.namespaces.length).toBe(seed.namespaces.length);
    expect(report.namespaces.every((n) => n.status === "untouched")).toBe(true);
    const target = client.db(ns.db.replace(prefix, `${prefix}_twice`)).collection(ns.collection);
    expect(await target.countDocuments()).toBe(0);
  });
});

describe("mongodump --oplog and a .bson without metadata (issue 13 item 2)", () => {
  it("a dump with oplog.bson at its root: verify counts the collections only, restore skips the oplog like mongorestore", async () => {
    const name = "oplog_dump";
    const out = await stockDump(name);
    await writeFile(
      join(out, "oplog.bson"),
      Buffer.concat(oplogEntries(seed.databases[0]!).map((d) => BSON.serialize(d))),
    );
    const archive = await tarDump(name);
    const verified = await verifyArchive(new FileTarget(work), `${name}.tar.gz`);
    expect(verified.problem).toBeUndefined();
    expect(countsOf(verified)).toEqual(seededCounts());
    expect(verified.skipped).toEqual([
      {
        file: `${name}/oplog.bson`,
        reason: expect.stringMatching(/^the oplog of a mongodump --oplog \(2 entries\)/),
      },
    ]);
    // The stock tool, as the oracle: without --oplogReplay it restores the collections and not the oplog.
    await run(env.mongorestore, [
      `--uri=${env.mongodbUri}`,
      `--nsFrom=${prefix}_*.*`,
      `--nsTo=${prefix}_stockoplog_*.*`,
      "--noIndexRestore", // FerretDB refuses the "ns" option of its own index specifications
      out,
    ]);
    const report = await restoreArchive(await resolveArchive(archive), client, {
      selection: copyTo("oplog"),
    });
    expect(report.failure).toBeUndefined();
    expect(report.namespaces.map((ns) => ns.target).sort()).toEqual(
      seed.namespaces.map((ns) => `${ns.db.replace(prefix, `${prefix}_oplog`)}.${ns.collection}`).sort(),
    );
    const names = async (tag: string) =>
      (await client.db(`${prefix}_${tag}_a`).listCollections().toArray()).map((c) => c.name).sort();
    expect(await names("oplog")).toEqual(await names("stockoplog"));
  });

  it("mongodump --archive --oplog: the oplog namespace is checked (CRC) and not made a collection", async () => {
    const db = seed.databases[1]!;
    const plain = join(work, "plain.archive");
    await run(env.mongodump, [`--uri=${env.mongodbUri}`, `--db=${db}`, `--archive=${plain}`, "--quiet"]);
    const withOplog = join(work, "with-oplog.archive");
    await writeFile(withOplog, addOplogToArchive(await readFile(plain), oplogEntries(db)));
    // The stock mongorestore accepts the crafted archive (its CRC-64 and framing are right) and skips the oplog.
    await run(env.mongorestore, [
      `--uri=${env.mongodbUri}`,
      `--archive=${withOplog}`,
      `--nsFrom=${db}.*`,
      `--nsTo=${prefix}_stockarch.*`,
      "--noIndexRestore",
    ]);
    const verified = await verifyArchive(new FileTarget(work), "with-oplog.archive");
    expect(verified.problem).toBeUndefined();
    expect(Object.keys(countsOf(verified)).sort()).toEqual(
      seed.namespaces
        .filter((ns) => ns.db === db)
        .map((ns) => `${ns.db}.${ns.collection}`)
        .sort(),
    );
    expect(verified.skipped).toEqual([
      {
        namespace: "oplog",
        reason: expect.stringMatching(/^the oplog of a mongodump --oplog \(2 entries\)/),
      },
    ]);
    const report = await restoreArchive(await resolveArchive(withOplog), client, {
      selection: new NamespaceSelection({ renameFrom: [`${db}.*`], renameTo: [`${prefix}_arch.*`] }),
    });
    expect(report.failure).toBeUndefined();
    const names = async (target: string) =>
      (await client.db(target).listCollections().toArray()).map((c) => c.name).sort();
    expect(await names(`${prefix}_arch`)).toEqual(await names(`${prefix}_stockarch`));
  });

  it("a .bson without its .metadata.json is restored with default options, as mongorestore does", async () => {
    const name = "no_metadata";
    const out = await stockDump(name);
    const users = join(out, seed.databases[1]!, "users.metadata.json");
    await unlink(users);
    const archive = await tarDump(name);
    const verified = await verifyArchive(new FileTarget(work), `${name}.tar.gz`);
    expect(verified.problem).toBeUndefined();
    expect(countsOf(verified)).toEqual(seededCounts());
    const report = await restoreArchive(await resolveArchive(archive), client, {
      selection: copyTo("nometa"),
    });
    expect(report.failure).toBeUndefined();
    const target = `${prefix}_nometa_b`;
    expect(await ids(target, "users")).toEqual(await ids(seed.databases[1]!, "users"));
    const indexes = await client.db(target).collection("users").listIndexes().toArray();
    expect(indexes.map((index) => index.name)).toEqual(["_id_"]);
  });
});

describe("many .bson files without metadata (issue 13 review, reader finding 2)", () => {
  it("20,000 empty ones and the small ones of a stock dump are kept in memory, not in the temp directory", async () => {
    const name = "many_without_metadata";
    const out = await stockDump(name);
    // Without metadata files; a collection too large for a memory spool is left out (it goes to disk).
    const expected = seededCounts();
    for (const db of seed.databases) {
      for (const file of await readdir(join(out, db))) {
        const path = join(out, db, file);
        if (file.endsWith(".metadata.json")) await unlink(path);
        else if ((await stat(path)).size > MEMORY_SPOOL_ENTRY_BYTES) {
          await unlink(path);
          delete expected[`${db}.${file.slice(0, -".bson".length)}`];
        }
      }
    }
    expect(Object.keys(expected).length).toBeGreaterThan(2);
    const empty = join(out, `${prefix}_empty`);
    await mkdir(empty);
    const emptyCount = 20_000;
    for (let i = 0; i < emptyCount; i += 1) await writeFile(join(empty, `c${i}.bson`), "");
    await tarDump(name);
    // Small entries must not need the temp directory at all: an unusable one shows any use of it.
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = join(work, "no-such-temp-directory");
    const started = Date.now();
    let verified;
    try {
      verified = await verifyArchive(new FileTarget(work), `${name}.tar.gz`);
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
    const seconds = (Date.now() - started) / 1000;
    expect(verified.problem).toBeUndefined();
    const counts = countsOf(verified);
    expect(Object.keys(counts)).toHaveLength(Object.keys(expected).length + emptyCount);
    for (const [ns, documents] of Object.entries(expected)) expect(counts[ns], ns).toBe(documents);
    expect(counts[`${prefix}_empty.c${emptyCount - 1}`]).toBe(0);
    expect(seconds).toBeLessThan(60); // generous: a temp directory per entry took about 69 s
  }, 120_000);
});

/** The stock archive with an oplog namespace added the way mongodump --oplog writes it (mongo-tools spec). */
function addOplogToArchive(archive: Buffer, entries: Document[]): Buffer {
  const lengthAt = (at: number) => archive.readInt32LE(at);
  let at = 4;
  at += lengthAt(at); // header
  while (lengthAt(at) !== -1) at += lengthAt(at); // prelude collection entries
  const prelude = archive.subarray(0, at);
  const rest = archive.subarray(at); // terminator, then namespace segments
  const terminator = Buffer.alloc(4, 0xff);
  const docs = Buffer.concat(entries.map((entry) => BSON.serialize(entry)));
  const crc = new Crc64();
  crc.update(docs);
  const oplogPrelude = BSON.serialize({ db: "", collection: "oplog", metadata: "", size: 0 });
  const segment = Buffer.concat([
    BSON.serialize({ db: "", collection: "oplog" }),
    docs,
    terminator,
    BSON.serialize({ db: "", collection: "oplog", EOF: true, CRC: Long.fromBigInt(crc.value()) }),
    terminator,
  ]);
  return Buffer.concat([prelude, oplogPrelude, rest, segment]);
}

describe("archives with nothing to restore (issue 13 items 7 and 17)", () => {
  it.each([
    [
      "a junk file",
      tarOf([{ path: "notes.txt", data: Buffer.from("hello\n") }]),
      /none of its 1 tar entries is a mongodump file .*"notes\.txt"/,
    ],
    [
      "a name with a newline",
      tarOf([{ path: "dump/db/users\n.bson", data: Buffer.alloc(0) }]),
      /none of its 1 tar entries .*"dump\/db\/users\\n\.bson"/,
    ],
    ["an empty tar", Buffer.alloc(10240), /^archive holds nothing to restore: the tar has no entries$/],
  ])("%s is an error, never OK: 0 collections", async (_label, tar, reason) => {
    const report = await verifyStream(chunks(gzipSync(tar)), undefined, "nothing.tar.gz");
    expect(report.ok).toBe(false);
    expect(report.problem?.reason).toMatch(reason);
  });

  it("an empty gzip says so", async () => {
    const report = await verifyStream(chunks(gzipSync(Buffer.alloc(0))), undefined, "empty.tar.gz");
    expect(report.problem?.reason).toBe("archive is empty: its gzip stream holds no bytes");
  });

  it("restoring a junk tar fails and writes nothing", async () => {
    const file = join(work, "junk.tar.gz");
    await writeFile(file, gzipSync(tarOf([{ path: "readme.md", data: Buffer.from("# not a dump\n") }])));
    const report = await restoreArchive(await resolveArchive(file), client, {
      selection: copyTo("junk"),
      drop: true,
    });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toMatch(/nothing to restore/);
    expect(report.namespaces).toEqual([]);
  });

  it("our own manifest of an empty database verifies as OK with 0 collections", async () => {
    // A server cannot hold an empty database, so our real backup's manifest is emptied the way one would read.
    const dir = join(work, "empty-backup");
    const backup = await runBackup({
      uri: env.mongodbUri,
      target: new FileTarget(dir),
      databases: seed.databases,
    });
    const sidecarPath = join(dir, "daily", `${backup.name}.tar.gz.manifest.json`);
    const { archive: _archive, ...manifest } = JSON.parse(await readFile(sidecarPath, "utf8"));
    const empty = {
      ...manifest,
      databases: [],
      collections: [],
      totals: { collections: 0, documents: 0, bytes: 0 },
    };
    const gz = gzipSync(
      tarOf([
        { path: `${backup.name}/`, type: "Directory" },
        { path: `${backup.name}/manifest.json`, data: Buffer.from(JSON.stringify(empty)) },
      ]),
    );
    await writeFile(join(dir, "daily", `${backup.name}.tar.gz`), gz);
    const sha256 = createHash("sha256").update(gz).digest("hex");
    await writeFile(sidecarPath, JSON.stringify({ ...empty, archive: { sha256, bytes: gz.length } }));
    const report = await verifyArchive(new FileTarget(dir), `daily/${backup.name}.tar.gz`);
    expect(report.problem).toBeUndefined();
    expect(report).toMatchObject({ ok: true, format: "atlas-ops", collections: [] });
    const unsealed = await verifyStream(chunks(gz), undefined, "empty.tar.gz");
    expect(unsealed).toMatchObject({ ok: true, format: "atlas-ops", collections: [] });
  });
});

describe("hostile archives cost bounded memory and disk (issue 13 items 4 and 5)", () => {
  it("a .metadata.json.gz that expands to 256 MiB is refused at 16 MiB, naming the file", async () => {
    const bomb = gzipSync(
      Buffer.concat([Buffer.from('{"indexes":[]'), Buffer.alloc(256 * 1024 * 1024, 0x20), Buffer.from("}")]),
    );
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const tar = tarOf([
      { path: "dump/db/c.metadata.json.gz", data: bomb },
      { path: "dump/db/c.bson.gz", data: gzipSync(BSON.serialize({ _id: 1 })) },
    ]);
    const before = process.memoryUsage().rss;
    const report = await verifyStream(chunks(gzipSync(tar)), undefined, "bomb.tar.gz");
    expect(report.problem).toEqual({
      file: "dump/db/c.metadata.json.gz",
      namespace: undefined,
      reason: "expands beyond the 16 MiB limit of a metadata file",
    });
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
  });

  it("a .bson.gz before its metadata is spooled as stored: disk use stays at its compressed size", async () => {
    const doc = BSON.serialize({ _id: 0, pad: "x".repeat(1000) });
    const documents = 40_000; // about 40 MB of BSON, a few hundred KB gzipped
    const bson = gzipSync(Buffer.concat(Array.from({ length: documents }, () => doc)));
    const tar = tarOf([
      { path: "dump/db/c.bson.gz", data: bson },
      {
        path: "dump/db/c.metadata.json.gz",
        data: gzipSync(Buffer.from('{"indexes":[],"collectionName":"c"}')),
      },
    ]);
    const spoolDir = await mkdtemp(join(work, "spool-"));
    let peak = 0;
    const watch = setInterval(() => {
      void spooledBytes(spoolDir).then((bytes) => (peak = Math.max(peak, bytes)));
    }, 2);
    let count = 0;
    try {
      for await (const event of readArchive(chunks(gzipSync(tar)), { tempDir: spoolDir })) {
        if (event.type === "collection-end") count = event.documentCount;
        await new Promise((done) => setTimeout(done, 1)); // a restore writing to the server takes its time
      }
    } finally {
      clearInterval(watch);
    }
    expect(count).toBe(documents);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(bson.length);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it("a spool larger than the limit is refused, naming the file and the limit", async () => {
    const doc = BSON.serialize({ _id: 0, pad: Buffer.alloc(1000, 7) });
    const bson = Buffer.concat(Array.from({ length: 2100 }, () => doc));
    const tar = tarOf([
      { path: "dump/db/c.bson", data: bson },
      { path: "dump/db/c.metadata.json", data: Buffer.from('{"indexes":[]}') },
    ]);
    const events = readArchive(chunks(tar), { maxSpoolBytes: 1024 * 1024, tempDir: work });
    await expect(async () => {
      for await (const _event of events) void _event;
    }).rejects.toThrow(
      /^dump\/db\/c\.bson: comes before its \.metadata\.json, .* it is 2\.\d MiB and the spool limit is 1 MiB/,
    );
  });
});

async function spooledBytes(dir: string): Promise<number> {
  let total = 0;
  for (const sub of await readdir(dir).catch(() => [])) {
    for (const file of await readdir(join(dir, sub)).catch(() => [])) {
      total += (await stat(join(dir, sub, file)).catch(() => ({ size: 0 }))).size;
    }
  }
  return total;
}
