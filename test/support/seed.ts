import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
  type Document,
  type MongoClient,
} from "mongodb";

/**
 * Seeds several databases and collections with every BSON type the server accepts, indexes (single, compound,
 * unique, sparse) and collection options (capped). Backup and restore tests share it: what it writes is what a
 * round trip must bring back byte for byte.
 */
export interface SeedOptions {
  /** Database names are `<prefix>_a`, `<prefix>_b` (unique per test file). */
  prefix: string;
  /** Documents in the bulk `orders` collection (default 500). */
  orders?: number;
}

export interface SeededNamespace {
  db: string;
  collection: string;
  documents: number;
}

export interface SeedResult {
  databases: string[];
  namespaces: SeededNamespace[];
  /** False on servers (FerretDB) that reject decimal128, min/max key, code and symbol. */
  fullBson: boolean;
}

/** True when the server is FerretDB, which lacks several BSON types and index/collection options. */
export async function isFerretDb(client: MongoClient): Promise<boolean> {
  const info = await client.db("admin").command({ buildInfo: 1 });
  return typeof info.ferretdbVersion === "string" || typeof info.ferretdb === "object";
}

/** One document per BSON type, plus edge cases of each (field order matters: it is part of the bytes). */
export function bsonTypeDocuments(fullBson: boolean): Document[] {
  const common: Document[] = [
    { _id: "double", v: new Double(1.5), negativeZero: new Double(-0), tiny: new Double(5e-324) },
    { _id: "string", v: "héllo wörld ✓", empty: "", nul: "a\u0000b" },
    { _id: "object", v: { z: 1, a: { nested: [1, { deep: true }] } }, empty: {} },
    { _id: "array", v: [1, "two", new Double(3), { five: 5 }], empty: [] },
    {
      _id: "binary",
      generic: new Binary(Buffer.from([0, 1, 2, 255])),
      uuid: new UUID("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"),
      md5: new Binary(Buffer.alloc(16, 7), 5),
      user: new Binary(Buffer.from("custom"), 128),
      empty: new Binary(Buffer.alloc(0)),
    },
    { _id: "undefined", v: undefined },
    { _id: new ObjectId("5f5b2b9e1c9d440000a1b2c3"), kind: "objectId" },
    { _id: "bool", t: true, f: false },
    {
      _id: "date",
      epoch: new Date(0),
      before: new Date(-86_400_000),
      now: new Date("2024-02-29T12:34:56.789Z"),
    },
    { _id: "null", v: null },
    { _id: "regex", v: new BSONRegExp("^a.*z$", "imsx"), plain: new BSONRegExp("b+", "") },
    { _id: "int32", v: new Int32(-2147483648), max: new Int32(2147483647) },
    { _id: "timestamp", v: new Timestamp({ t: 1700000000, i: 42 }) },
    { _id: "int64", v: Long.fromString("9007199254740993"), min: Long.MIN_VALUE },
    { _id: 42, kind: "numeric id" },
    { _id: { compound: 1, key: "x" }, kind: "document id" },
  ];
  if (!fullBson) return common;
  return [
    ...common,
    { _id: "decimal128", v: Decimal128.fromString("1.10"), big: Decimal128.fromString("-1.5E+6000") },
    { _id: "minmax", min: new MinKey(), max: new MaxKey() },
    { _id: "code", v: new Code("function () { return 1; }"), scoped: new Code("x + y", { x: 1 }) },
    { _id: "symbol", v: new BSONSymbol("sym") },
    { _id: "nested-array", v: [[1, 2], [[]]] },
    { _id: "double-special", nan: new Double(NaN), inf: new Double(Infinity), ninf: new Double(-Infinity) },
  ];
}

