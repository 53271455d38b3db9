import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { BSON } from "mongodb";
import { describe, expect, it } from "vitest";
import { DocumentsDigest } from "../../lambdas/core/archive/documents-digest";
import type { BackupManifest, ManifestCollection } from "../../lambdas/core/archive/events";
import { encodeManifest } from "../../lambdas/core/archive/manifest";
import { encodeMetadata } from "../../lambdas/core/archive/metadata";
import { verifyStream } from "../../lambdas/core/verify/verify";
import { chunks, tarOf, type CraftedEntry } from "../support/tar";

/**
 * Verify with a sidecar costs the same as without one, however many collections the archive holds (issue 13
 * item 6: each file was checked by a scan of the whole manifest). `VERIFY_MANY_COLLECTIONS=20000` measures
 * the case of the issue; the default keeps the test short.
 */
const collectionCount = Number(process.env.VERIFY_MANY_COLLECTIONS ?? 5000);
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Our archive of one database with `count` one-document collections, and its sidecar. */
function archiveOf(count: number): { gz: Buffer; sidecar: BackupManifest } {
  const name = "opendev_backup_20260101_020000";
  const entries: CraftedEntry[] = [{ path: `${name}/`, type: "Directory" }];
  const collections: ManifestCollection[] = [];
  for (let i = 0; i < count; i += 1) {
    const collection = `c${i}`;
    const metadata = encodeMetadata({
      collectionName: collection,
      options: {},
      indexes: [{ v: 2, key: { _id: 1 }, name: "_id_" }],
    });
    const bson = Buffer.from(BSON.serialize({ _id: i, name: `document ${i}` }));
    const digest = new DocumentsDigest();
    digest.add(bson);
    const file = `${name}/app/${collection}.bson`;
    const metadataFile = `${name}/app/${collection}.metadata.json`;
    entries.push({ path: metadataFile, data: metadata }, { path: file, data: bson });
    collections.push({
      db: "app",
      collection,
      file,
      metadataFile,
      documents: 1,
      bytes: bson.length,
      sha256: sha256(bson),
      metadataSha256: sha256(metadata),
      documentsDigest: digest.hex(),
    });
  }
  const manifest: BackupManifest = {
    formatVersion: 1,
    app: "opendev",
    kind: "daily",
    name,
    startedAt: "2026-01-01T02:00:00.000Z",
    finishedAt: "2026-01-01T02:00:01.000Z",
    server: { version: "7.0.0" },
    tool: { name: "atlas-ops", version: "test" },
    databases: ["app"],
    collections,
    totals: { collections: count, documents: count, bytes: collections.reduce((sum, c) => sum + c.bytes, 0) },
  };
  entries.push({ path: `${name}/manifest.json`, data: encodeManifest(manifest) });
  const gz = gzipSync(tarOf(entries), { level: 1 });
  return { gz, sidecar: { ...manifest, archive: { sha256: sha256(gz), bytes: gz.length } } };
}

describe("verify of an archive with many collections", () => {
  it(`checks ${collectionCount} collections against the sidecar in about the time it takes without it`, async () => {
    const { gz, sidecar } = archiveOf(collectionCount);
    const timed = async (withSidecar: boolean) => {
      const started = performance.now();
      const report = await verifyStream(chunks(gz), withSidecar ? sidecar : undefined, "many.tar.gz");
      const ms = performance.now() - started;
      expect(report.problem).toBeUndefined();
      expect(report.collections).toHaveLength(collectionCount);
      return ms;
    };
    const warm = archiveOf(100);
    await verifyStream(chunks(warm.gz), warm.sidecar, "warm-up.tar.gz"); // JIT and module loading, once
    const without = await timed(false);
    const withSidecar = await timed(true);
    console.log(
      `verify of ${collectionCount} collections: ${(without / 1000).toFixed(2)} s without the sidecar, ` +
        `${(withSidecar / 1000).toFixed(2)} s with it`,
    );
    // Linear: the sidecar adds one lookup per file. The old scan per file made it ~8x slower at 5,000.
    expect(withSidecar).toBeLessThan(2 * without + 1000);
  }, 600_000);
});
