/** Exit codes shared by every command: 0 ok, 1 a check or operation failed, 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Thrown for bad arguments; main() turns it into exit code 2 with the message. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Runs a parser of user input; its error becomes a usage error (exit code 2). */
export function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
