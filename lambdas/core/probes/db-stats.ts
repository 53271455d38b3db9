import { ObjectId, type Db, type MongoClient } from "mongodb";

/**
 * The guide's `db.stats()` and `countDocuments` loop as figures: per database sizes and counts, per
 * collection counts, documents created in the last day in chosen collections, and indexes never used.
 */

export interface CollectionFigures {
  collection: string;
  documents: number;
}

export interface DatabaseFigures {
  database: string;
  collections: number;
  documents: number;
  dataSizeBytes: number;
  storageSizeBytes: number;
  indexSizeBytes: number;
  perCollection: CollectionFigures[];
}

/** `opendev.orders:createdAt` -> documents whose createdAt is in the window; without a field, the _id time. */
export interface NewDocumentsSource {
  database: string;
  collection: string;
  field?: string;
}

export interface NewDocumentsFigure extends NewDocumentsSource {
  documents: number;
}

export interface UnusedIndex {
  namespace: string;
  index: string;
  /** When the server started counting this index's use. */
  since?: string;
}

export interface IndexUsage {
  unused: UnusedIndex[];
  /** Namespaces where usage statistics are not available, with the reason (e.g. FerretDB lacks $indexStats). */
  skipped: { namespace: string; reason: string }[];
}

export interface DatabaseStatsReport {
  databases: DatabaseFigures[];
  newDocuments: NewDocumentsFigure[];
  indexUsage: IndexUsage;
  windowStart: Date;
}

export interface CollectDatabaseStatsOptions {
  /** Databases to measure; every non-system database when empty. */
  databases: string[];
  newDocuments: NewDocumentsSource[];
  now?: Date;
  windowHours?: number;
}

const SYSTEM_DATABASES = new Set(["admin", "local", "config"]);

export function parseNewDocumentsSources(text: string): NewDocumentsSource[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const match = /^([^.:\s]+)\.([^:\s]+)(?::([^\s]+))?$/.exec(item);
      if (!match) throw new Error(`"${item}" is not database.collection or database.collection:field`);
      return { database: match[1]!, collection: match[2]!, field: match[3] };
    });
}

export async function collectDatabaseStats(
  client: MongoClient,
  options: CollectDatabaseStatsOptions,
): Promise<DatabaseStatsReport> {
  const now = options.now ?? new Date();
  const windowStart = new Date(now.getTime() - (options.windowHours ?? 24) * 3600_000);
  const names = options.databases.length ? options.databases : await listUserDatabases(client);
  const databases: DatabaseFigures[] = [];
  const indexUsage: IndexUsage = { unused: [], skipped: [] };
  for (const name of names) {
    const db = client.db(name);
    databases.push(await databaseFigures(db));
    await collectIndexUsage(db, indexUsage);
  }
  const newDocuments: NewDocumentsFigure[] = [];
  for (const source of options.newDocuments) {
    newDocuments.push({ ...source, documents: await countNewDocuments(client, source, windowStart) });
  }
  return { databases, newDocuments, indexUsage, windowStart };
}

/** Only the unused-index part (the monthly performance review): every given database, or all user ones. */
export async function findUnusedIndexes(client: MongoClient, databases: string[]): Promise<IndexUsage> {
  const names = databases.length ? databases : await listUserDatabases(client);
  const usage: IndexUsage = { unused: [], skipped: [] };
  for (const name of names) await collectIndexUsage(client.db(name), usage);
  return usage;
}

async function listUserDatabases(client: MongoClient): Promise<string[]> {
  const { databases } = await client.db("admin").admin().listDatabases({ nameOnly: true });
  return databases
    .map((database) => database.name)
    .filter((name) => !SYSTEM_DATABASES.has(name))
    .sort();
}

async function databaseFigures(db: Db): Promise<DatabaseFigures> {
  let stats: Record<string, unknown>;
  try {
    stats = await db.command({ dbStats: 1, scale: 1 });
  } catch (error) {
    throw new Error(`dbStats on database ${db.databaseName} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const collectionNames = (await db.listCollections({}, { nameOnly: true }).toArray())
    .filter((collection) => collection.type !== "view" && !collection.name.startsWith("system."))
    .map((collection) => collection.name)
    .sort();
  const perCollection: CollectionFigures[] = [];
  for (const collection of collectionNames) {
    try {
      perCollection.push({ collection, documents: await db.collection(collection).countDocuments() });
    } catch (error) {
      const namespace = `${db.databaseName}.${collection}`;
      throw new Error(`counting documents in ${namespace} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return {
    database: db.databaseName,
    collections: collectionNames.length,
    documents: perCollection.reduce((sum, figure) => sum + figure.documents, 0),
    dataSizeBytes: toNumber(stats.dataSize),
    storageSizeBytes: toNumber(stats.storageSize),
    indexSizeBytes: toNumber(stats.indexSize),
    perCollection,
  };
}

async function countNewDocuments(
  client: MongoClient,
  source: NewDocumentsSource,
  since: Date,
): Promise<number> {
  const filter = source.field
    ? { [source.field]: { $gte: since } }
    : { _id: { $gte: ObjectId.createFromTime(Math.floor(since.getTime() / 1000)) } };
  try {
    return await client.db(source.database).collection(source.collection).countDocuments(filter);
  } catch (error) {
    const namespace = `${source.database}.${source.collection}`;
    throw new Error(`counting new documents in ${namespace} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** `$indexStats` counts index use since the server started; an index with zero uses is a candidate to drop. */
async function collectIndexUsage(db: Db, usage: IndexUsage): Promise<void> {
  const collections = await db.listCollections({ type: "collection" }, { nameOnly: true }).toArray();
  for (const { name } of collections) {
    if (name.startsWith("system.")) continue;
    const namespace = `${db.databaseName}.${name}`;
    let stats: { name?: string; accesses?: { ops?: unknown; since?: unknown } }[];
    try {
      stats = await db
        .collection(name)
        .aggregate([{ $indexStats: {} }])
        .toArray();
    } catch (error) {
      // Unsupported on this server (FerretDB) or not permitted: the rest of the database would fail alike.
      const reason = `$indexStats failed on ${namespace}: ${(error as Error).message}`;
      usage.skipped.push({ namespace: db.databaseName, reason });
      return;
    }
    for (const index of stats) {
      if (!index.name || index.name === "_id_" || toNumber(index.accesses?.ops) > 0) continue;
      const since = index.accesses?.since instanceof Date ? index.accesses.since.toISOString() : undefined;
      usage.unused.push({ namespace, index: index.name, since });
    }
  }
}

function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (value && typeof (value as { toNumber?: unknown }).toNumber === "function") {
    return (value as { toNumber(): number }).toNumber();
  }
  if (value && typeof (value as { valueOf?: unknown }).valueOf === "function") {
    const primitive = (value as { valueOf(): unknown }).valueOf();
    if (typeof primitive === "number") return primitive;
  }
  return 0;
}
