import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BSON } from "mongodb";
import { DocumentsDigest } from "../lambdas/core/archive/documents-digest";
import { parseServicesEnv } from "../test/setup/global-setup";
import { orderDocument } from "../test/support/seed";
import type { ToolFigures } from "./bench/measure";
import { bundleCli } from "./bundle-cli";
import { benchLargeBackup, type LargeBackupResult } from "./bench/large-backup";
import { benchBackup, benchRestore, type SectionResult } from "./bench/sections";
import { ORDER_BYTES, readSpeeds, seedServer, startBenchServer, type BenchServer } from "./bench/servers";

/**
 * `npm run bench [-- --size 100,1000] [--ferretdb-size 20] [--runs 3] [--only backup|restore|large]`
 *
 * Backup and restore, atlas-ops against the stock tools, on the bench server (test/services/bench-server, a
 * synthetic in-memory MongoDB that is not the bottleneck) at each --size, and on FerretDB (the test server,
 * about 2 MB/s) at --ferretdb-size (0 skips it). Sizes are MB (2^20 bytes) of BSON. Tools run interleaved,
 * --runs times each; the tables show medians. `--only large` is the acceptance run of one large collection
 * (TMPDIR on a 64 MB file system, restored by the stock tools, digest checked). Sections live in
 * scripts/bench/*.ts.
 */
interface Args {
  sizes: number[];
  ferretdbSize: number;
  runs: number;
  sections: ("backup" | "restore" | "large")[];
}

function option(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(name);
  return at < 0 ? undefined : argv[at + 1];
}

function positive(name: string, text: string, allowZero = false): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new Error(`${name} needs a positive number, not "${text}"`);
  }
  return value;
}

function parseArgs(argv: string[]): Args {
  const only = option(argv, "--only");
  if (only !== undefined && only !== "backup" && only !== "restore" && only !== "large") {
    throw new Error(`--only needs backup, restore or large, not "${only}"`);
  }
  return {
    // --size 0: FerretDB only.
    sizes: (option(argv, "--size") ?? "100,1000")
      .split(",")
      .map((size) => positive("--size", size, true))
      .filter((size) => size > 0),
    ferretdbSize: positive("--ferretdb-size", option(argv, "--ferretdb-size") ?? "20", true),
    runs: Math.round(positive("--runs", option(argv, "--runs") ?? "3")),
    sections: only ? [only] : ["backup", "restore"],
  };
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run \`npm run services -- up\` first`);
  return value;
}

const MB = 1024 * 1024;
const GB = 1024 * MB;

function row(figures: ToolFigures, dataBytes: number): string {
  return (
    `  ${figures.name.padEnd(30)} ${figures.wallS.toFixed(2).padStart(7)} s ${figures.cpuS.toFixed(2).padStart(7)} s ` +
    `${(figures.cpuS / (dataBytes / GB)).toFixed(1).padStart(9)} ${(dataBytes / MB / figures.wallS).toFixed(1).padStart(8)} ` +
    `${figures.peakRssMb.toFixed(0).padStart(6)} MB`
  );
}

function formatSection(result: SectionResult, runs: number): string {
  const { ours, stock, dataBytes } = result;
  const wallGoal = result.section === "backup" ? 1.5 : 1.2;
  return [
    `${result.section} on ${result.server.label}: ${result.server.documents} documents, ${(dataBytes / MB).toFixed(1)} MB BSON; ` +
      `${runs} runs each, interleaved, medians`,
    `  ${"tool".padEnd(30)} ${"wall".padStart(9)} ${"CPU".padStart(9)} ${"CPU s/GB".padStart(9)} ${"MB/s".padStart(8)} ${"peak RSS".padStart(9)}`,
    row(ours, dataBytes),
    row(stock, dataBytes),
    `  ratios: wall ${(stock.wallS / ours.wallS).toFixed(2)}x faster (goal >= ${wallGoal}), ` +
      `CPU ${(ours.cpuS / stock.cpuS).toFixed(2)}x the stock tool's (goal <= 0.8), ` +
      `peak RSS ${ours.peakRssMb.toFixed(0)} MB (goal < 256)`,
  ].join("\n");
}

