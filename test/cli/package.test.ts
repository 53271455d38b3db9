import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testEnv, uniqueName } from "../support/env";

/**
 * What an operator installs: `npm pack` (which bundles the CLI into dist/cli/atlas-ops.cjs), unpacked where npm
 * would install it, in a directory with no other package at all, so the CLI can only use what is inside its
 * bundle. It must back up, verify and restore with plain Node, and never load TypeScript.
 */
const run = promisify(execFile);
const root = resolve(__dirname, "../..");
const env = testEnv();

describe("the packed CLI", () => {
  let work: string;
  let bin: string;
  let client: MongoClient;
  const db = uniqueName("pack").replaceAll("-", "_");

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "atlas-ops-pack-"));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: root });
    // The prepack script's own output comes first; npm's JSON report is the rest.
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf("[\n"))) as {
      filename: string;
      files: { path: string }[];
    }[];
    expect(packed!.files.map((file) => file.path)).toEqual(
      expect.arrayContaining(["bin/atlas-ops.mjs", "dist/cli/atlas-ops.cjs", "package.json"]),
    );
    const installed = join(work, "app", "node_modules", "atlas-ops");
    await mkdir(installed, { recursive: true });
    await run("tar", ["-xzf", join(work, packed!.filename), "-C", installed, "--strip-components=1"]);
    bin = join(installed, "bin", "atlas-ops.mjs");
    client = await MongoClient.connect(env.mongodbUri);
    await client
      .db(db)
      .collection("orders")
      .insertMany(Array.from({ length: 50 }, (_, n) => ({ n, email: `user${n}@example.com` })));
  }, 180_000);
  afterAll(async () => {
    for (const name of [db, `${db}_copy`]) await client?.db(name).dropDatabase();
    await client?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("holds no TypeScript and nothing but the launcher, the bundle and package.json's companions", async () => {
    const installed = join(work, "app", "node_modules");
    expect(await readdir(installed)).toEqual(["atlas-ops"]);
    const launcher = await readFile(bin, "utf8");
    expect(launcher).toContain("dist/cli/atlas-ops.cjs");
  });

  it("keeps V8's compiled code only in a cache directory of this user's alone", async () => {
    const help = (cacheHome: string) =>
      run(process.execPath, [bin, "--help"], {
        env: { ...process.env, XDG_CACHE_HOME: cacheHome },
        timeout: 30_000,
      });
    const files = async (dir: string) => (await readdir(dir, { recursive: true })).length;

    const own = join(work, "cache-own");
    expect((await help(own)).stdout).toMatch(/^Usage: atlas-ops/);
    const cache = join(own, "atlas-ops", "v8");
    expect((await stat(cache)).mode & 0o777).toBe(0o700);
    expect(await files(cache)).toBeGreaterThan(0);

    // A directory another user could have filled first is not trusted.
    const open = join(work, "cache-open", "atlas-ops", "v8");
    await mkdir(open, { recursive: true });
    await chmod(open, 0o777);
    expect((await help(join(work, "cache-open"))).stdout).toMatch(/^Usage: atlas-ops/);
    expect(await files(open)).toBe(0);
    // Nor a link to a directory of this user's elsewhere.
    const elsewhere = join(work, "cache-elsewhere");
    await mkdir(elsewhere, { mode: 0o700 });
    await mkdir(join(work, "cache-link", "atlas-ops"), { recursive: true });
    await symlink(elsewhere, join(work, "cache-link", "atlas-ops", "v8"));
    expect((await help(join(work, "cache-link"))).stdout).toMatch(/^Usage: atlas-ops/);
    expect(await files(elsewhere)).toBe(0);

    // Where no cache can be made, the CLI runs without one (Node's recursive mkdir never returns under /proc).
    expect((await help("/proc/atlas-ops-no-such-dir")).stdout).toMatch(/^Usage: atlas-ops/);
  });

  it("backs up, verifies and restores with plain Node and no node_modules beside it", async () => {
    const cwd = join(work, "app");
    const cli = (...args: string[]) => run(process.execPath, [bin, ...args], { cwd });
    // The launcher falls back to tsx only in a source checkout; loading it here would fail, and so would the CLI.
    const backup = JSON.parse(
      (await cli("backup", "--uri", env.mongodbUri, "--to", join(work, "backups"), "--db", db, "--json"))
        .stdout,
    ) as { archive: string; documents: number };
    expect(backup.documents).toBe(50);
    const verify = JSON.parse((await cli("verify", backup.archive, "--json")).stdout) as { ok: boolean };
    expect(verify.ok).toBe(true);
    const restore = JSON.parse(
      (
        await cli(
          "restore",
          backup.archive,
          "--uri",
          env.mongodbUri,
          `--nsFrom=${db}.*`,
          `--nsTo=${db}_copy.*`,
          "--json",
        )
      ).stdout,
    ) as { ok: boolean };
    expect(restore.ok).toBe(true);
    expect(await client.db(`${db}_copy`).collection("orders").countDocuments()).toBe(50);
  });
});
