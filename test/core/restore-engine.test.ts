import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BSON, Double, Long, MongoClient, ObjectId, type Document } from "mongodb";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { DocumentRun } from "../../lambdas/core/archive/document-run";
import type { ArchiveEvent } from "../../lambdas/core/archive/events";
import { restoreEvents } from "../../lambdas/core/restore/engine";
import { NamespaceSelection } from "../../lambdas/core/restore/namespaces";
import { STAGING_PREFIX } from "../../lambdas/core/restore/staging";
import { bsonTypeDocuments, isFerretDb, seedDatabases } from "../support/seed";
import { testEnv, uniqueName } from "../support/env";

/**
 * The engine against a real server, fed archive events built from a live database (what any archive reader
 * yields). Archive formats themselves are covered in restore-archives.test.ts.
 */
let client: MongoClient;

const bson = (document: Document): Buffer =>
  Buffer.from(BSON.serialize(document, { ignoreUndefined: false }));
let ferret: boolean;
const prefix = uniqueName("rse");

/** Every collection of `db` as archive events: metadata, raw documents in small batches, end. */
async function* databaseEvents(db: string, batch = 7): AsyncGenerator<ArchiveEvent> {
  const database = client.db(db);
  for (const info of (await database.listCollections().toArray()) as Document[]) {
    const name = String(info.name);
    const collection = name;
    const indexes = info.type === "view" ? [] : await database.collection(collection).listIndexes().toArray();
    yield {
      type: "collection-metadata",
      db,
      collection,
      metadata: { collectionName: collection, type: info.type, options: info.options ?? {}, indexes },
    };
    let documents: Buffer[] = [];
    let count = 0;
    for await (const raw of database.collection(collection).find({}, { raw: true })) {
      documents.push(Buffer.from(raw as unknown as Uint8Array));
      count += 1;
      if (documents.length === batch) {
        yield { type: "documents", db, collection, documents: DocumentRun.of(documents) };
        documents = [];
      }
    }
    if (documents.length > 0)
      yield { type: "documents", db, collection, documents: DocumentRun.of(documents) };
    yield { type: "collection-end", db, collection, documentCount: count };
  }
}

async function collectionNames(db: string): Promise<string[]> {
  const infos = await client.db(db).listCollections({}, { nameOnly: true }).toArray();
  return infos.map((info) => String(info.name));
}

async function* eventsOf(...lists: AsyncIterable<ArchiveEvent>[]): AsyncGenerator<ArchiveEvent> {
  for (const list of lists) yield* list;
}

async function rawDocuments(db: string, collection: string): Promise<Map<string, string>> {
  const byId = new Map<string, string>();
  for await (const raw of client.db(db).collection(collection).find({}, { raw: true })) {
    const bytes = Buffer.from(raw as unknown as Uint8Array);
    const id = BSON.deserialize(bytes, { promoteValues: false })._id as unknown;
    byId.set(bson({ id }).toString("hex"), bytes.toString("hex"));
  }
  return byId;
}

