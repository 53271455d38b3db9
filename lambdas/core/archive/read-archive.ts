import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { ByteReader } from "./byte-reader";
import { documentRuns, type RunLimits } from "./bson-stream";
import {
  ArchiveError,
  ArchiveReadError,
  type ArchiveEvent,
  type BackupManifest,
  type CollectionMetadata,
  type ReadArchiveOptions,
} from "./events";
import { parseManifest } from "./manifest";
import { decodeMetadata } from "./metadata";
import { ARCHIVE_MAGIC, mongodumpArchiveEvents } from "./mongodump-archive";
import { MANIFEST_ENTRY, parseArchiveName, unescapeCollectionName } from "./names";
import { tarEntries, type TarEntry } from "./tar-reader";
import { verifyAgainstManifest, type FileCheck } from "./manifest-check";

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/**
 * The one archive reader: detects ours, a tar(.gz) of a mongodump directory (plain or --gzip) or a mongodump
 * --archive (gzip or not), and streams it as events, checking everything it can as it goes.
 */
export async function* readArchive(
  source: Readable | AsyncIterable<Buffer | Uint8Array>,
  options: ReadArchiveOptions = {},
): AsyncGenerator<ArchiveEvent> {
  const raw = new ByteReader(sourceFailuresNamed(source));
  const head = await raw.peek(4);
  if (head.length === 0) throw new ArchiveError("archive is empty");
  let reader = raw;
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) reader = new ByteReader(gunzipped(raw));
  const limits: RunLimits = {
    bytes: options.batchBytes ?? 4 * 1024 * 1024,
    documents: options.batchDocuments ?? 10_000,
  };
  try {
    const start = await reader.peek(512);
    if (start.subarray(0, 4).equals(ARCHIVE_MAGIC)) {
      options.onFormat?.("mongodump-archive");
      yield* mongodumpArchiveEvents(reader, limits);
    } else if (start.length === 512 && start.subarray(257, 262).toString("latin1") === "ustar") {
      yield* directoryTarEvents(reader, options, limits);
    } else {
      throw new ArchiveError("not a backup archive: neither a tar, a gzip nor a mongodump archive");
    }
  } finally {
    await reader.close().catch(() => undefined);
    await raw.close().catch(() => undefined);
  }
}

/** The source's own failures, told apart from problems with the archive's content. */
async function* sourceFailuresNamed(
  source: AsyncIterable<Buffer | Uint8Array>,
): AsyncGenerator<Buffer | Uint8Array> {
  try {
    yield* source;
  } catch (error) {
    throw error instanceof ArchiveError || error instanceof ArchiveReadError
      ? error
      : new ArchiveReadError(error);
  }
}

function gunzipped(raw: ByteReader): AsyncIterable<Buffer> {
  const gunzip = createGunzip();
  const compressed = Readable.from(
    (async function* () {
      for (let chunk = await raw.readSome(1 << 20); chunk; chunk = await raw.readSome(1 << 20)) yield chunk;
    })(),
  );
  pipeline(compressed, gunzip).catch(() => undefined); // errors surface through the gunzip stream
  return (async function* () {
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (error) {
      throw gunzipFailure(error, "archive is not valid gzip");
    }
  })();
}

/**
 * A failure met while gunzipping: zlib's own errors (a `Z_*` code) mean the bytes are not valid gzip; any other
 * came from the source (the connection to S3 dropped, the disk failed) and must not be reported as a damaged
 * archive.
 */
function gunzipFailure(error: unknown, invalid: string, file?: string): Error {
  if (error instanceof ArchiveError || error instanceof ArchiveReadError) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string" && code.startsWith("Z_"))
    return new ArchiveError(`${invalid}: ${message}`, { file });
  return new ArchiveReadError(error);
}

type FileKind = "bson" | "metadata";
interface ParsedPath {
  db: string;
  /** Escaped base name, the key joining a .bson to its .metadata.json. */
  base: string;
  kind: FileKind;
  gzipped: boolean;
}

function parsePath(path: string): ParsedPath | "manifest" | undefined {
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  const file = parts[parts.length - 1];
  if (parts.length === 2 && file === MANIFEST_ENTRY) return "manifest";
  if (parts.length < 2 || !file) return undefined;
  const match = /^(.+)\.(bson|metadata\.json)(\.gz)?$/.exec(file);
  if (!match) return undefined;
  return {
    db: parts[parts.length - 2]!,
    base: match[1]!,
    kind: match[2] === "bson" ? "bson" : "metadata",
    gzipped: match[3] === ".gz",
  };
}

interface Spool {
  dir: string;
  path: string;
  documents: number;
  file: string;
}

