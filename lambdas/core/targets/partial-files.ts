import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/**
 * Names of the files a backup run writes before it commits: `<final name>.run-<pid>-<random>-<host>.partial`.
 * The run's own name keeps two runs apart, and the process id and host say whether its writer is still alive.
 */
export const PARTIAL_SUFFIX = ".partial";

export function runSuffix(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9-]/g, "")
    .slice(0, 32);
  return `.run-${process.pid}-${randomBytes(4).toString("hex")}-${host}${PARTIAL_SUFFIX}`;
}
