import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testEnv, uniqueName } from "../support/env";
import { seedRandomCollection } from "../support/seed";

const env = testEnv();
const root = resolve(__dirname, "../..");

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<CliRun> {
  return cliWith({}, ...args);
}

function cliWith(extraEnv: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, "bin/atlas-ops.mjs"), ...args],
      { cwd: root, env: { ...process.env, ...extraEnv } },
      (error, stdout, stderr) => {
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe("atlas-ops backup / list / verify", () => {
  const db = uniqueName("bkcli").replaceAll("-", "_");
  let client: MongoClient;
  let work: string;

  beforeAll(async () => {
    client = await MongoClient.connect(env.mongodbUri);
    await client
      .db(db)
      .collection("orders")
      .insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await client
      .db(db)
      .collection("users")
      .insertMany([{ email: "a@example.com" }]);
    work = await mkdtemp(join(tmpdir(), "backup-cli-"));
  });
  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("backs up, lists and verifies with JSON output and exit code 0", async () => {
    const target = `file://${join(work, "backups")}`;
    const backup = await cli(
      "backup",
      "--uri",
      env.mongodbUri,
      "--to",
      target,
      "--db",
      db,
      "--kind",
      "weekly",
      "--json",
    );
    expect(backup.code, backup.stderr).toBe(0);
    const result = JSON.parse(backup.stdout);
    expect(result).toMatchObject({ collections: 2, documents: 4, kind: "weekly" });
    expect(result.archive).toMatch(/^file:\/\/.*\/weekly\/opendev_backup_\d{8}_\d{6}\.tar\.gz$/);
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.bytes).toBeGreaterThan(0);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);

    const list = await cli("list", target, "--json");
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ url: result.archive, kind: "weekly", documents: 4, sha256: result.sha256 }),
    ]);
    expect(JSON.parse((await cli("list", target, "--kind", "daily", "--json")).stdout)).toEqual([]);

    const verify = await cli("verify", result.archive, "--json");
    expect(verify.code, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, documents: 4, sha256: result.sha256 });

    // The same archive with its sidecar, but one byte changed near the end of the compressed stream.
    const path = new URL(result.archive).pathname;
    const bytes = await readFile(path);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 0xff, bytes.length - 10);
    const broken = join(work, "broken", "weekly", "x.tar.gz");
    await rm(join(work, "broken"), { recursive: true, force: true });
    await mkdir(join(work, "broken", "weekly"), { recursive: true });
    await writeFile(broken, bytes);
    await writeFile(`${broken}.manifest.json`, await readFile(`${path}.manifest.json`));
    const bad = await cli("verify", broken);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAILED /);
  });

  it("exits 2 on bad usage, naming the problem", async () => {
    const kind = await cli("backup", "--uri", env.mongodbUri, "--to", work, "--kind", "hourly");
    expect(kind.code).toBe(2);
    expect(kind.stderr).toContain('backup kind "hourly" is not one of daily, weekly, monthly');
    const missing = await cli("backup", "--uri", env.mongodbUri);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--to");
    const target = await cli("list", "ftp://example.com/x");
    expect(target.code).toBe(2);
    expect(target.stderr).toContain('unsupported target "ftp://example.com/x"');
  });

  it("exits 1 when the server cannot be reached, never printing the password", async () => {
    const run = await cli(
      "backup",
      "--uri",
      "mongodb://backup:pa55-w0rd@127.0.0.1:9/",
      "--to",
      work,
      "--json",
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("cannot connect to mongodb://backup:***@127.0.0.1:9/");
    expect(run.stderr + run.stdout).not.toContain("pa55-w0rd");
  });
});

describe("atlas-ops backup interrupted", () => {
  const db = uniqueName("bkint").replaceAll("-", "_");
  let client: MongoClient;
  let work: string;

  beforeAll(async () => {
    client = await MongoClient.connect(env.mongodbUri);
    // Large enough to take seconds against the test server, streamed (above the read-ahead) into a partial file.
    await seedRandomCollection(client, db, "big", 12 * 1024 * 1024);
    work = await mkdtemp(join(tmpdir(), "backup-interrupt-"));
  });
  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
    await rm(work, { recursive: true, force: true });
  });

  /** Starts a backup and resolves once its partial archive exists, with the child still writing it. */
  async function startBackup(to: string) {
    const child = spawn(
      process.execPath,
      [join(root, "bin/atlas-ops.mjs"), "backup", "--uri", env.mongodbUri, "--to", to, "--db", db],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, "exit") as Promise<[number | null, string | null]>;
    const daily = join(to, "daily");
    for (const deadline = Date.now() + 90_000; ;) {
      const names = existsSync(daily) ? await readdir(daily) : [];
      if (names.some((name) => name.endsWith(".partial"))) break;
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill("SIGKILL");
        throw new Error(`no partial file appeared: ${stderr}`);
      }
      await new Promise((ok) => setTimeout(ok, 50));
    }
    return { child, exited, stderr: () => stderr };
  }

  it.each(["SIGINT", "SIGTERM"] as const)(
    "on %s: stops, removes its partial archive, exits 1",
    async (signal) => {
      const to = join(work, `signal-${signal}`);
      const run = await startBackup(to);
      run.child.kill(signal);
      const [code] = await run.exited;
      expect(code, run.stderr()).toBe(1);
      expect(run.stderr()).toContain(`failed: interrupted by ${signal}`);
      expect(await readdir(join(to, "daily"))).toEqual([]);
    },
  );

  it("what a killed backup left is removed by `list` and by the next backup; a live writer's file is kept", async () => {
    const to = join(work, "killed");
    const run = await startBackup(to);
    run.child.kill("SIGKILL");
    await run.exited;
    const daily = join(to, "daily");
    const [killed] = await readdir(daily);
    expect(killed).toMatch(/\.run-\d+-[0-9a-f]{8}-.*\.partial$/);
    // Files of unknown owner, as versions before this one named them: abandoned only after an hour unchanged.
    const hoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await writeFile(join(daily, "opendev_backup_20240101_020000.tar.gz.partial"), "old");
    await utimes(join(daily, "opendev_backup_20240101_020000.tar.gz.partial"), hoursAgo, hoursAgo);
    await writeFile(join(daily, "opendev_backup_20240102_020000.tar.gz.partial"), "being written");

    const list = await cli("list", to);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stderr).toContain(`removed what an interrupted backup left: ${join(daily, killed!)}`);
    expect((await readdir(daily)).sort()).toEqual(["opendev_backup_20240102_020000.tar.gz.partial"]);

    // The next backup clears them too, and the spool directories versions before streaming left in TMPDIR.
    const again = await startBackup(to);
    again.child.kill("SIGKILL");
    await again.exited;
    const tmp = join(work, "tmp");
    await mkdir(join(tmp, "atlas-ops-spool-AbC123"), { recursive: true });
    await writeFile(join(tmp, "atlas-ops-spool-AbC123", "collection.bson"), "spooled");
    await utimes(join(tmp, "atlas-ops-spool-AbC123"), hoursAgo, hoursAgo);
    const next = await cliWith({ TMPDIR: tmp }, "backup", "--uri", env.mongodbUri, "--to", to, "--db", db);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain("removed what an interrupted backup left:");
    expect(next.stderr).toContain(join(tmp, "atlas-ops-spool-AbC123"));
    expect((await readdir(daily)).filter((name) => name.includes(".run-"))).toEqual([]);
    expect(existsSync(join(tmp, "atlas-ops-spool-AbC123"))).toBe(false);
  });
});
