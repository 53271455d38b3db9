import { randomBytes } from "node:crypto";
import { readdir, rm, stat } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Names of the files a backup run writes before it commits: `<final name>.run-<pid>-<random>-<host>.partial`.
 * The run's own name keeps two runs apart, and the process id and host say whether its writer is still alive.
 */
export const PARTIAL_SUFFIX = ".partial";
/** A partial file of unknown owner (another host, or a version that did not name its runs) untouched this long is abandoned. */
export const ABANDONED_AFTER_MS = 60 * 60 * 1000;

const RUN = /\.run-(\d+)-[0-9a-f]{8}-([A-Za-z0-9-]*)\.partial$/;

function thisHost(): string {
  return hostname()
    .replace(/[^A-Za-z0-9-]/g, "")
    .slice(0, 32);
}

export function runSuffix(): string {
  return `.run-${process.pid}-${randomBytes(4).toString("hex")}-${thisHost()}${PARTIAL_SUFFIX}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether a partial file's writer is gone: a dead process of this host, or no change for an hour. */
async function abandoned(path: string, name: string, now: number): Promise<boolean> {
  const run = RUN.exec(name);
  if (run && run[2] === thisHost()) return Number(run[1]) !== process.pid && !alive(Number(run[1]));
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && now - info.mtimeMs > ABANDONED_AFTER_MS;
}

/** Removes the abandoned partial files of a directory (an interrupted run's); returns their paths. */
export async function clearAbandonedPartials(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names.filter((n) => n.endsWith(PARTIAL_SUFFIX))) {
    const path = join(dir, name);
    if (await abandoned(path, name, now)) {
      await rm(path, { force: true });
      removed.push(path);
    }
  }
  return removed;
}

/**
 * Removes the spool directories (`atlas-ops-spool-*`) that versions before streaming left in the temp
 * directory when they were killed; this version writes none, so any that is an hour old is abandoned.
 */
export async function clearAbandonedSpools(dir = tmpdir()): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names.filter((n) => n.startsWith("atlas-ops-spool-"))) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && now - info.mtimeMs > ABANDONED_AFTER_MS) {
      await rm(path, { recursive: true, force: true }).catch(() => undefined);
      removed.push(path);
    }
  }
  return removed;
}
