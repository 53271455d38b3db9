import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../lambdas/core/backup/backup";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { testEnv, uniqueName } from "../support/env";
import { seedRandomCollection } from "../support/seed";

const env = testEnv();

/** Every file under a directory (relative paths), to prove a failed backup left nothing behind. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

describe("a failed backup leaves nothing that looks good", () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "backup-failures-"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  // The services' FerretDB binary sits next to the stock tools; a private instance can be killed mid-dump.
  const ferretBinary = join(dirname(env.mongodump), "ferretdb");

  it.skipIf(!existsSync(ferretBinary))(
    "when the server dies mid-dump: no archive, no sidecar, no partial file",
    async () => {
      const port = await freePort();
      const data = await mkdtemp(join(work, "ferret-"));
      const server: ChildProcess = spawn(
        ferretBinary,
        ["-listen-addr", `127.0.0.1:${port}`, "-sqlite-url", `file:${data}/`, "-log-level", "error"],
        { stdio: "ignore" },
      );
      try {
        const uri = `mongodb://127.0.0.1:${port}/`;
        let client: MongoClient | undefined;
        for (let attempt = 0; !client; attempt += 1) {
          client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 500 }).catch((error) => {
            if (attempt > 40) throw error;
            return new Promise<undefined>((ok) => setTimeout(() => ok(undefined), 250));
          });
        }
        await seedRandomCollection(client, "shop", "a_first", 3 * 1024 * 1024);
        await seedRandomCollection(client, "shop", "b_second", 3 * 1024 * 1024);
        await client.close();

        const targetDir = join(work, "target-killed");
        const started: string[] = [];
        const failure = await runBackup({
          uri,
          target: new FileTarget(targetDir),
          parallelCollections: 1,
          memoryThreshold: 1024 * 1024, // both collections stream into the archive file
          onProgress: (progress) => {
            if (progress.type !== "collection-started") return;
            started.push(progress.namespace);
            // The first collection is already in the archive file when the server goes away.
            if (started.length === 2) server.kill("SIGKILL");
          },
        }).then(
          () => undefined,
          (error: Error) => error,
        );
        expect(started).toEqual(["shop.a_first", "shop.b_second"]);
        expect(failure?.message).toMatch(/^backup to file:\/\/.* failed: /);
        // The first cause, named with the collection being read, not the stream teardown that followed it.
        expect(failure?.message).toMatch(/failed: reading shop\.b_second from the server failed: /);
        expect(failure?.message).not.toMatch(/premature close/i);
        expect(await filesUnder(targetDir)).toEqual([]);
      } finally {
        server.kill("SIGKILL");
      }
    },
  );

  // A file system that fills up needs a mount of its own: tmpfs, which only root may mount.
  it.skipIf(process.getuid?.() !== 0)(
    "when the target's disk fills up: says so, and leaves nothing",
    async () => {
      const full = await mkdtemp(join(work, "full-"));
      const { execFile } = await import("node:child_process");
      const mount = (...args: string[]) =>
        new Promise<void>((ok, fail) =>
          execFile(args[0]!, args.slice(1), (error) => (error ? fail(error) : ok())),
        );
      await mount("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full);
      const db = uniqueName("bkfull").replaceAll("-", "_");
      const client = await MongoClient.connect(env.mongodbUri);
      try {
        await seedRandomCollection(client, db, "big", 3 * 1024 * 1024);
        const failure = await runBackup({
          uri: env.mongodbUri,
          target: new FileTarget(full),
          databases: [db],
          memoryThreshold: 256 * 1024,
        }).then(
          () => undefined,
          (error: Error) => error,
        );
        expect(failure?.message).toMatch(/failed: cannot write .*\.partial: ENOSPC: no space left on device/);
        expect(await filesUnder(full)).toEqual([]);
      } finally {
        await client.db(db).dropDatabase();
        await client.close();
        await mount("umount", full);
      }
    },
  );

  it("refuses an unknown database before writing anything", async () => {
    const targetDir = join(work, "target-unknown");
    const db = uniqueName("absent").replaceAll("-", "_");
    await expect(
      runBackup({ uri: env.mongodbUri, target: new FileTarget(targetDir), databases: [db] }),
    ).rejects.toThrow(`database not found on the server: ${db}`);
    expect(await filesUnder(targetDir)).toEqual([]);
  });

  it("says the server is unreachable, without the password", async () => {
    const port = await freePort();
    const error = await runBackup({
      uri: `mongodb://backup:s3cr3t-pw@127.0.0.1:${port}/?serverSelectionTimeoutMS=1000`,
      target: new FileTarget(join(work, "target-unreachable")),
    }).then(
      () => new Error("backup unexpectedly succeeded"),
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/cannot connect to mongodb:\/\/backup:\*\*\*@127\.0\.0\.1/);
    expect(error?.message).not.toContain("s3cr3t-pw");
  });

  it("says the credentials are wrong, without the password", async () => {
    const uri = env.mongodbAuthUri.replace(/:\/\/([^:]+):[^@]+@/, "://$1:wrong-pw-123@");
    const error = await runBackup({ uri, target: new FileTarget(join(work, "target-auth")) }).then(
      () => new Error("backup unexpectedly succeeded"),
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/authentication failed/);
    expect(error?.message).not.toContain("wrong-pw-123");
  });

  it("says the target is not writable", async () => {
    const blocker = join(work, "a-file");
    await writeFile(blocker, "not a directory");
    const db = uniqueName("bkw").replaceAll("-", "_");
    const client = await MongoClient.connect(env.mongodbUri);
    try {
      await client.db(db).collection("c").insertOne({ a: 1 });
      await expect(
        runBackup({ uri: env.mongodbUri, target: new FileTarget(join(blocker, "backups")), databases: [db] }),
      ).rejects.toThrow(/backup directory .*a-file\/backups\/daily is not writable/);
    } finally {
      await client.db(db).dropDatabase();
      await client.close();
    }
  });
});
