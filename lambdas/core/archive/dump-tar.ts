import { createHash, type Hash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { ByteReader } from "./byte-reader";
import { documentRuns, type RunLimits } from "./bson-stream";
import { CheckpointTrack, GUNZIP_CHUNK_BYTES, gunzipFailure } from "./checkpoints";
import {
  ArchiveError,
  type ArchiveEvent,
  type BackupManifest,
  type Checkpoint,
  type CollectionMetadata,
  type ReadArchiveOptions,
} from "./events";
import { parseManifest } from "./manifest";
import { decodeMetadata } from "./metadata";
import { oplogSkipped } from "./mongodump-archive";
import { MANIFEST_ENTRY, MAX_SIDECAR_BYTES, unescapeCollectionName } from "./names";
import { tarEntries, type TarEntry, type TarStart } from "./tar-reader";
import { ManifestFiles, type FileCheck } from "./manifest-check";
import { EntrySpools, formatBytes, type SpooledEntry } from "./entry-spool";
import { SEGMENT_BYTES, SegmentHasher } from "./segments";
import { segmentedDocuments, type SegmentStart } from "./segment-reader";

/**
 * A tar (gzip or not) of a mongodump directory, ours or stock: its entries walked as archive events, every
 * file checked against the manifest (the sidecar as it streams, or the archive's own at the end), and,
 * with a sidecar, its segments and checkpoints (`readArchive` resuming at one starts here too).
 */
type FileKind = "bson" | "metadata";
interface ParsedPath {
  /** "" for a file at the dump's root (only `oplog.bson` means something there). */
  db: string;
  /** Escaped base name, the key joining a .bson to its .metadata.json. */
  base: string;
  kind: FileKind;
  gzipped: boolean;
}

const DUMP_FILE = /^(.+)\.(bson|metadata\.json)(\.gz)?$/;

function parsePath(path: string): ParsedPath | "manifest" | undefined {
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  const file = parts[parts.length - 1];
  if (parts.length === 2 && file === MANIFEST_ENTRY) return "manifest";
  if (!file) return undefined;
  const match = DUMP_FILE.exec(file);
  if (!match) return undefined;
  const parsed: ParsedPath = {
    db: parts.length < 2 ? "" : parts[parts.length - 2]!,
    base: match[1]!,
    kind: match[2] === "bson" ? "bson" : "metadata",
    gzipped: match[3] === ".gz",
  };
  if (parsed.db === "" && !(parsed.base === OPLOG && parsed.kind === "bson")) return undefined;
  return parsed;
}

/** mongodump --oplog writes the oplog as `oplog.bson` at the dump's root, with no metadata file. */
const OPLOG = "oplog";

/** A metadata file is a few KB; a larger one is refused before it fills memory. */
const METADATA_LIMIT = { bytes: 16 * 1024 * 1024, of: "a metadata file" };
/** The manifest lists every collection; it has the sidecar's bound. */
const MANIFEST_LIMIT = { bytes: MAX_SIDECAR_BYTES, of: "a manifest" };

export async function* directoryTarEvents(
  reader: ByteReader,
  options: ReadArchiveOptions,
  limits: RunLimits,
  resumed?: Checkpoint,
): AsyncGenerator<ArchiveEvent> {
  const names = new Map<string, string>(); // db/base -> collection name (from metadata)
  const ended = new Set<string>();
  const waiting = new Map<string, SpooledEntry>();
  const spools = new EntrySpools(options.maxSpoolBytes, options.tempDir);
  const checks: FileCheck[] = [];
  const sidecar = options.manifest;
  const sidecarFiles = sidecar ? new ManifestFiles(sidecar) : undefined;
  const track = new CheckpointTrack(
    sidecar?.archive?.checkpoints ?? [],
    options.resumeAt ?? -1,
    options.checkpointEvents ?? false,
  );
  // Headers met by the walk since the last entry (directories, the end marker): each may be a checkpoint.
  const headers: number[] = [];
  const reachedHeaders = function* (): Generator<ArchiveEvent> {
    for (const offset of headers.splice(0)) {
      const reached = track.atHeader(offset);
      if (reached) yield reached;
    }
  };
  let manifest: BackupManifest | undefined;
  // Decided by content, never by name: ours when a sidecar commits it or when its manifest entry is ours.
  let format: "atlas-ops" | "mongodump-directory" = sidecar ? "atlas-ops" : "mongodump-directory";
  options.onFormat?.(format);
  const check = (entry: FileCheck): void => {
    if (sidecarFiles) sidecarFiles.check(entry);
    else checks.push(entry);
  };
  // Each dump file once: a second copy (`tar -rf` appends one) would be read as more documents of the same
  // collection, and which copy mongorestore keeps depends on the extraction order.
  const firstOf = new Map<string, string>(); // db/base/kind -> the entry that held it
  let entries = 0;
  let dumpFiles = 0;
  let firstOther: string | undefined;
  const collection = async function* (
    db: string,
    name: string,
    body: AsyncIterable<Buffer>,
    stored: { file: string; size: number; gzipped: boolean; dataOffset?: number; start?: SegmentStart },
  ): AsyncGenerator<ArchiveEvent> {
    const { file, size } = stored;
    const entry = stored.gzipped || stored.dataOffset === undefined ? undefined : sidecarFiles?.entryOf(file);
    if (entry) {
      // Ours, against its sidecar: checked segment by segment, where the checkpoints inside it are.
      if (size !== entry.bytes)
        throw new ArchiveError(`is ${size} bytes, the manifest says ${entry.bytes}`, { file });
      const segments = sidecarFiles!.segmentsOf(file)!;
      const start = stored.start ?? { segment: 0, offset: 0, documents: 0 };
      const located = { db, collection: name, file, segments, dataOffset: stored.dataOffset! };
      const count = yield* segmentedDocuments(body, located, start, limits, track);
      check({ file, bytes: size, documents: count, checkedBySegment: true });
      yield { type: "collection-end", db, collection: name, documentCount: count };
      return;
    }
    const hash = createHash("sha256");
    // Without a sidecar the segment bounds are not known before the archive's manifest (its last entry):
    // a file past one segment is also hashed as SEGMENT_BYTES cuts it.
    const segmented = !stored.gzipped && size > SEGMENT_BYTES ? new SegmentHasher() : undefined;
    let count = 0;
    for await (const documents of documentRuns(
      storedReader(body, hash, stored.gzipped, file),
      { file },
      limits,
    )) {
      count += documents.count;
      if (segmented) for (const document of documents.documents()) segmented.add(document);
      yield { type: "documents", db, collection: name, documents };
    }
    const measured = segmented?.finish();
    check({
      file,
      sha256: hash.digest("hex"),
      ...(measured && "segments" in measured ? { segments: measured.segments } : {}),
      bytes: size,
      documents: count,
    });
    yield { type: "collection-end", db, collection: name, documentCount: count };
  };
  const replay = (key: string, db: string, name: string, spooled: SpooledEntry) => {
    waiting.delete(key);
    ended.add(key);
    return collection(db, name, spools.replay(spooled), spooled);
  };
  // A read resumed at a checkpoint: what came before it was checked by the reads before.
  let start: TarStart | undefined;
  let priorUnmarked = false;
  if (resumed && sidecarFiles) {
    const inside = resumed.file;
    const entry = inside && sidecarFiles.entryOf(inside.path);
    start = { tarOffset: resumed.tarOffset };
    if (inside && entry) {
      start.inside = { path: inside.path, size: entry.bytes, offset: inside.offset };
      sidecarFiles.checkedBefore(inside.path, true);
      const parsed = parsePath(inside.path);
      if (parsed && parsed !== "manifest") {
        const key = `${parsed.db}/${parsed.base}`;
        names.set(key, entry.collection);
        firstOf.set(`${key}/metadata`, entry.metadataFile).set(`${key}/bson`, entry.file);
      }
    } else priorUnmarked = true;
  }
  try {
    for await (const entry of tarEntries(reader, start, (offset) => headers.push(offset))) {
      yield* reachedHeaders();
      entries += 1;
      if (manifest)
        throw new ArchiveError("entry after the manifest (the manifest must be last)", { file: entry.path });
      const parsed = parsePath(entry.path);
      if (priorUnmarked && parsed) {
        // Resumed between collections: the files the manifest lists before this one were read before.
        priorUnmarked = false;
        sidecarFiles!.checkedBefore(parsed === "manifest" ? undefined : entry.path, false);
      }
      if (entry.resumedAt !== undefined && resumed?.file) {
        const listed = sidecarFiles!.entryOf(entry.path)!;
        const key = `${listed.db}/${parsePathKey(entry.path)}`;
        ended.add(key);
        dumpFiles += 1;
        const { segment, offset, documents } = resumed.file;
        yield* collection(listed.db, listed.collection, entry.body, {
          file: entry.path,
          size: entry.size,
          gzipped: false,
          dataOffset: entry.dataOffset,
          start: { segment, offset, documents },
        });
        continue;
      }
      if (parsed === "manifest") {
        const { text } = await readWhole(entry, false, MANIFEST_LIMIT);
        manifest = sidecar ? parseManifest(text, entry.path) : ownManifest(text, entry.path);
        if (manifest && format !== "atlas-ops") {
          format = "atlas-ops";
          options.onFormat?.(format);
        }
        continue;
      }
      if (!parsed) {
        firstOther ??= entry.path;
        continue;
      }
      dumpFiles += 1;
      const key = `${parsed.db}/${parsed.base}`;
      const first = firstOf.get(`${key}/${parsed.kind}`);
      if (first !== undefined) throw duplicated(first, entry.path);
      firstOf.set(`${key}/${parsed.kind}`, entry.path);
      if (parsed.kind === "metadata") {
        const { text, sha256 } = await readWhole(entry, parsed.gzipped, METADATA_LIMIT);
        const metadata: CollectionMetadata = decodeMetadata(text, entry.path);
        const name = metadata.collectionName ?? unescapeCollectionName(parsed.base);
        names.set(key, name);
        check({ file: entry.path, sha256, metadata: true });
        yield { type: "collection-metadata", db: parsed.db, collection: name, metadata };
        const spooled = waiting.get(key);
        if (spooled) yield* replay(key, parsed.db, name, spooled);
        continue;
      }
      // Resumed between a collection's metadata and its documents: the manifest names it.
      const name = names.get(key) ?? (resumed ? sidecarFiles?.entryOf(entry.path)?.collection : undefined);
      if (name === undefined) {
        // The .bson came first (stock tars follow the directory's order): keep it until its metadata comes.
        waiting.set(key, await spools.keep(entry, parsed.gzipped));
        continue;
      }
      ended.add(key);
      yield* collection(parsed.db, name, entry.body, {
        file: entry.path,
        size: entry.size,
        gzipped: parsed.gzipped,
        dataOffset: entry.dataOffset,
      });
    }
    yield* reachedHeaders();
    for (const [key, spooled] of waiting) {
      const db = key.slice(0, key.indexOf("/"));
      const base = key.slice(db.length + 1);
      if (base === OPLOG) {
        // Read like mongorestore without --oplogReplay: checked, counted, not restored.
        dumpFiles -= 1;
        let entriesOfOplog = 0;
        const hash = createHash("sha256");
        const body = storedReader(spools.replay(spooled), hash, spooled.gzipped, spooled.file);
        for await (const run of documentRuns(body, { file: spooled.file }, limits))
          entriesOfOplog += run.count;
        waiting.delete(key);
        check({
          file: spooled.file,
          sha256: hash.digest("hex"),
          bytes: spooled.size,
          documents: entriesOfOplog,
        });
        options.onSkipped?.({ file: spooled.file, reason: oplogSkipped(entriesOfOplog) });
        continue;
      }
      // A .bson without a metadata file: mongorestore restores it with default options and the _id index.
      const name = unescapeCollectionName(base);
      yield { type: "collection-metadata", db, collection: name, metadata: { options: {}, indexes: [] } };
      names.set(key, name);
      yield* replay(key, db, name, spooled);
    }
    for (const [key, name] of names) {
      if (!ended.has(key))
        yield {
          type: "collection-end",
          db: key.slice(0, key.indexOf("/")),
          collection: name,
          documentCount: 0,
        };
    }
    if (format === "atlas-ops") {
      const inner = manifest;
      if (!inner) throw new ArchiveError("archive is truncated: its manifest (the last entry) is missing");
      track.finish();
      if (sidecarFiles) sidecarFiles.checkComplete();
      else {
        const files = new ManifestFiles(inner);
        for (const entry of checks) files.check(entry);
        files.checkComplete();
      }
      if (
        sidecar &&
        (sidecar.name !== inner.name || sidecar.collections.length !== inner.collections.length)
      ) {
        throw new ArchiveError("the archive's manifest does not match its sidecar", { file: MANIFEST_ENTRY });
      }
      yield { type: "manifest", manifest: sidecar ?? inner };
    } else if (dumpFiles === 0) {
      throw new ArchiveError(nothingToRestore(entries, firstOther));
    }
  } finally {
    await spools.releaseAll();
  }
}

/** The `<base>` of `<db>/<base>.bson` (the key that joins a .bson to its metadata). */
function parsePathKey(path: string): string {
  const parsed = parsePath(path);
  return parsed && parsed !== "manifest" ? parsed.base : path;
}

/**
 * A `manifest.json` at the dump's root is ours only when it says so (`tool.name`); then it must be valid. Any
 * other file of that name is part of a stock dump (mongorestore skips files at the root) and is ignored.
 */
function ownManifest(text: string, file: string): BackupManifest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const tool = (value as { tool?: { name?: unknown } } | null)?.tool;
  if (typeof tool !== "object" || tool === null || tool.name !== "atlas-ops") return undefined;
  return parseManifest(text, file);
}

