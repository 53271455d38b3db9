import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { interleaved, measure, type BenchTool, type ToolFigures } from "./measure";
import type { BenchServer } from "./servers";

/**
 * The two sections of `npm run bench`, each atlas-ops against the stock tool on one server:
 * - backup: `atlas-ops backup` (to a directory) vs `mongodump --archive --gzip`;
 * - restore: `atlas-ops restore` vs `mongorestore --gzip --archive`, both reading the same
 *   `mongodump --archive --gzip` file (made once, untimed), each run into a fresh database.
 * Every run is checked: the document count, and on the bench server the digest of what was inserted.
 */
export interface SectionResult {
  section: "backup" | "restore";
  server: BenchServer;
  dataBytes: number;
  ours: ToolFigures;
  stock: ToolFigures;
}

export interface SectionOptions {
  server: BenchServer;
  mongodump: string;
  mongorestore: string;
  runs: number;
  /** documentsDigest of the source collection (checked against what a restore inserted on the bench server). */
  sourceDigest: string;
  dataBytes: number;
}

const root = resolve(__dirname, "../..");
const execFileAsync = promisify(execFile);
const cli = join(root, "bin/atlas-ops.mjs");

export async function benchBackup(options: SectionOptions): Promise<SectionResult> {
  const { server } = options;
  const work = await mkdtemp(join(tmpdir(), "atlas-ops-bench-backup-"));
  try {
    const ours: BenchTool = {
      name: "atlas-ops backup",
      run: (i) =>
        measure(
          process.execPath,
          [cli, "backup", "--uri", server.uri, "--to", join(work, `ours-${i}`), "--db", server.db, "--json"],
          root,
        ),
      after: async (i, result) => {
        const report = JSON.parse(result.stdout) as { documents: number };
        if (report.documents !== server.documents) {
          throw new Error(`atlas-ops backed up ${report.documents} of ${server.documents} documents`);
        }
        await rm(join(work, `ours-${i}`), { recursive: true, force: true });
      },
    };
    const stock: BenchTool = {
      name: "mongodump --archive --gzip",
      run: (i) =>
        measure(
          options.mongodump,
          [
            `--uri=${server.uri}`,
            `--db=${server.db}`,
            `--archive=${join(work, `stock-${i}.gz`)}`,
            "--gzip",
            "--quiet",
          ],
          root,
        ),
      after: (i) => rm(join(work, `stock-${i}.gz`), { force: true }),
    };
    const [oursFigures, stockFigures] = await interleaved([ours, stock], options.runs);
    return {
      section: "backup",
      server,
      dataBytes: options.dataBytes,
      ours: oursFigures!,
      stock: stockFigures!,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function benchRestore(options: SectionOptions): Promise<SectionResult> {
  const { server } = options;
  const work = await mkdtemp(join(tmpdir(), "atlas-ops-bench-restore-"));
  const archive = join(work, "source.archive.gz");
  const client = await connectMongo(server.uri, { appName: "atlas-ops/bench" });
  const target = (tool: string, i: number) => `bench_restore_${tool}_${i}_${process.pid}`;
  const check = async (db: string): Promise<void> => {
    if (server.digestsInserts) {
      const inserted = await client.db(db).command({ benchInserted: "orders" });
      if (inserted.documents !== server.documents || inserted.documentsDigest !== options.sourceDigest) {
        throw new Error(
          `${db}: restored ${String(inserted.documents)} documents, digest ${String(inserted.documentsDigest)}`,
        );
      }
    } else {
      const count = await client.db(db).collection("orders").countDocuments();
      if (count !== server.documents)
        throw new Error(`${db}: restored ${count} of ${server.documents} documents`);
    }
    await client.db(db).dropDatabase();
  };
  try {
    await execFileAsync(options.mongodump, [
      `--uri=${server.uri}`,
      `--db=${server.db}`,
      `--archive=${archive}`,
      "--gzip",
      "--quiet",
    ]);
    const ours: BenchTool = {
      name: "atlas-ops restore",
      run: (i) =>
        measure(
          process.execPath,
          [
            cli,
            "restore",
            archive,
            "--uri",
            server.uri,
            `--nsFrom=${server.db}.*`,
            `--nsTo=${target("ours", i)}.*`,
            "--drop",
            "--json",
          ],
          root,
        ),
      after: async (i, result) => {
        const report = JSON.parse(result.stdout) as { ok: boolean };
        if (!report.ok) throw new Error(`atlas-ops restore failed: ${result.stdout.slice(0, 2000)}`);
        await check(target("ours", i));
      },
    };
    const stock: BenchTool = {
      name: "mongorestore --gzip --archive",
      run: (i) =>
        measure(
          options.mongorestore,
          [
            `--uri=${server.uri}`,
            `--archive=${archive}`,
            "--gzip",
            `--nsFrom=${server.db}.*`,
            `--nsTo=${target("stock", i)}.*`,
            "--drop",
            "--quiet",
          ],
          root,
        ),
      after: (i) => check(target("stock", i)),
    };
    const [oursFigures, stockFigures] = await interleaved([ours, stock], options.runs);
    return {
      section: "restore",
      server,
      dataBytes: options.dataBytes,
      ours: oursFigures!,
      stock: stockFigures!,
    };
  } finally {
    await client.close();
    await rm(work, { recursive: true, force: true });
  }
}
