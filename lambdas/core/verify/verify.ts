import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { DocumentsDigest } from "../archive/documents-digest";
import {
  ArchiveError,
  type ArchiveFormat,
  type BackupManifest,
  type SkippedContent,
} from "../archive/events";
import { readArchive } from "../archive/read-archive";
import type { BackupTarget } from "../targets/target";

export interface VerifyProblem {
  file?: string;
  namespace?: string;
  reason: string;
}

export interface VerifiedCollection {
  db: string;
  collection: string;
  documents: number;
  documentsDigest: string;
}

export interface VerifyReport {
  ok: boolean;
  archive: string;
  format?: ArchiveFormat;
  /** SHA-256 and size of the archive as stored. */
  sha256: string;
  bytes: number;
  collections: VerifiedCollection[];
  documents: number;
  /** What the archive holds that a restore does not write (the oplog of a mongodump --oplog), and why. */
  skipped: SkippedContent[];
  /** The first problem found (the file or namespace and what is wrong); absent when ok. */
  problem?: VerifyProblem;
  durationMs: number;
}

/** Verifies an archive of a target without restoring it: every check the reader makes, plus the sidecar's. */
export async function verifyArchive(target: BackupTarget, key: string, label = key): Promise<VerifyReport> {
  let sidecar: BackupManifest | undefined;
  try {
    sidecar = await target.readSidecar(key);
  } catch (error) {
    return failedEarly(label, toProblem(error));
  }
  let source: Readable;
  try {
    source = await target.openArchive(key);
  } catch (error) {
    return failedEarly(label, toProblem(error));
  }
  return verifyStream(source, sidecar, label);
}

export async function verifyStream(
  source: AsyncIterable<Buffer>,
  sidecar: BackupManifest | undefined,
  label: string,
): Promise<VerifyReport> {
  const started = Date.now();
  const hash = createHash("sha256");
  let bytes = 0;
  const iterator = source[Symbol.asyncIterator]();
  const hashed: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const result = await iterator.next();
        if (!result.done) {
          hash.update(result.value);
          bytes += result.value.length;
        }
        return result;
      },
      return: async () => ({ done: true, value: undefined }),
    }),
  };
  let format: ArchiveFormat | undefined;
  const digests = new Map<string, DocumentsDigest>();
  const collections: VerifiedCollection[] = [];
  let manifest: BackupManifest | undefined;
  let problem: VerifyProblem | undefined;
  const skipped: SkippedContent[] = [];
  try {
    for await (const event of readArchive(hashed, {
      manifest: sidecar,
      onFormat: (found) => (format = found),
      onSkipped: (content) => skipped.push(content),
    })) {
      const namespace = event.type === "manifest" ? "" : `${event.db}.${event.collection}`;
      if (event.type === "documents") {
        let digest = digests.get(namespace);
        if (!digest) digests.set(namespace, (digest = new DocumentsDigest()));
        for (const document of event.documents.documents()) digest.add(document);
      } else if (event.type === "collection-end") {
        const digest = digests.get(namespace) ?? new DocumentsDigest();
        if (digest.documents !== event.documentCount) {
          throw new ArchiveError(
            `read ${digest.documents} documents, the archive says ${event.documentCount}`,
            {
              namespace,
            },
          );
        }
        collections.push({
          db: event.db,
          collection: event.collection,
          documents: digest.documents,
          documentsDigest: digest.hex(),
        });
      } else if (event.type === "manifest") {
        manifest = event.manifest;
      }
    }
    if (manifest) checkDigests(manifest, collections);
  } catch (error) {
    problem = toProblem(error);
  }
  // Read to the end so the archive's own checksum can still be compared after a problem inside it.
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    hash.update(next.value);
    bytes += next.value.length;
  }
  const sha256 = hash.digest("hex");
  if (sidecar?.archive && !problem) {
    if (sidecar.archive.bytes !== bytes) {
      problem = {
        file: label,
        reason: `archive is ${bytes} bytes, its sidecar says ${sidecar.archive.bytes}`,
      };
    } else if (sidecar.archive.sha256 !== sha256) {
      problem = { file: label, reason: "archive SHA-256 differs from its sidecar" };
    }
  }
  return {
    ok: problem === undefined,
    archive: label,
    format,
    sha256,
    bytes,
    collections,
    documents: collections.reduce((sum, c) => sum + c.documents, 0),
    skipped,
    problem,
    durationMs: Date.now() - started,
  };
}

function checkDigests(manifest: BackupManifest, collections: VerifiedCollection[]): void {
  const byNamespace = new Map(collections.map((c) => [`${c.db}.${c.collection}`, c]));
  for (const entry of manifest.collections) {
    const found = byNamespace.get(`${entry.db}.${entry.collection}`);
    if (!found) throw new ArchiveError("listed in the manifest but not in the archive", { file: entry.file });
    if (found.documentsDigest !== entry.documentsDigest) {
      throw new ArchiveError("documents digest differs from the manifest", { file: entry.file });
    }
  }
}

function toProblem(error: unknown): VerifyProblem {
  if (error instanceof ArchiveError) {
    return { file: error.file, namespace: error.namespace, reason: error.reason };
  }
  return { reason: error instanceof Error ? error.message : String(error) };
}

function failedEarly(label: string, problem: VerifyProblem): VerifyReport {
  return {
    ok: false,
    archive: label,
    sha256: "",
    bytes: 0,
    collections: [],
    documents: 0,
    skipped: [],
    problem,
    durationMs: 0,
  };
}