function duplicated(first: string, again: string): ArchiveError {
  const reason =
    first === again ? `archive holds ${again} twice` : `archive holds ${again} twice (also as ${first})`;
  return new ArchiveError(`${reason}: refused, as it is unclear which copy to restore`, { file: again });
}

function nothingToRestore(entries: number, firstOther: string | undefined): string {
  if (entries === 0) return "archive holds nothing to restore: the tar has no entries";
  const example = firstOther === undefined ? "" : ` (first: ${JSON.stringify(firstOther)})`;
  return (
    `archive holds nothing to restore: none of its ${entries} tar entries is a mongodump file ` +
    `(<database>/<collection>.bson or .metadata.json)${example}`
  );
}

function hashed(body: AsyncIterable<Buffer>, hash: Hash): AsyncIterable<Buffer> {
  return (async function* () {
    for await (const chunk of body) {
      hash.update(chunk);
      yield chunk;
    }
  })();
}

/** An entry's bytes as stored (hashed when `hash` is given), gunzipped when the file name ends in .gz. */
function storedReader(
  stored: AsyncIterable<Buffer>,
  hash: Hash | undefined,
  gzipped: boolean,
  file: string,
): ByteReader {
  const bytes = hash ? hashed(stored, hash) : stored;
  if (!gzipped) return new ByteReader(bytes);
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
  pipeline(Readable.from(bytes), gunzip).catch(() => undefined);
  return new ByteReader(
    (async function* () {
      try {
        for await (const chunk of gunzip) yield chunk as Buffer;
      } catch (error) {
        throw gunzipFailure(error, "not valid gzip", file);
      }
    })(),
  );
}

/** A whole JSON entry, bounded before and after decompression (a small .gz can expand to gigabytes). */
async function readWhole(
  entry: TarEntry,
  gzipped: boolean,
  limit: { bytes: number; of: string },
): Promise<{ text: string; sha256: string }> {
  const tooLarge = (what: string) =>
    new ArchiveError(`${what} the ${formatBytes(limit.bytes)} limit of ${limit.of}`, {
      file: entry.path,
    });
  if (entry.size > limit.bytes) throw tooLarge(`is ${formatBytes(entry.size)}, over`);
  const hash = createHash("sha256");
  const reader = storedReader(hashed(entry.body, hash), undefined, gzipped, entry.path);
  const parts: Buffer[] = [];
  let total = 0;
  try {
    for (let chunk = await reader.readSome(1 << 20); chunk; chunk = await reader.readSome(1 << 20)) {
      total += chunk.length;
      if (total > limit.bytes) throw tooLarge("expands beyond");
      parts.push(chunk);
    }
  } finally {
    await reader.close().catch(() => undefined);
  }
  return { text: Buffer.concat(parts).toString("utf8"), sha256: hash.digest("hex") };
}
