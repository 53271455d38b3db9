import { createHash } from "node:crypto";
import { DocumentsDigest, resumeDocumentsDigest } from "../archive/documents-digest";
import {
  ArchiveError,
  type ArchiveFormat,
  type BackupManifest,
  type Checkpoint,
  type SkippedContent,
} from "../archive/events";
import { readArchive } from "../archive/read-archive";
import type { BackupTarget, OpenedArchive } from "../targets/target";

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
  /**
   * SHA-256 of the archive as stored, compared with the sidecar's; only when one invocation read the whole
   * archive (a verify continued over several cannot carry the hash: see docs/archive-format.md).
   */
  sha256?: string;
  /** Size of the archive as stored. */
  bytes: number;
  collections: VerifiedCollection[];
  documents: number;
  /** What the archive holds that a restore does not write (the oplog of a mongodump --oplog), and why. */
  skipped: SkippedContent[];
  /** The first problem found (the file or namespace and what is wrong); absent when ok. */
  problem?: VerifyProblem;
  durationMs: number;
  /** Invocations the verify took, when more than one (it resumed at checkpoints). */
  invocations?: number;
}

/**
 * Where a verify that stopped at a checkpoint stands: all the next invocation needs, a few hundred bytes
 * whatever the archive's size (every collection before the checkpoint was compared with its manifest entry
 * as it ended, so only counters are carried).
 */
export interface VerifyContinuation {
  /** The sidecar's `archive.sha256`: a resumed verify refuses a sidecar that changed meanwhile. */
  archiveSha256: string;
  /** Index of the sidecar's checkpoint the next invocation starts at. */
  checkpoint: number;
  /** Collections verified and their documents, before the checkpoint. */
  collections: number;
  documents: number;
  /** The collection the checkpoint lies in (a checkpoint inside its .bson): its documents digest so far. */
  inProgress?: { db: string; collection: string; documents: number; documentsDigest: string };
  invocations: number;
  durationMs: number;
  /** The longest time between two checkpoints seen so far, for the next invocation's first decision. */
  longestIntervalMs: number;
}

export type VerifyStep =
  { done: true; report: VerifyReport } | { done: false; continuation: VerifyContinuation };

/**
 * How far a verify has read, for a progress display: the documents (against the manifest's totals, for an
 * archive with a sidecar) and the archive's bytes as stored (against its size, for any archive).
 */
export interface VerifyProgress {
  /** Documents and their BSON bytes read by this invocation (plus, for documents, the steps before). */
  documents: number;
  bytes: number;
  collections: number;
  /** Compressed bytes read, from the start of the archive. */
  archiveBytesRead: number;
  /** The archive's size as stored, when known (always, for a verify of a target's archive). */
  archiveBytes?: number;
  /** The sidecar manifest's totals, for an archive that has one. */
  expected?: { documents: number; bytes: number };
}

export interface VerifyStepOptions {
  /** Called as documents are read and once at the end; for a display, it does not change what is checked. */
  onProgress?: (progress: VerifyProgress) => void;
  /** Milliseconds this invocation has left; without it the verify runs to the end. */
  remainingMs?: () => number;
  /** Time kept in reserve besides twice the longest checkpoint interval seen (default 30 s). */
  marginMs?: number;
  /** The continuation of the step before (its result's `continuation`). */
  resume?: VerifyContinuation;
}

const DEFAULT_MARGIN_MS = 30_000;

/** Verifies an archive of a target without restoring it: every check the reader makes, plus the sidecar's. */
export async function verifyArchive(
  target: BackupTarget,
  key: string,
  label = key,
  options: Pick<VerifyStepOptions, "onProgress"> = {},
): Promise<VerifyReport> {
  const step = await verifyArchiveStep(target, key, label, options);
  if (!step.done) throw new Error("a verify without a time limit stopped at a checkpoint");
  return step.report;
}

/**
 * One invocation's part of a verify: from the start, or from the checkpoint of `resume`, to the end of the
 * archive, or to the first checkpoint where the time left (`remainingMs`) is below the margin plus twice the
 * longest checkpoint interval seen. Given the same `resume`, it checks the same bytes the same way, so a
 * retried step gives the same outcome.
 */
