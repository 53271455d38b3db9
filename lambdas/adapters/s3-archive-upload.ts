import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { ArchiveDigest } from "../core/targets/archive-digest";
import { BackupConflictError, type ArchiveHole, type UploadState } from "../core/targets/target";

/** S3 allows at most this many parts, each at least 5 MiB except the last. */
const MAX_PARTS = 10_000;

interface Part {
  number: number;
  offset: number;
  pieces: (Buffer | S3Hole)[];
  size: number;
  unfilled: number;
  closed: boolean;
}

/** How `suspend` describes the upload (JSON): held bytes are indexes into the state's blobs. */
interface SuspendedFields {
  key: string;
  /** Every part but the last is this size: a resumed upload keeps it. */
  partSize: number;
  uploadId: string;
  size: number;
  uploaded: CompletedPart[];
  held: SuspendedPart[];
  current: SuspendedPart;
}

interface SuspendedPart {
  number: number;
  offset: number;
  size: number;
  pieces: { blob?: number; hole?: { offset: number; length: number } }[];
}

interface S3Hole extends ArchiveHole {
  part: Part;
  bytes?: Buffer;
}

export interface S3ArchiveUploadOptions {
  client: S3Client;
  bucket: string;
  key: string;
  partSize: number;
  /** Parts uploaded at once. */
  queueSize: number;
  /** CreateMultipartUpload's other fields: content type, tagging, encryption. */
  create: Record<string, unknown>;
  describe: (what: string, error: unknown) => Error;
}

/**
 * One multipart upload of one run, driven by hand because a hole needs a part that is uploaded after the parts
 * that follow it (`@aws-sdk/lib-storage` uploads a stream's parts in order): the part holding a hole is kept
 * in memory until the hole is filled, while later parts go up as they fill. Parts are `partSize` bytes, so a
 * kept part always holds a whole part's worth of the data that follows its hole, as S3's 5 MiB minimum needs.
 * The archive is created only if its key is free (`If-None-Match: *`): of two runs, exactly one stores it.
 */
export class S3ArchiveUpload {
  private current: Part;
  private readonly inFlight = new Set<Promise<void>>();
  /** Closed parts that wait for a hole to be filled. */
  private readonly held = new Set<Part>();
  private readonly uploaded: CompletedPart[] = [];
  private readonly digest: ArchiveDigest;
  private failure: Error | undefined;
  private size = 0;
  /** The version this run created, once the upload is complete (versioned buckets). */
  private stored: { versionId?: string } | undefined;

  private constructor(
    private readonly options: S3ArchiveUploadOptions,
    private readonly uploadId: string,
    state?: UploadState,
  ) {
    this.current = this.newPart(1, 0);
    this.digest = state ? ArchiveDigest.resumed() : new ArchiveDigest();
    if (state) this.restore(state);
  }

  /** Goes on with an upload that an earlier invocation suspended (`suspend`). */
  static resume(options: S3ArchiveUploadOptions, state: UploadState): S3ArchiveUpload {
    const fields = state.fields as unknown as SuspendedFields;
    if (fields.key !== options.key) {
      throw new Error(`continuation is for s3://${options.bucket}/${fields.key}, not ${options.key}`);
    }
    return new S3ArchiveUpload({ ...options, partSize: fields.partSize }, fields.uploadId, state);
  }

  static async start(options: S3ArchiveUploadOptions): Promise<S3ArchiveUpload> {
    const url = `s3://${options.bucket}/${options.key}`;
    try {
      const created = await options.client.send(
        new CreateMultipartUploadCommand({
          Bucket: options.bucket,
          Key: options.key,
          ChecksumAlgorithm: "CRC32",
          ...options.create,
        }),
      );
      return new S3ArchiveUpload(options, created.UploadId!);
    } catch (error) {
      throw options.describe(`start the upload to ${url}`, error);
    }
  }

  get url(): string {
    return `s3://${this.options.bucket}/${this.options.key}`;
  }

  get bytes(): number {
    return this.size;
  }

