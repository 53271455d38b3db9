import { execFile, spawn, type ChildProcess } from "node:child_process";
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

/** Peak RSS in MB of the CLI's backup, run in a child process; returns its JSON result as well. */
async function backupInChild(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ result: { dataBytes: number; documents: number; name: string }; peakMb: number }> {
  const child = await run(
    process.execPath,
    ["--import", "tsx", "-e", CHILD, "atlas-ops", "backup", ...args, "--json"],
    { cwd: root, env, maxBuffer: 1024 * 1024 },
  );
  const maxRssKb = Number(/maxRSS=(\d+)/.exec(child.stderr)?.[1]);
  expect(maxRssKb).toBeGreaterThan(0);
  return { result: JSON.parse(child.stdout), peakMb: maxRssKb / 1024 };
}

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
    const args = ["--uri", env.mongodbUri, "--to", join(work, "backups"), "--db", db];
    const { result, peakMb } = await backupInChild([...args, "--memory-threshold-mb", "2"], {
      ...process.env,
      TMPDIR: spoolRoot,
    }).finally(() => clearInterval(watcher));
    expect(result.dataBytes).toBeGreaterThan(45 * 1024 * 1024);
    // (tsx keeps its compile cache in TMPDIR; nothing of ours may ever appear there.)
    expect(spoolSeen).toBe(false);
    expect((await readdir(spoolRoot)).filter((name) => name.startsWith("atlas-ops-"))).toEqual([]);
    expect(existsSync(join(work, "backups", "daily", `${result.name}.tar.gz.manifest.json`))).toBe(true);
    expect(peakMb, `peak RSS ${Math.round(peakMb)} MB`).toBeLessThan(256);
  });
});

// A server that answers as fast as the socket goes, with full 16 MiB batches of small documents: FerretDB is
// too slow to show what the driver holds per batch. The bench server binary is built by `npm run services`.
const benchServer = process.env.BENCH_SERVER;

describe.skipIf(!benchServer)(
  "backup memory against a fast server (BENCH_SERVER not set: no bench server built)",
  () => {
    let server: ChildProcess;
    let uri: string;
    let work: string;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), "backup-memory-fast-"));
      server = spawn(
        benchServer!,
        ["-listen-addr", "127.0.0.1:0", "-orders", "400000", "-log-level", "warn"],
        {
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      uri = await new Promise<string>((resolveUri, reject) => {
        let output = "";
        server.stdout!.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const address = /listening on (\S+)/.exec(output)?.[1];
          if (address) resolveUri(`mongodb://${address}/`);
        });
        server.once("exit", (code) => reject(new Error(`bench server exited (${code}): ${output}`)));
      });
    });
    afterAll(async () => {
      server?.kill();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it("backs up 100 MB of small documents served at full speed under 256 MB of RSS", async () => {
      const { result, peakMb } = await backupInChild(["--uri", uri, "--to", work, "--db", "bench"]);
      expect(result.documents).toBe(400_000);
      expect(result.dataBytes).toBeGreaterThan(100 * 1024 * 1024);
      expect(peakMb, `peak RSS ${Math.round(peakMb)} MB`).toBeLessThan(256);
    });
  },
);
