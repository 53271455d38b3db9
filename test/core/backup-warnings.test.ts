import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackup } from "../../lambdas/core/backup/backup";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import { testEnv, uniqueName } from "../support/env";
import { seedRandomCollection } from "../support/seed";

const env = testEnv();

describe("a backup of several collections", () => {
  const db = uniqueName("bkwarn").replaceAll("-", "_");
  let client: MongoClient;
  let work: string;

  beforeAll(async () => {
    client = await MongoClient.connect(env.mongodbUri);
    // Incompressible data and one compression at a time, so that writes wait for the compressor more than
    // ten times (a stream's listener limit), in every collection.
    for (let n = 0; n < 8; n += 1) await seedRandomCollection(client, db, `c${n}`, 3 * 1024 * 1024);
    work = await mkdtemp(join(tmpdir(), "backup-warnings-"));
  });
  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("prints no process warning (no listeners piling up on a stream)", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    try {
      for (const memoryThreshold of [16 * 1024 * 1024, 256 * 1024]) {
        const result = await runBackup({
          uri: env.mongodbUri,
          target: new FileTarget(join(work, String(memoryThreshold))),
          databases: [db],
          memoryThreshold, // read ahead whole, then streamed
          gzip: { concurrency: 1 },
        });
        expect(result.collections).toBe(8);
      }
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).toEqual([]);
  });
});
