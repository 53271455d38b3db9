import type { Readable } from "node:stream";
import type { BackupKind, BackupManifest } from "../archive/events";

/** A committed backup, as listed from its sidecar manifest. */
export interface StoredBackup {
  name: string;
  kind: BackupKind;
  /** Key of the archive relative to the target (`<kind>/<name>.tar.gz`). */
  key: string;
  /** Full URL of the archive (`file:///...` or `s3://bucket/...`). */
  url: string;
  manifest: BackupManifest;
}

/** A sidecar that could not be read or parsed: skipped by listings, and reported. */
export interface UnreadableSidecar {
  /** URL of the sidecar object or file. */
  url: string;
  reason: string;
}

export interface ListOptions {
  /**
   * Called for each sidecar that cannot be read or parsed (a future formatVersion, a truncated file, a
   * directory of that name): the listing skips it and goes on with the good ones.
   */
  onUnreadable?: (sidecar: UnreadableSidecar) => void;
}

/**
 * An archive being written, as compressed bytes in order, except for holes: `reserve` keeps room of a fixed
 * length at the current end whose bytes are given later by `fill` (a tar header, once the entry's size is
 * known), while the bytes after it are already stored. `complete` stores the whole archive; `commit` then
 * writes the sidecar (the commit marker); `abort` removes what this upload stored and nothing else.
 */
export interface ArchiveUpload {
  /** Bytes of the archive so far, holes included. */
  size(): number;
  write(bytes: Buffer): Promise<void>;
  reserve(length: number): Promise<ArchiveHole>;
  fill(hole: ArchiveHole, bytes: Buffer): Promise<void>;
  /** Stores the archive (every hole filled) and returns its SHA-256 and size as stored. */
  complete(): Promise<{ sha256: string; bytes: number }>;
  /** Writes the sidecar, only if no other run committed this archive first. Returns the archive's URL. */
  commit(manifest: BackupManifest): Promise<string>;
  /** Removes the partial archive (aborts a multipart upload). Never throws. */
  abort(reason: unknown): Promise<void>;
  /**
   * Waits until everything written so far is stored and returns what a later invocation needs to go on with
   * this upload (`BackupTarget.resumeArchive`); this one is then finished with.
   */
  suspend(): Promise<UploadState>;
}

/** A suspended upload: JSON-safe fields, and the bytes held back (a part waiting for its hole, a short part). */
export interface UploadState {
  fields: Record<string, unknown>;
  blobs: Buffer[];
}

/** Room reserved in an archive being written: `length` bytes at `offset`. */
export interface ArchiveHole {
  readonly offset: number;
  readonly length: number;
}

export interface OpenArchiveOptions {
  /** First byte to read (default 0). */
  start?: number;
}

/** An archive opened for reading: its bytes from `start` on, and its size as stored (the whole archive). */
export interface OpenedArchive {
  stream: Readable;
  bytes: number;
}

/** Where backups live: `file://DIR` or `s3://BUCKET/PREFIX`, with kind folders daily/, weekly/, monthly/. */
export interface BackupTarget {
  readonly url: string;
  /** Committed backups (those with a readable sidecar), newest first. */
  list(kind?: BackupKind, options?: ListOptions): Promise<StoredBackup[]>;
  latest(kind: BackupKind, options?: ListOptions): Promise<StoredBackup | undefined>;
  /**
   * The archive bytes, streamed, and the archive's size (a total for progress, known before reading). `key` is
   * relative to the target. With `start`, from that byte on (a read resumed at a checkpoint's `archiveOffset`).
   */
  openArchive(key: string, options?: OpenArchiveOptions): Promise<OpenedArchive>;
  /** The sidecar of an archive, or undefined when there is none (a stock archive or an uncommitted one). */
  readSidecar(archiveKey: string): Promise<BackupManifest | undefined>;
  /** `expectedBytes`: the data's size, when known, so that a store with a bound on parts can plan for it. */
  startArchive(kind: BackupKind, name: string, expectedBytes?: number): Promise<ArchiveUpload>;
  /** Goes on with an upload an earlier invocation suspended. */
  resumeArchive(kind: BackupKind, name: string, state: UploadState): Promise<ArchiveUpload>;
  /**
   * Stores a backup's continuation under `key` (`continuationKey`, relative to the target: a run's own id and
   * the step, so a retried step rewrites its own and two runs never read each other's). The bytes hold archive
   * data, so they are stored like the archive.
   */
  saveContinuation(key: string, bytes: Buffer): Promise<void>;
  loadContinuation(key: string): Promise<Buffer>;
  /** Removes what interrupted runs left behind (partial files); returns what was removed. */
  clearAbandoned(): Promise<string[]>;
}

/** Another run of the same backup stored or committed this archive first; this run stored nothing. */
export class BackupConflictError extends Error {
  override name = "BackupConflictError";
}

export function archiveKey(kind: BackupKind, name: string): string {
  return `${kind}/${name}.tar.gz`;
}

/** Newest first by start time, then by name (names carry the UTC time). */
export function newestFirst(a: StoredBackup, b: StoredBackup): number {
  return b.manifest.startedAt.localeCompare(a.manifest.startedAt) || b.name.localeCompare(a.name);
}
