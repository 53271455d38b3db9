import { Command, CommanderError } from "commander";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from "./exit-codes";
import { redactSecrets } from "../lambdas/core/mongo/uri";
import { forTerminal } from "./terminal-text";
import { registerBackupCommand } from "./commands/backup";
import { registerVerifyCommand } from "./commands/verify";
import { registerListCommand } from "./commands/list";
import { registerRestoreCommand } from "./commands/restore";
import { registerRestoreTestCommand } from "./commands/restore-test";

/** Each command module adds itself to the program; the list is the CLI's table of contents. */
export type CommandRegistrar = (program: Command) => void;

const registrars: CommandRegistrar[] = [
  registerBackupCommand,
  registerVerifyCommand,
  registerListCommand,
  registerRestoreCommand,
  registerRestoreTestCommand,
];

export function buildProgram(): Command {
  const program = new Command("atlas-ops")
    .description(
      "Backups, restores, verification and drills for a MongoDB application: the same code the scheduled Lambdas run.",
    )
    .exitOverride()
    .showHelpAfterError();
  for (const register of registrars) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`atlas-ops: ${forTerminal(redactSecrets(error.message))}\n`);
      return EXIT_USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`atlas-ops: ${forTerminal(redactSecrets(message), { keepNewlines: true })}\n`);
    return EXIT_FAILED;
  }
}
