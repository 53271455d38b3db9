import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MongoClient } from "mongodb";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { parseMongoUri } from "../../lambdas/core/mongo/uri";
import { runBackup, type BackupResult } from "../../lambdas/core/backup/backup";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { runRestoreTest } from "../../lambdas/core/restore-test/restore-test";
import { ProductionTargetError } from "../../lambdas/core/restore-test/production-guard";
import { seedDatabases, type SeedResult } from "../support/seed";
import { testEnv, uniqueName } from "../support/env";

/** The restore drill on real backups made by our backup engine, restored into the test server. */
let client: MongoClient;
let seed: SeedResult;
let dir: string;
let backup: BackupResult;
const prefix = uniqueName("rst");
const production = { hosts: ["cluster0.prod.example.net"], database: "opendev" };

async function databasesStartingWith(start: string): Promise<string[]> {
  const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
  return (databases as { name: string }[]).map(({ name }) => name).filter((name) => name.startsWith(start));
}

async function backupInto(target: FileTarget): Promise<BackupResult> {
  return runBackup({
    uri: testEnv().mongodbUri,
    target,
    app: "opendev",
    kind: "daily",
    databases: seed.databases,
  });
}

beforeAll(async () => {
  client = await connectMongo(testEnv().mongodbUri, { appName: "atlas-ops/test-restore-test" });
  seed = await seedDatabases(client, { prefix, orders: 1500 });
  dir = await mkdtemp(join(tmpdir(), "atlas-ops-restore-test-"));
  backup = await backupInto(new FileTarget(join(dir, "good")));
});

afterAll(async () => {
  for (const name of [
    ...(await databasesStartingWith(prefix)),
    ...(await databasesStartingWith(`restoretest_${prefix}`)),
  ]) {
    await client.db(name).dropDatabase();
  }
  await client.close();
  await rm(dir, { recursive: true, force: true });
});

describe("runRestoreTest", () => {
  it("passes on a good backup, reports RTO and RPO, and drops its scratch databases", async () => {
    const finished = Date.parse(backup.manifest.finishedAt);
    const result = await runRestoreTest({
      target: new FileTarget(join(dir, "good")),
      kind: "daily",
      scratchUri: testEnv().mongodbUri,
      production,
      now: () => new Date(finished + 5 * 3_600_000),
    });
    expect(result.reason).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.backup?.name).toBe(backup.name);
    expect(result.backupAgeHours).toBeCloseTo(5, 5);
    expect(result.restoreDurationMs).toBeGreaterThan(0);
    expect(result.documents).toBe(backup.documents);
    expect(result.bytes).toBe(backup.dataBytes);
    expect(result.collections.map((check) => check.namespace).sort()).toEqual(
      seed.namespaces.map((ns) => `${ns.db}.${ns.collection}`).sort(),
    );
    for (const check of result.collections) {
      expect(check.digestMatches, check.namespace).toBe(true);
      expect(check.missingIndexes, check.namespace).toEqual([]);
      expect(check.restored.startsWith(`restoretest_${prefix}`)).toBe(true);
    }
    expect(result.scratchDropped).toBe(true);
    expect(await databasesStartingWith(`restoretest_${prefix}`)).toEqual([]);
  });

  it("fails with the namespace and the reason when the content differs from the manifest, and still cleans up", async () => {
    const target = new FileTarget(join(dir, "tampered"));
    const tampered = await backupInto(target);
    // The sidecar claims other documents for the orders collection (same count, different digest).
    const sidecar = join(dir, "tampered", "daily", `${tampered.name}.tar.gz.manifest.json`);
    const manifest = JSON.parse(await readFile(sidecar, "utf8"));
    const orders = manifest.collections.find((c: { collection: string }) => c.collection === "orders");
    orders.documentsDigest = "0".repeat(63) + "1";
    await writeFile(sidecar, JSON.stringify(manifest));

    const result = await runRestoreTest({
      target,
      kind: "daily",
      scratchUri: testEnv().mongodbUri,
      production,
    });
    expect(result.ok).toBe(false);
    expect(result.reason).toContain(`${prefix}_a.orders: documents digest differs from the manifest`);
    const failing = result.collections.filter((check) => check.problem).map((check) => check.namespace);
    expect(failing).toEqual([`${prefix}_a.orders`]);
    expect(result.scratchDropped).toBe(true);
    expect(await databasesStartingWith(`restoretest_${prefix}`)).toEqual([]);
  });

  it("fails precisely when the newest backup cannot be restored, and still cleans up", async () => {
    const target = new FileTarget(join(dir, "broken"));
    const broken = await backupInto(target);
    const archive = join(dir, "broken", "daily", `${broken.name}.tar.gz`);
    const bytes = await readFile(archive);
    await writeFile(archive, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    const result = await runRestoreTest({
      target,
      kind: "daily",
      scratchUri: testEnv().mongodbUri,
      production,
    });
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(new RegExp(`^restore of ${broken.name} failed`));
    expect(result.scratchDropped).toBe(true);
    expect(await databasesStartingWith(`restoretest_${prefix}`)).toEqual([]);
  });

  it("refuses a scratch target that is the production database, before writing", async () => {
    const { hosts } = parseMongoUri(testEnv().mongodbUri);
    const here = { hosts, database: `${prefix}_a` };
    await expect(
      runRestoreTest({
        target: new FileTarget(join(dir, "good")),
        kind: "daily",
        scratchUri: testEnv().mongodbUri,
        production: here,
        // Without a prefix the scratch databases would be the production ones.
        scratchPrefix: "",
      }),
    ).rejects.toThrow(ProductionTargetError);
    const uriWithDatabase = `${testEnv().mongodbUri.replace(/\/?$/, "")}/opendev`;
    await expect(
      runRestoreTest({
        target: new FileTarget(join(dir, "good")),
        kind: "daily",
        scratchUri: uriWithDatabase,
        production: { hosts: hosts.map((host) => host.toUpperCase()), database: "opendev" },
      }),
    ).rejects.toThrow(/refusing to run a restore test against the production database "opendev"/);
    // The production data was not touched.
    expect(await client.db(`${prefix}_a`).collection("orders").countDocuments()).toBe(1500);
  });

  it("says so when there is no backup of the kind", async () => {
    const result = await runRestoreTest({
      target: new FileTarget(join(dir, "good")),
      kind: "monthly",
      scratchUri: testEnv().mongodbUri,
      production,
    });
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/no committed monthly backup in file:/);
  });
});
