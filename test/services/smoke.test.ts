import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { MongoClient } from "mongodb";
import { describe, expect, it } from "vitest";
import { awsClientConfig, hasTestEnv, testEnv, uniqueName } from "../support/env";

const execFileAsync = promisify(execFile);
const env = testEnv();

/** Connects, runs `fn` and always closes the client. */
async function withClient<T>(uri: string, fn: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Inserts a document into a fresh database, reads it back, and drops the database. */
async function insertAndFind(uri: string): Promise<void> {
  await withClient(uri, async (client) => {
    const db = client.db(uniqueName("smoke"));
    try {
      const docs = db.collection<{ _id: string; n: number; tags: string[] }>("docs");
      await docs.insertOne({ _id: "one", n: 1, tags: ["a", "b"] });
      expect(await docs.findOne({ _id: "one" })).toEqual({ _id: "one", n: 1, tags: ["a", "b"] });
      expect(await docs.countDocuments({ n: { $gte: 1 } })).toBe(1);
    } finally {
      await db.dropDatabase();
    }
  });
}

function withPassword(uri: string, username: string, password: string): string {
  const url = new URL(uri);
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** A command that needs the backend: FerretDB checks PLAIN credentials against PostgreSQL on first use. */
async function ping(uri: string): Promise<void> {
  await withClient(uri, async (client) => {
    await client.db("admin").command({ ping: 1 });
  });
}

async function psql(sql: string): Promise<string> {
  const { stdout } = await execFileAsync(env.psql, [
    env.postgresAdminUrl,
    "-X",
    "-q",
    "-At",
    "-v",
    "ON_ERROR_STOP=1",
    "-c",
    sql,
  ]);
  return stdout.trim();
}

describe("MongoDB servers", () => {
  it("stores and finds a document without authentication (TEST_MONGODB_URI)", async () => {
    await insertAndFind(env.mongodbUri);
  });

  it("stores and finds a document with the right password (TEST_MONGODB_AUTH_URI)", async () => {
    await insertAndFind(env.mongodbAuthUri);
  });

  it("rejects a wrong password", async () => {
    const url = new URL(env.mongodbAuthUri);
    const wrong = withPassword(env.mongodbAuthUri, decodeURIComponent(url.username), "not-the-password");
    // MongoDB rejects at connect; FerretDB on the first command, with PostgreSQL's message.
    await expect(ping(wrong)).rejects.toThrow(/authentication failed/i);
  });

  it.skipIf(!hasTestEnv("postgresAdminUrl", "postgresFerretdbRole", "psql", "ferretdbPgHostPort"))(
    "a PostgreSQL role made with the README recipe shares the data, and its password changes take effect",
    async () => {
      const role = uniqueName("smoke-role");
      const group = env.postgresFerretdbRole;
      const dbName = uniqueName("smoke-shared");
      type Doc = { _id: number };
      const base = `mongodb://${env.ferretdbPgHostPort}/?authMechanism=PLAIN`;
      await psql(`CREATE ROLE "${role}" LOGIN PASSWORD 'first-pw' IN ROLE "${group}"`);
      try {
        await withClient(env.mongodbAuthUri, (c) =>
          c.db(dbName).collection<Doc>("shared").insertOne({ _id: 1 }),
        );
        const asRole = withPassword(base, role, "first-pw");
        await withClient(asRole, async (c) => {
          expect(await c.db(dbName).collection<Doc>("shared").findOne({ _id: 1 })).toEqual({ _id: 1 });
          await c.db(dbName).collection<Doc>("by_role").insertOne({ _id: 2 });
        });
        await withClient(env.mongodbAuthUri, async (c) => {
          expect(await c.db(dbName).collection<Doc>("by_role").findOne({ _id: 2 })).toEqual({ _id: 2 });
        });

        await psql(`ALTER ROLE "${role}" PASSWORD 'second-pw'`);
        await ping(withPassword(base, role, "second-pw"));
        // FerretDB keeps pooled backend connections for about three seconds: poll until the old one fails.
        const deadline = Date.now() + 15_000;
        let rejected = false;
        while (!rejected && Date.now() < deadline) {
          rejected = await ping(asRole).then(
            () => false,
            (error: unknown) => /authentication failed/i.test(String(error)),
          );
          if (!rejected) await new Promise((resolve) => setTimeout(resolve, 500));
        }
        expect(rejected).toBe(true);
      } finally {
        await withClient(env.mongodbAuthUri, (c) => c.db(dbName).dropDatabase());
        await psql(`DROP ROLE IF EXISTS "${role}"`);
      }
    },
  );
});

describe("AWS API", () => {
  it("puts and gets an S3 object", async () => {
    const s3 = new S3Client({ ...awsClientConfig(), forcePathStyle: true });
    const bucket = uniqueName("smoke");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "dir/hello.txt", Body: "hello, s3" }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "dir/hello.txt" }));
      expect(await got.Body?.transformToString()).toBe("hello, s3");
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "dir/hello.txt" }));
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      s3.destroy();
    }
  });

  it("creates and reads a secret", async () => {
    const sm = new SecretsManagerClient(awsClientConfig());
    const name = uniqueName("smoke/secret");
    const secret = JSON.stringify({ username: "app", password: "s3cr3t" });
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: secret }));
    try {
      // Always name the stage: moto may return a stale version without one.
      const got = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSCURRENT" }));
      expect(got.SecretString).toBe(secret);
    } finally {
      await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
      sm.destroy();
    }
  });
});

describe("mongo-tools", () => {
  it.each([
    ["mongodump", () => env.mongodump],
    ["mongorestore", () => env.mongorestore],
  ])("%s --version prints a version", async (tool, binary) => {
    const { stdout } = await execFileAsync(binary(), ["--version"]);
    expect(stdout).toMatch(new RegExp(`^${tool} version: \\S*\\d+\\.\\d+\\.\\d+`, "m"));
  });
});
