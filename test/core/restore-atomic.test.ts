import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BSON, MongoClient, type Document } from "mongodb";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { DocumentRun } from "../../lambdas/core/archive/document-run";
import type { ArchiveEvent } from "../../lambdas/core/archive/events";
import { restoreEvents } from "../../lambdas/core/restore/engine";
import { STAGING_PREFIX } from "../../lambdas/core/restore/staging";
import { cuttingProxy } from "../support/cutting-proxy";
import { testEnv, uniqueName } from "../support/env";
import { isFerretDb } from "../support/seed";
import { formatRestoreReport } from "../../lambdas/core/restore/report";

/**
 * Restores are atomic per collection: documents go into a temporary collection of the target's database,
 * which replaces the target only once complete. Every failure below leaves each target exactly as it was or
 * fully restored, and the report says which, namespace by namespace.
 */
let client: MongoClient;
let ferret: boolean;
const prefix = uniqueName("rsat");

const bson = (document: Document): Buffer => Buffer.from(BSON.serialize(document));
const OLD = [{ _id: "old", from: "target" }];

/** One collection as archive events: `count` documents of about `pad` bytes, in runs of 100. */
async function* collectionEvents(db: string, collection: string, count: number, pad = 10) {
  yield {
    type: "collection-metadata",
    db,
    collection,
    metadata: { options: {}, indexes: [{ v: 2, key: { n: 1 }, name: "n_1" }] },
  } satisfies ArchiveEvent;
  for (let start = 0; start < count; start += 100) {
    const documents = [];
    for (let n = start; n < Math.min(count, start + 100); n += 1) {
      documents.push(bson({ _id: n, n, pad: "x".repeat(pad) }));
    }
    yield { type: "documents", db, collection, documents: DocumentRun.of(documents) } satisfies ArchiveEvent;
  }
  yield { type: "collection-end", db, collection, documentCount: count } satisfies ArchiveEvent;
}

async function collectionNames(db: string): Promise<string[]> {
  const infos = await client.db(db).listCollections({}, { nameOnly: true }).toArray();
  return infos.map((info) => String(info.name)).sort();
}

async function contents(db: string, collection: string): Promise<Document[]> {
  return client.db(db).collection(collection).find().sort({ _id: 1 }).toArray();
}

/** Targets t0, t1, t2 of `db` holding one old document each. */
async function seedTargets(db: string): Promise<void> {
  for (const collection of ["t0", "t1", "t2"]) {
    await client
      .db(db)
      .collection(collection)
      .insertMany(OLD.map((doc) => ({ ...doc })) as never[]);
  }
}

/**
 * t0 small, t1 large (about 900 KB over the wire), t2 small. t1's documents wait until t0 is in place, so the
 * cut (in t1's documents) finds t0 completed whatever the order of commands on the wire.
 */
function threeCollections(db: string) {
  let t0Done!: () => void;
  const t0Completed = new Promise<void>((resolve) => (t0Done = resolve));
  async function* events(): AsyncGenerator<ArchiveEvent> {
    yield* collectionEvents(db, "t0", 20);
    let first = true;
    for await (const event of collectionEvents(db, "t1", 3000, 300)) {
      if (event.type === "documents" && first) {
        first = false;
        await t0Completed;
      }
      yield event;
    }
    yield* collectionEvents(db, "t2", 20);
  }
  const onProgress = (progress: { completedNamespaces: number }) => {
    if (progress.completedNamespaces > 0) t0Done();
  };
  return { events: events(), onProgress };
}

/**
 * Each target is either the archive's collection (completed: all documents and its index) or exactly the old
 * one (untouched), as the report says; no temporary collection is left that the report does not name.
 */
async function expectExactStates(db: string, report: Awaited<ReturnType<typeof restoreEvents>>) {
  const archived: Record<string, number> = { t0: 20, t1: 3000, t2: 20 };
  for (const ns of report.namespaces) {
    const collection = ns.target.slice(db.length + 1);
    const docs = await contents(db, collection);
    if (ns.status === "completed") {
      expect(docs.length, ns.target).toBe(archived[collection]);
      const indexes = await client.db(db).collection(collection).listIndexes().toArray();
      expect(indexes.map((index) => index.name).sort(), ns.target).toEqual(["_id_", "n_1"]);
    } else {
      expect(ns.status, ns.target).toBe("untouched");
      expect(docs, ns.target).toEqual(OLD);
    }
  }
  const staging = (await collectionNames(db)).filter((name) => name.startsWith(STAGING_PREFIX));
  // Named leftovers are those the restore could not drop; a create that never reached the server is named too.
  for (const name of staging) expect(report.leftovers ?? [], name).toContain(`${db}.${name}`);
}

