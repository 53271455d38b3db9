import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../lambdas/adapters/aws-clients";
import { S3Target } from "../../lambdas/adapters/s3-target";
import type { ArchiveEvent, BackupManifest } from "../../lambdas/core/archive/events";
import { parseManifest } from "../../lambdas/core/archive/manifest";
import { readArchive } from "../../lambdas/core/archive/read-archive";
import { FileTarget } from "../../lambdas/core/targets/file-target";
import type { BackupTarget } from "../../lambdas/core/targets/target";
import { SEGMENT_BYTES } from "../../lambdas/core/archive/segments";
import {
  verifyArchive,
  verifyArchiveStep,
  verifyStream,
  type VerifyContinuation,
  type VerifyReport,
} from "../../lambdas/core/verify/verify";
import { uniqueName } from "../support/env";
import { chunks } from "../support/tar";
import { segmentedArchive, storeInDirectory, type SegmentedArchive } from "../support/segmented-archive";

const SEGMENT = 16 * 1024;
const layout = {
  collections: [
    { db: "app", collection: "orders", documents: 300 },
    { db: "app", collection: "users", documents: 10, first: 5000 },
    { db: "shop", collection: "carts", documents: 200, first: 9000 },
  ],
  segmentBytes: SEGMENT,
  checkpointTarBytes: 1,
  memberBytes: 8192,
};

/** A readable summary of what a read hands on: namespaces, counts, checkpoints. */
async function eventsOf(read: AsyncIterable<ArchiveEvent>): Promise<string[]> {
  const seen: string[] = [];
  for await (const event of read) {
    if (event.type === "checkpoint") seen.push(`checkpoint ${event.index}`);
    else if (event.type === "manifest") seen.push("manifest");
    else if (event.type === "documents") {
      for (const document of event.documents.documents())
        seen.push(`${event.db}.${event.collection} ${document.toString("hex")}`);
    } else if (event.type === "collection-end")
      seen.push(`end ${event.db}.${event.collection} ${event.documentCount}`);
    else seen.push(`metadata ${event.db}.${event.collection}`);
  }
  return seen;
}

/** The tar offset of the first `ORD-` string of segment `segment` of a file, as the sidecar places it. */
function inSegment(archive: SegmentedArchive, file: string, segment: number): number {
  const checkpoint = archive.sidecar.archive!.checkpoints!.find(
    (c) => c.file?.path === file && c.file.segment === segment,
  )!;
  return archive.tar.indexOf("ORD-", checkpoint.tarOffset) + 6;
}

/** One bit of the tar changed: a digit of an order number, so the document stays valid BSON. */
function flip(tar: Buffer, at: number): void {
  tar[at] = tar[at]! ^ 0x01;
}

