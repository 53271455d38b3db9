import { execFile } from "node:child_process";
import { availableParallelism } from "node:os";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { gunzipSync, gzip as gzipCallback } from "node:zlib";
import { ParallelGzip } from "../../lambdas/core/archive/parallel-gzip";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { orderDocument } from "../../test/support/seed";

/**
 * Backup throughput: `atlas-ops backup` against stock `mongodump --gzip` (directory, then tar) and
 * `mongodump --archive --gzip`, same database, one run each, each a child process under /usr/bin/time (peak
 * RSS is the kernel's figure). Then the compressor alone against zlib on one core, on the same tar bytes.
 */
export interface BackupBenchOptions {
  mongodbUri: string;
  mongodump: string;
  /** Approximate BSON size of the dataset (MB). */
  sizeMb: number;
  node?: string;
}

export interface BackupBenchRow {
  tool: string;
  wallMs: number;
  mbPerSecond: number;
  documentsPerSecond: number;
  /** mongodump --archive --gzip time / this time (> 1: faster than mongodump). */
  ratio: number;
  peakRssMb: number;
  outputBytes: number;
}

export interface BackupBenchResult {
  sizeMb: number;
  documents: number;
  dataBytes: number;
  rows: BackupBenchRow[];
  compressor: {
    parallelMbPerSecond: number;
    zlibOneCoreMbPerSecond: number;
    cores: number;
    perCoreRatio: number;
  };
}

const run = promisify(execFile);
const gzip = promisify(gzipCallback);
const root = resolve(__dirname, "../..");

async function timed(command: string, args: string[], cwd = root) {
  const started = Date.now();
  const { stdout, stderr } = await run("/usr/bin/time", ["-v", command, ...args], {
    cwd,
    maxBuffer: 64 << 20,
  });
  const wallMs = Date.now() - started;
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  if (!kb) throw new Error(`no peak RSS in /usr/bin/time output of ${command}`);
  return { wallMs, peakRssMb: Number(kb[1]) / 1024, stdout };
}

async function seedOrders(uri: string, db: string, sizeMb: number): Promise<{ documents: number }> {
  const client = await connectMongo(uri, { appName: "atlas-ops/bench-backup" });
  try {
    await client.db(db).dropDatabase();
    const orders = client.db(db).collection("orders");
    const perDocument = 270; // measured BSON size of orderDocument()
    const documents = Math.round((sizeMb * 1024 * 1024) / perDocument);
    for (let start = 0; start < documents; start += 5000) {
      const batch = [];
      for (let i = start; i < Math.min(documents, start + 5000); i += 1) batch.push(orderDocument(i));
      await orders.insertMany(batch, { ordered: false });
    }
    await orders.createIndex({ number: 1 }, { unique: true });
    return { documents };
  } finally {
    await client.close();
  }
}

/** Compressor stage alone vs single-threaded zlib at the same level, on the same bytes (≤ 256 MB sample). */
async function benchCompressor(tarBytes: Buffer): Promise<BackupBenchResult["compressor"]> {
  const sample = tarBytes.subarray(0, 256 << 20);
  const mb = sample.length / 1024 / 1024;
  let started = Date.now();
  await gzip(sample, { level: 6 });
  const zlibMs = Date.now() - started;
  started = Date.now();
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const chunks = (function* () {
    for (let at = 0; at < sample.length; at += 1 << 20) yield sample.subarray(at, at + (1 << 20));
  })();
  await pipeline(Readable.from(chunks), new ParallelGzip({ level: 6 }), sink);
  const parallelMs = Date.now() - started;
  const cores = availableParallelism();
  const parallelMbPerSecond = mb / (parallelMs / 1000);
  const zlibOneCoreMbPerSecond = mb / (zlibMs / 1000);
  return {
    parallelMbPerSecond,
    zlibOneCoreMbPerSecond,
    cores,
    perCoreRatio: parallelMbPerSecond / cores / zlibOneCoreMbPerSecond,
  };
}

