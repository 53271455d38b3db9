import { randomBytes } from "node:crypto";
import type { Document, MongoClient } from "mongodb";
import { CollectionSetupError } from "./collections";
import { formatNamespace, type Namespace } from "./namespaces";

/**
 * Atomic replacement of a collection: the restore writes into a temporary collection of the target's own
 * database, and renames it over the target only once it is complete and checked. On MongoDB and Atlas,
 * `renameCollection` with `dropTarget` inside one database replaces the target in one step (the readWrite
 * role grants it: renameCollectionSameDB and dropCollection). A restore that fails before the rename leaves
 * the target exactly as it was.
 */
export const STAGING_PREFIX = "atlas_ops_restore_";

/** Leftovers of a run that started longer ago than this are a crashed run's, not a running one's. */
export const DEFAULT_STALE_STAGING_MS = 24 * 3_600_000;

const NOT_IMPLEMENTED = 238;
const NAMESPACE_EXISTS = 48;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One restore run's temporary names: `atlas_ops_restore_<start, ms base 36>_<random>_<n>`, never reused. */
export class StagingNames {
  private readonly run: string;
  private next = 0;

  constructor(now = Date.now()) {
    this.run = `${STAGING_PREFIX}${now.toString(36)}_${randomBytes(4).toString("hex")}`;
  }

  temporary(target: Namespace): Namespace {
    this.next += 1;
    return { db: target.db, collection: `${this.run}_${this.next}` };
  }

  /** Where the fallback moves an existing target aside for the moment of the swap. */
  aside(target: Namespace): Namespace {
    this.next += 1;
    return { db: target.db, collection: `${this.run}_${this.next}_replaced` };
  }
}

/** The start time encoded in a staging name, or undefined for any other name. */
export function stagingStartedAt(collection: string): number | undefined {
  const match = new RegExp(`^${STAGING_PREFIX}([0-9a-z]+)_[0-9a-f]{8}_\\d+$`).exec(collection);
  return match ? parseInt(match[1]!, 36) : undefined;
}

/**
 * Drops the temporary collections a crashed run left in `db` (started more than `staleAfterMs` ago). Moved-
 * aside originals (`..._replaced`) are never dropped: they may be the only copy of a target, and the report
 * of the run that left one named it.
 */
export async function dropStaleStaging(
  client: MongoClient,
  db: string,
  staleAfterMs = DEFAULT_STALE_STAGING_MS,
  now = Date.now(),
): Promise<string[]> {
  const collections = await client.db(db).listCollections({}, { nameOnly: true }).toArray();
  const dropped: string[] = [];
  for (const { name } of collections as Document[]) {
    const started = stagingStartedAt(String(name));
    if (started === undefined || now - started < staleAfterMs) continue;
    await client.db(db).command({ drop: String(name) });
    dropped.push(`${db}.${String(name)}`);
  }
  return dropped;
}

async function rename(client: MongoClient, from: Namespace, to: Namespace, dropTarget: boolean) {
  await client.db("admin").command({
    renameCollection: formatNamespace(from),
    to: formatNamespace(to),
    ...(dropTarget ? { dropTarget: true } : {}),
  });
}

function notImplemented(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === NOT_IMPLEMENTED || /not implemented/i.test(message(error));
}

/**
 * Puts the complete temporary collection in the target's place. Servers without `dropTarget` (FerretDB 1.x
 * answers NotImplemented) get the nearest equivalent: the target is renamed aside, the temporary renamed in,
 * the original dropped; a failed swap renames the original back.
 */
export async function replaceWithStaged(
  client: MongoClient,
  staged: Namespace,
  target: Namespace,
  names: StagingNames,
  /** Told where the original goes before it is moved aside, so that a cut at that moment can be undone. */
  onAside?: (aside: Namespace) => void,
): Promise<void> {
  const where = formatNamespace(target);
  try {
    await rename(client, staged, target, true);
    return;
  } catch (error) {
    if (!notImplemented(error)) {
      throw new CollectionSetupError(where, `renaming the restored copy over it failed: ${message(error)}`);
    }
  }
  try {
    await rename(client, staged, target, false);
    return;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== NAMESPACE_EXISTS && !/already exists|namespace exists/i.test(message(error))) {
      throw new CollectionSetupError(
        where,
        `renaming the restored copy into place failed: ${message(error)}`,
      );
    }
  }
  const aside = names.aside(target);
  onAside?.(aside);
  await rename(client, target, aside, false);
  try {
    await rename(client, staged, target, false);
  } catch (error) {
    const back = await rename(client, aside, target, false).then(
      () => "the original was put back",
      () => `the original is kept as ${formatNamespace(aside)}`,
    );
    throw new CollectionSetupError(
      where,
      `swapping the restored copy in failed (${back}): ${message(error)}`,
    );
  }
  await client.db(aside.db).command({ drop: aside.collection });
}

export async function collectionExists(client: MongoClient, ns: Namespace): Promise<boolean> {
  const found = await client.db(ns.db).listCollections({ name: ns.collection }, { nameOnly: true }).toArray();
  return found.length > 0;
}

/**
 * After a cut during the fallback swap: an original that was moved aside while the restored copy never took
 * its place is renamed back. Returns true when the target is as it was.
 */
export async function putBackAside(
  client: MongoClient,
  aside: Namespace,
  target: Namespace,
): Promise<boolean> {
  if (!(await collectionExists(client, aside))) return true;
  if (await collectionExists(client, target)) return false;
  await rename(client, aside, target, false);
  return true;
}

/** Best effort: drops this run's temporary collections after a failure; returns those it could not drop. */
export async function dropStaged(client: MongoClient, staged: readonly Namespace[]): Promise<string[]> {
  const results = await Promise.allSettled(
    staged.map((ns) => client.db(ns.db).command({ drop: ns.collection })),
  );
  return staged
    .filter((_, i) => {
      const result = results[i]!;
      if (result.status === "fulfilled") return false;
      return !/ns not found|does not exist/i.test(message(result.reason));
    })
    .map(formatNamespace);
}
