import { BSON, MongoClient, MongoNetworkError, MongoServerError, type CommandStartedEvent } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cursorBatch,
  isRetryableRead,
  rawFind,
  readRoute,
  routeOf,
  BATCH_TARGET_BYTES,
  nextBatchSize,
} from "../../lambdas/core/mongo/raw-cursor";
import { testEnv, uniqueName } from "../support/env";
import { orderDocument } from "../support/seed";

const env = testEnv();

/** All batches of a raw find, documents copied out (views would keep the replies alive, which is fine here). */
async function collect(batches: AsyncIterable<Buffer[]>): Promise<Buffer[][]> {
  const all: Buffer[][] = [];
  for await (const batch of batches) all.push(batch.map((document) => Buffer.from(document)));
  return all;
}

describe("readRoute (which deployments are read as commands)", () => {
  const primary = { loadBalanced: false, readPreference: "primary" };

  it("reads a replica set's primary or a single server as commands, in a session when sessions exist", () => {
    expect(readRoute({ setName: "rs0", logicalSessionTimeoutMinutes: 30 }, primary)).toEqual({
      kind: "commands",
      sessions: true,
    });
    expect(readRoute({ isWritablePrimary: true }, primary)).toEqual({ kind: "commands", sessions: false });
  });

  it("leaves to the driver's cursor what a getMore might send to another server", () => {
    const hello = { logicalSessionTimeoutMinutes: 30 };
    expect(readRoute({ ...hello, msg: "isdbgrid" }, primary).kind).toBe("cursor");
    expect(readRoute(hello, { ...primary, loadBalanced: true }).kind).toBe("cursor");
    expect(readRoute(hello, { ...primary, readPreference: "secondaryPreferred" })).toEqual({
      kind: "cursor",
      reason: "read preference secondaryPreferred",
    });
  });
});

describe("cursorBatch (a find or getMore reply read without decoding its documents)", () => {
  const documents = [
    { _id: 1, a: "x" },
    { _id: 2, nested: { b: [1, 2] } },
  ];

  it("gives each document's exact bytes, as views into the reply, and the cursor id", () => {
    const bytes = Buffer.from(
      BSON.serialize({ cursor: { firstBatch: documents, id: 42n, ns: "db.c" }, ok: 1 }),
    );
    // As `db.command(..., { raw: true })` returns it: the cursor subdocument left as bytes.
    const reply = BSON.deserialize(bytes, { raw: true } as BSON.DeserializeOptions);
    const batch = cursorBatch(reply, "firstBatch");
    expect(batch.cursorId).toBe(42n);
    expect(batch.documents.map((document) => Buffer.from(document))).toEqual(
      documents.map((document) => Buffer.from(BSON.serialize(document))),
    );
    expect(batch.documents[0]!.buffer).toBe((reply.cursor as Buffer).buffer);
  });

  it("refuses a reply without the batch, a batch element that is not a document, or a length that lies", () => {
    const raw = (reply: object): BSON.Document =>
      BSON.deserialize(BSON.serialize(reply), { raw: true } as BSON.DeserializeOptions);
    expect(() => cursorBatch(raw({ cursor: { nextBatch: [], id: 0n } }), "firstBatch")).toThrow(/firstBatch/);
    expect(() => cursorBatch(raw({ cursor: { firstBatch: [1], id: 0n } }), "firstBatch")).toThrow(
      /type 0x10, not a document/,
    );
    expect(() => cursorBatch(raw({ cursor: { firstBatch: [] } }), "firstBatch")).toThrow(/id/);
    const reply = raw({ cursor: { firstBatch: documents, id: 0n } });
    const cursor = reply.cursor as Buffer;
    // The first document's length made to run past the array.
    const first = cursor.indexOf(Buffer.from(BSON.serialize(documents[0]!)));
    cursor.writeInt32LE(cursor.length, first);
    expect(() => cursorBatch(reply, "firstBatch")).toThrow(/runs past/);
  });
});

describe("nextBatchSize", () => {
  it("sizes the next batch from the average document so far, within 1 and the limit", () => {
    expect(nextBatchSize(5000, 0, 0)).toBe(5000);
    expect(nextBatchSize(5000, 1000, 250_000)).toBe(5000); // 250-byte documents: the limit
    expect(nextBatchSize(5000, 64, 64 * 16 * 1024)).toBe(256); // 16 KiB documents: 4 MiB
    expect(nextBatchSize(5000, 1, 16 * 1024 * 1024)).toBe(1); // one document of 16 MiB
  });
});