export async function benchBackup(options: BackupBenchOptions): Promise<BackupBenchResult> {
  const db = `bench_backup_${options.sizeMb}_${process.pid}`;
  const work = await mkdtemp(join(tmpdir(), "atlas-ops-bench-backup-"));
  const node = options.node ?? process.execPath;
  try {
    const { documents } = await seedOrders(options.mongodbUri, db, options.sizeMb);
    const uri = options.mongodbUri;

    const ours = await timed(node, [
      join(root, "bin/atlas-ops.mjs"),
      "backup",
      "--uri",
      uri,
      "--to",
      join(work, "ours"),
      "--db",
      db,
      "--json",
    ]);
    const result = JSON.parse(ours.stdout) as {
      archive: string;
      bytes: number;
      documents: number;
      dataBytes: number;
    };
    if (result.documents !== documents) {
      throw new Error(`atlas-ops backed up ${result.documents} of ${documents}`);
    }
    const dataBytes = result.dataBytes;

    const dir = await timed(options.mongodump, [
      `--uri=${uri}`,
      `--db=${db}`,
      `--out=${join(work, "dump")}`,
      "--gzip",
      "--quiet",
    ]);
    const tar = await timed("tar", ["-cf", join(work, "dump.tar"), "-C", join(work, "dump"), "."]);
    const archive = await timed(options.mongodump, [
      `--uri=${uri}`,
      `--db=${db}`,
      `--archive=${join(work, "dump.archive.gz")}`,
      "--gzip",
      "--quiet",
    ]);
    const baseline = archive.wallMs;
    const row = (tool: string, wallMs: number, peakRssMb: number, outputBytes: number): BackupBenchRow => ({
      tool,
      wallMs,
      mbPerSecond: dataBytes / 1024 / 1024 / (wallMs / 1000),
      documentsPerSecond: documents / (wallMs / 1000),
      ratio: baseline / wallMs,
      peakRssMb,
      outputBytes,
    });
    const rows = [
      row("atlas-ops backup", ours.wallMs, ours.peakRssMb, result.bytes),
      row(
        "mongodump --gzip dir + tar",
        dir.wallMs + tar.wallMs,
        dir.peakRssMb,
        (await stat(join(work, "dump.tar"))).size,
      ),
      row(
        "mongodump --archive --gzip",
        archive.wallMs,
        archive.peakRssMb,
        (await stat(join(work, "dump.archive.gz"))).size,
      ),
    ];
    const tarBytes = gunzipSync(await readFile(new URL(result.archive)));
    return {
      sizeMb: options.sizeMb,
      documents,
      dataBytes,
      rows,
      compressor: await benchCompressor(tarBytes),
    };
  } finally {
    const client = await connectMongo(options.mongodbUri, { appName: "atlas-ops/bench-backup" });
    await client
      .db(db)
      .dropDatabase()
      .catch(() => undefined);
    await client.close();
    await rm(work, { recursive: true, force: true });
  }
}

export function formatBackupBench(result: BackupBenchResult): string {
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  const header = `  ${"tool".padEnd(28)} ${"time".padStart(8)} ${"MB/s".padStart(8)} ${"docs/s".padStart(9)} ${"ratio".padStart(6)} ${"peak RSS".padStart(9)} ${"output".padStart(9)}`;
  const lines = result.rows.map(
    (r) =>
      `  ${r.tool.padEnd(28)} ${(r.wallMs / 1000).toFixed(2).padStart(6)} s ${r.mbPerSecond.toFixed(1).padStart(8)} ` +
      `${Math.round(r.documentsPerSecond).toString().padStart(9)} ${r.ratio.toFixed(2).padStart(6)} ` +
      `${r.peakRssMb.toFixed(0).padStart(6)} MB ${mb(r.outputBytes).padStart(6)} MB`,
  );
  const c = result.compressor;
  return [
    `backup: ${result.documents} order documents, ${mb(result.dataBytes)} MB BSON (ratio = mongodump --archive --gzip time / tool time)`,
    header,
    ...lines,
    `  compressor: parallel gzip ${c.parallelMbPerSecond.toFixed(1)} MB/s on ${c.cores} cores, zlib level 6 on one core ` +
      `${c.zlibOneCoreMbPerSecond.toFixed(1)} MB/s -> ${(c.perCoreRatio * 100).toFixed(0)}% of zlib per core`,
  ].join("\n");
}
