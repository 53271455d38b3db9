import { MongoClient, ObjectId } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerretDb } from "../support/seed";
import { createSecret, credentialsFor, putSecretValue } from "./support/aws";
import { coldStart, invoke, metricValue, type Env } from "./support/invoke";
import { testEnv, uniqueName } from "../support/env";

const HOUR = 3600_000;
const services = testEnv();
let client: MongoClient;
let database: string;
let secretId: string;

beforeAll(async () => {
  database = uniqueName("dbstats").replace(/-/g, "_");
  secretId = uniqueName("db-stats/credentials");
  client = new MongoClient(services.mongodbAuthUri);
  await client.connect();
  const db = client.db(database);
  const now = Date.now();
  const old = (hours: number) => ObjectId.createFromTime(Math.floor((now - hours * HOUR) / 1000));
  await db.collection("orders").insertMany([
    ...[1, 2, 3].map((n) => ({
      _id: old(200 + n),
      n,
      createdAt: new Date(now - n * HOUR),
      status: "paid",
    })),
    ...[4, 5, 6, 7].map((n) => ({
      _id: old(200 + n),
      n,
      createdAt: new Date(now - (30 + n) * HOUR),
      status: "paid",
    })),
  ]);
  await db.collection("orders").createIndex({ status: 1 });
  await db.collection("users").insertMany([
    { _id: new ObjectId(), name: "new 1" },
    { _id: new ObjectId(), name: "new 2" },
    { _id: old(48), name: "old 1" },
    { _id: old(72), name: "old 2" },
    { _id: old(25), name: "old 3" },
  ]);
  await createSecret(secretId, credentialsFor(services.mongodbAuthUri, { database }));
});

afterAll(async () => {
  await client?.db(database).dropDatabase();
  await client?.close();
});

async function run(env: Env) {
  const handler = await coldStart("lambdas/db-stats/handler", {
    APP_NAME: "shop",
    STATS_DATABASES: database,
    NEW_DOCUMENTS_COLLECTIONS: `${database}.orders:createdAt,${database}.users`,
    ...env,
  });
  return { handler, first: await invoke(handler, {}) };
}