export async function verifyArchiveStep(
  target: BackupTarget,
  key: string,
  label = key,
  options: VerifyStepOptions = {},
): Promise<VerifyStep> {
  let sidecar: BackupManifest | undefined;
  try {
    sidecar = await target.readSidecar(key);
  } catch (error) {
    return { done: true, report: failedEarly(label, toProblem(error)) };
  }
  const resume = options.resume;
  let checkpoint: Checkpoint | undefined;
  if (resume) {
    checkpoint = sidecar?.archive?.checkpoints?.[resume.checkpoint];
    if (!sidecar?.archive || sidecar.archive.sha256 !== resume.archiveSha256 || !checkpoint) {
      const reason = `the sidecar changed since the verify started (checkpoint ${resume.checkpoint} is gone or moved)`;
      return { done: true, report: failedEarly(label, { file: label, reason }) };
    }
  }
  let opened: OpenedArchive;
  try {
    opened = await target.openArchive(key, { start: checkpoint?.archiveOffset });
  } catch (error) {
    return { done: true, report: failedEarly(label, toProblem(error)) };
  }
  try {
    return await verifyStreamStep(opened.stream, sidecar, label, { ...options, archiveBytes: opened.bytes });
  } finally {
    opened.stream.destroy();
  }
}

export async function verifyStream(
  source: AsyncIterable<Buffer>,
  sidecar: BackupManifest | undefined,
  label: string,
): Promise<VerifyReport> {
  const step = await verifyStreamStep(source, sidecar, label);
  if (!step.done) throw new Error("a verify without a time limit stopped at a checkpoint");
  return step.report;
}