/** A deterministic order-like document. */
export function orderDocument(index: number): Document {
  return {
    _id: new ObjectId(Buffer.from(index.toString(16).padStart(24, "0"), "hex")),
    number: `ORD-${String(index).padStart(8, "0")}`,
    customer: { id: new Int32(index % 977), email: `customer${index % 977}@example.com` },
    status: ["new", "paid", "shipped", "cancelled"][index % 4],
    total: new Double((index % 10_000) / 100),
    items: Array.from({ length: 1 + (index % 3) }, (_, item) => ({
      sku: `SKU-${(index * 7 + item) % 5000}`,
      qty: new Int32(1 + item),
      price: new Double(9.99 + item),
    })),
    createdAt: new Date(Date.UTC(2024, 0, 1) + index * 60_000),
  };
}

export async function seedDatabases(client: MongoClient, options: SeedOptions): Promise<SeedResult> {
  const fullBson = !(await isFerretDb(client));
  const a = `${options.prefix}_a`;
  const b = `${options.prefix}_b`;
  for (const name of [a, b]) await client.db(name).dropDatabase();
  const namespaces: SeededNamespace[] = [];

  const types = bsonTypeDocuments(fullBson);
  await client.db(a).collection("types").insertMany(types, { ignoreUndefined: false });
  namespaces.push({ db: a, collection: "types", documents: types.length });

  const orderCount = options.orders ?? 500;
  const orders = client.db(a).collection("orders");
  for (let start = 0; start < orderCount; start += 1000) {
    const batch = [];
    for (let i = start; i < Math.min(orderCount, start + 1000); i += 1) batch.push(orderDocument(i));
    await orders.insertMany(batch);
  }
  await orders.createIndex({ number: 1 }, { unique: true, name: "number_unique" });
  await orders.createIndex({ "customer.id": 1, createdAt: -1 }, { name: "customer_recent" });
  await orders.createIndex({ "items.sku": 1 }, { sparse: true });
  namespaces.push({ db: a, collection: "orders", documents: orderCount });

  await client.db(a).createCollection("events", { capped: true, size: 1024 * 1024, max: 1000 });
  const events = Array.from({ length: 20 }, (_, i) => ({ seq: new Int32(i), at: new Date(i * 1000) }));
  await client.db(a).collection("events").insertMany(events);
  namespaces.push({ db: a, collection: "events", documents: events.length });

  await client.db(a).createCollection("empty");
  namespaces.push({ db: a, collection: "empty", documents: 0 });

  const users = client.db(b).collection("users");
  const userDocs = Array.from({ length: 50 }, (_, i) => ({
    email: `user${i}@example.com`,
    name: `User ${i}`,
    roles: i % 10 === 0 ? ["admin"] : [],
    emailVerified: i % 2 === 0 ? new Date(i * 86_400_000) : null,
  }));
  await users.insertMany(userDocs);
  await users.createIndex({ email: 1 }, { unique: true });
  namespaces.push({ db: b, collection: "users", documents: userDocs.length });

  // Names mongodump must escape in file names.
  const odd = client.db(b).collection("odd name/with%chars");
  await odd.insertMany([{ x: 1 }, { x: 2 }]);
  namespaces.push({ db: b, collection: "odd name/with%chars", documents: 2 });

  return { databases: [a, b], namespaces, fullBson };
}

/**
 * Fills a collection with about `bytes` of documents carrying random binary payloads (incompressible, so the
 * archive is as large as the data: what multipart and memory tests need).
 */
export async function seedRandomCollection(
  client: MongoClient,
  db: string,
  collection: string,
  bytes: number,
  documentBytes = 4096,
): Promise<number> {
  const { randomBytes } = await import("node:crypto");
  const count = Math.ceil(bytes / documentBytes);
  const target = client.db(db).collection(collection);
  for (let start = 0; start < count; start += 500) {
    const batch: Document[] = [];
    for (let i = start; i < Math.min(count, start + 500); i += 1) {
      batch.push({ _id: new Int32(i), payload: new Binary(randomBytes(documentBytes - 40)) });
    }
    await target.insertMany(batch);
  }
  return count;
}
