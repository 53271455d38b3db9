import {
  ArchiveError,
  BACKUP_KINDS,
  type BackupManifest,
  type Checkpoint,
  type ManifestCollection,
} from "./events";

/**
 * Bound of a sidecar's checkpoints: about four per GiB of tar, so 100,000 stand for some 25 TiB, far past
 * what one archive holds (S3 stores at most 10,000 parts of 8 MiB compressed).
 */
export const MAX_CHECKPOINTS = 100_000;

const SHA256 = /^[0-9a-f]{64}$/;

/** Parses and checks a manifest (inside the archive or the sidecar); the error names the file. */
export function parseManifest(text: string, file: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ArchiveError(`manifest is not valid JSON: ${(error as Error).message}`, { file });
  }
  const m = value as Partial<BackupManifest> | null;
  const problem = (): string | undefined => {
    if (typeof m !== "object" || m === null) return "manifest is not a JSON object";
    if (m.formatVersion !== 1) return `unsupported formatVersion ${String(m.formatVersion)} (expected 1)`;
    if (typeof m.name !== "string" || typeof m.app !== "string") return "manifest lacks name or app";
    if (!BACKUP_KINDS.includes(m.kind as never)) return `manifest kind "${String(m.kind)}" is not valid`;
    if (!Array.isArray(m.collections)) return "manifest lacks the collections list";
    for (const c of m.collections) {
      const entryProblem = collectionProblem(c);
      if (entryProblem) return entryProblem;
    }
    if (m.archive !== undefined) return archiveProblem(m.archive, m.collections);
    return undefined;
  };
  const reason = problem();
  if (reason) throw new ArchiveError(reason, { file });
  return m as BackupManifest;
}

function collectionProblem(c: ManifestCollection | null | undefined): string | undefined {
  if (typeof c?.db !== "string" || typeof c.collection !== "string" || typeof c.file !== "string") {
    return "a manifest collection lacks db, collection or file";
  }
  const entry = `manifest entry for ${c.db}.${c.collection}`;
  if (
    !Number.isSafeInteger(c.documents) ||
    !Number.isSafeInteger(c.bytes) ||
    c.documents < 0 ||
    c.bytes < 0
  ) {
    return `${entry} has invalid documents or bytes`;
  }
  if ((c.sha256 === undefined) === (c.segments === undefined)) {
    return `${entry} must have exactly one of sha256 and segments`;
  }
  if (c.sha256 !== undefined) {
    return typeof c.sha256 === "string" && SHA256.test(c.sha256)
      ? undefined
      : `${entry} has an invalid sha256`;
  }
  if (!Array.isArray(c.segments) || c.segments.length === 0) return `${entry} has an empty segments list`;
  let bytes = 0;
  let documents = 0;
  for (const [index, segment] of c.segments.entries()) {
    if (
      typeof segment !== "object" ||
      segment === null ||
      !Number.isSafeInteger(segment.bytes) ||
      !Number.isSafeInteger(segment.documents) ||
      segment.bytes <= 0 ||
      segment.documents <= 0 ||
      typeof segment.sha256 !== "string" ||
      !SHA256.test(segment.sha256)
    ) {
      return `${entry} has an invalid segment ${index} (bytes and documents above 0, a 64-hex sha256)`;
    }
    bytes += segment.bytes;
    documents += segment.documents;
  }
  if (bytes !== c.bytes || documents !== c.documents) {
    return (
      `${entry}: its segments hold ${bytes} bytes and ${documents} documents, ` +
      `the entry ${c.bytes} bytes and ${c.documents} documents`
    );
  }
  return undefined;
}

/**
 * The sidecar's `archive`: checksum, size and checkpoints. A checkpoint inside a file must be one of that
 * file's segment starts, with the bytes and documents the segments before it hold, so that a reader resuming
 * there can trust it as it trusts the segments themselves.
 */
function archiveProblem(archive: NonNullable<BackupManifest["archive"]>, collections: ManifestCollection[]) {
  if (typeof archive !== "object" || archive === null) return "manifest archive is not an object";
  if (
    typeof archive.sha256 !== "string" ||
    !SHA256.test(archive.sha256) ||
    !Number.isSafeInteger(archive.bytes)
  ) {
    return "manifest archive has an invalid sha256 or bytes";
  }
  const checkpoints = archive.checkpoints;
  if (checkpoints === undefined) return undefined;
  if (!Array.isArray(checkpoints)) return "manifest archive.checkpoints is not a list";
  if (checkpoints.length > MAX_CHECKPOINTS) {
    return `manifest archive.checkpoints holds ${checkpoints.length} checkpoints, over the bound of ${MAX_CHECKPOINTS}`;
  }
  const files = new Map(collections.map((c) => [c.file, c]));
  let previous: Checkpoint | undefined;
  for (const [index, checkpoint] of checkpoints.entries()) {
    const problem = checkpointProblem(checkpoint, previous, archive.bytes, files);
    if (problem) return `manifest checkpoint ${index} ${problem}`;
    previous = checkpoint;
  }
  return undefined;
}

const offset = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;

function checkpointProblem(
  checkpoint: Checkpoint,
  previous: Checkpoint | undefined,
  archiveBytes: number,
  files: Map<string, ManifestCollection>,
): string | undefined {
  if (typeof checkpoint !== "object" || checkpoint === null) return "is not an object";
  if (!offset(checkpoint.archiveOffset) || !offset(checkpoint.tarOffset)) {
    return "has an invalid archiveOffset or tarOffset (integers from 0)";
  }
  if (checkpoint.archiveOffset >= archiveBytes)
    return `lies at or past the archive's end (${archiveBytes} bytes)`;
  if (
    previous &&
    (checkpoint.archiveOffset <= previous.archiveOffset || checkpoint.tarOffset <= previous.tarOffset)
  ) {
    return "does not come after the one before it (offsets must increase)";
  }
  const file = checkpoint.file;
  if (file === undefined) return undefined;
  if (typeof file !== "object" || file === null || typeof file.path !== "string")
    return "has an invalid file";
  if (!offset(file.offset) || !offset(file.documents) || !offset(file.segment)) {
    return `has an invalid offset, documents or segment in ${file.path}`;
  }
  const entry = files.get(file.path);
  if (!entry) return `names ${file.path}, which the manifest does not list`;
  const segments = entry.segments ?? [{ bytes: entry.bytes, documents: entry.documents }];
  if (file.segment >= segments.length)
    return `names segment ${file.segment} of ${file.path}, which has ${segments.length}`;
  let bytes = 0;
  let documents = 0;
  for (const segment of segments.slice(0, file.segment)) {
    bytes += segment.bytes;
    documents += segment.documents;
  }
  if (file.offset !== bytes || file.documents !== documents) {
    return (
      `says segment ${file.segment} of ${file.path} starts after ${file.offset} bytes and ${file.documents} ` +
      `documents; its segments say ${bytes} bytes and ${documents} documents`
    );
  }
  return undefined;
}

/** The archive's own manifest as JSON (without the sidecar-only `archive` field). */
export function encodeManifest(manifest: BackupManifest): Buffer {
  const { archive: _archive, ...inner } = manifest;
  return Buffer.from(`${JSON.stringify(inner, null, 2)}\n`, "utf8");
}
