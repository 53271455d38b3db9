import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync, gzipSync } from "node:zlib";
import { MongoClient } from "mongodb";
import { Header } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup, type BackupResult } from "../../lambdas/core/backup/backup";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { verifyArchive, verifyStream, type VerifyReport } from "../../lambdas/core/verify/verify";
import { testEnv, uniqueName } from "../support/env";
import { seedDatabases, type SeedResult } from "../support/seed";
import { chunks, tarOf } from "../support/tar";

const run = promisify(execFile);
const env = testEnv();

interface TarEntryAt {
  name: string;
  header: number;
  data: number;
  size: number;
}

/** Entries of an uncompressed tar (ustar names only: enough for the archives of this test). */
function tarEntriesOf(tar: Buffer): TarEntryAt[] {
  const entries: TarEntryAt[] = [];
  for (let at = 0; at + 512 <= tar.length;) {
    const header = new Header(tar, at);
    if (!header.path) break;
    const size = header.size ?? 0;
    entries.push({ name: header.path, header: at, data: at + 512, size });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

describe("verify", () => {
  let client: MongoClient;
  let seed: SeedResult;
  let work: string;
  let backup: BackupResult;
  let tar: Buffer;
  let sidecarText: string;
  let copies = 0;

  /** Stores a variant of our archive (tar bytes and/or sidecar changed) and verifies it. */
  async function verifyVariant(tarBytes: Buffer, sidecar = sidecarText, gz?: Buffer): Promise<VerifyReport> {
    copies += 1;
    const dir = join(work, `variant-${copies}`);
    await mkdir(join(dir, "daily"), { recursive: true });
    const key = `daily/${backup.name}.tar.gz`;
    await writeFile(join(dir, key), gz ?? gzipSync(tarBytes));
    await writeFile(join(dir, `${key}.manifest.json`), sidecar);
    return verifyArchive(new FileTarget(dir), key);
  }

  function entry(suffix: string): TarEntryAt {
    const found = tarEntriesOf(tar).find((e) => e.name.endsWith(suffix));
    if (!found) throw new Error(`no entry ${suffix}`);
    return found;
  }

  beforeAll(async () => {
    client = await MongoClient.connect(env.mongodbUri);
    seed = await seedDatabases(client, { prefix: uniqueName("verify").replaceAll("-", "_") });
    work = await mkdtemp(join(tmpdir(), "verify-"));
    backup = await runBackup({
      uri: env.mongodbUri,
      target: new FileTarget(join(work, "ours")),
      databases: seed.databases,
    });
    const key = `daily/${backup.name}.tar.gz`;
    tar = gunzipSync(await readFile(join(work, "ours", key)));
    sidecarText = await readFile(join(work, "ours", `${key}.manifest.json`), "utf8");
  });

  afterAll(async () => {
    for (const db of seed?.databases ?? []) await client?.db(db).dropDatabase();
    await client?.close();
    await rm(work, { recursive: true, force: true });
  });

  const expectedCounts = (): Record<string, number> =>
    Object.fromEntries(seed.namespaces.map((ns) => [`${ns.db}.${ns.collection}`, ns.documents]));
  const countsOf = (report: VerifyReport): Record<string, number> =>
    Object.fromEntries(report.collections.map((c) => [`${c.db}.${c.collection}`, c.documents]));

  it("passes a good backup of ours and checks every count and digest against the manifest", async () => {
    const report = await verifyArchive(new FileTarget(join(work, "ours")), `daily/${backup.name}.tar.gz`);
    expect(report.problem).toBeUndefined();
    expect(report).toMatchObject({
      ok: true,
      format: "atlas-ops",
      sha256: backup.sha256,
      bytes: backup.bytes,
    });
    expect(countsOf(report)).toEqual(expectedCounts());
    const manifest = JSON.parse(sidecarText);
    for (const c of report.collections) {
      const listed = manifest.collections.find(
        (m: { db: string; collection: string }) => m.db === c.db && m.collection === c.collection,
      );
      expect(c.documentsDigest).toBe(listed.documentsDigest);
    }
  });

  it.each([
    ["a tar.gz of a mongodump directory", [], "mongodump-directory"],
    ["a tar.gz of a mongodump --gzip directory", ["--gzip"], "mongodump-directory"],
  ])("passes %s", async (_label, flags, format) => {
    const out = join(work, `dump${flags.join("")}`);
    for (const db of seed.databases)
      await run(env.mongodump, [`--uri=${env.mongodbUri}`, `--db=${db}`, `--out=${out}`, ...flags]);
    const file = join(work, `dump${flags.join("")}.tar.gz`);
    await run("tar", ["-czf", file, "-C", out, "."]);
    const report = await verifyArchive(new FileTarget(work), `dump${flags.join("")}.tar.gz`);
    expect(report.problem).toBeUndefined();
    expect(report.format).toBe(format);
    expect(countsOf(report)).toEqual(expectedCounts());
  });

  it.each([
    ["plain", []],
    ["gzip", ["--gzip"]],
  ])("passes a mongodump --archive (%s)", async (label, flags) => {
    const counts: Record<string, number> = {};
    for (const db of seed.databases) {
      const file = join(work, `${db}-${label}.archive`);
      await run(env.mongodump, [`--uri=${env.mongodbUri}`, `--db=${db}`, `--archive=${file}`, ...flags]);
      const report = await verifyArchive(new FileTarget(work), `${db}-${label}.archive`);
      expect(report.problem).toBeUndefined();
      expect(report.format).toBe("mongodump-archive");
      Object.assign(counts, countsOf(report));
    }
    expect(counts).toEqual(expectedCounts());
  });

  it("fails on a changed byte in a mongodump --archive, naming the namespace (CRC-64)", async () => {
    const db = seed.databases[0]!;
    const file = join(work, "crc.archive");
    await run(env.mongodump, [
      `--uri=${env.mongodbUri}`,
      `--db=${db}`,
      `--collection=orders`,
      `--archive=${file}`,
    ]);
    const bytes = await readFile(file);
    const at = bytes.indexOf("ORD-") + 6;
    bytes.writeUInt8(bytes.readUInt8(at) === 0x39 ? 0x38 : 0x39, at);
    const report = await verifyStream(chunks(bytes), undefined, "crc.archive");
    expect(report.problem?.namespace).toBe(`${db}.orders`);
    expect(report.problem?.reason).toMatch(/^CRC-64 of the documents is -?\d+, the archive says -?\d+$/);
  });

  it("fails on a changed byte inside a collection, naming the file", async () => {
    const orders = entry("/orders.bson");
    const changed = Buffer.from(tar);
    // A byte of a string value: the BSON stays well-formed, only the checksums can tell.
    const at = changed.indexOf("ORD-", orders.data) + 5;
    changed[at] = changed[at] === 0x31 ? 0x32 : 0x31;
    const report = await verifyVariant(changed);
    expect(report.ok).toBe(false);
    expect(report.problem?.file).toMatch(/\/orders\.bson$/);
    expect(report.problem?.reason).toMatch(/SHA-256 differs/);
  });

  it("fails on a broken BSON document, naming the file and the document", async () => {
    const types = entry("/types.bson");
    const changed = Buffer.from(tar);
    changed.writeInt32LE(3, types.data);
    const report = await verifyVariant(changed);
    expect(report.problem?.file).toMatch(/\/types\.bson$/);
    expect(report.problem?.reason).toMatch(/document #1 has invalid length 3/);
  });

  it("fails on a document claiming more than the BSON size limit", async () => {
    const types = entry("/types.bson");
    const changed = Buffer.from(tar);
    changed.writeInt32LE(17 * 1024 * 1024, types.data);
    const report = await verifyVariant(changed);
    expect(report.problem?.file).toMatch(/\/types\.bson$/);
    expect(report.problem?.reason).toMatch(/invalid length 17825792/);
  });

  it("fails on a truncated archive", async () => {
    const gz = gzipSync(tar);
    const report = await verifyVariant(tar, sidecarText, gz.subarray(0, Math.floor(gz.length / 2)));
    expect(report.ok).toBe(false);
    expect(report.problem?.reason).toMatch(/truncated|unexpected end/i);
  });

  it("fails when the archive's own manifest entry is missing", async () => {
    const manifest = entry("/manifest.json");
    const cut = Buffer.concat([tar.subarray(0, manifest.header), Buffer.alloc(1024)]);
    const report = await verifyVariant(cut);
    expect(report.problem?.reason).toMatch(/manifest .*missing/);
  });

  it("fails when the manifest disagrees with the content, naming the file", async () => {
    const sidecar = JSON.parse(sidecarText);
    const orders = sidecar.collections.find((c: { collection: string }) => c.collection === "orders");
    orders.documents += 1;
    const report = await verifyVariant(tar, JSON.stringify(sidecar));
    expect(report.problem?.file).toBe(orders.file);
    expect(report.problem?.reason).toMatch(/holds 500 documents, the manifest says 501/);
  });

  it("fails when the archive's checksum differs from its sidecar", async () => {
    const sidecar = JSON.parse(sidecarText);
    sidecar.archive.sha256 = "0".repeat(64);
    const report = await verifyVariant(tar, JSON.stringify(sidecar));
    expect(report.problem?.reason).toBe("archive SHA-256 differs from its sidecar");
  });

  it.each([
    ["an absolute path", { path: "/etc/cron.d/x.bson", data: Buffer.alloc(0) }, /absolute path/],
    ["a .. path", { path: "dump/../../x/y.bson" }, /"\.\." in archive path/],
    [
      "a symbolic link",
      { path: "dump/db/link.bson", type: "SymbolicLink", linkpath: "/etc/passwd" },
      /SymbolicLink is not allowed/,
    ],
    [
      "a hard link",
      { path: "dump/db/hard.bson", type: "Link", linkpath: "dump/db/x.bson" },
      /Link is not allowed/,
    ],
    ["a device", { path: "dump/db/dev.bson", type: "CharacterDevice" }, /CharacterDevice is not allowed/],
  ])("rejects %s before reading any data", async (_label, bad, reason) => {
    const archive = tarOf([{ path: "dump/db/ok.metadata.json", data: Buffer.from('{"indexes":[]}') }, bad]);
    const report = await verifyStream(chunks(gzipSync(archive)), undefined, "crafted.tar.gz");
    expect(report.ok).toBe(false);
    expect(report.problem?.file).toBe(bad.path);
    expect(report.problem?.reason).toMatch(reason);
  });

  it("rejects an entry after the manifest", async () => {
    const end = tar.length - 1024;
    const extra = tarOf([{ path: `${backup.name}/late/x.bson`, data: Buffer.alloc(0) }]);
    const report = await verifyVariant(Buffer.concat([tar.subarray(0, end), extra]));
    expect(report.problem?.reason).toMatch(/after the manifest/);
  });

  it("reports a missing archive without throwing", async () => {
    await copyFile(
      join(work, "ours", "daily", `${backup.name}.tar.gz.manifest.json`),
      join(work, "orphan.manifest.json"),
    );
    const report = await verifyArchive(new FileTarget(work), "daily/none.tar.gz");
    expect(report.ok).toBe(false);
    expect(report.problem?.reason).toMatch(/cannot open archive/);
  });
});
