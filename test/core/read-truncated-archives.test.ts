import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { testEnv, uniqueName } from "../support/env";

/**
 * A stock backup cut short at any tar block (a dropped download, a full disk) is called damaged with a clear
 * message and exit code 1: never OK, never a crash. The cuts that fall inside a `.bson` stored before its
 * metadata exercise the spool, whose write stream must not outlive the failed read.
 */
const run = promisify(execFile);
const env = testEnv();
const cli = resolve(__dirname, "../../bin/atlas-ops.mjs");
const db = uniqueName("cut").replaceAll("-", "_");
let client: MongoClient;
let work: string;
let tar: Buffer;

function verify(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, "verify", file], (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** Where the last entry's data ends: a cut there loses exactly the end marker (and tar's zero padding). */
function endOfEntries(archive: Buffer): number {
  let offset = 0;
  while (archive.subarray(offset, offset + 512).some((byte) => byte !== 0)) {
    const size = parseInt(
      archive
        .subarray(offset + 124, offset + 136)
        .toString("latin1")
        .trim(),
      8,
    );
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return offset;
}

beforeAll(async () => {
  client = await connectMongo(env.mongodbUri, { appName: "atlas-ops/test-truncated" });
  const orders = Array.from({ length: 400 }, (_, i) => ({ i, note: `order ${i} `.repeat(8) }));
  await client.db(db).collection("orders").insertMany(orders);
  work = await mkdtemp(join(tmpdir(), "atlas-ops-cut-"));
  await run(env.mongodump, [`--uri=${env.mongodbUri}`, `--db=${db}`, `--out=${work}/dump`, "--quiet"]);
  // The .bson first: mongorestore's order does not depend on it, and the reader must spool it.
  const entries = [`./${db}/orders.bson`, `./${db}/orders.metadata.json`];
  await run("tar", ["-cf", join(work, "stock.tar"), "-C", join(work, "dump"), ...entries]);
  tar = await readFile(join(work, "stock.tar"));
}, 60_000);

afterAll(async () => {
  await client.db(db).dropDatabase();
  await client.close();
  await rm(work, { recursive: true, force: true });
});

describe("a stock tar cut at a block boundary", () => {
  it("the whole tar verifies OK", async () => {
    const result = await verify(join(work, "stock.tar"));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^OK .*1 collections?, 400 documents/m);
  });

  it("every cut is FAILED with exit 1 naming a truncation, never a crash", async () => {
    // Each header and first data blocks, then whole blocks spread over the .bson, then the end marker.
    const block = (fraction: number) => Math.floor((tar.length * fraction) / 512) * 512;
    const cuts = [512, 1024, 1536, 2048, 2560, block(0.25), block(0.5), block(0.75), endOfEntries(tar)];
    expect(new Set(cuts).size).toBe(cuts.length);
    for (const end of cuts) {
      const file = join(work, `cut-${end}.tar`);
      await writeFile(file, tar.subarray(0, end));
      const result = await verify(file);
      expect({ end, code: result.code, stderr: result.stderr }).toEqual({ end, code: 1, stderr: "" });
      expect(result.stdout, `cut at ${end}`).toMatch(/^FAILED .*truncated/m);
    }
  }, 240_000);
});
