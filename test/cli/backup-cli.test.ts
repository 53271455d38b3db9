import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testEnv, uniqueName } from "../support/env";

const env = testEnv();
const root = resolve(__dirname, "../..");

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<CliRun> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, "bin/atlas-ops.mjs"), ...args],
      { cwd: root },
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