describe("isRetryableRead", () => {
  it("retries network errors and the retryable server codes, nothing else", () => {
    expect(isRetryableRead(new MongoNetworkError("connection reset"))).toBe(true);
    expect(isRetryableRead(new MongoServerError({ code: 189, errmsg: "PrimarySteppedDown" }))).toBe(true);
    expect(isRetryableRead(new MongoServerError({ code: 13, errmsg: "Unauthorized" }))).toBe(false);
    expect(isRetryableRead(new Error("anything"))).toBe(false);
  });
});

describe("rawFind's initial find, against a scripted client", () => {
  /** A client whose commands answer from a script: raw replies as `db.command(..., { raw: true })` gives them. */
  function scriptedClient(answers: ((command: BSON.Document) => BSON.Document)[], retryReads = true) {
    const sent: BSON.Document[] = [];
    const db = {
      command: async (command: BSON.Document) => {
        if ("hello" in command) return { logicalSessionTimeoutMinutes: 30 };
        sent.push(command);
        const reply = answers.shift()!(command);
        return BSON.deserialize(BSON.serialize(reply), { raw: true } as BSON.DeserializeOptions);
      },
      collection: () => ({ readConcern: undefined }),
    };
    const session = { endSession: async () => undefined };
    const client = {
      db: () => db,
      options: { loadBalanced: false, retryReads },
      readPreference: { mode: "primary" },
      startSession: () => session,
    } as unknown as MongoClient;
    return { client, sent };
  }
  const batch = (field: string, id: bigint) => () => ({ cursor: { [field]: [{ _id: 1 }], id }, ok: 1 });
  const fail = (error: Error) => () => {
    throw error;
  };

  it("sends the find again once after an error the driver retries reads on", async () => {
    const { client, sent } = scriptedClient([
      fail(new MongoNetworkError("connection reset")),
      batch("firstBatch", 0n),
    ]);
    expect((await collect(rawFind(client, "db", "c"))).flat().length).toBe(1);
    expect(sent.map((command) => Object.keys(command)[0])).toEqual(["find", "find"]);
  });

  it("does not retry other errors, a second failure, or when the client says retryReads=false", async () => {
    const unauthorized = new MongoServerError({ code: 13, errmsg: "not authorized" });
    await expect(collect(rawFind(scriptedClient([fail(unauthorized)]).client, "db", "c"))).rejects.toBe(
      unauthorized,
    );
    const reset = new MongoNetworkError("connection reset");
    const twice = scriptedClient([fail(reset), fail(reset)]);
    await expect(collect(rawFind(twice.client, "db", "c"))).rejects.toBe(reset);
    expect(twice.sent.length).toBe(2);
    const noRetry = scriptedClient([fail(reset)], false);
    await expect(collect(rawFind(noRetry.client, "db", "c"))).rejects.toBe(reset);
    expect(noRetry.sent.length).toBe(1);
  });

  it("kills the cursor with the id of the last reply when stopped early", async () => {
    const { client, sent } = scriptedClient([
      batch("firstBatch", 7n),
      batch("nextBatch", 7n),
      () => ({ cursorsKilled: [7n], ok: 1 }),
    ]);
    for await (const documents of rawFind(client, "db", "c")) {
      expect(documents.length).toBe(1);
      break;
    }
    expect(sent.map((command) => Object.keys(command)[0])).toEqual(["find", "getMore", "killCursors"]);
    expect(sent[2]).toEqual({ killCursors: "c", cursors: [7n] });
  });
});

