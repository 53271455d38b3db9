import { Option, type Command } from "commander";
import { lazyActions } from "../lazy-actions";
import type { RestoreCommandOptions } from "../actions/restore";

const collect = (value: string, previous: string[]) => [...previous, value];

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
    .option(
      "--drop",
      "replace each collection being restored (and only those), once its restored copy is complete",
    )
    .option("--dry-run", "read and check the whole archive, list what would be written, write nothing")
    .option(
      "--verify",
      "read each restored copy back and compare it with the manifest before it replaces its target",
    )
    .option("--json", "print the report as JSON")
    .option("--parallelism <n>", "insert commands in flight at once", "4")
    .action((archiveUrl: string, options: RestoreCommandOptions) =>
      lazyActions.restore().restoreCommand(archiveUrl, options),
    );
}
