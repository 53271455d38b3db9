import { Option, type Command } from "commander";
import type { MongoClient } from "mongodb";
import { EXIT_FAILED, UsageError } from "../exit-codes";
import { resolveArchive } from "../../lambdas/adapters/targets";
import { usage } from "./backup";
import { connectMongo } from "../../lambdas/core/mongo/connect";
import { NamespaceSelection } from "../../lambdas/core/restore/namespaces";
import { formatRestoreReport } from "../../lambdas/core/restore/report";
import { restoreArchive } from "../../lambdas/core/restore/restore-archive";
import type { RestoreProgress } from "../../lambdas/core/restore/engine";

interface RestoreCommandOptions {
  uri?: string;
  nsInclude: string[];
  nsExclude: string[];
  nsFrom: string[];
  nsTo: string[];
  drop?: boolean;
  dryRun?: boolean;
  verify?: boolean;
  json?: boolean;
  parallelism: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** A progress line on a terminal (stderr), at most a few times a second; nothing when piped. */
export function terminalProgress(label: string): ((progress: RestoreProgress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return (progress) => {
    const now = Date.now();
    if (now - last < 250) return;
    last = now;
    const mb = (progress.bytes / 1024 / 1024).toFixed(1);
    process.stderr.write(
      `\r${label}: ${progress.documents} documents, ${mb} MB, ${progress.completedNamespaces} collections done`,
    );
  };
}

export function endProgressLine(): void {
  if (process.stderr.isTTY) process.stderr.write("\n");
}

export function registerRestoreCommand(program: Command): void {
  program
    .command("restore")
    .description(
      "Restore an archive (atlas-ops backup, tar.gz of a mongodump directory, or mongodump --archive[ --gzip]) " +
        "from file:// or s3:// into a MongoDB deployment. Refuses target collections that hold data unless --drop.",
    )
    .argument("<archive-url>", "s3://BUCKET/PREFIX/daily/NAME.tar.gz, file:///path/NAME.tar.gz or a path")
    .addOption(new Option("--uri <uri>", "target connection string").env("MONGODB_URI"))
    .option(
      "--nsInclude <pattern>",
      "restore only matching namespaces (db.collection, * wildcard; repeatable)",
      collect,
      [],
    )
    .option("--nsExclude <pattern>", "skip matching namespaces (repeatable)", collect, [])
    .option(
      "--nsFrom <pattern>",
      "rename: source pattern (* or $var$; pairs with --nsTo; repeatable)",
      collect,
      [],
    )
    .option("--nsTo <pattern>", "rename: target pattern", collect, [])
    .option("--drop", "drop each collection being restored (and only those) before restoring it")
    .option("--dry-run", "read and check the whole archive, list what would be written, write nothing")
    .option("--verify", "afterwards, read every restored collection back and compare it with the manifest")
    .option("--json", "print the report as JSON")
    .option("--parallelism <n>", "insert commands in flight at once", "4")
    .action(async (archiveUrl: string, options: RestoreCommandOptions) => {
      const selection = usage(
        () =>
          new NamespaceSelection({
            include: options.nsInclude,
            exclude: options.nsExclude,
            renameFrom: options.nsFrom,
            renameTo: options.nsTo,
          }),
      );
      const parallelism = Number(options.parallelism);
      if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 64) {
        throw new UsageError(`--parallelism must be an integer from 1 to 64, not "${options.parallelism}"`);
      }
      if (!options.uri && !options.dryRun) {
        throw new UsageError("--uri (or MONGODB_URI) is required, except with --dry-run");
      }
      const location = usage(() => resolveArchive(archiveUrl));
      let client: MongoClient | undefined;
      if (options.uri) client = await connectMongo(options.uri, { appName: "atlas-ops/restore" });
      try {
        const report = await restoreArchive(location, client, {
          selection,
          drop: options.drop ?? false,
          dryRun: options.dryRun ?? false,
          verify: options.verify ?? false,
          parallelism,
          onProgress: options.json ? undefined : terminalProgress("restoring"),
        });
        if (!options.json) endProgressLine();
        const { manifest: _manifest, ...printable } = report;
        if (options.json) process.stdout.write(`${JSON.stringify(printable, null, 2)}\n`);
        else {
          process.stdout.write(`${formatRestoreReport(report)}\n`);
          if (report.checks && report.ok) {
            process.stdout.write(
              `verified ${report.checks.length} collections against the manifest: counts, digests, indexes\n`,
            );
          }
        }
        if (!report.ok) process.exitCode = EXIT_FAILED;
      } finally {
        await client?.close();
      }
    });
}
