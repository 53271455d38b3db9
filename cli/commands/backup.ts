import { Option, type Command } from "commander";
import { lazyActions } from "../lazy-actions";
import type { BackupCommandOptions } from "../actions/backup";

export function registerBackupCommand(program: Command): void {
  program
    .command("backup")
    .description(
      "Back up databases to a target as <app>_backup_YYYYMMDD_HHMMSS.tar.gz plus its sidecar manifest.",
    )
    .addOption(
      new Option("--uri <uri>", "source connection string (read-only user is enough)").env("MONGODB_URI"),
    )
    .requiredOption("--to <target>", "file://DIR, a directory, or s3://BUCKET/PREFIX")
    .option("--app <name>", "application name in the archive name", "opendev")
    .option("--kind <kind>", "daily, weekly or monthly", "daily")
    .option("--db <name>", "database to back up (repeatable; default every non-system database)", collect, [])
    .option("--kms-key-id <id>", "SSE-KMS key for s3:// targets")
    .option(
      "--memory-threshold-mb <mb>",
      "collections up to this size are read ahead in memory; larger ones stream into the archive",
      "16",
    )
    .option("--json", "print the result as one JSON object")
    .action((options: BackupCommandOptions) => lazyActions.backup().backupCommand(options));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
