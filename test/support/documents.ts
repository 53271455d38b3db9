import type { BackupManifest } from "../../lambdas/core/archive/events";
import type { MongoClient } from "mongodb";

/** A collection's documents as the server holds them, each as hex of its raw bytes, sorted (order aside). */
export async function rawDocuments(client: MongoClient, db: string, collection: string): Promise<string[]> {
  const docs: string[] = [];
  const cursor = client.db(db).collection(collection).find({}, { raw: true }) as AsyncIterable<Uint8Array>;
  for await (const doc of cursor) docs.push(Buffer.from(doc).toString("hex"));
  return docs.sort();
}

/** The documents of a .bson file, each as hex of its bytes, sorted: comparable with `rawDocuments`. */
export function bsonDocuments(bytes: Buffer): string[] {
  const docs: string[] = [];
  for (let at = 0; at < bytes.length;) {
    const length = bytes.readInt32LE(at);
    docs.push(bytes.subarray(at, at + length).toString("hex"));
    at += length;
  }
  return docs.sort();
}

/** What two backups of the same data share: the manifest without times, the archive's name and fields, and
 * the order collections finished in. */
export function comparableManifest(manifest: BackupManifest): unknown {
  const { startedAt: _s, finishedAt: _f, archive: _a, name, ...rest } = manifest;
  const collections = rest.collections
    .map((entry) => ({
      ...entry,
      file: entry.file.slice(name.length),
      metadataFile: entry.metadataFile.slice(name.length),
    }))
    .sort((a, b) => a.file.localeCompare(b.file));
  return { ...rest, collections };
}
