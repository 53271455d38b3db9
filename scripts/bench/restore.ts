import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { orderDocument } from "../../test/support/seed";

/**
 * Restore throughput: `atlas-ops restore` against stock `mongorestore`, both reading the same
 * `mongodump --archive --gzip` file into the same server, one run each, each a child process under
 * /usr/bin/time so its peak RSS is the kernel's figure.
 */
export interface RestoreBenchOptions {
  mongodbUri: string;
  mongodump: string;
  mongorestore: string;
  /** Documents in the benchmark collection (default 100,000). */
  documents?: number;
  /** Node binary running atlas-ops (default the current one). */
  node?: string;
}

export interface RestoreBenchSide {
  tool: "atlas-ops" | "mongorestore";
  wallMs: number;
  mbPerSecond: number;
  documentsPerSecond: number;
  peakRssMb: number;
}

export interface RestoreBenchResult {
  documents: number;
  /** Uncompressed BSON bytes restored. */
  dataBytes: number;
  archiveBytes: number;
  atlasOps: RestoreBenchSide;
  mongorestore: RestoreBenchSide;
  /** atlas-ops throughput / mongorestore throughput (> 1: atlas-ops is faster). */
  ratio: number;
}

const run = promisify(execFile);
const root = resolve(__dirname, "../..");

async function timed(
  command: string,
  args: string[],
): Promise<{ wallMs: number; peakRssMb: number; stdout: string }> {
  const started = Date.now();
  const { stdout, stderr } = await run("/usr/bin/time", ["-v", command, ...args], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallMs = Date.now() - started;
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  if (!kb) throw new Error(`no peak RSS in /usr/bin/time output of ${command}`);
  return { wallMs, peakRssMb: Number(kb[1]) / 1024, stdout };
}

function side(
  tool: RestoreBenchSide["tool"],
  wallMs: number,
  peakRssMb: number,
  bytes: number,
  docs: number,
) {
  return {
    tool,
    wallMs,
    mbPerSecond: bytes / 1024 / 1024 / (wallMs / 1000),
    documentsPerSecond: docs / (wallMs / 1000),
    peakRssMb,
  };
}

export async function benchRestore(options: RestoreBenchOptions): Promise<RestoreBenchResult> {
  const documents = options.documents ?? 100_000;
  const source = `bench_restore_src_${process.pid}`;
  const client = await connectMongo(options.mongodbUri, { appName: "atlas-ops/bench-restore" });
  const work = await mkdtemp(join(tmpdir(), "atlas-ops-bench-restore-"));
  const targets = [`bench_restore_ours_${process.pid}`, `bench_restore_stock_${process.pid}`];
  try {
    await client.db(source).dropDatabase();
    const orders = client.db(source).collection("orders");
    for (let start = 0; start < documents; start += 5000) {
      const batch = [];
      for (let i = start; i < Math.min(documents, start + 5000); i += 1) batch.push(orderDocument(i));
      await orders.insertMany(batch, { ordered: false });
    }
    // No secondary index: mongorestore cannot build one on FerretDB (it sends the refused "ns" option), and
    // both sides must do the same work.
    const archive = join(work, "dump.archive.gz");
    await run(options.mongodump, [
      `--uri=${options.mongodbUri}`,
      `--db=${source}`,
      `--archive=${archive}`,
      "--gzip",
      "--quiet",
    ]);
    const archiveBytes = (await stat(archive)).size;
    const [ours, stock] = targets;

    const node = options.node ?? process.execPath;
    const oursRun = await timed(node, [
      join(root, "bin/atlas-ops.mjs"),
      "restore",
      archive,
      "--uri",
      options.mongodbUri,
      `--nsFrom=${source}.*`,
      `--nsTo=${ours}.*`,
      "--drop",
      "--json",
    ]);
    const report = JSON.parse(oursRun.stdout) as {
      ok: boolean;
      totals: { documents: number; bytes: number };
    };
    if (!report.ok || report.totals.documents !== documents) {
      throw new Error(
        `atlas-ops restore did not restore ${documents} documents: ${oursRun.stdout.slice(0, 2000)}`,
      );
    }
    const stockRun = await timed(options.mongorestore, [
      `--uri=${options.mongodbUri}`,
      `--archive=${archive}`,
      "--gzip",
      `--nsFrom=${source}.*`,
      `--nsTo=${stock}.*`,
      "--drop",
      "--quiet",
    ]);
    const restored = await client.db(stock!).collection("orders").countDocuments();
    if (restored !== documents)
      throw new Error(`mongorestore restored ${restored} of ${documents} documents`);

    const dataBytes = report.totals.bytes;
    const atlasOps = side("atlas-ops", oursRun.wallMs, oursRun.peakRssMb, dataBytes, documents);
    const mongorestore = side("mongorestore", stockRun.wallMs, stockRun.peakRssMb, dataBytes, documents);
    return {
      documents,
      dataBytes,
      archiveBytes,
      atlasOps,
      mongorestore,
      ratio: atlasOps.documentsPerSecond / mongorestore.documentsPerSecond,
    };
  } finally {
    for (const db of [source, ...targets])
      await client
        .db(db)
        .dropDatabase()
        .catch(() => undefined);
    await client.close();
    await rm(work, { recursive: true, force: true });
  }
}

export function formatRestoreBench(result: RestoreBenchResult): string {
  const row = (s: RestoreBenchSide) =>
    `  ${s.tool.padEnd(13)} ${(s.wallMs / 1000).toFixed(2).padStart(7)} s ${s.mbPerSecond.toFixed(2).padStart(8)} MB/s ` +
    `${Math.round(s.documentsPerSecond).toString().padStart(9)} docs/s  peak RSS ${s.peakRssMb.toFixed(0)} MB`;
  return [
    `restore: ${result.documents} documents, ${(result.dataBytes / 1024 / 1024).toFixed(1)} MB BSON, ` +
      `archive ${(result.archiveBytes / 1024 / 1024).toFixed(1)} MB (mongodump --archive --gzip)`,
    row(result.atlasOps),
    row(result.mongorestore),
    `  ratio (atlas-ops / mongorestore throughput): ${result.ratio.toFixed(2)}`,
  ].join("\n");
}

if (require.main === module) {
  const env = (name: string) => {
    const value = process.env[name];
    if (!value)
      throw new Error(`${name} is not set (run \`npm run services -- up\` and source .services.env)`);
    return value;
  };
  benchRestore({
    mongodbUri: env("TEST_MONGODB_URI"),
    mongodump: env("MONGODUMP"),
    mongorestore: env("MONGORESTORE"),
    documents: process.env.BENCH_RESTORE_DOCUMENTS ? Number(process.env.BENCH_RESTORE_DOCUMENTS) : undefined,
  }).then(
    (result) => console.log(formatRestoreBench(result)),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
