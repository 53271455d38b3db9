import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { BSON } from "mongodb";
import { Header } from "tar";
import { DocumentsDigest } from "../../lambdas/core/archive/documents-digest";
import type { BackupManifest, Checkpoint, ManifestCollection } from "../../lambdas/core/archive/events";
import { encodeManifest } from "../../lambdas/core/archive/manifest";
import { encodeMetadata } from "../../lambdas/core/archive/metadata";
import { SegmentHasher } from "../../lambdas/core/archive/segments";
import { orderDocument } from "./seed";

/**
 * An archive of ours with segments and checkpoints, laid out as docs/archive-format.md says, for the readers'
 * tests until the writer makes them: `.bson` files hashed with the shared SegmentHasher at a small segment
 * size, a checkpoint at every segment boundary and at the first header after `checkpointTarBytes` of tar,
 * and a new gzip member at every checkpoint (and every `memberBytes` of tar between them).
 */
export interface SegmentedArchiveOptions {
  name?: string;
  finishedAt?: string;
  collections: { db: string; collection: string; documents: number; first?: number }[];
  segmentBytes: number;
  checkpointTarBytes?: number;
  memberBytes?: number;
  /** Gzip level of the members (0: stored blocks, whose sizes do not depend on the bytes). */
  level?: number;
  /**
   * Changes the tar after the sidecar was made from it, as damage after the backup would; with `level` 0
   * the offsets of the checkpoints stay right.
   */
  damage?: (tar: Buffer) => void;
}

