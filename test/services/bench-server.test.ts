import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { BSON, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DocumentsDigest } from "../../lambdas/core/archive/documents-digest";
import { testEnv, uniqueName } from "../support/env";
import { orderDocument } from "../support/seed";

/**
 * The bench server (test/services/bench-server) is a measuring instrument, not a MongoDB: this checks that it
 * serves what the benchmark says it serves (orderDocument(i), byte for byte) and that mongodump, mongorestore
 * and atlas-ops run against it unchanged, with its insert digest agreeing with the manifest's.
 */
const run = promisify(execFile);
const root = resolve(__dirname, "../..");
const benchUri = process.env.TEST_BENCH_MONGODB_URI;
const orders = Number(process.env.TEST_BENCH_ORDERS ?? 0);

interface Inserted {
  documents: number;
  bytes: number;
  documentsDigest: string;
}

describe.skipIf(!benchUri)(
  "bench server (TEST_BENCH_MONGODB_URI; not set when the tests use outside services)",
  () => {
    const env = testEnv();
    let client: MongoClient;
    let work: string;
    const expected = new DocumentsDigest();
    let expectedBytes = 0;

    beforeAll(async () => {
      client = await MongoClient.connect(benchUri!);
      work = await mkdtemp(join(tmpdir(), "bench-server-"));
      for (let i = 0; i < orders; i += 1) {
        const bytes = BSON.serialize(orderDocument(i));
        expected.add(bytes);
        expectedBytes += bytes.length;
      }
    });
    afterAll(async () => {
      await client?.close();
      if (work) await rm(work, { recursive: true, force: true });
    });

    const inserted = (db: string) => client.db(db).command({ benchInserted: "orders" }) as Promise<Inserted>;

    it("serves bench.orders as orderDocument(i), byte for byte, to a raw driver read", async () => {
      expect(orders).toBeGreaterThan(1000);
      const read = new DocumentsDigest();
      let index = 0;
      for await (const raw of client.db("bench").collection("orders").find({}, { raw: true })) {
        const bytes = raw as unknown as Uint8Array;
        if (index % 997 === 0 || index === orders - 1) {
          expect(Buffer.from(bytes).equals(BSON.serialize(orderDocument(index)))).toBe(true);
        }
        read.add(bytes);
        index += 1;
      }
      expect(index).toBe(orders);
      expect(read.hex()).toBe(expected.hex());
      expect(await client.db("bench").collection("orders").estimatedDocumentCount()).toBe(orders);
      // What a backup asks first to plan its parts: the database's size, as mongod reports it.
      expect(await client.db("bench").command({ dbStats: 1 })).toMatchObject({
        objects: orders,
        dataSize: expectedBytes,
      });
    });

    it("runs mongodump and mongorestore unchanged; what mongorestore inserted digests as the source", async () => {
      const target = uniqueName("bench_stock").replaceAll("-", "_");
      const archive = join(work, "stock.archive.gz");
      await run(env.mongodump, [
        `--uri=${benchUri}`,
        "--db=bench",
        `--archive=${archive}`,
        "--gzip",
        "--quiet",
      ]);
      await run(env.mongorestore, [
        `--uri=${benchUri}`,
        `--archive=${archive}`,
        "--gzip",
        "--nsFrom=bench.*",
        `--nsTo=${target}.*`,
        "--quiet",
      ]);
      expect(await inserted(target)).toMatchObject({
        documents: orders,
        bytes: expectedBytes,
        documentsDigest: expected.hex(),
      });
      const indexes = await client.db(target).collection("orders").listIndexes().toArray();
      expect(indexes.map((index) => index.name)).toEqual(["_id_", "number_1"]);
      await client.db(target).dropDatabase();
    });

    it("runs atlas-ops backup and restore unchanged; the manifest digest is the one the server computed", async () => {
      const target = uniqueName("bench_ours").replaceAll("-", "_");
      const cli = (...args: string[]) =>
        run(process.execPath, [join(root, "bin/atlas-ops.mjs"), ...args], { cwd: root });
      const backup = JSON.parse(
        (await cli("backup", "--uri", benchUri!, "--to", join(work, "ours"), "--db", "bench", "--json"))
          .stdout,
      ) as { documents: number; archive: string };
      expect(backup.documents).toBe(orders);
      const archive = fileURLToPath(backup.archive);
      const sidecar = JSON.parse(await readFile(`${archive}.manifest.json`, "utf8")) as {
        collections: { documentsDigest: string }[];
      };
      expect(sidecar.collections[0]!.documentsDigest).toBe(expected.hex());
      const restore = await cli(
        "restore",
        archive,
        "--uri",
        benchUri!,
        "--nsFrom=bench.*",
        `--nsTo=${target}.*`,
        "--json",
      );
      expect(JSON.parse(restore.stdout)).toMatchObject({ ok: true, totals: { documents: orders } });
      expect(await inserted(target)).toMatchObject({ documents: orders, documentsDigest: expected.hex() });
      await client.db(target).dropDatabase();
    });

    it("refuses to write the synthetic collection and names unsupported commands", async () => {
      await expect(client.db("bench").collection("orders").insertOne({ n: 1 })).rejects.toThrow(/read-only/);
      await expect(client.db("bench").command({ serverStatus: 1 })).rejects.toThrow(
        /no such command: 'serverStatus'/,
      );
    });
  },
);