describe("rawFind on the test server", () => {
  const db = uniqueName("rawfind").replaceAll("-", "_");
  const count = 2_345;
  let client: MongoClient;
  const started: CommandStartedEvent[] = [];

  beforeAll(async () => {
    client = await MongoClient.connect(env.mongodbUri, { monitorCommands: true });
    client.on("commandStarted", (event) => started.push(event));
    const orders = Array.from({ length: count }, (_, i) => orderDocument(i));
    await client.db(db).collection("orders").insertMany(orders);
  });
  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
  });

  it("returns every document byte for byte as the driver's raw cursor does, in batches of the size asked", async () => {
    const expected: Buffer[] = [];
    for await (const raw of client
      .db(db)
      .collection("orders")
      .find({}, { raw: true, sort: { _id: 1 } })) {
      expected.push(Buffer.from(raw as unknown as Uint8Array));
    }
    const batches = await collect(rawFind(client, db, "orders", { sort: { _id: 1 }, batchSize: 500 }));
    // A first batch of 64, whose size says that 500 small documents fit in the 4 MiB a getMore asks for.
    expect(batches.map((batch) => batch.length)).toEqual([64, 500, 500, 500, 500, 281]);
    expect(batches.flat()).toEqual(expected);
  });

  it("asks for about 4 MiB a batch: large documents make batches of fewer documents", async () => {
    const payload = Buffer.alloc(48 * 1024, 7);
    const large = Array.from({ length: 300 }, (_, i) => ({ n: i, payload }));
    await client.db(db).collection("large").insertMany(large);
    const batches = await collect(rawFind(client, db, "large", { sort: { n: 1 } }));
    expect(batches.flat()).toHaveLength(300);
    const bytes = batches.map((batch) => batch.reduce((sum, document) => sum + document.length, 0));
    expect(batches.map((batch) => batch.length)).toEqual([64, 85, 85, 66]);
    expect(Math.max(...bytes)).toBeLessThanOrEqual(BATCH_TARGET_BYTES);
  });

  it("sends the find and its getMores in one session, as the server requires", async () => {
    started.length = 0;
    await collect(rawFind(client, db, "orders", { batchSize: 1000 }));
    const reads = started.filter((event) => event.commandName === "find" || event.commandName === "getMore");
    // 2,345 documents: a first batch of 64, then 1000 a getMore.
    expect(reads.map((event) => event.commandName)).toEqual(["find", "getMore", "getMore", "getMore"]);
    expect(await routeOf(client)).toEqual({ kind: "commands", sessions: true });
    const sessions = reads.map((event) => (event.command.lsid as { id: BSON.Binary }).id.toString("hex"));
    expect(new Set(sessions).size).toBe(1);
  });

  it("holds its session for the cursor's life: other commands never get it meanwhile", async () => {
    // With the driver's implicit sessions the find's session goes back to the pool once answered, and the
    // next command takes it: a getMore would then run in another session, which the server refuses.
    started.length = 0;
    const reader = rawFind(client, db, "orders", { batchSize: 500 });
    await reader.next();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the read-ahead getMore is answered meanwhile
    await client.db(db).command({ ping: 1 });
    while (!(await reader.next()).done);
    const lsid = (event: CommandStartedEvent): string =>
      (event.command.lsid as { id: BSON.Binary }).id.toString("hex");
    const reads = started.filter((event) => event.commandName === "find" || event.commandName === "getMore");
    const ping = started.find((event) => event.commandName === "ping")!;
    expect(new Set(reads.map(lsid)).size).toBe(1);
    expect(lsid(ping)).not.toBe(lsid(reads[0]!));
  });

  it("applies the filter, sort and hint", async () => {
    const batches = await collect(
      rawFind(client, db, "orders", {
        filter: { _id: { $gte: orderDocument(100)._id } },
        sort: { _id: -1 },
        hint: { _id: 1 },
        batchSize: 1000,
      }),
    );
    const numbers = batches.flat().map((document) => BSON.deserialize(document).number as string);
    expect(numbers.length).toBe(count - 100);
    expect(numbers[0]).toBe(orderDocument(count - 1).number);
    expect(numbers.at(-1)).toBe(orderDocument(100).number);
  });

  it("kills the cursor when the reader stops early", async () => {
    started.length = 0;
    for await (const batch of rawFind(client, db, "orders", { batchSize: 100 })) {
      expect(batch.length).toBe(64);
      break;
    }
    const kill = started.find((event) => event.commandName === "killCursors");
    expect(kill, "killCursors sent").toBeDefined();
    const [cursorId] = kill!.command.cursors as BSON.Long[];
    await expect(client.db(db).command({ getMore: cursorId, collection: "orders" })).rejects.toThrow(
      /cursor/i,
    );
  });

  it("sends the read concern the client was given, as the driver's find would", async () => {
    const other = await MongoClient.connect(env.mongodbUri, {
      readConcern: { level: "local" },
      monitorCommands: true,
    });
    const finds: CommandStartedEvent[] = [];
    other.on("commandStarted", (event) => {
      if (event.commandName === "find") finds.push(event);
    });
    try {
      const batches = await collect(rawFind(other, db, "orders", { batchSize: 5000 }));
      expect(batches.flat().length).toBe(count);
      expect(finds.map((event) => event.command.readConcern)).toEqual([{ level: "local" }]);
    } finally {
      await other.close();
    }
  });

  it("reads through the driver's cursor where a getMore could reach another server", async () => {
    const other = await MongoClient.connect(env.mongodbUri, { readPreference: "secondaryPreferred" });
    try {
      expect((await routeOf(other)).kind).toBe("cursor");
      const batches = await collect(rawFind(other, db, "orders", { batchSize: 5000 }));
      // The driver's cursor takes at most 1000 documents a batch.
      expect(batches.map((batch) => batch.length)).toEqual([1000, 1000, 345]);
    } finally {
      await other.close();
    }
  });
});
