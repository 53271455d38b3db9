import type { MongoClient } from "mongodb";
import { DocumentsDigest } from "../archive/documents-digest";
import type { ManifestCollection } from "../archive/events";
import { rawFind } from "../mongo/raw-cursor";
import { formatNamespace, type Namespace } from "./namespaces";

/** A restored collection compared with its manifest entry. */
export interface CollectionCheck {
  /** Namespace in the backup. */
  namespace: string;
  /** Where it was restored. */
  restored: string;
  expectedDocuments: number;
  documents: number;
  digestMatches: boolean;
  missingIndexes: string[];
  problem?: string;
}

/**
 * Reads a restored collection back (raw documents) and compares it with the manifest: count, the
 * order-independent digest of the documents' bytes, and the presence of every index of the backup.
 */
export async function checkRestoredCollection(
  client: MongoClient,
  entry: ManifestCollection,
  restored: Namespace,
  expectedIndexes: string[],
): Promise<CollectionCheck> {
  const digest = new DocumentsDigest();
  const collection = client.db(restored.db).collection(restored.collection);
  // Read as the backup reads: one buffer per batch, no object per document.
  for await (const batch of rawFind(client, restored.db, restored.collection)) {
    for (const document of batch) digest.add(document);
  }
  const present = new Set((await collection.listIndexes().toArray()).map((index) => String(index.name)));
  const check: CollectionCheck = {
    namespace: `${entry.db}.${entry.collection}`,
    restored: formatNamespace(restored),
    expectedDocuments: entry.documents,
    documents: digest.documents,
    digestMatches: digest.hex() === entry.documentsDigest,
    missingIndexes: expectedIndexes.filter((name) => !present.has(name)),
  };
  const problems: string[] = [];
  if (check.documents !== check.expectedDocuments) {
    problems.push(`${check.documents} documents restored, manifest says ${check.expectedDocuments}`);
  } else if (!check.digestMatches) {
    problems.push("documents digest differs from the manifest (same count, different content)");
  }
  if (check.missingIndexes.length > 0) problems.push(`missing indexes ${check.missingIndexes.join(", ")}`);
  if (problems.length > 0) check.problem = problems.join(", ");
  return check;
}
