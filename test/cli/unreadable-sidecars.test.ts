import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup, type BackupResult } from "../../lambdas/core/backup/backup";
import { runRestoreTest } from "../../lambdas/core/restore-test/restore-test";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import type { UnreadableSidecar } from "../../lambdas/core/targets/target";
import { testEnv, uniqueName } from "../support/env";

/**
 * One unparseable sidecar must not stop `list`, `restore-test` or later backups of that kind (issue 13 item
 * 14): it is skipped, and reported. (verify-backup and the backup Lambda: test/lambdas/verify-backup.test.ts.)
 */
const cli = resolve(__dirname, "../../bin/atlas-ops.mjs");
const env = testEnv();
const database = uniqueName("unreadable").replaceAll("-", "_");
let client: MongoClient;
let dir: string;
let good: BackupResult;
let broken: Record<string, string>;

function atlasOps(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, MONGODB_URI: "" } },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  client = await MongoClient.connect(env.mongodbUri);
  await client
    .db(database)
    .collection("orders")
    .insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
  dir = await mkdtemp(join(tmpdir(), "atlas-ops-unreadable-"));
  good = await runBackup({ uri: env.mongodbUri, target: new FileTarget(dir), databases: [database] });
  const sidecar = await readFile(join(dir, "daily", `${good.name}.tar.gz.manifest.json`), "utf8");
  const path = (name: string) => join(dir, "daily", `${name}.tar.gz.manifest.json`);
  broken = {
    future: path("opendev_backup_20990101_000000"),
    truncated: path("opendev_backup_20990102_000000"),
    directory: path("opendev_backup_20990103_000000"),
    huge: path("opendev_backup_20990104_000000"),
  };
  await writeFile(broken.future!, JSON.stringify({ ...JSON.parse(sidecar), formatVersion: 2 }));
  await writeFile(broken.truncated!, sidecar.slice(0, sidecar.length / 2));
  await mkdir(broken.directory!);
  await writeFile(broken.huge!, "");
  await truncate(broken.huge!, 65 * 1024 * 1024); // sparse: costs no disk
});

afterAll(async () => {
  await client.db(database).dropDatabase();
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

const expectedUnreadable = () =>
  [
    { file: broken.future!, reason: /unsupported formatVersion 2/ },
    { file: broken.truncated!, reason: /manifest is not valid JSON/ },
    { file: broken.directory!, reason: /sidecar is a directory/ },
    { file: broken.huge!, reason: /sidecar is 68157440 bytes, over the 67108864-byte limit/ },
  ].map(({ file, reason }) => ({ url: pathToFileURL(file).href, reason: expect.stringMatching(reason) }));

describe("unreadable sidecars", () => {
  it("list returns the good backups and reports each unreadable sidecar", async () => {
    const unreadable: UnreadableSidecar[] = [];
    const backups = await new FileTarget(dir).list("daily", { onUnreadable: (u) => unreadable.push(u) });
    expect(backups.map((b) => b.name)).toEqual([good.name]);
    expect(unreadable.sort((a, b) => a.url.localeCompare(b.url))).toEqual(expectedUnreadable());
  });

  it("atlas-ops list prints the good ones, warns on stderr for the others, exits 0", async () => {
    const result = await atlasOps("list", dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${good.name}.tar.gz`);
    expect(result.stdout.trim().split("\n")).toHaveLength(1);
    const warnings = result.stderr.trim().split("\n").sort();
    expect(warnings).toHaveLength(4);
    for (const line of warnings) expect(line).toMatch(/^atlas-ops: skipped file:\/\/.*: cannot be read: /);
  });

  it("the restore test restores the newest readable backup and reports the skipped sidecars", async () => {
    const result = await runRestoreTest({
      target: new FileTarget(dir),
      kind: "daily",
      scratchUri: env.mongodbUri,
      production: { hosts: ["cluster0.prod.example.net"], database: "opendev" },
    });
    expect(result.reason).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.backup?.name).toBe(good.name);
    expect(result.documents).toBe(3);
    expect([...result.unreadableSidecars].sort((a, b) => a.url.localeCompare(b.url))).toEqual(
      expectedUnreadable(),
    );
  });
});