function formatLarge(result: LargeBackupResult, dataBytes: number, documents: number): string {
  const { backup, restored } = result;
  return [
    `large backup: one collection, ${documents} documents, ${(dataBytes / MB).toFixed(1)} MB BSON, ${result.tmpdir}`,
    `  atlas-ops backup: wall ${backup.wallS.toFixed(2)} s, CPU ${backup.cpuS.toFixed(2)} s ` +
      `(${(backup.cpuS / (dataBytes / GB)).toFixed(1)} s/GB), peak RSS ${backup.peakRssMb.toFixed(0)} MB (goal < 256), ` +
      `archive ${(result.archiveBytes / MB).toFixed(1)} MB, left in TMPDIR: ${result.leftInTmp.length ? result.leftInTmp.join(", ") : "nothing"}`,
    `  atlas-ops verify: wall ${result.verify.wallS.toFixed(2)} s, CPU ${result.verify.cpuS.toFixed(2)} s ` +
      `(${(result.verify.cpuS / (dataBytes / GB)).toFixed(1)} s/GB), peak RSS ${result.verify.peakRssMb.toFixed(0)} MB`,
    `  tar -xzf + mongorestore: ${restored.documents} documents inserted, digest ` +
      `${restored.digestMatches ? "equals the source's" : "DIFFERS from the source's"}`,
  ].join("\n");
}

/** The source's documentsDigest from orderDocument itself: an oracle independent of the code measured. */
function ordersDigest(documents: number): { digest: string; bytes: number } {
  const digest = new DocumentsDigest();
  let bytes = 0;
  for (let i = 0; i < documents; i += 1) {
    const document = BSON.serialize(orderDocument(i));
    digest.add(document);
    bytes += document.length;
  }
  return { digest: digest.hex(), bytes };
}

async function benchServer(server: BenchServer, args: Args): Promise<void> {
  const speeds = await readSpeeds(required("BENCH_SERVER"), server);
  for (const read of [speeds.wire, speeds.driver, speeds.rawFind]) {
    if (read.documents !== server.documents) {
      throw new Error(`${server.label} served ${read.documents} of ${server.documents} documents`);
    }
  }
  const speed = (read: { bytes: number; wallS: number; cpuS?: number }) =>
    `${read.wallS.toFixed(2)} s = ${(read.bytes / MB / read.wallS).toFixed(1)} MB/s` +
    (read.cpuS === undefined ? "" : ` (${(read.cpuS / (read.bytes / GB)).toFixed(1)} CPU s/GB)`);
  console.log(
    `${server.label} (${server.uri}), reading ${(speeds.wire.bytes / MB).toFixed(1)} MB: raw wire client ` +
      `${speed(speeds.wire)}; Node.js driver's cursor, raw batches ${speed(speeds.driver)}; ` +
      `rawFind (the backup's reads) ${speed(speeds.rawFind)}`,
  );
  const source = ordersDigest(server.documents);
  const options = {
    server,
    mongodump: required("MONGODUMP"),
    mongorestore: required("MONGORESTORE"),
    runs: args.runs,
    sourceDigest: source.digest,
    dataBytes: source.bytes,
  };
  for (const section of args.sections) {
    if (section === "large") {
      console.log(formatLarge(await benchLargeBackup(options), source.bytes, server.documents));
      continue;
    }
    const result = section === "backup" ? await benchBackup(options) : await benchRestore(options);
    console.log(formatSection(result, args.runs));
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv);
  const servicesEnv = join(__dirname, "..", ".services.env");
  if (!process.env.TEST_MONGODB_URI && existsSync(servicesEnv)) {
    Object.assign(process.env, parseServicesEnv(readFileSync(servicesEnv, "utf8")));
  }
  // atlas-ops runs as it ships: the bundled CLI (bin/atlas-ops.mjs picks it up when it is current).
  await bundleCli();
  console.log(
    `node ${process.version}; MB = 2^20 bytes, GB = 2^30 bytes of BSON; CPU = user + system seconds`,
  );
  for (const sizeMb of args.sizes) {
    const server = await startBenchServer(required("BENCH_SERVER"), Math.round((sizeMb * MB) / ORDER_BYTES));
    try {
      await benchServer(server, args);
    } finally {
      await server.close();
    }
  }
  if (args.ferretdbSize > 0) {
    const documents = Math.round((args.ferretdbSize * MB) / ORDER_BYTES);
    await benchServer(await seedServer(required("TEST_MONGODB_URI"), "FerretDB", documents), args);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
