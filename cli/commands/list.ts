import type { Command } from "commander";
import { lazyActions } from "../lazy-actions";
import type { ListCommandOptions } from "../actions/list";

export function registerListCommand(program: Command): void {
  program
    .command("list")
    .description(
      "List the committed backups of a target, newest first (read from the sidecars, no download).",
    )
    .argument("<target>", "file://DIR, a directory, or s3://BUCKET/PREFIX")
    .option("--kind <kind>", "only daily, weekly or monthly backups")
    .option("--json", "print a JSON array")
    .action((url: string, options: ListCommandOptions) => lazyActions.list().listCommand(url, options));
}