export interface SegmentedArchive {
  name: string;
  gz: Buffer;
  tar: Buffer;
  /** The sidecar, as the writer commits it (`archive` with checksum, size and checkpoints). */
  sidecar: BackupManifest;
  /** Each .bson's raw documents, by `db.collection`. */
  documents: Map<string, Buffer[]>;
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

export function segmentedArchive(options: SegmentedArchiveOptions): SegmentedArchive {
  const name = options.name ?? "opendev_backup_20260101_020000";
  const parts: Buffer[] = [];
  let tarBytes = 0;
  const checkpointsAt: { tarOffset: number; file?: Checkpoint["file"] }[] = [];
  let lastCheckpoint = 0;
  let betweenDue = false;
  const header = (path: string, type: "File" | "Directory", size: number) => {
    if (betweenDue) {
      checkpointsAt.push({ tarOffset: tarBytes });
      lastCheckpoint = tarBytes;
      betweenDue = false;
    }
    const block = Buffer.alloc(512);
    new Header({ path, type, size, mode: type === "File" ? 0o644 : 0o755, mtime: new Date(0) }).encode(
      block,
      0,
    );
    parts.push(block);
    tarBytes += 512;
  };
  const data = (bytes: Buffer) => {
    parts.push(bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512));
    tarBytes += bytes.length + ((512 - (bytes.length % 512)) % 512);
  };
  header(`${name}/`, "Directory", 0);
  const collections: ManifestCollection[] = [];
  const documents = new Map<string, Buffer[]>();
  const databases: string[] = [];
  for (const spec of options.collections) {
    if (!databases.includes(spec.db)) {
      databases.push(spec.db);
      header(`${name}/${spec.db}/`, "Directory", 0);
    }
    const base = `${name}/${spec.db}/${spec.collection}`;
    const metadata = encodeMetadata({
      collectionName: spec.collection,
      options: {},
      indexes: [{ v: 2, key: { _id: 1 }, name: "_id_" }],
    });
    header(`${base}.metadata.json`, "File", metadata.length);
    data(metadata);
    const docs = Array.from({ length: spec.documents }, (_, i) =>
      Buffer.from(BSON.serialize(orderDocument((spec.first ?? 0) + i))),
    );
    documents.set(`${spec.db}.${spec.collection}`, docs);
    const bson = Buffer.concat(docs);
    header(`${base}.bson`, "File", bson.length);
    const dataOffset = tarBytes;
    const hasher = new SegmentHasher(options.segmentBytes);
    const digest = new DocumentsDigest();
    let offset = 0;
    for (const doc of docs) {
      digest.add(doc);
      offset += doc.length;
      if (hasher.add(doc) && offset < bson.length) {
        const state = hasher.state();
        const file = {
          path: `${base}.bson`,
          offset,
          documents: state.documents,
          segment: state.segments.length,
        };
        checkpointsAt.push({ tarOffset: dataOffset + offset, file });
        lastCheckpoint = dataOffset + offset;
      }
    }
    data(bson);
    const sums = hasher.finish();
    collections.push({
      db: spec.db,
      collection: spec.collection,
      file: `${base}.bson`,
      metadataFile: `${base}.metadata.json`,
      documents: docs.length,
      bytes: bson.length,
      ...sums,
      metadataSha256: sha256(metadata),
      documentsDigest: digest.hex(),
    });
    if (options.checkpointTarBytes !== undefined && tarBytes - lastCheckpoint >= options.checkpointTarBytes) {
      betweenDue = true;
    }
  }
  const manifest: BackupManifest = {
    formatVersion: 1,
    app: "opendev",
    kind: "daily",
    name,
    startedAt: "2026-01-01T02:00:00.000Z",
    finishedAt: options.finishedAt ?? "2026-01-01T02:01:00.000Z",
    server: { version: "7.0.0" },
    tool: { name: "atlas-ops", version: "test" },
    databases,
    collections,
    totals: {
      collections: collections.length,
      documents: collections.reduce((sum, c) => sum + c.documents, 0),
      bytes: collections.reduce((sum, c) => sum + c.bytes, 0),
    },
  };
  const manifestJson = encodeManifest(manifest);
  header(`${name}/manifest.json`, "File", manifestJson.length);
  data(manifestJson);
  parts.push(Buffer.alloc(1024));
  const tar = Buffer.concat(parts);
  // Gzip members: one starts at every checkpoint, and every memberBytes of tar in between.
  const cuts = new Set<number>(checkpointsAt.map((c) => c.tarOffset));
  const memberBytes = options.memberBytes ?? 64 * 1024;
  for (let at = memberBytes; at < tar.length; at += memberBytes) cuts.add(at);
  const sorted = [0, ...[...cuts].sort((a, b) => a - b), tar.length];
  const archiveOffsetOf = new Map<number, number>();
  const compress = (bytes: Buffer): Buffer => {
    const members: Buffer[] = [];
    let compressed = 0;
    for (let i = 0; i + 1 < sorted.length; i += 1) {
      archiveOffsetOf.set(sorted[i]!, compressed);
      const member = gzipSync(bytes.subarray(sorted[i], sorted[i + 1]), { level: options.level ?? 1 });
      members.push(member);
      compressed += member.length;
    }
    return Buffer.concat(members);
  };
  let gz = compress(tar);
  const intact = gz;
  if (options.damage) {
    const damaged = Buffer.from(tar);
    options.damage(damaged);
    gz = compress(damaged);
    compress(tar); // the offsets are the intact archive's, as in its sidecar
  }
  const checkpoints: Checkpoint[] = checkpointsAt.map((c) => ({
    archiveOffset: archiveOffsetOf.get(c.tarOffset)!,
    tarOffset: c.tarOffset,
    ...(c.file ? { file: c.file } : {}),
  }));
  const sidecar: BackupManifest = {
    ...manifest,
    archive: { sha256: sha256(intact), bytes: intact.length, checkpoints },
  };
  return { name, gz, tar, sidecar, documents };
}

/** Stores the archive and its sidecar as a file target does: `<dir>/<kind>/<name>.tar.gz(.manifest.json)`. */
export async function storeInDirectory(archive: SegmentedArchive, dir: string): Promise<string> {
  const { mkdir, writeFile } = await import("node:fs/promises");
  const key = `${archive.sidecar.kind}/${archive.name}.tar.gz`;
  await mkdir(`${dir}/${archive.sidecar.kind}`, { recursive: true });
  await writeFile(`${dir}/${key}`, archive.gz);
  await writeFile(`${dir}/${key}.manifest.json`, `${JSON.stringify(archive.sidecar, null, 2)}\n`);
  return key;
}
