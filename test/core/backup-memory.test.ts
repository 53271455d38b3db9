import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testEnv, uniqueName } from "../support/env";
import { seedRandomCollection } from "../support/seed";

const run = promisify(execFile);
const env = testEnv();
const root = resolve(__dirname, "../..");

// The CLI in a child process, which prints its own peak RSS when done (the test process's RSS says nothing).
const CHILD = `
const { main } = require("./cli/main.ts");
main(process.argv).then((code) => {
  process.stderr.write("maxRSS=" + process.resourceUsage().maxRSS + "\\n");
  process.exitCode = code;
});`;

describe("backup memory", () => {
  const db = uniqueName("bkmem").replaceAll("-", "_");
  let client: MongoClient;
  let work: string;

  beforeAll(async () => {
    client = await MongoClient.connect(env.mongodbUri);
    work = await mkdtemp(join(tmpdir(), "backup-memory-"));
    await seedRandomCollection(client, db, "big", 48 * 1024 * 1024, 16 * 1024);
  });
  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("streams a collection far above the read-ahead, writes nothing to TMPDIR and stays under 256 MB of RSS", async () => {
    const spoolRoot = join(work, "tmp");
    await run("mkdir", ["-p", spoolRoot]);
    let spoolSeen = false;
    const watcher = setInterval(() => {
      void readdir(spoolRoot).then((names) => {
        if (names.some((name) => name.startsWith("atlas-ops-"))) spoolSeen = true;
      });
    }, 20);
    const args = ["backup", "--uri", env.mongodbUri, "--to", join(work, "backups"), "--db", db];
    const child = await run(
      process.execPath,
      ["--import", "tsx", "-e", CHILD, "atlas-ops", ...args, "--memory-threshold-mb", "2", "--json"],
      { cwd: root, env: { ...process.env, TMPDIR: spoolRoot }, maxBuffer: 1024 * 1024 },
    ).finally(() => clearInterval(watcher));
    const result = JSON.parse(child.stdout);
    const maxRssKb = Number(/maxRSS=(\d+)/.exec(child.stderr)?.[1]);
    expect(result.dataBytes).toBeGreaterThan(45 * 1024 * 1024);
    // (tsx keeps its compile cache in TMPDIR; nothing of ours may ever appear there.)
    expect(spoolSeen).toBe(false);
    expect((await readdir(spoolRoot)).filter((name) => name.startsWith("atlas-ops-"))).toEqual([]);
    expect(existsSync(join(work, "backups", "daily", `${result.name}.tar.gz.manifest.json`))).toBe(true);
    expect(maxRssKb).toBeGreaterThan(0);
    expect(maxRssKb / 1024, `peak RSS ${Math.round(maxRssKb / 1024)} MB`).toBeLessThan(256);
  });
});
