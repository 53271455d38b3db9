import { createHash } from "node:crypto";
import { ArchiveError, type BackupManifest, type FileSegment, type ManifestCollection } from "./events";
import { SEGMENT_BYTES } from "./segments";

/** What the reader measured for one file of the archive. */
export interface FileCheck {
  file: string;
  /** SHA-256 of the file as stored in the tar (absent when its segments were checked as they ended). */
  sha256?: string;
  /**
   * A .bson past SEGMENT_BYTES read without a sidecar: its segments as SEGMENT_BYTES cuts them, for a manifest
   * entry that has `segments` (known only once the archive's own manifest, its last entry, is read).
   */
  segments?: FileSegment[];
  /** The file's segments were each checked against the sidecar while it was read (`segmentsOf`). */
  checkedBySegment?: boolean;
  bytes?: number;
  documents?: number;
  metadata?: boolean;
}

const EMPTY_SHA256 = createHash("sha256").digest("hex");

interface ExpectedFile {
  /** Position in the manifest, which lists files in archive order. */
  index: number;
  /** The .bson's entry; absent for a metadata file. */
  entry?: ManifestCollection;
  metadataSha256?: string;
}

/**
 * The files a manifest lists, indexed once, so each measured file is checked in constant time (an archive of
 * 20,000 collections is checked as it streams, not by a scan of the manifest per file).
 */
export class ManifestFiles {
  private readonly byFile = new Map<string, ExpectedFile>();
  private readonly seen = new Set<string>();

  constructor(private readonly manifest: BackupManifest) {
    manifest.collections.forEach((entry, index) => {
      this.byFile.set(entry.metadataFile, { index, metadataSha256: entry.metadataSha256 });
      this.byFile.set(entry.file, { index, entry });
    });
  }

  /** The manifest entry whose .bson this is, if any. */
  entryOf(file: string): ManifestCollection | undefined {
    return this.byFile.get(file)?.entry;
  }

  /** The segments a listed .bson is read and checked in (one, its whole `sha256`, when it has no `segments`). */
  segmentsOf(file: string): FileSegment[] | undefined {
    const entry = this.entryOf(file);
    if (!entry) return undefined;
    return entry.segments ?? [{ bytes: entry.bytes, documents: entry.documents, sha256: entry.sha256! }];
  }

  /**
   * A read resumed at a checkpoint: the files the manifest lists before `file` (all of them when undefined,
   * and the metadata of `file` itself when `inside` it) were checked by the reads before, up to that checkpoint.
   */
  checkedBefore(file: string | undefined, inside: boolean): void {
    const at = file === undefined ? this.manifest.collections.length : this.byFile.get(file)?.index;
    if (at === undefined) return;
    for (const entry of this.manifest.collections.slice(0, at)) {
      this.seen.add(entry.metadataFile);
      this.seen.add(entry.file);
    }
    if (inside) this.seen.add(this.manifest.collections[at]!.metadataFile);
  }

  /** Throws naming the file when it is not listed, was already checked, or differs from the manifest. */
  check(check: FileCheck): void {
    const expected = this.byFile.get(check.file);
    if (!expected) throw new ArchiveError("file is not listed in the manifest", { file: check.file });
    if (this.seen.has(check.file)) {
      throw new ArchiveError(
        `archive holds ${check.file} twice: refused, as it is unclear which copy to restore`,
        {
          file: check.file,
        },
      );
    }
    this.seen.add(check.file);
    const entry = expected.entry;
    if (!entry) {
      if (check.sha256 !== expected.metadataSha256) throw changed(check.file);
      return;
    }
    if (check.documents !== undefined && check.documents !== entry.documents) {
      throw new ArchiveError(`holds ${check.documents} documents, the manifest says ${entry.documents}`, {
        file: check.file,
      });
    }
    if (check.bytes !== undefined && check.bytes !== entry.bytes) {
      throw new ArchiveError(`is ${check.bytes} bytes, the manifest says ${entry.bytes}`, {
        file: check.file,
      });
    }
    if (check.checkedBySegment) return;
    if (entry.sha256 !== undefined) {
      if (check.sha256 !== entry.sha256) throw changed(check.file);
      return;
    }
    checkMeasuredSegments(check, entry.segments!);
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

function changed(file: string): ArchiveError {
  return new ArchiveError("SHA-256 differs from the manifest (content changed)", { file });
}

/** The error for segment `index` of `file` whose bytes hash differently from the manifest. */
export function segmentChanged(file: string, index: number, count: number): ArchiveError {
  return new ArchiveError(
    `segment ${index} (of ${count}) SHA-256 differs from the manifest (content changed)`,
    { file },
  );
}

/** Without a sidecar, segments measured every SEGMENT_BYTES against the ones the archive's manifest lists. */
function checkMeasuredSegments(check: FileCheck, expected: FileSegment[]): void {
  const measured =
    check.segments ??
    (check.sha256
      ? [{ bytes: check.bytes ?? 0, documents: check.documents ?? 0, sha256: check.sha256 }]
      : []);
  const sameBounds =
    measured.length === expected.length &&
    measured.every((m, i) => m.bytes === expected[i]!.bytes && m.documents === expected[i]!.documents);
  if (!sameBounds) {
    throw new ArchiveError(
      `its manifest segments are not cut every ${SEGMENT_BYTES} bytes, so they can be checked only with ` +
        "the archive's sidecar",
      { file: check.file },
    );
  }
  const index = measured.findIndex((m, i) => m.sha256 !== expected[i]!.sha256);
  if (index >= 0) throw segmentChanged(check.file, index, expected.length);
}