function indexSummary(indexes: Document[]): Document[] {
  return indexes
    .map(({ v: _v, ns: _ns, ...rest }) => rest)
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

beforeAll(async () => {
  client = await connectMongo(testEnv().mongodbUri, { appName: "atlas-ops/test-restore-engine" });
  ferret = await isFerretDb(client);
  await seedDatabases(client, { prefix, orders: 300 });
});

afterAll(async () => {
  const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
  for (const { name } of databases as { name: string }[]) {
    if (name.startsWith(prefix)) await client.db(name).dropDatabase();
  }
  await client.close();
});

describe("restoreEvents", () => {
  it("restores every seeded collection with the same bytes, options and indexes", async () => {
    const selection = new NamespaceSelection({
      renameFrom: [`${prefix}_*.*`],
      renameTo: [`${prefix}_copy_*.*`],
    });
    const events = eventsOf(databaseEvents(`${prefix}_a`), databaseEvents(`${prefix}_b`));
    const report = await restoreEvents(events, client, { selection, batchDocuments: 50, parallelism: 3 });
    expect(report.failure).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.namespaces.every((ns) => ns.status === "completed")).toBe(true);

    for (const ns of report.namespaces) {
      const [sourceDb, sourceCollection] = [
        ns.source.split(".")[0]!,
        ns.source.slice(ns.source.indexOf(".") + 1),
      ];
      const [targetDb, targetCollection] = [
        ns.target.split(".")[0]!,
        ns.target.slice(ns.target.indexOf(".") + 1),
      ];
      expect(await rawDocuments(targetDb, targetCollection), ns.source).toEqual(
        await rawDocuments(sourceDb, sourceCollection),
      );
      const [sourceInfo] = (await client
        .db(sourceDb)
        .listCollections({ name: sourceCollection })
        .toArray()) as Document[];
      const [targetInfo] = (await client
        .db(targetDb)
        .listCollections({ name: targetCollection })
        .toArray()) as Document[];
      expect(targetInfo?.options, ns.source).toEqual(sourceInfo?.options);
      expect(
        indexSummary(await client.db(targetDb).collection(targetCollection).listIndexes().toArray()),
      ).toEqual(indexSummary(await client.db(sourceDb).collection(sourceCollection).listIndexes().toArray()));
    }
    const orders = report.namespaces.find((ns) => ns.source === `${prefix}_a.orders`);
    expect(orders?.documents).toBe(300);
    expect(orders?.indexes.sort()).toEqual(["customer_recent", "items.sku_1", "number_unique"]);
  });

  it("sends the archive's bytes unchanged, even where a JavaScript round trip would alter them", async () => {
    const db = `${prefix}_bytes`;
    const documents = bsonTypeDocuments(!ferret).map((doc) => bson(doc));
    // A date beyond JavaScript's range (±8.64e15 ms): a round trip through Date would turn it into NaN.
    const farDate = bson({ _id: "far-date", at: new Date(0) });
    farDate.writeBigInt64LE(2n ** 60n, farDate.length - 9);
    documents.push(farDate);
    if (!ferret) {
      // A subdocument shaped like a DBRef with $id first (FerretDB refuses $-keys): the DBRef class reorders it.
      documents.push(
        bson({ _id: "dbref-order", ref: { $id: new ObjectId("5f5b2b9e1c9d440000a1b2c4"), $ref: "users" } }),
      );
    }
    // Numerically equal values of three types must stay three types.
    documents.push(bson({ _id: "numbers", d: new Double(1), l: Long.fromNumber(1), i: 1 }));
    const expected = ferret
      ? // FerretDB stores -0.0 as 0.0 (a server limitation, not the restore's): compare without that document.
        documents.filter((doc) => BSON.deserialize(doc)._id !== "double")
      : documents;
    async function* events(): AsyncGenerator<ArchiveEvent> {
      yield { type: "collection-metadata", db, collection: "t", metadata: { options: {}, indexes: [] } };
      yield { type: "documents", db, collection: "t", documents: DocumentRun.of(expected) };
      yield { type: "collection-end", db, collection: "t", documentCount: expected.length };
    }
    const report = await restoreEvents(events(), client);
    expect(report.failure).toBeUndefined();
    const restored = [...(await rawDocuments(db, "t")).values()].sort();
    expect(restored).toEqual(expected.map((doc) => doc.toString("hex")).sort());
  });
});

describe("interleaved namespaces", () => {
  it("restores collections whose documents arrive interleaved, under a small memory budget", async () => {
    const db = `${prefix}_mixed`;
    const names = ["c0", "c1", "c2", "c3", "c4", "c5"];
    async function* interleaved(): AsyncGenerator<ArchiveEvent> {
      for (const collection of names) {
        yield { type: "collection-metadata", db, collection, metadata: { options: {}, indexes: [] } };
      }
      for (let i = 0; i < 300; i += 1) {
        for (const collection of names) {
          yield {
            type: "documents",
            db,
            collection,
            documents: DocumentRun.of([bson({ _id: i, pad: "x".repeat(50) })]),
          };
        }
      }
      for (const collection of names) yield { type: "collection-end", db, collection, documentCount: 300 };
    }
    // Per-collection batches never fill (10 KB); the budget across collections (20 KB) forces flushes.
    const report = await restoreEvents(interleaved(), client, { batchBytes: 10_000, parallelism: 2 });
    expect(report.failure).toBeUndefined();
    for (const collection of names) {
      expect(await client.db(db).collection(collection).countDocuments(), collection).toBe(300);
    }
    expect(report.totals.documents).toBe(1800);
  });
});