/** The FerretDB the tests use, behind a proxy that cuts each connection after `requestBytes` sent to it. */
async function proxiedClient(requestBytes: number, goneAfterCut = false, replyLostAfter?: ReplyLost) {
  const server = new URL(testEnv().mongodbUri.replace(/^mongodb:/, "http:"));
  const proxy = await cuttingProxy(`http://${server.host}`, { requestBytes, goneAfterCut, replyLostAfter });
  const port = new URL(proxy.endpoint).port;
  // One pooled connection carries every command, so the cut lands where the byte count says; writes are not
  // retried, so a cut insert fails as it would after a failover without retryable writes.
  const proxied = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true&retryWrites=false`, {
    maxPoolSize: 1,
    serverSelectionTimeoutMS: 3_000,
  });
  await proxied.connect();
  return { proxy, proxied };
}

type ReplyLost = { contains: string; occurrence: number };

beforeAll(async () => {
  client = await connectMongo(testEnv().mongodbUri, { appName: "atlas-ops/test-restore-atomic" });
  ferret = await isFerretDb(client);
});

afterAll(async () => {
  const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
  for (const { name } of databases as { name: string }[]) {
    if (name.startsWith(prefix)) await client.db(name).dropDatabase();
  }
  await client.close();
});

describe("a failed restore leaves every target as it was or fully restored", () => {
  it("--drop of a damaged archive keeps the existing collections' data", async () => {
    const db = `${prefix}_damaged`;
    await seedTargets(db);
    async function* damaged(): AsyncGenerator<ArchiveEvent> {
      yield* collectionEvents(db, "t0", 20);
      yield* collectionEvents(db, "t1", 250);
      throw new Error("unexpected end of gzip stream");
    }
    const report = await restoreEvents(damaged(), client, {
      drop: true,
      expectedNamespaces: ["t0", "t1", "t2"].map((collection) => ({ db, collection })),
    });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toContain("unexpected end of gzip stream");
    expect(Object.fromEntries(report.namespaces.map((ns) => [ns.target, ns.status]))).toEqual({
      [`${db}.t0`]: "completed",
      [`${db}.t1`]: "untouched",
      [`${db}.t2`]: "untouched",
    });
    await expectExactStates(db, report);
  });

  it("when the server connection is cut mid-restore and comes back", async () => {
    const db = `${prefix}_cut`;
    await seedTargets(db);
    const { proxy, proxied } = await proxiedClient(300_000);
    try {
      const { events, onProgress } = threeCollections(db);
      const report = await restoreEvents(events, proxied, {
        onProgress,
        drop: true,
        parallelism: 1,
        expectedNamespaces: ["t0", "t1", "t2"].map((collection) => ({ db, collection })),
      });
      expect(report.ok).toBe(false);
      expect(report.failure?.where).toBe(`${db}.t1`);
      expect(report.namespaces.map((ns) => [ns.target, ns.status])).toEqual([
        [`${db}.t0`, "completed"],
        [`${db}.t1`, "untouched"],
        [`${db}.t2`, "untouched"],
      ]);
      expect(report.leftovers).toBeUndefined();
      await expectExactStates(db, report);
    } finally {
      await proxied.close();
      proxy.server.close();
    }
  });

  it("when the server goes away for good mid-restore: the leftover is named, and a later run drops it", async () => {
    const db = `${prefix}_gone`;
    await seedTargets(db);
    const { proxy, proxied } = await proxiedClient(300_000, true);
    let report;
    try {
      const { events, onProgress } = threeCollections(db);
      report = await restoreEvents(events, proxied, {
        onProgress,
        drop: true,
        parallelism: 1,
        expectedNamespaces: ["t0", "t1", "t2"].map((collection) => ({ db, collection })),
      });
    } finally {
      await proxied.close();
      proxy.server.close();
    }
    expect(report.ok).toBe(false);
    expect(report.namespaces.map((ns) => [ns.target, ns.status])).toEqual([
      [`${db}.t0`, "completed"],
      [`${db}.t1`, "untouched"],
      [`${db}.t2`, "untouched"],
    ]);
    // Its temporary collections could not be dropped (t1's, and t2's if the reader got that far first).
    expect(report.leftovers?.length).toBeGreaterThan(0);
    await expectExactStates(db, report);

    // A later run drops a crashed run's leftover once it is stale (here: at once)...
    const later = await restoreEvents(collectionEvents(db, "t2", 20), client, {
      drop: true,
      staleStagingMs: 0,
    });
    expect(later.ok).toBe(true);
    const remaining = await collectionNames(db);
    for (const leftover of report.leftovers!) expect(remaining).not.toContain(leftover.slice(db.length + 1));
    // ...and never a running one's (recent by default's day-long measure).
    const running = `${STAGING_PREFIX}${Date.now().toString(36)}_0123abcd_1`;
    await client.db(db).createCollection(running);
    const kept = await restoreEvents(collectionEvents(db, "t2", 20), client, { drop: true });
    expect(kept.ok).toBe(true);
    const staging = (await collectionNames(db)).filter((name) => name.startsWith(STAGING_PREFIX));
    expect(staging).toEqual([running]);
  });

  describe("when the reply to the final rename is lost", () => {
    // The rename that puts the copy in place: MongoDB's first (dropTarget); FerretDB answers that one
    // NotImplemented, and the plain rename that follows does it (the target does not exist).
    const theRename = (): ReplyLost => ({ contains: "renameCollection", occurrence: ferret ? 2 : 1 });

    it("looks the outcome up: the rename happened, so the namespace is completed", async () => {
      const db = `${prefix}_lost`;
      const { proxy, proxied } = await proxiedClient(Number.POSITIVE_INFINITY, false, theRename());
      try {
        const report = await restoreEvents(collectionEvents(db, "t0", 20), proxied);
        expect(report.ok).toBe(false);
        expect(report.failure?.where).toBe(`${db}.t0`);
        expect(report.namespaces.map((ns) => ns.status)).toEqual(["completed"]);
        expect(await contents(db, "t0")).toHaveLength(20);
        expect((await collectionNames(db)).filter((name) => name.startsWith(STAGING_PREFIX))).toEqual([]);
      } finally {
        await proxied.close();
        proxy.server.close();
      }
    });

    it("says unknown when the server is gone and the outcome cannot be looked up", async () => {
      const db = `${prefix}_lostgone`;
      const { proxy, proxied } = await proxiedClient(Number.POSITIVE_INFINITY, true, theRename());
      try {
        const report = await restoreEvents(collectionEvents(db, "t0", 20), proxied);
        expect(report.ok).toBe(false);
        expect(report.namespaces.map((ns) => ns.status)).toEqual(["unknown"]);
        expect(formatRestoreReport(report)).toContain(`unknown (the server stopped answering): ${db}.t0`);
        // It did happen: the report said it could not tell, never that the target was untouched.
        expect(await contents(db, "t0")).toHaveLength(20);
      } finally {
        await proxied.close();
        proxy.server.close();
      }
    });

    it("puts back an original that the fallback swap moved aside when the cut came then", async (context) => {
      // Only servers without dropTarget (FerretDB 1.x) move the original aside: MongoDB replaces in one step.
      if (!ferret) context.skip();
      const db = `${prefix}_aside`;
      await seedTargets(db);
      // dropTarget refused (1), plain rename refused as the target exists (2), the target moved aside (3).
      const aside: ReplyLost = { contains: "renameCollection", occurrence: 3 };
      const { proxy, proxied } = await proxiedClient(Number.POSITIVE_INFINITY, false, aside);
      try {
        const report = await restoreEvents(collectionEvents(db, "t0", 20), proxied, { drop: true });
        expect(report.ok).toBe(false);
        expect(report.namespaces.map((ns) => ns.status)).toEqual(["untouched"]);
        expect(await contents(db, "t0")).toEqual(OLD);
        expect(await collectionNames(db)).toEqual(["t0", "t1", "t2"]);
      } finally {
        await proxied.close();
        proxy.server.close();
      }
    });
  });
});
