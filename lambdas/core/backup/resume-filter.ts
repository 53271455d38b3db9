import { BSON, type Document } from "mongodb";

/**
 * MongoDB's order of BSON types when sorting (docs: "Comparison/Sort Order"), as `$type` aliases. `_id` is
 * never an array. Comparison operators such as `$gt` only match values of the same bracket, so "every `_id`
 * after this one" needs the later brackets named too.
 */
const TYPE_ORDER: string[][] = [
  ["minKey"],
  ["null", "undefined"],
  ["number"],
  ["symbol", "string"],
  ["object"],
  ["binData"],
  ["objectId"],
  ["bool"],
  ["date"],
  ["timestamp"],
  ["regex"],
  ["maxKey"],
];

function bracketOf(value: unknown): number {
  if (value === null || value === undefined) return 1;
  if (typeof value === "number" || typeof value === "bigint") return 2;
  if (typeof value === "string") return 3;
  if (typeof value === "boolean") return 7;
  if (value instanceof Date) return 8;
  if (value instanceof RegExp) return 10;
  switch ((value as { _bsontype?: string })._bsontype) {
    case "MinKey":
      return 0;
    case "Int32":
    case "Long":
    case "Double":
    case "Decimal128":
      return 2;
    case "BSONSymbol":
      return 3;
    case "Binary":
    case "UUID":
      return 5;
    case "ObjectId":
      return 6;
    case "Timestamp":
      return 9;
    case "BSONRegExp":
      return 10;
    case "MaxKey":
      return 11;
    default:
      return 4; // a plain object (an embedded document)
  }
}

/** Types some servers cannot store (FerretDB refuses even their `$type` aliases); MongoDB has them all. */
export const RARE_TYPES = ["minKey", "undefined", "symbol", "maxKey"];

/**
 * The filter for the documents that sort after `lastId` in `{_id: 1}` order, whatever their `_id` types;
 * `rareTypes: false` for a server that does not know the rare types (so holds no such values).
 */
export function afterIdFilter(lastId: unknown, rareTypes = true): Document {
  const later = TYPE_ORDER.slice(bracketOf(lastId) + 1)
    .flat()
    .filter((type) => rareTypes || !RARE_TYPES.includes(type));
  // `$gt: NaN` matches no number (NaN compares false with every other number), while NaN sorts first among
  // the numbers: after it, every number but NaN (at most one NaN `_id`: all NaNs are equal) comes.
  const sameBracket = isNaNumber(lastId)
    ? { _id: { $gte: Number.NEGATIVE_INFINITY } }
    : { _id: { $gt: lastId } };
  return later.length === 0 ? sameBracket : { $or: [sameBracket, { _id: { $type: later } }] };
}

/** A numeric `_id` that is NaN (a double's or a Decimal128's). */
function isNaNumber(value: unknown): boolean {
  if (typeof value === "number") return Number.isNaN(value);
  const bsonType = (value as { _bsontype?: string } | null | undefined)?._bsontype;
  if (bsonType === "Double") return Number.isNaN((value as { value: number }).value);
  if (bsonType === "Decimal128") return /nan/i.test(String(value));
  return false;
}

/** Canonical Extended JSON keeps the exact BSON type of an `_id` across invocations. */
export function encodeId(id: unknown): string {
  return BSON.EJSON.stringify({ _id: id }, { relaxed: false });
}

export function decodeId(text: string): unknown {
  return (BSON.EJSON.parse(text, { relaxed: false }) as { _id: unknown })._id;
}

/** The `_id` of a raw document, its types kept. */
export function idOf(document: Uint8Array): unknown {
  return BSON.deserialize(document, { promoteValues: false, promoteLongs: false, promoteBuffers: false })._id;
}