  /**
   * Waits for the parts in flight, then describes the upload: its id, the parts stored (their ETags and
   * checksums: a part number a crashed invocation also stored is overwritten by the retry, and only the parts
   * listed here are completed), and the parts held in memory with their holes.
   */
  async suspend(): Promise<UploadState> {
    await Promise.all(this.inFlight);
    this.throwIfFailed();
    const blobs: Buffer[] = [];
    const part = (p: Part): SuspendedPart => ({
      number: p.number,
      offset: p.offset,
      size: p.size,
      pieces: p.pieces.map((piece) => {
        if (Buffer.isBuffer(piece)) return { blob: blobs.push(piece) - 1 };
        return {
          hole: { offset: piece.offset, length: piece.length },
          ...(piece.bytes ? { blob: blobs.push(piece.bytes) - 1 } : {}),
        };
      }),
    });
    const fields: SuspendedFields = {
      key: this.options.key,
      partSize: this.options.partSize,
      uploadId: this.uploadId,
      size: this.size,
      uploaded: this.uploaded.map((p) => ({
        PartNumber: p.PartNumber!,
        ETag: p.ETag!,
        ...(p.ChecksumCRC32 ? { ChecksumCRC32: p.ChecksumCRC32 } : {}),
      })),
      held: [...this.held].map(part),
      current: part(this.current),
    };
    this.failure = new Error(`${this.url}: upload suspended`);
    return { fields: fields as unknown as Record<string, unknown>, blobs };
  }

  private restore(state: UploadState): void {
    const fields = state.fields as unknown as SuspendedFields;
    const blob = (index: number): Buffer => {
      const bytes = state.blobs[index];
      if (!bytes) throw new Error(`${this.url}: continuation lacks held bytes #${index}`);
      return bytes;
    };
    const part = (p: SuspendedPart, closed: boolean): Part => {
      const restored: Part = {
        number: p.number,
        offset: p.offset,
        pieces: [],
        size: p.size,
        unfilled: 0,
        closed,
      };
      for (const piece of p.pieces) {
        if (!piece.hole) {
          restored.pieces.push(blob(piece.blob!));
          continue;
        }
        const hole: S3Hole = { ...piece.hole, part: restored };
        if (piece.blob !== undefined) hole.bytes = blob(piece.blob);
        else restored.unfilled += 1;
        restored.pieces.push(hole);
      }
      return restored;
    };
    this.size = fields.size;
    this.uploaded.push(...fields.uploaded);
    for (const held of fields.held) this.held.add(part(held, true));
    this.current = part(fields.current, false);
  }

  async write(bytes: Buffer): Promise<void> {
    this.throwIfFailed();
    // Cut at part boundaries: every part but the last is `partSize` bytes (or a hole's length more).
    for (let rest = bytes; rest.length > 0;) {
      const room = Math.max(0, this.options.partSize - this.current.size);
      const piece = rest.length <= room ? rest : rest.subarray(0, room);
      this.current.pieces.push(piece);
      this.current.size += piece.length;
      this.size += piece.length;
      rest = rest.subarray(piece.length);
      if (this.current.size >= this.options.partSize) await this.closeCurrent();
    }
  }

  async reserve(length: number): Promise<ArchiveHole> {
    this.throwIfFailed();
    const hole: S3Hole = { offset: this.size, length, part: this.current };
    this.current.pieces.push(hole);
    this.current.unfilled += 1;
    this.current.size += length;
    this.size += length;
    if (this.current.size >= this.options.partSize) await this.closeCurrent();
    return { offset: hole.offset, length: hole.length };
  }

  async fill(reserved: ArchiveHole, bytes: Buffer): Promise<void> {
    this.throwIfFailed();
    const hole = this.findHole(reserved);
    if (bytes.length !== hole.length) {
      throw new Error(`${this.url}: ${bytes.length} bytes for a hole of ${hole.length} at ${hole.offset}`);
    }
    hole.bytes = bytes;
    hole.part.unfilled -= 1;
    if (hole.part.closed && hole.part.unfilled === 0) {
      this.held.delete(hole.part);
      await this.send(hole.part);
    }
  }

