import { BSON, type Document } from "./bson";

const { EJSON } = BSON;
import { ArchiveError, type CollectionMetadata } from "./events";

/**
 * `<coll>.metadata.json`, written the way mongodump writes it: canonical Extended JSON v2, keys in the order
 * options (left out when empty), indexes, uuid (hex), collectionName, type.
 */
export function encodeMetadata(metadata: CollectionMetadata): Buffer {
  const out: Document = {};
  if (Object.keys(metadata.options).length > 0) out.options = metadata.options;
  out.indexes = metadata.indexes;
  if (metadata.uuid) out.uuid = metadata.uuid;
  out.collectionName = metadata.collectionName;
  out.type = metadata.type ?? "collection";
  return Buffer.from(EJSON.stringify(out, { relaxed: false }), "utf8");
}

/** Parses a metadata.json; types (Int32 vs Int64, dates, regexes) survive as BSON values. */
export function decodeMetadata(text: string, file: string): CollectionMetadata {
  let parsed: unknown;
  try {
    parsed = EJSON.parse(text, { relaxed: false });
  } catch (error) {
    throw new ArchiveError(`metadata is not valid Extended JSON: ${(error as Error).message}`, { file });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ArchiveError("metadata is not a JSON object", { file });
  }
  const doc = parsed as Document;
  const options = doc.options ?? {};
  const indexes = doc.indexes ?? [];
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new ArchiveError('metadata "options" is not an object', { file });
  }
  if (!Array.isArray(indexes) || indexes.some((index) => typeof index !== "object" || index === null)) {
    throw new ArchiveError('metadata "indexes" is not an array of index specifications', { file });
  }
  return {
    collectionName: typeof doc.collectionName === "string" ? doc.collectionName : undefined,
    type: typeof doc.type === "string" ? doc.type : undefined,
    options: options as Document,
    indexes: indexes as Document[],
    uuid: typeof doc.uuid === "string" ? doc.uuid : undefined,
  };
}
