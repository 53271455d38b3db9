import type { Document } from "mongodb";
import type { DocumentRun } from "./document-run";

/** What a backup holds: the kinds kept by the retention schedule. */
export type BackupKind = "daily" | "weekly" | "monthly";
export const BACKUP_KINDS: readonly BackupKind[] = ["daily", "weekly", "monthly"];

/** A `<coll>.metadata.json` as mongodump writes it, decoded from canonical Extended JSON (types kept). */
export interface CollectionMetadata {
  collectionName?: string;
  /** "collection" (default), "view" or "timeseries". */
  type?: string;
  options: Document;
  indexes: Document[];
  /** Hex of the collection UUID, when the server reported one. */
  uuid?: string;
}

/** Per collection entry of a manifest. */
export interface ManifestCollection {
  db: string;
  collection: string;
  /** Path of the documents file inside the archive, e.g. `opendev_backup_.../opendev/users.bson`. */
  file: string;
  metadataFile: string;
  documents: number;
  /** Bytes of the .bson file (uncompressed). */
  bytes: number;
  /** SHA-256 of the .bson, when it is one segment (at most SEGMENT_BYTES, or written before segments). */
  sha256?: string;
  /** A .bson past SEGMENT_BYTES: its consecutive segments, each hashed on its own (see docs/archive-format.md). */
  segments?: FileSegment[];
  metadataSha256: string;
  /** `DocumentsDigest` of the raw documents (order-independent). */
  documentsDigest: string;
}

/**
 * A run of consecutive documents of a .bson. A segment ends after the first document whose end reaches the next
 * multiple of the segment size within the file, so its bounds depend only on the documents, never on where a
 * run of the backup stopped: a backup continued over several invocations writes the manifest of a one-shot one.
 */
export interface FileSegment {
  bytes: number;
  documents: number;
  sha256: string;
}

/**
 * A place in the archive where reading can start afresh: a gzip member starts at `archiveOffset` of the
 * `.tar.gz`, and the members before it decompress to exactly `tarOffset` bytes of tar. Inside a `.bson`
 * (`file` set) it is a segment boundary: `offset` bytes and `documents` documents of that file come before
 * it, and segment number `segment` (0-based) starts there; otherwise it is a tar header boundary.
 */
export interface Checkpoint {
  archiveOffset: number;
  tarOffset: number;
  file?: { path: string; offset: number; documents: number; segment: number };
}

/** The manifest: last entry of the archive and (plus `archive`) the sidecar object that commits it. */
export interface BackupManifest {
  formatVersion: 1;
  app: string;
  kind: BackupKind;
  /** Archive base name without `.tar.gz`, also the single top-level directory inside the tar. */
  name: string;
  startedAt: string;
  finishedAt: string;
  server: { version: string };
  tool: { name: "atlas-ops"; version: string };
  databases: string[];
  collections: ManifestCollection[];
  totals: { collections: number; documents: number; bytes: number };
  /** Only in the sidecar: the archive as stored. */
  archive?: {
    sha256: string;
    bytes: number;
    /** Where a later invocation may resume reading (verify, restore test), in archive order. */
    checkpoints?: Checkpoint[];
  };
}

/** Stock formats are readable too; the reader says which one it found. */
export type ArchiveFormat = "atlas-ops" | "mongodump-directory" | "mongodump-archive";

export type ArchiveEvent =
  | { type: "collection-metadata"; db: string; collection: string; metadata: CollectionMetadata }
  | { type: "documents"; db: string; collection: string; documents: DocumentRun }
  | { type: "collection-end"; db: string; collection: string; documentCount: number }
  | { type: "manifest"; manifest: BackupManifest }
  /**
   * With `checkpointEvents`: the read reached checkpoint `index` of the sidecar; everything before it has been
   * handed on and checked, so a consumer may stop here and a later read may resume here (`resumeAt`).
   */
  | { type: "checkpoint"; index: number; checkpoint: Checkpoint };

export interface ReadArchiveOptions {
  /** The sidecar manifest, when known: per-file SHA-256 and counts are then checked as the files stream. */
  manifest?: BackupManifest;
  /** Raw bytes per `documents` event (default 4 MiB; a larger single document makes an event of its own). */
  batchBytes?: number;
  /** Upper bound of documents per `documents` event (default 10,000). */
  batchDocuments?: number;
  /** Directory for spooling .bson entries met before their metadata (default os.tmpdir()). */
  tempDir?: string;
  /** Bound of the bytes spooled at once (default 1 GiB); a larger entry is refused, naming it and the limit. */
  maxSpoolBytes?: number;
  /**
   * Called with the format as soon as it is known; a tar of a dump is a stock dump until its manifest entry
   * (the last one) or a sidecar shows it is ours, so it may be called a second time with "atlas-ops".
   */
  onFormat?: (format: ArchiveFormat) => void;
  /** Called for what the archive holds but a restore does not write (a mongodump --oplog oplog). */
  onSkipped?: (skipped: SkippedContent) => void;
  /** Emit a `checkpoint` event at each checkpoint of the sidecar (`manifest`) as the read reaches it. */
  checkpointEvents?: boolean;
  /**
   * The source starts at checkpoint `resumeAt` of the sidecar (at its `archiveOffset`): the read goes on from
   * there as if it had read everything before, which the reads before it checked.
   */
  resumeAt?: number;
}

/** Content read and checked but not restored, and why. */
export interface SkippedContent {
  file?: string;
  namespace?: string;
  reason: string;
}

/** Any problem with an archive; `file` or `namespace` says where, `reason` says what. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
  readonly file?: string;
  readonly namespace?: string;
  readonly reason: string;

  constructor(reason: string, where: { file?: string; namespace?: string } = {}) {
    const place = where.file ?? where.namespace;
    super(place ? `${place}: ${reason}` : reason);
    this.reason = reason;
    this.file = where.file;
    this.namespace = where.namespace;
  }
}

/**
 * The archive's source failed while it was being read (the connection to S3 dropped, the disk failed): the
 * archive itself may be fine, so this is kept apart from ArchiveError.
 */
export class ArchiveReadError extends Error {
  override name = "ArchiveReadError";
  constructor(cause: unknown) {
    super(`reading the archive stopped: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}