/** The verify of a stream of archive bytes (from the checkpoint of `options.resume`, when given). */
export async function verifyStreamStep(
  source: AsyncIterable<Buffer>,
  sidecar: BackupManifest | undefined,
  label: string,
  options: VerifyStepOptions & { archiveBytes?: number } = {},
): Promise<VerifyStep> {
  const started = Date.now();
  const resume = options.resume;
  const startOffset = resume ? sidecar!.archive!.checkpoints![resume.checkpoint]!.archiveOffset : 0;
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
  if (resume?.inProgress) {
    const { db, collection, documentsDigest, documents } = resume.inProgress;
    digests.set(`${db}.${collection}`, resumeDocumentsDigest(documentsDigest, documents));
  }
  const collections: VerifiedCollection[] = [];
  const expected = new Map(sidecar?.collections.map((entry) => [`${entry.db}.${entry.collection}`, entry]));
  let manifest: BackupManifest | undefined;
  let problem: VerifyProblem | undefined;
  const skipped: SkippedContent[] = [];
  const margin = options.marginMs ?? DEFAULT_MARGIN_MS;
  let longest = resume?.longestIntervalMs ?? 0;
  let lastCheckpointAt = started;
  let stopped: VerifyContinuation | undefined;
  const carried = { collections: resume?.collections ?? 0, documents: resume?.documents ?? 0 };
  const read = { documents: 0, bytes: 0 };
  const expectedTotals = sidecar && { documents: sidecar.totals.documents, bytes: sidecar.totals.bytes };
  const reportProgress = () =>
    options.onProgress?.({
      documents: carried.documents + read.documents,
      bytes: read.bytes,
      collections: carried.collections + collections.length,
      archiveBytesRead: startOffset + bytes,
      ...(options.archiveBytes === undefined ? {} : { archiveBytes: options.archiveBytes }),
      ...(expectedTotals ? { expected: expectedTotals } : {}),
    });
  try {
    for await (const event of readArchive(hashed, {
      manifest: sidecar,
      onFormat: (found) => (format = found),
      onSkipped: (content) => skipped.push(content),
      checkpointEvents: options.remainingMs !== undefined,
      resumeAt: resume?.checkpoint,
    })) {
      if (event.type === "checkpoint") {
        const now = Date.now();
        longest = Math.max(longest, now - lastCheckpointAt);
        lastCheckpointAt = now;
        if (options.remainingMs!() >= margin + 2 * longest) continue;
        stopped = continuationAt(event.index, event.checkpoint, sidecar!, digests, {
          collections: carried.collections + collections.length,
          documents: carried.documents + collections.reduce((sum, c) => sum + c.documents, 0),
          invocations: (resume?.invocations ?? 1) + 1,
          durationMs: (resume?.durationMs ?? 0) + (now - started),
          longestIntervalMs: longest,
        });
        break;
      }
      const namespace = event.type === "manifest" ? "" : `${event.db}.${event.collection}`;
      if (event.type === "documents") {
        let digest = digests.get(namespace);
        if (!digest) digests.set(namespace, (digest = new DocumentsDigest()));
        for (const document of event.documents.documents()) digest.add(document);
        read.documents += event.documents.count;
        read.bytes += event.documents.byteLength;
        reportProgress();
      } else if (event.type === "collection-end") {
        const digest = digests.get(namespace) ?? new DocumentsDigest();
        digests.delete(namespace);
        if (digest.documents !== event.documentCount) {
          throw new ArchiveError(
            `read ${digest.documents} documents, the archive says ${event.documentCount}`,
            { namespace },
          );
        }
        const entry = expected.get(namespace);
        // Compared as each one ends: a verify that stops at a checkpoint carries no list of digests.
        if (entry && entry.documentsDigest !== digest.hex()) {
          throw new ArchiveError("documents digest differs from the manifest", { file: entry.file });
        }
        collections.push({
          db: event.db,
          collection: event.collection,
          documents: digest.documents,
          documentsDigest: digest.hex(),
        });
        reportProgress();
      } else if (event.type === "manifest") {
        manifest = event.manifest;
      }
    }
    if (stopped) {
      await iterator.return?.();
      return { done: false, continuation: stopped };
    }
    if (manifest) checkListed(manifest, collections, resume !== undefined);
  } catch (error) {
    problem = toProblem(error);
  }
  // Read to the end so the archive's own checksum can still be compared after a problem inside it.
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    hash.update(next.value);
    bytes += next.value.length;
  }
  reportProgress();
  const whole = resume === undefined;
  const sha256 = whole ? hash.digest("hex") : undefined;
  if (sidecar?.archive && !problem) {
    if (sidecar.archive.bytes !== startOffset + bytes) {
      problem = {
        file: label,
        reason: `archive is ${startOffset + bytes} bytes, its sidecar says ${sidecar.archive.bytes}`,
      };
    } else if (whole && sidecar.archive.sha256 !== sha256) {
      problem = { file: label, reason: "archive SHA-256 differs from its sidecar" };
    }
  }
  // A continued verify compared every collection with the manifest as it ended: they are the manifest's.
  const all =
    resume && !problem
      ? sidecar!.collections.map(({ db, collection, documents, documentsDigest }) => ({
          db,
          collection,
          documents,
          documentsDigest,
        }))
      : collections;
  const invocations = resume ? resume.invocations : 1;
  return {
    done: true,
    report: {
      ok: problem === undefined,
      archive: label,
      format,
      ...(sha256 === undefined ? {} : { sha256 }),
      bytes: startOffset + bytes,
      collections: all,
      documents: resume
        ? carried.documents + collections.reduce((sum, c) => sum + c.documents, 0)
        : all.reduce((sum, c) => sum + c.documents, 0),
      skipped,
      problem,
      durationMs: (resume?.durationMs ?? 0) + (Date.now() - started),
      ...(invocations > 1 ? { invocations } : {}),
    },
  };
}

function continuationAt(
  index: number,
  checkpoint: Checkpoint,
  sidecar: BackupManifest,
  digests: Map<string, DocumentsDigest>,
  counters: Omit<VerifyContinuation, "archiveSha256" | "checkpoint" | "inProgress">,
): VerifyContinuation {
  const continuation: VerifyContinuation = {
    archiveSha256: sidecar.archive!.sha256,
    checkpoint: index,
    ...counters,
  };
  if (checkpoint.file) {
    const entry = sidecar.collections.find((c) => c.file === checkpoint.file!.path)!;
    const digest = digests.get(`${entry.db}.${entry.collection}`) ?? new DocumentsDigest();
    continuation.inProgress = {
      db: entry.db,
      collection: entry.collection,
      documents: digest.documents,
      documentsDigest: digest.hex(),
    };
  }
  return continuation;
}

/** Every manifest collection was met (those before a resumed read's checkpoint were met by the steps before). */
function checkListed(manifest: BackupManifest, collections: VerifiedCollection[], resumed: boolean): void {
  if (resumed) return;
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
