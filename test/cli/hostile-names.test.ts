import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { BSON, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../lambdas/core/backup/backup";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { testEnv, uniqueName } from "../support/env";
import { tarOf } from "../support/tar";

/** Entry names come from the archive: a hostile one must not drive the operator's terminal. */
const cli = resolve(__dirname, "../../bin/atlas-ops.mjs");
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
let work: string;
let archive: string;

function atlasOps(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, MONGODB_URI: "" } },
      (error, out, err) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, output: out + err });
      },
    );
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "atlas-ops-names-"));
  // Retitles the window and clears the screen, in a .bson whose last document is cut short.
  const hostile = "shop\u001b]0;all good\u0007/users\u001b[2J";
  const bson = Buffer.concat([BSON.serialize({ _id: 1 }), BSON.serialize({ _id: 2 })]);
  archive = join(work, "hostile.tar.gz");
  await writeFile(
    archive,
    gzipSync(
      tarOf([
        { path: `${hostile}.metadata.json`, data: Buffer.from('{"indexes":[]}') },
        { path: `${hostile}.bson`, data: bson.subarray(0, bson.length - 3) },
      ]),
    ),
  );
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("control characters in entry names are printed as visible escapes", () => {
  it.each([
    ["verify", ["verify", "ARCHIVE"]],
    ["restore --dry-run", ["restore", "--dry-run", "ARCHIVE"]],
  ])("%s: the failure names the entry, escaped", async (_label, args) => {
    const result = await atlasOps(args.map((arg) => (arg === "ARCHIVE" ? archive : arg)));
    expect(result.code).toBe(1);
    expect(result.output).not.toMatch(CONTROL);
    expect(result.output).toContain("shop\\x1b]0;all good\\x07/users\\x1b[2J.bson");
    expect(result.output).toMatch(/truncated/);
  });
});

describe("list and restore-test print names and reasons from the backups escaped (issue 13 review, finding 3)", () => {
  const env = testEnv();
  const database = uniqueName("hostile-list").replaceAll("-", "_");
  const hostileJson = "\u001b]0;all good\u0007\u001b[2J";
  let client: MongoClient;
  let dir: string;

  beforeAll(async () => {
    client = await MongoClient.connect(env.mongodbUri);
    await client
      .db(database)
      .collection("orders")
      .insertMany([{ n: 1 }, { n: 2 }]);
    dir = await mkdtemp(join(tmpdir(), "atlas-ops-hostile-list-"));
    const good = await runBackup({ uri: env.mongodbUri, target: new FileTarget(dir), databases: [database] });
    const sidecar = JSON.parse(
      await readFile(join(dir, "daily", `${good.name}.tar.gz.manifest.json`), "utf8"),
    ) as Record<string, unknown>;
    // A sidecar that is not JSON: the parser's message quotes its first bytes.
    await writeFile(join(dir, "daily", "opendev_backup_20990101_000000.tar.gz.manifest.json"), hostileJson);
    // A readable sidecar whose start time is hostile (list prints it).
    await mkdir(join(dir, "weekly"));
    await writeFile(
      join(dir, "weekly", "opendev_backup_20990102_000000.tar.gz.manifest.json"),
      JSON.stringify({ ...sidecar, kind: "weekly", startedAt: "2099\u001b[2J\u001b]0;all good\u0007" }),
    );
  });

  afterAll(async () => {
    await client.db(database).dropDatabase();
    await client.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("list", async () => {
    const result = await atlasOps(["list", dir]);
    expect(result.code).toBe(0);
    expect(result.output).not.toMatch(CONTROL);
    expect(result.output).toContain("2099\\x1b[2J\\x1b]0;all good\\x07");
    expect(result.output).toMatch(
      /skipped file:.*20990101_000000.*: cannot be read: .*\\x1b\]0;all good\\x07/,
    );
  });

  it("restore-test", async () => {
    const result = await atlasOps(["restore-test", dir, "--uri", env.mongodbUri]);
    expect(result.output).toContain("RESTORE TEST PASSED");
    expect(result.code).toBe(0);
    expect(result.output).not.toMatch(CONTROL);
    expect(result.output).toMatch(
      /skipped file:.*20990101_000000.*: cannot be read: .*\\x1b\]0;all good\\x07/,
    );
  });
});
