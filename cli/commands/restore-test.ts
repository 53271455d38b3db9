import { Option, type Command } from "commander";
import { lazyActions } from "../lazy-actions";
import type { RestoreTestCommandOptions } from "../actions/restore-test";

export function registerRestoreTestCommand(program: Command): void {
  program
    .command("restore-test")
    .description(
      "Restore the newest backup of a kind into scratch databases, check counts, digests and indexes against its " +
        "manifest, report recovery time and backup age, then drop the scratch databases.",
    )
    .argument("<target>", "where the backups are: s3://BUCKET/PREFIX, file:///dir or a directory")
    .addOption(new Option("--uri <uri>", "scratch server connection string").env("RESTORE_TEST_MONGODB_URI"))
    .option("--kind <kind>", "backup kind (daily, weekly, monthly)", "daily")
    .addOption(
      new Option("--production-hosts <hosts>", "production hosts (comma list): refused as a target").env(
        "PRODUCTION_MONGODB_HOSTS",
      ),
    )
    .addOption(new Option("--production-database <name>", "production database").env("PRODUCTION_DATABASE"))
    .option("--json", "print the result as JSON")
    .action((targetUrl: string, options: RestoreTestCommandOptions) =>
      lazyActions.restoreTest().restoreTestCommand(targetUrl, options),
    );
}
