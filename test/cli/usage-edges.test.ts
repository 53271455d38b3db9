import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { BSON, Timestamp } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { MEMORY_SPOOL_ENTRY_BYTES } from "../../lambdas/core/archive/entry-spool";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { verifyArchive } from "../../lambdas/core/verify/verify";
import { tarOf } from "../support/tar";

/** The CLI's edges an operator meets first (issue 13 item 17): temp directory, archive paths, URIs. */
const cli = resolve(__dirname, "../../bin/atlas-ops.mjs");
let work: string;

function atlasOps(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env = { ...process.env, MONGODB_URI: "", ...extraEnv };
    execFile(process.execPath, [cli, ...args], { env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** A dump directory as mongodump lays it out (one collection, one empty document), tarred. */
async function stockArchive(): Promise<string> {
  const out = join(work, "dump");
  await mkdir(join(out, "shop"), { recursive: true });
  await writeFile(join(out, "shop", "users.metadata.json"), '{"indexes":[],"collectionName":"users"}');
  await writeFile(join(out, "shop", "users.bson"), Buffer.from([5, 0, 0, 0, 0]));
  const archive = join(work, "stock.tar.gz");
  await new Promise<void>((done, fail) =>
    execFile("tar", ["-czf", archive, "-C", out, "."], (error) => (error ? fail(error) : done())),
  );
  return archive;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "atlas-ops-usage-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("an unwritable temp directory", () => {
  it("does not crash --help or verify: they run without the compile cache", async () => {
    const notADirectory = join(work, "tmp-is-a-file");
    await writeFile(notADirectory, "");
    const help = await atlasOps(["--help"], { TMPDIR: notADirectory });
    expect(help.stderr).not.toMatch(/ENOTDIR|at .*\(/);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: atlas-ops/);
    const archive = await stockArchive();
    const verify = await atlasOps(["verify", archive], { TMPDIR: notADirectory });
    expect(verify.stderr).toBe("");
    expect(verify.stdout).toMatch(/^OK .*\(mongodump-directory\): 1 collections, 1 documents/);
    expect(verify.code).toBe(0);
  });
});

describe("an unwritable temp directory where a spool is needed", () => {
  it("names the temp directory, not the archive, as the problem", async () => {
    const notADirectory = join(work, "tmp-is-a-file-too");
    await writeFile(notADirectory, "");
    const archive = join(work, "bson-first.tar.gz");
    // A .bson before its metadata, too large for a memory spool: it must be kept on disk until the metadata
    // comes.
    const large = BSON.serialize({ _id: 1, pad: "x".repeat(MEMORY_SPOOL_ENTRY_BYTES) });
    const tar = tarOf([
      { path: "dump/shop/users.bson", data: Buffer.from(large) },
      { path: "dump/shop/users.metadata.json", data: Buffer.from('{"indexes":[]}') },
    ]);
    await writeFile(archive, gzipSync(tar));
    const verify = await atlasOps(["verify", archive], { TMPDIR: notADirectory });
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain(
      `dump/shop/users.bson comes before its metadata and must be kept on disk, but the temp directory ` +
        `${notADirectory} is not writable (set TMPDIR to a writable directory)`,
    );
    expect(verify.stderr).toBe("");
  });
});

describe("verify of a dump with an oplog", () => {
  it("prints OK for the collections and names the oplog it will not restore", async () => {
    const archive = join(work, "with-oplog.tar.gz");
    const oplogEntry = BSON.serialize({ ts: new Timestamp({ t: 1, i: 1 }), op: "n", ns: "", o: {} });
    const tar = tarOf([
      { path: "dump/oplog.bson", data: Buffer.from(oplogEntry) },
      { path: "dump/shop/users.metadata.json", data: Buffer.from('{"indexes":[],"collectionName":"users"}') },
      { path: "dump/shop/users.bson", data: Buffer.from([5, 0, 0, 0, 0]) },
    ]);
    await writeFile(archive, gzipSync(tar));
    const verify = await atlasOps(["verify", archive]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(
      /^skipped dump\/oplog\.bson: the oplog of a mongodump --oplog \(1 entries\): not a collection; .*\n/,
    );
    expect(verify.stdout).toMatch(/\nOK .*: 1 collections, 1 documents/);
  });
});

describe("archive locations", () => {
  it("an archive stored directly in / is looked for there, not refused as leaving /", async () => {
    const missing = await atlasOps(["verify", "/atlas-ops-no-such-archive.tar.gz"]);
    expect(missing.stdout).toMatch(/cannot open archive \/atlas-ops-no-such-archive\.tar\.gz/);
    expect(missing.stdout).not.toMatch(/leaves/);
    expect(missing.code).toBe(1);
    const { target, key } = await resolveArchive("/atlas-ops-no-such-archive.tar.gz");
    expect([target.url, key]).toEqual(["file:///", "atlas-ops-no-such-archive.tar.gz"]);
    // A real archive under a root of "/" (the key is relative to /).
    const archive = await stockArchive();
    const report = await verifyArchive(new FileTarget("/"), relative("/", archive));
    expect(report.problem).toBeUndefined();
    expect(report.ok).toBe(true);
  });

  it("keys that leave the root are still refused", async () => {
    await expect(new FileTarget(work).openArchive("../elsewhere.tar.gz")).rejects.toThrow(/leaves/);
  });

  it.each(["s3://backups-bucket", "s3://backups-bucket/", "s3://backups-bucket/daily/"])(
    "verify %s names the missing archive, not an invalid bucket (exit 2)",
    async (url) => {
      const result = await atlasOps(["verify", url]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /names a bucket or a folder, not an archive: give s3:\/\/backups-bucket\//,
      );
      expect(result.stderr).not.toMatch(/valid S3 bucket/);
    },
  );
});

describe("a malformed --uri is bad usage (exit 2) for every command", () => {
  const uris = [
    ["a mistyped scheme", "mongdb://ops@db.example.com/"],
    ["a port the driver cannot parse", "mongodb://ops@db.example.com:99999999/"],
  ];
  it.each(uris)("%s: restore, backup and restore-test exit 2 naming --uri", async (_label, uri) => {
    const archive = join(work, "any.tar.gz");
    for (const args of [
      ["restore", archive, "--uri", uri],
      ["backup", "--to", work, "--uri", uri],
      ["restore-test", work, "--uri", uri],
    ]) {
      const result = await atlasOps(args);
      expect(result.code, args[0]).toBe(2);
      expect(result.stderr, args[0]).toMatch(/^atlas-ops: --uri: /);
    }
  });
});

describe("a malformed --uri never echoes its credentials (issue 13 item 16)", () => {
  const password = "Sup3rS3cretPw";
  const uris = [
    ["a mistyped scheme", `mongdb://ops:${password}@db.example.com/`],
    ["another scheme", `http://ops:${password}@db.example.com/`],
    ["no scheme", `ops:${password}@db.example.com`],
    ["a scheme with a space before it", ` mongdb://ops:${password}@db.example.com/`],
    ["an unescaped colon in the password", `mongodb://ops:${password}:x@db.example.com/`],
    ["a bad percent escape", `mongodb://ops:${password}%zz@db.example.com/`],
    ["a secret option the driver refuses", `mongodb://db.example.com/?proxyPassword=${password}`],
  ];
  it.each(uris)("%s: exit 2, names --uri and the problem, never the password", async (_label, uri) => {
    const result = await atlasOps(["restore", join(work, "any.tar.gz"), "--uri", uri]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^atlas-ops: --uri: \S/);
    expect(result.stderr).not.toContain(password);
    expect(result.stderr).not.toContain("db.example.com");
  });

  it("a mistyped scheme is named, so the operator sees what to fix", async () => {
    const result = await atlasOps([
      "backup",
      "--to",
      work,
      "--uri",
      `mongdb://ops:${password}@db.example.com/`,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("starts with mongdb://, expected mongodb:// or mongodb+srv://");
  });
});
