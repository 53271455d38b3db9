import type { Readable } from "node:stream";
import type { MongoClient } from "mongodb";
import type { ArchiveFormat, BackupManifest } from "../archive/events";
import { readArchive } from "../archive/read-archive";
import type { BackupTarget } from "../targets/target";
import { restoreEvents, type RestoreOptions } from "./engine";
import { parseNamespace, type Namespace } from "./namespaces";
import type { RestoreReport } from "./report";

export interface ArchiveLocation {
  target: BackupTarget;
  /** Key of the archive relative to the target. */
  key: string;
}

export interface RestoreArchiveOptions extends Omit<RestoreOptions, "expectedNamespaces"> {
  /** Where the reader may spool entries met before their metadata (default the system's temp dir). */
  tempDir?: string;
}

export interface ArchiveRestoreReport extends RestoreReport {
  /** The archive's manifest (from its sidecar), when it has one. */
  manifest?: BackupManifest;
}

/**
 * Restores one archive (ours, a tarred mongodump directory or a mongodump --archive, gzipped or not) from a
 * backup target, streaming it: nothing is downloaded whole. With a sidecar manifest the reader checks every
 * file's SHA-256 and count as it streams, and the targets are checked for data before anything is written.
 * Without one (stock archives), a first read-only pass lists the namespaces and checks the whole archive,
 * so a refused or broken archive leaves the target untouched; `--drop` skips that pass.
 */
export async function restoreArchive(
  location: ArchiveLocation,
  client: MongoClient | undefined,
  options: RestoreArchiveOptions = {},
): Promise<ArchiveRestoreReport> {
  const started = Date.now();
  const manifest = await location.target.readSidecar(location.key);
  let format: ArchiveFormat | undefined;
  const streams: Readable[] = [];
  const read = async () => {
    const stream = await location.target.openArchive(location.key);
    streams.push(stream);
    return readArchive(stream, { manifest, tempDir: options.tempDir, onFormat: (found) => (format = found) });
  };
  try {
    let expected: Namespace[] | undefined = manifest?.collections.map(({ db, collection }) => ({
      db,
      collection,
    }));
    if (!expected && client && !options.drop && !options.dryRun) {
      const plan = await restoreEvents(await read(), undefined, {
        ...options,
        dryRun: true,
        onProgress: undefined,
      });
      if (!plan.ok) {
        return { ...plan, dryRun: false, format, durationMs: Date.now() - started };
      }
      expected = [
        ...plan.namespaces.map((ns) => ns.source),
        ...plan.skipped.map((skip) => skip.namespace),
      ].map(parseNamespace);
    }
    const report = await restoreEvents(await read(), client, { ...options, expectedNamespaces: expected });
    return { ...report, format, manifest, durationMs: Date.now() - started };
  } finally {
    for (const stream of streams) stream.destroy();
  }
}
