import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MongoClient } from "mongodb";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { runBackup } from "../../lambdas/core/backup/backup";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { seedDatabases, type SeedResult } from "../support/seed";
import { testEnv, uniqueName } from "../support/env";

/** `atlas-ops restore` and `atlas-ops restore-test` as an operator runs them: a child process, exit codes. */
const cli = resolve(__dirname, "../../bin/atlas-ops.mjs");
const run = promisify(execFile);
let client: MongoClient;
let seed: SeedResult;
let dir: string;
let archive: string;
const prefix = uniqueName("rsc");

function atlasOps(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env = { ...process.env, MONGODB_URI: "" };
    execFile(process.execPath, [cli, ...args], { env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

const copyTo = (tag: string) => [`--nsFrom=${prefix}_*.*`, `--nsTo=${prefix}_${tag}_*.*`];

beforeAll(async () => {
  client = await connectMongo(testEnv().mongodbUri, { appName: "atlas-ops/test-restore-cli" });
  seed = await seedDatabases(client, { prefix, orders: 200 });
  dir = await mkdtemp(join(tmpdir(), "atlas-ops-restore-cli-"));
  const backup = await runBackup({
    uri: testEnv().mongodbUri,
    target: new FileTarget(dir),
    databases: seed.databases,
  });
  archive = join(dir, "daily", `${backup.name}.tar.gz`);
});

afterAll(async () => {
  const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
  for (const { name } of databases as { name: string }[]) {
    if (name.startsWith(prefix) || name.startsWith(`restoretest_${prefix}`))
      await client.db(name).dropDatabase();
  }
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

describe("atlas-ops restore", () => {
  it("exits 2 on bad usage, naming the problem", async () => {
    const noUri = await atlasOps("restore", archive);
    expect(noUri.code).toBe(2);
    expect(noUri.stderr).toContain("--uri (or MONGODB_URI) is required");
    const badPattern = await atlasOps("restore", archive, "--dry-run", "--nsFrom=a.*", "--nsTo=b.c");
    expect(badPattern.code).toBe(2);
    expect(badPattern.stderr).toContain('--nsFrom "a.*" and --nsTo "b.c" have different numbers');
    const badParallelism = await atlasOps("restore", archive, "--dry-run", "--parallelism=0");
    expect(badParallelism.code).toBe(2);
  });

  it("never prints the password of a mistyped or unreachable --uri", async () => {
    for (const uri of [
      "mongdb://ada:Typo-Secret-1@127.0.0.1/opendev",
      "mongodb://ada:Pw-Secret-2@127.0.0.1:1/?serverSelectionTimeoutMS=500&proxyHost=127.0.0.1&proxyPort=1&proxyPassword=Proxy-Secret-3",
    ]) {
      const { code, stdout, stderr } = await atlasOps("restore", archive, "--uri", uri);
      expect(code, uri).not.toBe(0);
      expect(stderr, uri).toMatch(/not a MongoDB connection string|cannot connect|--uri: /);
      expect(stdout + stderr, uri).not.toMatch(/Secret/);
    }
  });

  it("exits 1 naming the archive it cannot open", async () => {
    const missing = join(dir, "daily", "missing.tar.gz");
    const { code, stderr } = await atlasOps("restore", missing, "--dry-run");
    expect(code).toBe(1);
    expect(stderr).toContain(missing);
  });

  it("--dry-run lists what would be written and writes nothing", async () => {
    const { code, stdout } = await atlasOps(
      "restore",
      archive,
      "--dry-run",
      "--uri",
      testEnv().mongodbUri,
      ...copyTo("dry"),
    );
    expect(code).toBe(0);
    expect(stdout).toContain(`${prefix}_a.orders -> ${prefix}_dry_a.orders: 200 documents`);
    expect(stdout).toMatch(/would restore \d+ documents/);
    const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
    expect((databases as { name: string }[]).some(({ name }) => name.startsWith(`${prefix}_dry`))).toBe(
      false,
    );
  });

  it("restores, refuses a second time with exit 1 and the namespaces, then replaces with --drop", async () => {
    const first = await atlasOps(
      "restore",
      archive,
      "--uri",
      testEnv().mongodbUri,
      ...copyTo("cli"),
      "--json",
    );
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report.ok).toBe(true);
    expect(report.totals.documents).toBe(seed.namespaces.reduce((sum, ns) => sum + ns.documents, 0));

    const second = await atlasOps("restore", archive, "--uri", testEnv().mongodbUri, ...copyTo("cli"));
    expect(second.code).toBe(1);
    expect(second.stdout).toContain("target namespaces already holding data");
    expect(second.stdout).toContain(`${prefix}_cli_a.orders`);

    await client
      .db(`${prefix}_cli_a`)
      .collection("orders")
      .deleteMany({ number: { $lt: "ORD-00000100" } });
    const third = await atlasOps(
      "restore",
      archive,
      "--uri",
      testEnv().mongodbUri,
      ...copyTo("cli"),
      "--drop",
      `--nsInclude=${prefix}_a.orders`,
      "--verify",
    );
    expect(third.code).toBe(0);
    expect(third.stdout).toContain("verified 1 collections against the manifest");
    expect(await client.db(`${prefix}_cli_a`).collection("orders").countDocuments()).toBe(200);
  });
});

describe("the maintenance guide's own backup (issue 13 item 1)", () => {
  it("verify says OK and restore --drop exits 0, the format told by content, not by the name", async () => {
    const name = "opendev_backup_20260101_020000";
    const out = join(dir, "guide", name);
    for (const db of seed.databases) {
      await run(testEnv().mongodump, [
        `--uri=${testEnv().mongodbUri}`,
        `--db=${db}`,
        `--out=${out}`,
        "--quiet",
      ]);
    }
    const guideArchive = join(dir, "guide", `${name}.tar.gz`);
    await run("tar", ["-czf", guideArchive, "-C", join(dir, "guide"), name]);
    const verify = await atlasOps("verify", guideArchive);
    expect(verify.stdout).toMatch(/^OK .*\(mongodump-directory\)/);
    expect(verify.code).toBe(0);
    const restore = await atlasOps(
      "restore",
      guideArchive,
      "--uri",
      testEnv().mongodbUri,
      ...copyTo("guide"),
      "--drop",
    );
    expect(restore.stdout).not.toMatch(/manifest/);
    expect(restore.code).toBe(0);
    for (const ns of seed.namespaces) {
      const target = client.db(ns.db.replace(prefix, `${prefix}_guide`)).collection(ns.collection);
      expect(await target.countDocuments(), `${ns.db}.${ns.collection}`).toBe(ns.documents);
    }
  });
});

describe("atlas-ops restore --verify", () => {
  it("refuses an archive without a manifest before writing anything", async () => {
    // The maintenance guide's own backup: mongodump --out, then tar -czf (no manifest anywhere).
    const out = join(dir, "stock-dump");
    await run(testEnv().mongodump, [
      `--uri=${testEnv().mongodbUri}`,
      `--db=${seed.databases[0]!}`,
      `--out=${out}`,
    ]);
    const stock = join(dir, "stock.tar.gz");
    await run("tar", ["-czf", stock, "-C", out, "."]);
    const { code, stdout } = await atlasOps(
      "restore",
      stock,
      "--uri",
      testEnv().mongodbUri,
      ...copyTo("verify"),
      "--verify",
    );
    expect(code).toBe(1);
    expect(stdout).toContain("this archive has none (a stock mongodump archive): nothing was written");
    const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
    expect((databases as { name: string }[]).some(({ name }) => name.startsWith(`${prefix}_verify`))).toBe(
      false,
    );
  });
});

describe("atlas-ops restore-test", () => {
  it("passes on the newest backup and prints the result", async () => {
    const { code, stdout } = await atlasOps("restore-test", dir, "--uri", testEnv().mongodbUri, "--json");
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.ok).toBe(true);
    expect(result.scratchDropped).toBe(true);
    expect(result.collections.length).toBe(seed.namespaces.length);
  });

  it("exits 2 when the scratch target is the production database", async () => {
    const { code, stderr } = await atlasOps(
      "restore-test",
      dir,
      "--uri",
      `${testEnv().mongodbUri.replace(/\/?$/, "")}/opendev`,
      "--production-hosts",
      new URL(testEnv().mongodbUri).host,
      "--production-database",
      "opendev",
    );
    expect(code).toBe(2);
    expect(stderr).toContain('refusing to run a restore test against the production database "opendev"');
  });
});
