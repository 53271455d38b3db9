import { createHash } from "node:crypto";
import { ArchiveError, type BackupManifest } from "./events";

/** What the reader measured for one file of the archive. */
export interface FileCheck {
  file: string;
  /** SHA-256 of the file as stored in the tar. */
  sha256: string;
  bytes?: number;
  documents?: number;
  metadata?: boolean;
}

const EMPTY_SHA256 = createHash("sha256").digest("hex");

/**
 * Compares measured files with a manifest; throws naming the first file that differs. With `complete`, every
 * file the manifest lists must have been seen (a view has metadata only: its empty .bson may be absent).
 */
export function verifyAgainstManifest(
  manifest: BackupManifest,
  checks: FileCheck[],
  complete: boolean,
): void {
  const byFile = new Map<string, { sha256: string; bytes?: number; documents?: number }>();
  for (const entry of manifest.collections) {
    byFile.set(entry.file, { sha256: entry.sha256, bytes: entry.bytes, documents: entry.documents });
    byFile.set(entry.metadataFile, { sha256: entry.metadataSha256 });
  }
  const seen = new Set<string>();
  for (const check of checks) {
    const expected = byFile.get(check.file);
    if (!expected) throw new ArchiveError("file is not listed in the manifest", { file: check.file });
    seen.add(check.file);
    if (
      check.documents !== undefined &&
      expected.documents !== undefined &&
      check.documents !== expected.documents
    ) {
      throw new ArchiveError(`holds ${check.documents} documents, the manifest says ${expected.documents}`, {
        file: check.file,
      });
    }
    if (check.bytes !== undefined && expected.bytes !== undefined && check.bytes !== expected.bytes) {
      throw new ArchiveError(`is ${check.bytes} bytes, the manifest says ${expected.bytes}`, {
        file: check.file,
      });
    }
    if (check.sha256 !== expected.sha256) {
      throw new ArchiveError("SHA-256 differs from the manifest (content changed)", { file: check.file });
    }
  }
  if (!complete) return;
  for (const entry of manifest.collections) {
    if (!seen.has(entry.metadataFile))
      throw new ArchiveError("listed in the manifest but missing", { file: entry.metadataFile });
    const emptyView = entry.documents === 0 && entry.bytes === 0 && entry.sha256 === EMPTY_SHA256;
    if (!seen.has(entry.file) && !emptyView) {
      throw new ArchiveError("listed in the manifest but missing", { file: entry.file });
    }
  }
}
