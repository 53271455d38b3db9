import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { formatProgress, ProgressLine } from "../../cli/progress";
import { testEnv, uniqueName } from "../support/env";

const run = promisify(execFile);
const root = resolve(__dirname, "../..");
const env = testEnv();
const MB = 1024 * 1024;

describe("progress line", () => {
  it("shows the percentage and the time left when the total is known, amounts only when it is not", () => {
    expect(
      formatProgress(
        "restoring",
        { documents: 500, bytes: 25 * MB, note: "1 collections done" },
        10_000,
        100 * MB,
      ),
    ).toBe("restoring: 25% (500 documents, 25.0 MB of 100.0 MB, 1 collections done), about 30 s left");
    expect(formatProgress("restoring", { documents: 9, bytes: 100 * MB }, 5_000, 100 * MB)).toBe(
      "restoring: 100% (9 documents, 100.0 MB of 100.0 MB)",
    );
    expect(formatProgress("restoring", { documents: 10, bytes: 3 * MB }, 60_000, 1000 * MB)).toBe(
      "restoring: 0% (10 documents, 3.0 MB of 1000.0 MB), about 5 h 32 min left",
    );
    expect(formatProgress("restoring", { documents: 7, bytes: 2 * MB }, 1_000)).toBe(
      "restoring: 7 documents, 2.0 MB",
    );
  });

  it("goes quiet, without failing the work it reports on, when the terminal cannot take a line", () => {
    const written: string[] = [];
    const terminal = {
      write(text: string) {
        written.push(text);
        if (written.length > 1) throw new Error("EIO: the terminal went away");
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    const line = new ProgressLine("verifying", 10 * MB, "data", terminal);
    line.update({ documents: 1, bytes: MB });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 1000); // past the redraw interval
      expect(() => line.update({ documents: 2, bytes: 2 * MB })).not.toThrow();
      expect(() => line.end()).not.toThrow();
    } finally {
      vi.useRealTimers();
    }
    expect(written).toHaveLength(2);
  });

  it("says when its bytes are the archive's compressed bytes read, against the archive's size", () => {
    expect(
      formatProgress(
        "verifying",
        { documents: 500, bytes: 5 * MB, note: "1 collections done" },
        20_000,
        20 * MB,
        "archive",
      ),
    ).toBe(
      "verifying: 25% of the archive read (500 documents, 5.0 MB of 20.0 MB compressed, 1 collections done), " +
        "about 1 min 0 s left",
    );
    expect(formatProgress("verifying", { documents: 7, bytes: 2 * MB }, 1_000, undefined, "archive")).toBe(
      "verifying: 7 documents, 2.0 MB of the archive read",
    );
  });

  describe("the restore command", () => {
    const db = uniqueName("progress").replaceAll("-", "_");
    let client: MongoClient;
    let work: string;
    let archive: string;
    /** The same database as stock mongodump writes it: --archive --gzip, and a dump directory tarred. */
    let stockArchive: string;
    let stockDirectory: string;

    beforeAll(async () => {
      client = await MongoClient.connect(env.mongodbUri);
      await client
        .db(db)
        .collection("orders")
        .insertMany(Array.from({ length: 200 }, (_, n) => ({ n })));
      work = await mkdtemp(join(tmpdir(), "progress-"));
      const backup = await run(
        process.execPath,
        [
          join(root, "bin/atlas-ops.mjs"),
          "backup",
          "--uri",
          env.mongodbUri,
          "--to",
          work,
          "--db",
          db,
          "--json",
        ],
        { cwd: root },
      );
      archive = (JSON.parse(backup.stdout) as { archive: string }).archive;
      stockArchive = join(work, "stock.archive.gz");
      await run(env.mongodump, [
        `--uri=${env.mongodbUri}`,
        `--db=${db}`,
        `--archive=${stockArchive}`,
        "--gzip",
      ]);
      await run(env.mongodump, [`--uri=${env.mongodbUri}`, `--db=${db}`, `--out=${join(work, "dump")}`]);
      stockDirectory = join(work, "stock-dump.tar.gz");
      await run("tar", ["-czf", stockDirectory, "-C", join(work, "dump"), "."]);
    });
    afterAll(async () => {
      for (const name of [db, `${db}_tty`, `${db}_json`, `${db}_stock`])
        await client?.db(name).dropDatabase();
      await client?.close();
      if (work) await rm(work, { recursive: true, force: true });
    });

    /** Runs the CLI on a pseudo-terminal (util-linux `script`), as an operator at a terminal would. */
    const onTerminal = async (...args: string[]) => {
      const quoted = [process.execPath, join(root, "bin/atlas-ops.mjs"), ...args].map((arg) => `'${arg}'`);
      return (await run("script", ["-qec", quoted.join(" "), "/dev/null"], { cwd: root })).stdout;
    };

    it("shows a percentage of the manifest's total on a terminal", async () => {
      const out = await onTerminal(
        "restore",
        archive,
        "--uri",
        env.mongodbUri,
        `--nsFrom=${db}.*`,
        `--nsTo=${db}_tty.*`,
      );
      expect(out).toMatch(
        /restoring: \d+% \(\d+ documents, [0-9.]+ MB of [0-9.]+ MB, \d+ collections done\)/,
      );
    });

    it("shows a stock archive's restore as a percentage of the archive's compressed bytes read", async () => {
      const out = await onTerminal(
        "restore",
        stockArchive,
        "--uri",
        env.mongodbUri,
        `--nsFrom=${db}.*`,
        `--nsTo=${db}_stock.*`,
      );
      expect(out).toMatch(
        /restoring: 100% of the archive read \(200 documents, [0-9.]+ MB of [0-9.]+ MB compressed, 1 collections done\)/,
      );
    });

    it("shows the verify's percentage of the manifest's total on a terminal", async () => {
      const out = await onTerminal("verify", archive);
      expect(out).toMatch(/verifying: 100% \(200 documents, [0-9.]+ MB of [0-9.]+ MB, 1 collections done\)/);
      expect(out).toMatch(/^OK /m);
    });

    it.each([
      ["a mongodump --archive --gzip", () => stockArchive],
      ["a tarred mongodump directory", () => stockDirectory],
    ])("shows the verify of %s as a percentage of the archive's size", async (_kind, path) => {
      const out = await onTerminal("verify", path());
      expect(out).toMatch(
        /verifying: 100% of the archive read \(200 documents, [0-9.]+ MB of [0-9.]+ MB compressed, 1 collections done\)/,
      );
    });

    it("shows the backup's percentage of the databases' size on a terminal", async () => {
      const out = await onTerminal("backup", "--uri", env.mongodbUri, "--to", join(work, "tty"), "--db", db);
      expect(out).toMatch(
        /backing up: \d+% \(200 documents, [0-9.]+ MB of [0-9.]+ MB, \d collections done\)/,
      );
    });

    it("stays quiet with --json, on a terminal too, and when stderr is not a terminal", async () => {
      const json = await onTerminal(
        "restore",
        archive,
        "--uri",
        env.mongodbUri,
        `--nsFrom=${db}.*`,
        `--nsTo=${db}_json.*`,
        "--json",
      );
      expect(json).not.toContain("restoring:");
      const piped = await run(
        process.execPath,
        [
          join(root, "bin/atlas-ops.mjs"),
          "restore",
          archive,
          "--uri",
          env.mongodbUri,
          `--nsFrom=${db}.*`,
          `--nsTo=${db}_json.*`,
          "--drop",
        ],
        { cwd: root },
      );
      expect(piped.stderr).toBe("");
    });

    it("keeps the verify quiet with --json on a terminal, and when stderr is not a terminal", async () => {
      for (const path of [archive, stockArchive]) {
        const json = await onTerminal("verify", path, "--json");
        expect(json).not.toContain("verifying:");
        expect(JSON.parse(json)).toMatchObject({ ok: true });
        const piped = await run(process.execPath, [join(root, "bin/atlas-ops.mjs"), "verify", path], {
          cwd: root,
        });
        expect(piped.stderr).toBe("");
        expect(piped.stdout).toMatch(/^OK /);
      }
    });
  });
});
