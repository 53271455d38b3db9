import type { Db, Document, MongoClient } from "mongodb";
import type { CollectionMetadata } from "../archive/events";
import { formatNamespace, type Namespace } from "./namespaces";

const NAMESPACE_NOT_FOUND = 26;
const NAMESPACE_EXISTS = 48;

function errorCode(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A namespace the server refused to set up (create, index or drop); the message names it. */
export class CollectionSetupError extends Error {
  override name = "CollectionSetupError";
  constructor(
    readonly namespace: string,
    detail: string,
  ) {
    super(`${namespace}: ${detail}`);
  }
}

/** True when the namespace holds at least one document (views and missing collections hold none). */
export async function holdsData(client: MongoClient, target: Namespace): Promise<boolean> {
  const db = client.db(target.db);
  const existing = await db.listCollections({ name: target.collection }, { nameOnly: false }).toArray();
  const info = existing[0] as Document | undefined;
  if (!info || info.type === "view") return false;
  const one = await db.collection(target.collection).findOne({}, { projection: { _id: 1 } });
  return one !== null;
}

/** Drops one collection or view; a namespace that does not exist is already in the wanted state. */
export async function dropNamespace(client: MongoClient, target: Namespace): Promise<void> {
  try {
    await client.db(target.db).command({ drop: target.collection });
  } catch (error) {
    if (errorCode(error) === NAMESPACE_NOT_FOUND || /ns not found|does not exist/i.test(message(error)))
      return;
    throw new CollectionSetupError(formatNamespace(target), `drop failed: ${message(error)}`);
  }
}

/**
 * Creates the collection (or view) with the options it had. An existing collection is kept as it is, the
 * way mongorestore does: the caller has already made sure it holds no data.
 */
export async function createCollection(
  client: MongoClient,
  target: Namespace,
  metadata: CollectionMetadata,
  shownAs = formatNamespace(target),
) {
  const db: Db = client.db(target.db);
  const options: Document = { ...metadata.options };
  try {
    await db.command({ create: target.collection, ...options });
  } catch (error) {
    if (errorCode(error) === NAMESPACE_EXISTS || /already exists/i.test(message(error))) return;
    const shown = Object.keys(options).join(", ") || "no options";
    throw new CollectionSetupError(shownAs, `create (${shown}) failed: ${message(error)}`);
  }
}

/** Index specifications to build: every index but the one the server makes itself (_id). */
export function indexesToBuild(metadata: CollectionMetadata): Document[] {
  return metadata.indexes
    .filter((index) => index.name !== "_id_")
    .map((index) => {
      // `ns` was part of index specs before MongoDB 4.4 and is refused by createIndexes now; `v` is left to
      // the server so an old index version is rebuilt in the current one (as mongorestore does).
      const { ns: _ns, v: _v, ...spec } = index;
      return spec;
    });
}

/**
 * Builds the indexes after the data is in (one pass over the collection on MongoDB). When the server refuses
 * the set, each index is built on its own to name the ones it refuses. Errors name `shownAs` (the target a
 * temporary collection stands for).
 */
export async function buildIndexes(
  client: MongoClient,
  target: Namespace,
  indexes: Document[],
  shownAs = formatNamespace(target),
): Promise<void> {
  if (indexes.length === 0) return;
  const db = client.db(target.db);
  try {
    await db.command({ createIndexes: target.collection, indexes });
    return;
  } catch {
    // Fall through: find out which index the server refuses.
  }
  const refused: string[] = [];
  for (const index of indexes) {
    try {
      await db.command({ createIndexes: target.collection, indexes: [index] });
    } catch (error) {
      refused.push(`index "${String(index.name)}" (${JSON.stringify(index.key)}): ${message(error)}`);
    }
  }
  if (refused.length > 0) {
    throw new CollectionSetupError(shownAs, `server refused ${refused.join("; ")}`);
  }
}
