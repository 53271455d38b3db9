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

interface ExpectedFile {
  sha256: string;
  bytes?: number;
  documents?: number;
}

/**
 * The files a manifest lists, indexed once, so each measured file is checked in constant time (an archive of
 * 20,000 collections is checked as it streams, not by a scan of the manifest per file).
 */
export class ManifestFiles {
  private readonly byFile = new Map<string, ExpectedFile>();
  private readonly seen = new Set<string>();

  constructor(private readonly manifest: BackupManifest) {
    for (const entry of manifest.collections) {
      this.byFile.set(entry.file, { sha256: entry.sha256, bytes: entry.bytes, documents: entry.documents });
      this.byFile.set(entry.metadataFile, { sha256: entry.metadataSha256 });
    }
  }

  /** Throws naming the file when it is not listed or differs from the manifest. */
  check(check: FileCheck): void {
    const expected = this.byFile.get(check.file);
    if (!expected) throw new ArchiveError("file is not listed in the manifest", { file: check.file });
    this.seen.add(check.file);
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

  /** Every file the manifest lists was checked (a view has metadata only: its empty .bson may be absent). */
  checkComplete(): void {
    for (const entry of this.manifest.collections) {
      if (!this.seen.has(entry.metadataFile))
        throw new ArchiveError("listed in the manifest but missing", { file: entry.metadataFile });
      const emptyView = entry.documents === 0 && entry.bytes === 0 && entry.sha256 === EMPTY_SHA256;
      if (!this.seen.has(entry.file) && !emptyView) {
        throw new ArchiveError("listed in the manifest but missing", { file: entry.file });
      }
    }
  }
}
