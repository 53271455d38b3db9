import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BSON, type Document, type MongoClient } from "mongodb";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { DocumentRun } from "../../lambdas/core/archive/document-run";
import type { ArchiveEvent } from "../../lambdas/core/archive/events";
import { restoreEvents } from "../../lambdas/core/restore/engine";
import { NamespaceSelection } from "../../lambdas/core/restore/namespaces";
import { formatRestoreReport } from "../../lambdas/core/restore/report";
import { testEnv, uniqueName } from "../support/env";

/**
 * What the restore finds before it writes (and what a dry run reports): every conflict the real restore would
 * meet, system and admin namespaces handled as mongorestore handles them, and counts that say what the server
 * accepted.
 */
let client: MongoClient;
const prefix = uniqueName("rspl");

const bson = (document: Document): Buffer => Buffer.from(BSON.serialize(document));

async function* collection(db: string, name: string, documents: Document[]): AsyncGenerator<ArchiveEvent> {
  yield { type: "collection-metadata", db, collection: name, metadata: { options: {}, indexes: [] } };
  yield { type: "documents", db, collection: name, documents: DocumentRun.of(documents.map(bson)) };
  yield { type: "collection-end", db, collection: name, documentCount: documents.length };
}

async function* concat(...lists: AsyncIterable<ArchiveEvent>[]): AsyncGenerator<ArchiveEvent> {
  for (const list of lists) yield* list;
}

async function databaseNames(): Promise<string[]> {
  const { databases } = await client.db("admin").command({ listDatabases: 1, nameOnly: true });
  return (databases as { name: string }[]).map(({ name }) => name);
}

const docs = (count: number) => Array.from({ length: count }, (_, i) => ({ _id: i, v: i }));

beforeAll(async () => {
  client = await connectMongo(testEnv().mongodbUri, { appName: "atlas-ops/test-restore-plan" });
});

afterAll(async () => {
  for (const name of await databaseNames()) {
    if (name.startsWith(prefix)) await client.db(name).dropDatabase();
  }
  await client.close();
});

describe("counts", () => {
  it("counts the documents the server accepted when it refuses one in the middle of a batch", async () => {
    const db = `${prefix}_dup`;
    const documents: Document[] = docs(1000);
    documents[500] = { _id: 10, v: "duplicate" };
    const report = await restoreEvents(collection(db, "orders", documents), client, { batchDocuments: 1000 });
    expect(report.ok).toBe(false);
    expect(report.namespaces[0]?.documents).toBe(999);
    expect(report.failure?.message).toContain("1 of 1000 documents refused (999 written)");
    // ...written into the temporary collection, dropped after the failure: the target never appeared.
    expect(report.namespaces[0]?.status).toBe("untouched");
    expect(await client.db(db).listCollections({ name: "orders" }).toArray()).toEqual([]);
    expect(formatRestoreReport(report)).toContain("999 documents written to a temporary copy, dropped");
  });
});

describe("conflicts found before writing", () => {
  const mergeAll = (db: string) =>
    new NamespaceSelection({ renameFrom: [`${db}.$c$`], renameTo: [`${db}_merged.all`] });

  it("a dry run finds two collections mapped onto one target", async () => {
    const db = `${prefix}_two`;
    const events = concat(collection(db, "x", docs(2)), collection(db, "y", docs(3)));
    const report = await restoreEvents(events, client, { dryRun: true, selection: mergeAll(db) });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toContain(
      `${db}.x and ${db}.y would both be restored into ${db}_merged.all`,
    );
    expect(await databaseNames()).not.toContain(`${db}_merged`);
  });

  it("the pre-write check refuses them before writing anything", async () => {
    const db = `${prefix}_two`;
    const events = concat(collection(db, "x", docs(2)), collection(db, "y", docs(3)));
    const report = await restoreEvents(events, client, {
      selection: mergeAll(db),
      expectedNamespaces: [
        { db, collection: "x" },
        { db, collection: "y" },
      ],
    });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toContain("would both be restored into");
    expect(report.namespaces.map((ns) => ns.status)).toEqual(["untouched", "untouched"]);
    expect(await databaseNames()).not.toContain(`${db}_merged`);
  });

  it("a dry run finds an archive that holds the same collection twice", async () => {
    const db = `${prefix}_twice`;
    const events = concat(collection(db, "x", docs(2)), collection(db, "x", docs(2)));
    const report = await restoreEvents(events, client, { dryRun: true });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toContain(`the archive holds ${db}.x twice`);
  });

  it("a dry run names each target holding data once", async () => {
    const db = `${prefix}_busy`;
    await client
      .db(db)
      .collection("busy")
      .insertOne({ _id: 1 } as never);
    const report = await restoreEvents(concat(collection(db, "busy", docs(2))), client, {
      dryRun: true,
      expectedNamespaces: [{ db, collection: "busy" }],
    });
    expect(report.conflicts).toEqual([`${db}.busy`]);
    const text = formatRestoreReport(report);
    // Once in the list of what would be restored, once as a conflict.
    expect(text.split(`${db}.busy`).length - 1).toBe(2);
    expect(text).toMatch(/already holding data[^\n]*busy/);
  });
});

describe("system and admin namespaces (as mongorestore)", () => {
  it("restores system.js like any collection", async () => {
    const db = `${prefix}_js`;
    const functions = [{ _id: "total", value: "function (a, b) { return a + b; }" }];
    const report = await restoreEvents(collection(db, "system.js", functions), client);
    expect(report.failure).toBeUndefined();
    expect(report.namespaces.map((ns) => [ns.target, ns.status])).toEqual([[`${db}.system.js`, "completed"]]);
    expect(await client.db(db).collection("system.js").find().toArray()).toEqual(functions);
  });

  it("refuses data in admin up front, naming it, and writes nothing", async () => {
    const db = `${prefix}_adm`;
    const events = concat(collection(db, "orders", docs(2)), collection("admin", "settings", docs(1)));
    const report = await restoreEvents(events, client, {
      expectedNamespaces: [
        { db, collection: "orders" },
        { db: "admin", collection: "settings" },
      ],
    });
    expect(report.ok).toBe(false);
    expect(report.failure?.message).toContain("admin.settings would be restored into the admin database");
    expect(report.failure?.message).toContain("--nsFrom/--nsTo");
    const settings = report.namespaces.find((ns) => ns.source === "admin.settings");
    expect(settings?.status).toBe("untouched");
    expect(await databaseNames()).not.toContain(db);
    expect(await client.db("admin").listCollections({ name: "settings" }).toArray()).toEqual([]);

    const dry = await restoreEvents(
      concat(collection(db, "orders", docs(2)), collection("admin", "settings", docs(1))),
      client,
      { dryRun: true },
    );
    expect(dry.ok).toBe(false);
    expect(dry.failure?.message).toContain("admin.settings would be restored into the admin database");
  });

  it("skips users and roles with the reason, and restores admin data renamed into another database", async () => {
    const db = `${prefix}_moved`;
    const events = concat(
      collection("admin", "system.users", [{ _id: "admin.someone", user: "someone" }]),
      collection("admin", "settings", docs(3)),
    );
    const report = await restoreEvents(events, client, {
      selection: new NamespaceSelection({ renameFrom: ["admin.settings"], renameTo: [`${db}.settings`] }),
    });
    expect(report.failure).toBeUndefined();
    expect(report.skipped).toEqual([
      {
        namespace: "admin.system.users",
        reason: expect.stringContaining("users and roles are not restored"),
      },
    ]);
    expect(await client.db(db).collection("settings").countDocuments()).toBe(3);
  });
});