async function* directoryTarEvents(
  reader: ByteReader,
  options: ReadArchiveOptions,
  limits: RunLimits,
): AsyncGenerator<ArchiveEvent> {
  const names = new Map<string, string>(); // db/base -> collection name (from metadata)
  const ended = new Set<string>();
  const spools = new Map<string, Spool>();
  const checks: FileCheck[] = [];
  let manifest: BackupManifest | undefined;
  let format: "atlas-ops" | "mongodump-directory" | undefined = options.manifest ? "atlas-ops" : undefined;
  if (format) options.onFormat?.(format);
  const sidecar = options.manifest;
  const check = (entry: FileCheck): void => {
    checks.push(entry);
    if (sidecar) verifyAgainstManifest(sidecar, [entry], false);
  };
  try {
    for await (const entry of tarEntries(reader)) {
      if (manifest)
        throw new ArchiveError("entry after the manifest (the manifest must be last)", { file: entry.path });
      if (!format) {
        // Ours: the single top-level directory carries the archive's name (then the manifest is required).
        const top = entry.path.split("/").find((part) => part !== "" && part !== ".") ?? "";
        format = parseArchiveName(top) ? "atlas-ops" : "mongodump-directory";
        options.onFormat?.(format);
      }
      const parsed = parsePath(entry.path);
      if (parsed === "manifest") {
        manifest = parseManifest((await readWhole(entry, undefined)).text, entry.path);
        format = "atlas-ops";
        continue;
      }
      if (!parsed) continue;
      const key = `${parsed.db}/${parsed.base}`;
      const fallbackName = unescapeCollectionName(parsed.base);
      if (parsed.kind === "metadata") {
        const { text, sha256 } = await readWhole(entry, parsed.gzipped);
        const metadata: CollectionMetadata = decodeMetadata(text, entry.path);
        const collection = metadata.collectionName ?? fallbackName;
        names.set(key, collection);
        check({ file: entry.path, sha256, metadata: true });
        yield { type: "collection-metadata", db: parsed.db, collection, metadata };
        const spool = spools.get(key);
        if (spool) {
          spools.delete(key);
          yield* replaySpool(spool, parsed.db, collection, limits);
          ended.add(key);
        }
        continue;
      }
      const hash = createHash("sha256");
      const body = readerFor(entry, hash, parsed.gzipped);
      const collection = names.get(key);
      let count = 0;
      if (collection === undefined) {
        // Stock tars may hold the .bson before its metadata: keep the documents on disk until it comes.
        const spool = await spoolDocuments(body, entry.path, options.tempDir, limits);
        spools.set(key, spool);
        count = spool.documents;
      } else {
        for await (const documents of documentRuns(body, { file: entry.path }, limits)) {
          count += documents.count;
          yield { type: "documents", db: parsed.db, collection, documents };
        }
        ended.add(key);
        yield { type: "collection-end", db: parsed.db, collection, documentCount: count };
      }
      check({ file: entry.path, sha256: hash.digest("hex"), bytes: entry.size, documents: count });
    }
    for (const [key, spool] of spools) {
      const db = key.slice(0, key.indexOf("/"));
      spools.delete(key);
      yield* replaySpool(spool, db, unescapeCollectionName(key.slice(db.length + 1)), limits);
      ended.add(key);
    }
    for (const [key, collection] of names) {
      if (!ended.has(key))
        yield { type: "collection-end", db: key.slice(0, key.indexOf("/")), collection, documentCount: 0 };
    }
    if (format === "atlas-ops") {
      const inner = manifest;
      if (!inner) throw new ArchiveError("archive is truncated: its manifest (the last entry) is missing");
      verifyAgainstManifest(sidecar ?? inner, checks, true);
      if (
        sidecar &&
        (sidecar.name !== inner.name || sidecar.collections.length !== inner.collections.length)
      ) {
        throw new ArchiveError("the archive's manifest does not match its sidecar", { file: MANIFEST_ENTRY });
      }
      yield { type: "manifest", manifest: sidecar ?? inner };
    }
  } finally {
    for (const spool of spools.values()) await rm(spool.dir, { recursive: true, force: true });
  }
}

/** The entry's bytes hashed as stored, then gunzipped when the name ends in .gz. */
function readerFor(entry: TarEntry, hash: Hash, gzipped: boolean): ByteReader {
  const hashed = (async function* () {
    for await (const chunk of entry.body) {
      hash.update(chunk);
      yield chunk;
    }
  })();
  if (!gzipped) return new ByteReader(hashed);
  const gunzip = createGunzip();
  pipeline(Readable.from(hashed), gunzip).catch(() => undefined);
  return new ByteReader(
    (async function* () {
      try {
        for await (const chunk of gunzip) yield chunk as Buffer;
      } catch (error) {
        throw gunzipFailure(error, "not valid gzip", entry.path);
      }
    })(),
  );
}

async function readWhole(
  entry: TarEntry,
  gzipped: boolean | undefined,
): Promise<{ text: string; sha256: string }> {
  if (entry.size > 16 * 1024 * 1024)
    throw new ArchiveError(`${entry.size} bytes is too large`, { file: entry.path });
  const hash = createHash("sha256");
  const reader = readerFor(entry, hash, gzipped ?? false);
  const parts: Buffer[] = [];
  for (let chunk = await reader.readSome(1 << 20); chunk; chunk = await reader.readSome(1 << 20))
    parts.push(chunk);
  return { text: Buffer.concat(parts).toString("utf8"), sha256: hash.digest("hex") };
}

async function spoolDocuments(
  body: ByteReader,
  file: string,
  tempDir: string | undefined,
  limits: RunLimits,
): Promise<Spool> {
  const dir = await mkdtemp(join(tempDir ?? tmpdir(), "atlas-ops-read-"));
  const path = join(dir, "documents.bson");
  const out: WriteStream = createWriteStream(path);
  let documents = 0;
  try {
    for await (const run of documentRuns(body, { file }, limits)) {
      documents += run.count;
      if (!out.write(run.bytes)) await once(out, "drain");
    }
    out.end();
    await once(out, "close");
  } catch (error) {
    out.destroy();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, path, documents, file };
}

async function* replaySpool(
  spool: Spool,
  db: string,
  collection: string,
  limits: RunLimits,
): AsyncGenerator<ArchiveEvent> {
  try {
    const reader = new ByteReader(createReadStream(spool.path, { highWaterMark: 1 << 20 }));
    let count = 0;
    for await (const documents of documentRuns(reader, { file: spool.file }, limits)) {
      count += documents.count;
      yield { type: "documents", db, collection, documents };
    }
    yield { type: "collection-end", db, collection, documentCount: count };
  } finally {
    await rm(spool.dir, { recursive: true, force: true });
  }
}