  /** Uploads what is left, completes the upload if the key is still free, and reads back what was out of order. */
  async complete(): Promise<{ sha256: string; bytes: number }> {
    this.throwIfFailed();
    if (this.current.size > 0 || this.uploaded.length === 0) await this.closeCurrent();
    await Promise.all(this.inFlight);
    this.throwIfFailed();
    if (this.held.size > 0) {
      throw new Error(`${this.url}: a reserved part was never filled`);
    }
    try {
      const completed = await this.options.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.options.bucket,
          Key: this.options.key,
          UploadId: this.uploadId,
          IfNoneMatch: "*",
          MultipartUpload: { Parts: [...this.uploaded].sort((a, b) => a.PartNumber! - b.PartNumber!) },
        }),
      );
      this.stored = { versionId: completed.VersionId };
    } catch (error) {
      if ((error as { name?: string }).name === "PreconditionFailed" || gone(error)) {
        throw new BackupConflictError(`${this.url} already exists: another backup stored it first`, {
          cause: error,
        });
      }
      throw this.options.describe(`complete the upload to ${this.url}`, error);
    }
    const sha256 = await this.digest.finish(this.size, (offset) => this.readFrom(offset));
    return { sha256, bytes: this.size };
  }

  /** Aborts this run's upload, and deletes the archive version it completed, if any. Never throws. */
  async abort(): Promise<void> {
    this.failure ??= new Error("upload aborted");
    await Promise.allSettled(this.inFlight);
    const { client, bucket, key } = this.options;
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId }))
      .catch(() => undefined);
    if (this.stored) {
      // Only the version this run created; without versioning the key is this run's (created only if free).
      await client
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: this.stored.versionId }))
        .catch(() => undefined);
    }
  }

  private async readFrom(offset: number): Promise<AsyncIterable<Buffer>> {
    try {
      const response = await this.options.client.send(
        new GetObjectCommand({
          Bucket: this.options.bucket,
          Key: this.options.key,
          VersionId: this.stored?.versionId,
          Range: `bytes=${offset}-`,
        }),
      );
      return response.Body as Readable;
    } catch (error) {
      throw this.options.describe(`read back ${this.url}`, error);
    }
  }

  private newPart(number: number, offset: number): Part {
    return { number, offset, pieces: [], size: 0, unfilled: 0, closed: false };
  }

  private async closeCurrent(): Promise<void> {
    const part = this.current;
    part.closed = true;
    if (part.number > MAX_PARTS) {
      throw new Error(`${this.url}: more than ${MAX_PARTS} parts of ${this.options.partSize} bytes`);
    }
    this.current = this.newPart(part.number + 1, this.size);
    if (part.unfilled === 0) await this.send(part);
    else this.held.add(part);
  }

  private async send(part: Part): Promise<void> {
    while (this.inFlight.size >= this.options.queueSize) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const body = Buffer.concat(part.pieces.map((piece) => (Buffer.isBuffer(piece) ? piece : piece.bytes!)));
    part.pieces = [];
    this.digest.add(part.offset, body);
    const { client, bucket, key } = this.options;
    const sending = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: this.uploadId,
          PartNumber: part.number,
          Body: body,
          ChecksumAlgorithm: "CRC32",
        }),
      )
      .then((result) => {
        this.uploaded.push({
          PartNumber: part.number,
          ETag: result.ETag,
          ChecksumCRC32: result.ChecksumCRC32,
        });
      })
      .catch((error: unknown) => {
        this.failure ??= gone(error)
          ? new BackupConflictError(
              `${this.url}: the upload no longer exists (another run of this backup completed or aborted it)`,
              { cause: error },
            )
          : this.options.describe(`upload part ${part.number} of ${this.url}`, error);
      })
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  private findHole(reserved: ArchiveHole): S3Hole {
    for (const part of [this.current, ...this.held]) {
      for (const piece of part.pieces) {
        if (!Buffer.isBuffer(piece) && piece.offset === reserved.offset) return piece;
      }
    }
    throw new Error(`${this.url}: no hole at offset ${reserved.offset}`);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

/** A step retried after a run that in fact finished: its upload was completed (or aborted) meanwhile. */
function gone(error: unknown): boolean {
  return (error as { name?: string }).name === "NoSuchUpload";
}