describe("segments and checkpoints, read", () => {
  const archive = segmentedArchive(layout);
  const orders = `${archive.name}/app/orders.bson`;

  it("the fixture has segmented files and checkpoints inside and between them", () => {
    const entry = archive.sidecar.collections[0]!;
    expect(entry.sha256).toBeUndefined();
    expect(entry.segments!.length).toBeGreaterThan(3);
    const checkpoints = archive.sidecar.archive!.checkpoints!;
    expect(checkpoints.some((c) => c.file)).toBe(true);
    expect(checkpoints.some((c) => !c.file)).toBe(true);
    expect(archive.sidecar.collections[1]!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("resumed at any checkpoint, the read hands on exactly what a whole read hands on after it", async () => {
    const whole = await eventsOf(
      readArchive(chunks(archive.gz), { manifest: archive.sidecar, checkpointEvents: true }),
    );
    const checkpoints = archive.sidecar.archive!.checkpoints!;
    for (const [index, checkpoint] of checkpoints.entries()) {
      const resumed = await eventsOf(
        readArchive(chunks(archive.gz.subarray(checkpoint.archiveOffset)), {
          manifest: archive.sidecar,
          checkpointEvents: true,
          resumeAt: index,
        }),
      );
      expect(resumed).toEqual(whole.slice(whole.indexOf(`checkpoint ${index}`) + 1));
    }
  });

  it("a resumed read still finds damage after its checkpoint, naming the file and the segment", async () => {
    const damaged = segmentedArchive({
      ...layout,
      level: 0,
      damage: (tar) => flip(tar, inSegment(archive, orders, 3)),
    });
    const checkpoint = damaged.sidecar.archive!.checkpoints!.findIndex((c) => c.file?.segment === 2);
    const read = readArchive(
      chunks(damaged.gz.subarray(damaged.sidecar.archive!.checkpoints![checkpoint]!.archiveOffset)),
      {
        manifest: damaged.sidecar,
        resumeAt: checkpoint,
      },
    );
    await expect(eventsOf(read)).rejects.toThrow(
      `${orders}: segment 3 (of 5) SHA-256 differs from the manifest`,
    );
  });

  it("without its sidecar, a file whose segments were not cut every SEGMENT_BYTES is refused, naming it", async () => {
    const report = await verifyStream(chunks(archive.gz), undefined, "no-sidecar.tar.gz");
    expect(report.problem).toEqual({
      file: orders,
      reason: `its manifest segments are not cut every ${SEGMENT_BYTES} bytes, so they can be checked only with the archive's sidecar`,
    });
    // A file of one segment (its sha256) is checked as before.
    const small = segmentedArchive({ ...layout, segmentBytes: SEGMENT_BYTES });
    expect((await verifyStream(chunks(small.gz), undefined, "small.tar.gz")).problem).toBeUndefined();
  });

  it("a checkpoint that is not where a gzip member starts is refused, naming it", async () => {
    const sidecar = structuredClone(archive.sidecar);
    sidecar.archive!.checkpoints![2]!.archiveOffset += 7;
    await expect(eventsOf(readArchive(chunks(archive.gz), { manifest: sidecar }))).rejects.toThrow(
      /checkpoint 2/,
    );
  });

  it("a checkpoint at the wrong tar offset is refused, naming it", async () => {
    const sidecar = structuredClone(archive.sidecar);
    const between = sidecar.archive!.checkpoints!.findIndex((c) => !c.file);
    sidecar.archive!.checkpoints![between]!.tarOffset += 512;
    await expect(eventsOf(readArchive(chunks(archive.gz), { manifest: sidecar }))).rejects.toThrow(
      `the gzip members before checkpoint ${between}`,
    );
  });
});

describe("manifest with segments and checkpoints", () => {
  const archive = segmentedArchive(layout);
  const parse = (change: (manifest: BackupManifest) => void) => {
    const manifest = structuredClone(archive.sidecar);
    change(manifest);
    return () => parseManifest(JSON.stringify(manifest), "sidecar.json");
  };

  it("accepts the sidecar as written", () => {
    expect(parse(() => undefined)()).toMatchObject({ name: archive.name });
  });

  it("refuses an entry with both or neither of sha256 and segments, naming the entry", () => {
    expect(parse((m) => (m.collections[0]!.sha256 = "0".repeat(64)))).toThrow(
      "manifest entry for app.orders must have exactly one of sha256 and segments",
    );
    expect(parse((m) => delete m.collections[1]!.sha256)).toThrow(
      "manifest entry for app.users must have exactly one of sha256 and segments",
    );
    expect(parse((m) => (m.collections[0]!.segments = []))).toThrow("app.orders has an empty segments list");
  });

  it("refuses segments that do not add up to the entry", () => {
    expect(parse((m) => (m.collections[0]!.segments![1]!.bytes += 1))).toThrow(
      /app\.orders: its segments hold \d+ bytes and 300 documents, the entry \d+ bytes and 300 documents/,
    );
    expect(parse((m) => (m.collections[0]!.segments![0]!.sha256 = "x"))).toThrow("invalid segment 0");
  });

  it("refuses checkpoints out of order, not integers, or not at a segment start", () => {
    expect(parse((m) => m.archive!.checkpoints!.reverse())).toThrow("checkpoint 1 does not come after");
    expect(parse((m) => (m.archive!.checkpoints![0]!.tarOffset = 1.5))).toThrow(
      "checkpoint 0 has an invalid",
    );
    expect(parse((m) => (m.archive!.checkpoints![0]!.file!.documents += 1))).toThrow(
      /checkpoint 0 says segment 1 of .*orders\.bson starts after \d+ bytes and 63 documents/,
    );
    expect(parse((m) => (m.archive!.checkpoints = Array(100_001).fill(m.archive!.checkpoints![0])))).toThrow(
      "over the bound",
    );
  });
});

/** Drives a verify step by step, each step told it has no time left, as a workflow would. */
async function stepByStep(target: BackupTarget, key: string) {
  const continuations: VerifyContinuation[] = [];
  let resume: VerifyContinuation | undefined;
  for (;;) {
    const step = await verifyArchiveStep(target, key, key, { remainingMs: () => 1, marginMs: 0, resume });
    if (step.done) return { report: step.report, continuations };
    // The next step's event is this result, through JSON (a Step Functions state).
    resume = JSON.parse(JSON.stringify(step.continuation)) as VerifyContinuation;
    continuations.push(resume);
  }
}

const sameOutcome = (report: VerifyReport) => ({
  ok: report.ok,
  format: report.format,
  bytes: report.bytes,
  collections: report.collections,
  documents: report.documents,
  problem: report.problem,
});

describe("verify continued over invocations", () => {
  let work: string;
  const s3 = createS3Client();
  const bucket = uniqueName("verify-steps");
  const archive = segmentedArchive(layout);
  const orders = `${archive.name}/app/orders.bson`;
  let fileKey: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "verify-steps-"));
    fileKey = await storeInDirectory(archive, work);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const key = `backups/daily/${archive.name}.tar.gz`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: archive.gz }));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${key}.manifest.json`,
        Body: JSON.stringify(archive.sidecar),
      }),
    );
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("one-shot, the segmented archive verifies, its SHA-256 included", async () => {
    const report = await verifyArchive(new FileTarget(work), fileKey);
    expect(report.problem).toBeUndefined();
    expect(report).toMatchObject({
      ok: true,
      format: "atlas-ops",
      sha256: archive.sidecar.archive!.sha256,
      documents: 510,
    });
    expect(report.invocations).toBeUndefined();
  });

  it.each(["file", "s3"])("step by step from checkpoints (%s) gives the one-shot result", async (kind) => {
    const target: BackupTarget =
      kind === "file" ? new FileTarget(work) : new S3Target({ bucket, prefix: "backups/", client: s3 });
    const key = kind === "file" ? fileKey : `daily/${archive.name}.tar.gz`;
    const oneShot = await verifyArchive(target, key);
    const { report, continuations } = await stepByStep(target, key);
    // Every checkpoint is a stop when no time is left: each step reads one checkpoint interval.
    expect(continuations.map((c) => c.checkpoint)).toEqual(
      archive.sidecar.archive!.checkpoints!.map((_, i) => i),
    );
    expect(continuations.some((c) => c.inProgress?.collection === "orders")).toBe(true);
    expect(Math.max(...continuations.map((c) => JSON.stringify(c).length))).toBeLessThan(1024);
    expect(sameOutcome(report)).toEqual(sameOutcome(oneShot));
    expect(report).toMatchObject({ ok: true, invocations: continuations.length + 1 });
    expect(report.sha256).toBeUndefined();
  });

  it("a retried step (the same event again) gives the same result", async () => {
    const target = new FileTarget(work);
    const { continuations } = await stepByStep(target, fileKey);
    const untimed = (c: VerifyContinuation) => ({ ...c, durationMs: 0, longestIntervalMs: 0 });
    for (const [index, resume] of continuations.entries()) {
      const again = await verifyArchiveStep(target, fileKey, fileKey, {
        remainingMs: () => 1,
        marginMs: 0,
        resume,
      });
      const expected = continuations[index + 1];
      if (expected) expect(again.done === false && untimed(again.continuation)).toEqual(untimed(expected));
      else expect(again.done && again.report.ok).toBe(true);
    }
  });

  it("with time left, a step goes on past its checkpoints", async () => {
    const step = await verifyArchiveStep(new FileTarget(work), fileKey, fileKey, {
      remainingMs: () => 600_000,
    });
    expect(step.done && step.report).toMatchObject({ ok: true, sha256: archive.sidecar.archive!.sha256 });
  });

  it("a flipped byte in segment 2 fails the continued verify, naming the file and segment 2", async () => {
    const damaged = segmentedArchive({
      ...layout,
      level: 0,
      damage: (tar) => flip(tar, inSegment(archive, orders, 2)),
    });
    const dir = await mkdtemp(join(tmpdir(), "verify-damaged-"));
    try {
      const key = await storeInDirectory(damaged, dir);
      const oneShot = await verifyArchive(new FileTarget(dir), key);
      expect(oneShot.problem).toEqual({
        file: orders,
        reason: "segment 2 (of 5) SHA-256 differs from the manifest (content changed)",
      });
      const { report, continuations } = await stepByStep(new FileTarget(dir), key);
      expect(continuations.length).toBeGreaterThan(0);
      expect(report.problem).toEqual(oneShot.problem);
      expect(report.ok).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a sidecar that changed between steps fails the verify", async () => {
    const { continuations } = await stepByStep(new FileTarget(work), fileKey);
    const step = await verifyArchiveStep(new FileTarget(work), fileKey, fileKey, {
      resume: { ...continuations[0]!, archiveSha256: "0".repeat(64) },
    });
    expect(step.done && step.report.problem?.reason).toMatch(/the sidecar changed since the verify started/);
  });
});