describe("safety", () => {
  const db = () => `${prefix}_safe`;

  async function* one(collection: string, count: number): AsyncGenerator<ArchiveEvent> {
    yield { type: "collection-metadata", db: db(), collection, metadata: { options: {}, indexes: [] } };
    const documents = Array.from({ length: count }, (_, i) => bson({ _id: i, from: "archive" }));
    yield { type: "documents", db: db(), collection, documents: DocumentRun.of(documents) };
    yield { type: "collection-end", db: db(), collection, documentCount: count };
  }

  beforeAll(async () => {
    await client
      .db(db())
      .collection("busy")
      .insertOne({ _id: 1 as never, from: "target" });
    await client
      .db(db())
      .collection("bystander")
      .insertOne({ _id: 1 as never, from: "target" });
  });

  it("refuses a namespace that already holds data, names it, and writes nothing when it knows the namespaces", async () => {
    const report = await restoreEvents(eventsOf(one("fresh", 3), one("busy", 3)), client, {
      expectedNamespaces: [
        { db: db(), collection: "fresh" },
        { db: db(), collection: "busy" },
      ],
    });
    expect(report.ok).toBe(false);
    expect(report.conflicts).toEqual([`${db()}.busy`]);
    expect(report.failure?.message).toContain(`${db()}.busy`);
    expect(report.namespaces.map((ns) => ns.status)).toEqual(["untouched", "untouched"]);
    expect(await client.db(db()).listCollections({ name: "fresh" }).toArray()).toEqual([]);
    expect(await client.db(db()).collection("busy").find().toArray()).toEqual([{ _id: 1, from: "target" }]);
  });

  it("dry run reports what would be written and the conflicts, and writes nothing", async () => {
    const report = await restoreEvents(eventsOf(one("dry", 4), one("busy", 2)), client, { dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.totals.documents).toBe(6);
    expect(report.conflicts).toEqual([`${db()}.busy`]);
    expect(await client.db(db()).listCollections({ name: "dry" }).toArray()).toEqual([]);
    expect(await client.db(db()).collection("busy").countDocuments()).toBe(1);
  });

  it("--drop replaces exactly the namespaces being restored", async () => {
    const report = await restoreEvents(one("busy", 2), client, { drop: true });
    expect(report.ok).toBe(true);
    expect(await client.db(db()).collection("busy").find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 0, from: "archive" },
      { _id: 1, from: "archive" },
    ]);
    expect(await client.db(db()).collection("bystander").find().toArray()).toEqual([
      { _id: 1, from: "target" },
    ]);
  });

  it("reports completed and untouched namespaces exactly when the archive breaks, and leaves no temporary copy", async () => {
    async function* broken(): AsyncGenerator<ArchiveEvent> {
      yield* one("first", 5);
      yield {
        type: "collection-metadata",
        db: db(),
        collection: "second",
        metadata: { options: {}, indexes: [] },
      };
      yield {
        type: "documents",
        db: db(),
        collection: "second",
        documents: DocumentRun.of([bson({ _id: 1 })]),
      };
      throw new Error("unexpected end of gzip stream");
    }
    const report = await restoreEvents(broken(), client, {
      expectedNamespaces: ["first", "second", "third"].map((collection) => ({ db: db(), collection })),
      batchDocuments: 1,
    });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toContain("unexpected end of gzip stream");
    const status = Object.fromEntries(report.namespaces.map((ns) => [ns.target, ns.status]));
    expect(status).toEqual({
      [`${db()}.first`]: "completed",
      [`${db()}.second`]: "untouched",
      [`${db()}.third`]: "untouched",
    });
    expect(await client.db(db()).collection("first").countDocuments()).toBe(5);
    expect(await collectionNames(db())).not.toContain("second");
    expect((await collectionNames(db())).filter((name) => name.startsWith(STAGING_PREFIX))).toEqual([]);
  });

  it("names the index and the namespace when the server refuses an index, and leaves the target as it was", async () => {
    async function* withBadIndex(): AsyncGenerator<ArchiveEvent> {
      const indexes = [
        { v: 2, key: { _id: 1 }, name: "_id_" },
        { v: 2, key: { email: 1 }, name: "email_1", unique: true },
        { v: 2, key: { a: "no-such-index-type" }, name: "bogus" },
      ];
      yield {
        type: "collection-metadata",
        db: db(),
        collection: "indexed",
        metadata: { options: {}, indexes },
      };
      yield {
        type: "documents",
        db: db(),
        collection: "indexed",
        documents: DocumentRun.of([bson({ _id: 1, email: "a@b.c" })]),
      };
      yield { type: "collection-end", db: db(), collection: "indexed", documentCount: 1 };
    }
    const report = await restoreEvents(withBadIndex(), client);
    expect(report.ok).toBe(false);
    expect(report.failure?.where).toBe(`${db()}.indexed`);
    expect(report.failure?.message).toContain('index "bogus" ({"a":"no-such-index-type"})');
    expect(report.failure?.message).not.toContain("email_1");
    expect(await collectionNames(db())).not.toContain("indexed");
    expect(report.namespaces[0]?.status).toBe("untouched");
  });

  it("stops on a document the server refuses and names the namespace", async () => {
    async function* duplicate(): AsyncGenerator<ArchiveEvent> {
      yield {
        type: "collection-metadata",
        db: db(),
        collection: "dups",
        metadata: { options: {}, indexes: [] },
      };
      const doc = bson({ _id: 7 });
      yield { type: "documents", db: db(), collection: "dups", documents: DocumentRun.of([doc, doc]) };
      yield { type: "collection-end", db: db(), collection: "dups", documentCount: 2 };
    }
    const report = await restoreEvents(duplicate(), client);
    expect(report.ok).toBe(false);
    expect(report.failure?.where).toBe(`${db()}.dups`);
    expect(report.failure?.message).toMatch(/1 of 2 documents refused/);
    expect(report.failure?.authenticationFailed).toBeUndefined();
    expect(report.namespaces[0]?.status).toBe("untouched");
    expect(await collectionNames(db())).not.toContain("dups");
  });

  it("says when the failure is the server refusing the credentials (a rotated password)", async () => {
    const uri = new URL(testEnv().mongodbAuthUri);
    uri.password = "rotated-meanwhile";
    // Not connected up front: the server refuses at the restore's first command, as a new connection would
    // after the password changed under a running restore.
    const stale = new MongoClient(uri.toString(), { serverSelectionTimeoutMS: 5_000 });
    try {
      const report = await restoreEvents(one("auth", 1), stale);
      expect(report.ok).toBe(false);
      expect(report.failure?.authenticationFailed).toBe(true);
      expect(report.failure?.message).not.toContain("rotated-meanwhile");
    } finally {
      await stale.close();
    }
  });
});