describe("db-stats handler", () => {
  it("records sizes and counts per database and new documents per collection", async () => {
    const { first } = await run({ MONGODB_SECRET_ID: secretId });

    expect(first.error).toBeUndefined();
    const byDatabase = { Database: database };
    expect(metricValue(first, "Documents", byDatabase)).toBe(12);
    expect(metricValue(first, "Collections", byDatabase)).toBe(2);
    expect(metricValue(first, "DataSizeBytes", byDatabase)).toBeGreaterThan(0);
    expect(metricValue(first, "StorageSizeBytes", byDatabase)).toBeGreaterThanOrEqual(0);
    expect(metricValue(first, "IndexSizeBytes", byDatabase)).toBeGreaterThanOrEqual(0);
    expect(metricValue(first, "NewDocuments", { Database: database, Collection: "orders" })).toBe(3);
    expect(metricValue(first, "NewDocuments", { Database: database, Collection: "users" })).toBe(2);
    const documents = first.metrics.find((metric) => metric.name === "Documents")!;
    expect(documents.dimensions).toEqual({
      service: "atlas-ops",
      App: "shop",
      Job: "db-stats",
      Database: database,
    });

    const perCollection = first.logs.find((log) => log.message === "database statistics")!.perCollection;
    expect(perCollection).toEqual([
      { collection: "orders", documents: 7 },
      { collection: "users", documents: 5 },
    ]);
    const usage = first.logs.find((log) => log.message === "index usage")!;
    if (await isFerretDb(client)) {
      expect(usage.unusedIndexes).toEqual([]);
      expect(usage.indexUsageSkipped).toEqual([
        { namespace: database, reason: expect.stringMatching(/\$indexStats/) },
      ]);
      // FerretDB has no $indexStats, as an Atlas user without the indexStats action: a metric, not silence.
      expect(metricValue(first, "IndexUsageSkipped", byDatabase)).toBe(1);
      expect(usage.level).toBe("WARN");
    } else {
      expect(metricValue(first, "IndexUsageSkipped", byDatabase)).toBe(0);
      expect(usage.unusedIndexes).toContainEqual(expect.objectContaining({ index: "status_1" }));
    }
  });

  it("measures every non-system database when STATS_DATABASES is not set", async () => {
    const { first } = await run({ MONGODB_SECRET_ID: secretId, STATS_DATABASES: undefined });
    expect(first.error).toBeUndefined();
    const databases = first.metrics
      .filter((metric) => metric.name === "Documents")
      .map((m) => m.dimensions.Database);
    expect(databases).toContain(database);
    expect(databases).not.toContain("admin");
  });

  it("fails naming the cause on a wrong password, without showing it", async () => {
    const wrongSecret = uniqueName("db-stats/wrong");
    await createSecret(
      wrongSecret,
      credentialsFor(services.mongodbAuthUri, { database, password: "not-the-pw-9f3" }),
    );
    const { first } = await run({ MONGODB_SECRET_ID: wrongSecret });

    // FerretDB accepts PLAIN at connect and checks the password with PostgreSQL on the first command.
    expect(first.error?.message).toMatch(/authentication failed/);
    expect(first.lines.join("\n")).not.toContain("not-the-pw-9f3");
    expect(first.error?.message).not.toContain("not-the-pw-9f3");
  });

  it("re-reads the secret once after an authentication failure, so a rotation never breaks the next run", async () => {
    const rotating = uniqueName("db-stats/rotating");
    await createSecret(rotating, credentialsFor(services.mongodbAuthUri, { database, password: "stale-pw" }));
    const { handler, first } = await run({ MONGODB_SECRET_ID: rotating });
    expect(first.error?.message).toMatch(/authentication failed/);

    // The container still holds the refused value; the secret now has the working password.
    await putSecretValue(rotating, credentialsFor(services.mongodbAuthUri, { database }));
    const second = await invoke(handler, {});
    expect(second.error).toBeUndefined();
    expect(metricValue(second, "Documents", { Database: database })).toBe(12);
  });

  it("reads the secret once per container (AWSCURRENT), not once per invocation", async () => {
    const cached = uniqueName("db-stats/cached");
    await createSecret(cached, credentialsFor(services.mongodbAuthUri, { database }));
    const { handler, first } = await run({ MONGODB_SECRET_ID: cached });
    expect(first.error).toBeUndefined();

    // Were the secret read again, this value would fail the run.
    await putSecretValue(cached, { username: "someone-else" });
    const second = await invoke(handler, {});
    expect(second.error).toBeUndefined();

    const newContainer = await run({ MONGODB_SECRET_ID: cached });
    expect(newContainer.first.error?.message).toMatch(/lacks the string field "password"/);
  });

  it("fails naming the secret when it is missing or malformed", async () => {
    const missing = uniqueName("db-stats/missing");
    const { first } = await run({ MONGODB_SECRET_ID: missing });
    expect(first.error?.message).toBe(`secret ${missing} not found (or it has no AWSCURRENT version)`);

    const malformed = uniqueName("db-stats/malformed");
    await createSecret(malformed, "password=hunter2-not-json");
    const bad = await run({ MONGODB_SECRET_ID: malformed });
    expect(bad.first.error?.message).toMatch(new RegExp(`secret ${malformed} is not valid JSON`));
    expect(bad.first.lines.join("\n")).not.toContain("hunter2");

    const incomplete = uniqueName("db-stats/incomplete");
    await createSecret(incomplete, { username: "u", host: "h" });
    const partial = await run({ MONGODB_SECRET_ID: incomplete });
    expect(partial.first.error?.message).toMatch(/lacks the string field "password"/);
  });

  it("fails naming the host when the database is unreachable", async () => {
    const unreachable = uniqueName("db-stats/unreachable");
    await createSecret(unreachable, {
      ...credentialsFor(services.mongodbAuthUri, { database, password: "pw-unreachable-1" }),
      host: "127.0.0.1:1",
    });
    const { first } = await run({ MONGODB_SECRET_ID: unreachable });
    expect(first.error?.message).toMatch(/cannot connect to mongodb:\/\/atlasops:\*\*\*@127\.0\.0\.1:1/);
    expect(first.lines.join("\n")).not.toContain("pw-unreachable-1");
  });

  it("rejects a bad configuration naming the variable", async () => {
    const { first } = await run({ MONGODB_SECRET_ID: undefined });
    expect(first.error?.message).toBe("environment variable MONGODB_SECRET_ID is required but not set");
    const bad = await run({ MONGODB_SECRET_ID: secretId, NEW_DOCUMENTS_COLLECTIONS: "orders" });
    expect(bad.first.error?.message).toMatch(/NEW_DOCUMENTS_COLLECTIONS "orders" is not database.collection/);
  });
});
