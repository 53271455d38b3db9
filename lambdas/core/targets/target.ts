import type { Readable, Writable } from "node:stream";
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

/** An archive being written: bytes go to `stream`; `commit` writes the sidecar last, `abort` leaves nothing. */
export interface ArchiveUpload {
  readonly stream: Writable;
  /** Waits for the archive to be stored, then writes the sidecar (the commit marker). Returns the URL. */
  commit(manifest: BackupManifest): Promise<string>;
  /** Removes the partial archive (aborts a multipart upload). Never throws. */
  abort(reason: unknown): Promise<void>;
}

/** Where backups live: `file://DIR` or `s3://BUCKET/PREFIX`, with kind folders daily/, weekly/, monthly/. */
export interface BackupTarget {
  readonly url: string;
  /** Committed backups (those with a readable sidecar), newest first. */
  list(kind?: BackupKind, options?: ListOptions): Promise<StoredBackup[]>;
  latest(kind: BackupKind, options?: ListOptions): Promise<StoredBackup | undefined>;
  /** The archive bytes, streamed. `key` is relative to the target. */
  openArchive(key: string): Promise<Readable>;
  /** The sidecar of an archive, or undefined when there is none (a stock archive or an uncommitted one). */
  readSidecar(archiveKey: string): Promise<BackupManifest | undefined>;
  startArchive(kind: BackupKind, name: string): Promise<ArchiveUpload>;
}

export function archiveKey(kind: BackupKind, name: string): string {
  return `${kind}/${name}.tar.gz`;
}

/** Newest first by start time, then by name (names carry the UTC time). */
export function newestFirst(a: StoredBackup, b: StoredBackup): number {
  return b.manifest.startedAt.localeCompare(a.manifest.startedAt) || b.name.localeCompare(a.name);
}
