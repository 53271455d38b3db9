import type { Command } from "commander";
import { lazyActions } from "../lazy-actions";
import type { VerifyCommandOptions } from "../actions/verify";

export function registerVerifyCommand(program: Command): void {
  program
    .command("verify")
    .description(
      "Check an archive without restoring it: checksums against the sidecar, tar structure, every BSON document, " +
        "counts and digests. Also reads stock mongodump archives.",
    )
    .argument("<archive-url>", "s3://BUCKET/PREFIX/daily/NAME.tar.gz, file:///path/NAME.tar.gz or a path")
    .option("--json", "print the report as one JSON object")
    .action((url: string, options: VerifyCommandOptions) => lazyActions.verify().verifyCommand(url, options));
}
