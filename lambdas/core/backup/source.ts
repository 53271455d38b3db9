import type { Binary, Document, MongoClient } from "mongodb";
import type { CollectionMetadata } from "../archive/events";

/** What a backup reads from the server: the databases, their collections and each one's metadata. */

export interface SourceCollection {
  db: string;
  collection: string;
  /** Where the documents are read (a timeseries collection's documents live in its buckets collection). */
  readFrom?: string;
  metadata: CollectionMetadata;
}

const SYSTEM_DATABASES = new Set(["admin", "local", "config"]);

export async function chooseDatabases(
  client: MongoClient,
  requested: string[] | undefined,
): Promise<string[]> {
  const { databases } = await client.db("admin").admin().listDatabases({ nameOnly: true });
  const existing = databases.map((db) => db.name);
  if (!requested || requested.length === 0)
    return existing.filter((name) => !SYSTEM_DATABASES.has(name)).sort();
  const missing = requested.filter((name) => !existing.includes(name));
  if (missing.length > 0) {
    throw new Error(
      `database${missing.length > 1 ? "s" : ""} not found on the server: ${missing.join(", ")}`,
    );
  }
  return [...new Set(requested)];
}

export async function listSourceCollections(client: MongoClient, db: string): Promise<SourceCollection[]> {
  // Unpromoted values keep each number's BSON type (Int32 vs Int64 vs Double), as mongodump preserves it.
  const raw = { promoteValues: false, promoteLongs: false } as const;
  const infos = await client
    .db(db)
    .listCollections({}, { nameOnly: false, ...raw })
    .toArray();
  const result: SourceCollection[] = [];
  for (const info of infos) {
    const name = info.name as string;
    if (name.startsWith("system.")) continue;
    const type = (info.type as string | undefined) ?? "collection";
    const indexes = type === "view" ? [] : await client.db(db).collection(name).listIndexes(raw).toArray();
    const uuid = (info.info as { uuid?: Binary } | undefined)?.uuid;
    result.push({
      db,
      collection: name,
      readFrom: type === "view" ? undefined : type === "timeseries" ? `system.buckets.${name}` : name,
      metadata: {
        collectionName: name,
        type,
        options: (info.options as Document | undefined) ?? {},
        indexes,
        uuid: uuid ? Buffer.from(uuid.buffer).toString("hex") : undefined,
      },
    });
  }
  return result.sort((a, b) => a.collection.localeCompare(b.collection));
}

export async function serverVersion(client: MongoClient): Promise<string> {
  const info = await client.db("admin").command({ buildInfo: 1 });
  return String(info.version ?? "unknown");
}
