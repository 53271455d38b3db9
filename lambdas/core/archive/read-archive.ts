import type { Readable } from "node:stream";
import { ByteReader } from "./byte-reader";
import type { RunLimits } from "./bson-stream";
import { gunzipped } from "./checkpoints";
import { directoryTarEvents } from "./dump-tar";
import {
  ArchiveError,
  ArchiveReadError,
  type ArchiveEvent,
  type Checkpoint,
  type ReadArchiveOptions,
} from "./events";
import { ARCHIVE_MAGIC, mongodumpArchiveEvents } from "./mongodump-archive";

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/**
 * The one archive reader: detects ours, a tar(.gz) of a mongodump directory (plain or --gzip) or a mongodump
 * --archive (gzip or not), and streams it as events, checking everything it can as it goes.
 */
export async function* readArchive(
  source: Readable | AsyncIterable<Buffer | Uint8Array>,
  options: ReadArchiveOptions = {},
): AsyncGenerator<ArchiveEvent> {
  const raw = new ByteReader(sourceFailuresNamed(source));
  const head = await raw.peek(4);
  if (head.length === 0) throw new ArchiveError("archive is empty");
  const checkpoints = options.manifest?.archive?.checkpoints ?? [];
  const resumed = resumedCheckpoint(options, checkpoints);
  let reader = raw;
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) {
    const from = resumed && { index: options.resumeAt!, start: resumed };
    reader = new ByteReader(gunzipped(raw, checkpoints, from));
  } else if (resumed) {
    throw new ArchiveError(
      `no gzip member starts at archive offset ${resumed.archiveOffset} (checkpoint ${options.resumeAt})`,
    );
  }
  const limits: RunLimits = {
    bytes: options.batchBytes ?? 4 * 1024 * 1024,
    documents: options.batchDocuments ?? 10_000,
  };
  try {
    if (resumed) {
      yield* directoryTarEvents(reader, options, limits, resumed);
      return;
    }
    const start = await reader.peek(512);
    if (start.length === 0) throw new ArchiveError("archive is empty: its gzip stream holds no bytes");
    if (start.subarray(0, 4).equals(ARCHIVE_MAGIC)) {
      options.onFormat?.("mongodump-archive");
      yield* mongodumpArchiveEvents(reader, limits, options.onSkipped);
    } else if (start.length === 512 && start.subarray(257, 262).toString("latin1") === "ustar") {
      yield* directoryTarEvents(reader, options, limits);
    } else if (start.length === 512 && start.every((byte) => byte === 0)) {
      throw new ArchiveError("archive holds nothing to restore: the tar has no entries");
    } else {
      throw new ArchiveError("not a backup archive: neither a tar, a gzip nor a mongodump archive");
    }
  } finally {
    await reader.close().catch(() => undefined);
    await raw.close().catch(() => undefined);
  }
}

/** The checkpoint a read resumes at, checked against the sidecar it comes from. */
function resumedCheckpoint(options: ReadArchiveOptions, checkpoints: Checkpoint[]): Checkpoint | undefined {
  if (options.resumeAt === undefined) return undefined;
  const checkpoint = checkpoints[options.resumeAt];
  if (!options.manifest || !checkpoint) {
    throw new Error(`cannot resume at checkpoint ${options.resumeAt}: the sidecar given does not list it`);
  }
  return checkpoint;
}

/** The source's own failures, told apart from problems with the archive's content. */
async function* sourceFailuresNamed(
  source: AsyncIterable<Buffer | Uint8Array>,
): AsyncGenerator<Buffer | Uint8Array> {
  try {
    yield* source;
  } catch (error) {
    throw error instanceof ArchiveError || error instanceof ArchiveReadError
      ? error
      : new ArchiveReadError(error);
  }
}
