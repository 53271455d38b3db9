import type { MongoClient } from "mongodb";

/**
 * An independent check that a restored copy equals its source: the same collections, the same documents
 * byte for byte (raw BSON, matched by _id), and the same indexes (name, key, unique).
 */
export interface Comparison {
  collections: number;
  documents: number;
  indexes: number;
}

export async function compareDatabases(
  client: MongoClient,
  source: string,
  copy: string,
  options: { indexes: boolean } = { indexes: true },
): Promise<Comparison> {
  const names = async (db: string): Promise<string[]> =>
    (await client.db(db).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  const sourceCollections = await names(source);
  const copyCollections = await names(copy);
  if (JSON.stringify(sourceCollections) !== JSON.stringify(copyCollections)) {
    throw new Error(
      `collections differ: ${source} has [${sourceCollections.join(", ")}], ${copy} has [${copyCollections.join(", ")}]`,
    );
  }
  const result: Comparison = { collections: sourceCollections.length, documents: 0, indexes: 0 };
  for (const name of sourceCollections) {
    const read = (db: string) =>
      client
        .db(db)
        .collection(name)
        .find({}, { raw: true, sort: { _id: 1 }, batchSize: 5000 });
    const copyCursor = read(copy)[Symbol.asyncIterator]();
    let index = 0;
    for await (const original of read(source)) {
      const next = await copyCursor.next();
      if (next.done)
        throw new Error(`${copy}.${name} has only ${index} documents, ${source}.${name} has more`);
      if (
        !Buffer.from(original as unknown as Uint8Array).equals(
          Buffer.from(next.value as unknown as Uint8Array),
        )
      ) {
        throw new Error(`${copy}.${name}: document #${index + 1} (in _id order) differs from the source`);
      }
      index += 1;
    }
    if (!(await copyCursor.next()).done) {
      throw new Error(`${copy}.${name} has more documents than ${source}.${name} (${index})`);
    }
    await copyCursor.return?.();
    result.documents += index;

    if (!options.indexes) continue;
    const indexes = async (db: string): Promise<string[]> =>
      (await client.db(db).collection(name).listIndexes().toArray())
        .map((spec) => `${String(spec.name)} ${JSON.stringify(spec.key)}${spec.unique ? " unique" : ""}`)
        .sort();
    const sourceIndexes = await indexes(source);
    const copyIndexes = await indexes(copy);
    if (JSON.stringify(sourceIndexes) !== JSON.stringify(copyIndexes)) {
      throw new Error(
        `${copy}.${name} indexes [${copyIndexes.join("; ")}] differ from the source's [${sourceIndexes.join("; ")}]`,
      );
    }
    result.indexes += sourceIndexes.length;
  }
  return result;
}
