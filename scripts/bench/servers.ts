import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { rawFind } from "../../lambdas/core/mongo/raw-cursor";
import { orderDocument } from "../../test/support/seed";

/** Mean BSON size of orderDocument(i) over large ranges (measured: 107,677,249 bytes for 400,000). */
export const ORDER_BYTES = 269.2;

/** A server holding `<db>.orders` with orderDocument(0 .. documents - 1), ready to be measured against. */
export interface BenchServer {
  label: string;
  uri: string;
  db: string;
  documents: number;
  /** True for the bench server: inserted documents are digested, then dropped (`benchInserted`). */
  digestsInserts: boolean;
  close(): Promise<void>;
}

/** Starts a bench server instance of the requested size on a free port. */
export async function startBenchServer(binary: string, documents: number): Promise<BenchServer> {
  const child = spawn(
    binary,
    ["-listen-addr", "127.0.0.1:0", "-orders", String(documents), "-log-level", "error"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout });
  const [line] = (await Promise.race([
    once(lines, "line"),
    once(child, "exit").then(([code]) => {
      throw new Error(`bench server exited with ${String(code)} before listening`);
    }),
  ])) as [string];
  const address = /^listening on (\S+)$/.exec(line)?.[1];
  if (!address) throw new Error(`bench server printed "${line}", not its address`);
  return {
    label: "bench server",
    uri: `mongodb://${address}/`,
    db: "bench",
    documents,
    digestsInserts: true,
    close: async () => {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/** Seeds `<db>.orders` on FerretDB (or any server) with the same documents the bench server generates. */
export async function seedServer(uri: string, label: string, documents: number): Promise<BenchServer> {
  const db = `bench_orders_${documents}`;
  const client = await connectMongo(uri, { appName: "atlas-ops/bench" });
  try {
    const orders = client.db(db).collection("orders");
    // Seeding FerretDB takes minutes: a complete set left by an earlier run is kept.
    if ((await orders.estimatedDocumentCount()) !== documents) {
      await client.db(db).dropDatabase();
      for (let start = 0; start < documents; start += 5000) {
        const batch = [];
        for (let i = start; i < Math.min(documents, start + 5000); i += 1) batch.push(orderDocument(i));
        await orders.insertMany(batch, { ordered: false });
      }
    }
    return { label, uri, db, documents, digestsInserts: false, close: async () => undefined };
  } finally {
    await client.close();
  }
}

export interface ReadSpeed {
  wallS: number;
  /** CPU seconds of this process during the read (in-process reads only). */
  cpuS?: number;
  bytes: number;
  documents: number;
}

/**
 * The server's own speed, read three ways: the bench server binary's raw wire client (`-read`: find and
 * getMore, nothing decoded; the ceiling of any client), the Node.js driver's cursor with `raw: true` taking
 * whole batches (the ceiling of anything read through that cursor), and `rawFind`, the backup's own reads
 * (find and getMore as raw commands through the driver, batches sliced in place).
 */
export async function readSpeeds(
  benchServerBinary: string,
  server: BenchServer,
): Promise<{ wire: ReadSpeed; driver: ReadSpeed; rawFind: ReadSpeed }> {
  const { stdout } = await promisify(execFile)(benchServerBinary, [
    "-read",
    new URL(server.uri).host,
    "-db",
    server.db,
  ]);
  const match = /^read (\d+) documents, (\d+) bytes in ([0-9.]+) s/.exec(stdout);
  if (!match) throw new Error(`bench-server -read printed "${stdout}"`);
  const wire = { documents: Number(match[1]), bytes: Number(match[2]), wallS: Number(match[3]) };

  const client = await connectMongo(server.uri, { appName: "atlas-ops/bench" });
  const timed = async (read: () => AsyncIterable<Uint8Array[]>): Promise<ReadSpeed> => {
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    let bytes = 0;
    let documents = 0;
    for await (const batch of read()) {
      for (const raw of batch) bytes += raw.byteLength;
      documents += batch.length;
    }
    const used = process.cpuUsage(cpu);
    return {
      wallS: Number(process.hrtime.bigint() - started) / 1e9,
      cpuS: (used.user + used.system) / 1e6,
      bytes,
      documents,
    };
  };
  try {
    const driver = await timed(async function* () {
      const cursor = client.db(server.db).collection("orders").find({}, { raw: true });
      while (await cursor.hasNext()) yield cursor.readBufferedDocuments() as unknown as Uint8Array[];
    });
    const commands = await timed(() => rawFind(client, server.db, "orders"));
    return { wire, driver, rawFind: commands };
  } finally {
    await client.close();
  }
}
