import type { Readable } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { BACKUP_KINDS, type BackupKind, type BackupManifest } from "../core/archive/events";
import { parseManifest } from "../core/archive/manifest";
import {
  ARCHIVE_SUFFIX,
  CONTINUATIONS_PREFIX,
  MAX_SIDECAR_BYTES,
  SIDECAR_SUFFIX,
} from "../core/archive/names";
import {
  archiveKey,
  BackupConflictError,
  newestFirst,
  type ArchiveUpload,
  type BackupTarget,
  type ListOptions,
  type OpenArchiveOptions,
  type OpenedArchive,
  type StoredBackup,
  type UploadState,
} from "../core/targets/target";
import { createS3Client } from "./aws-clients";
import { S3ArchiveUpload, type S3ArchiveUploadOptions } from "./s3-archive-upload";

export interface S3TargetOptions {
  bucket: string;
  /** Key prefix, "" or ending in "/". */
  prefix?: string;
  kmsKeyId?: string;
  client?: S3Client;
  /** Multipart part size (default: `choosePartSize` of the data's size; S3's minimum is 5 MiB). */
  partSize?: number;
}

/**
 * Backups in S3: `<prefix><kind>/<name>.tar.gz` streamed as a multipart upload of this run's own, tagged
 * `kind=<kind>`, then the sidecar `<same>.manifest.json` (the commit marker); both are created only if absent,
 * so of two runs exactly one commits. A failure aborts this run's upload and tries to delete the archive
 * version this run completed, nothing else; where the role may not delete (the deployed backup role), a stored
 * archive without its sidecar stays invisible to listings until the bucket's lifecycle rule expires it.
 */
export class S3Target implements BackupTarget {
  readonly url: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(private readonly options: S3TargetOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ? options.prefix.replace(/\/*$/, "/") : "";
    this.client = options.client ?? createS3Client();
    this.url = `s3://${this.bucket}/${this.prefix}`;
  }

  async list(kind?: BackupKind, options: ListOptions = {}): Promise<StoredBackup[]> {
    const sidecarKeys: { kind: BackupKind; key: string }[] = [];
    for (const k of kind ? [kind] : BACKUP_KINDS) {
      let token: string | undefined;
      do {
        const page = await this.s3(`list s3://${this.bucket}/${this.prefix}${k}/`, () =>
          this.client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: `${this.prefix}${k}/`,
              ContinuationToken: token,
            }),
          ),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key?.endsWith(ARCHIVE_SUFFIX + SIDECAR_SUFFIX))
            sidecarKeys.push({ kind: k, key: object.Key });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    }
    const backups: StoredBackup[] = [];
    // A few sidecars at a time: listing stays fast without flooding the connection pool.
    for (let i = 0; i < sidecarKeys.length; i += 8) {
      const batch = sidecarKeys.slice(i, i + 8);
      // S3 failures fail the listing; a sidecar whose content is unusable is skipped and reported.
      const manifests = await Promise.all(
        batch.map((entry) =>
          this.readObject(entry.key).catch((error: unknown) => {
            if (error instanceof SidecarTooLarge) return error;
            throw error;
          }),
        ),
      );
      batch.forEach((entry, index) => {
        const text = manifests[index];
        if (text === undefined) return;
        const url = `s3://${this.bucket}/${entry.key}`;
        const relative = entry.key.slice(this.prefix.length, -SIDECAR_SUFFIX.length);
        const name = relative.slice(entry.kind.length + 1, -ARCHIVE_SUFFIX.length);
        let manifest: BackupManifest;
        try {
          if (text instanceof SidecarTooLarge) throw text;
          manifest = parseManifest(text, url);
        } catch (error) {
          options.onUnreadable?.({ url, reason: (error as Error).message });
          return;
        }
        backups.push({ name, kind: entry.kind, key: relative, url: this.urlOf(relative), manifest });
      });
    }
    return backups.sort(newestFirst);
  }

  async latest(kind: BackupKind, options?: ListOptions): Promise<StoredBackup | undefined> {
    return (await this.list(kind, options))[0];
  }

  async openArchive(key: string, options: OpenArchiveOptions = {}): Promise<OpenedArchive> {
    // A ranged GetObject for a read resumed inside the archive.
    const range = options.start ? { Range: `bytes=${options.start}-` } : {};
    const response = await this.s3(`read ${this.urlOf(key)}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ...range })),
    );
    return { stream: response.Body as Readable, bytes: objectSize(response) };
  }

  async readSidecar(archiveKeyValue: string): Promise<BackupManifest | undefined> {
    const key = this.prefix + archiveKeyValue + SIDECAR_SUFFIX;
    const text = await this.readObject(key);
    return text === undefined ? undefined : parseManifest(text, `s3://${this.bucket}/${key}`);
  }

  /** Nothing to do: an interrupted run's multipart upload is aborted by the bucket's lifecycle rule. */
  async clearAbandoned(): Promise<string[]> {
    return [];
  }

  async startArchive(kind: BackupKind, name: string, expectedBytes?: number): Promise<ArchiveUpload> {
    const partSize = this.options.partSize ?? choosePartSize(expectedBytes);
    return this.archiveUpload(
      kind,
      name,
      await S3ArchiveUpload.start(this.uploadOptions(kind, name, partSize)),
    );
  }

  async resumeArchive(kind: BackupKind, name: string, state: UploadState): Promise<ArchiveUpload> {
    // The part size the upload started with (its state says), whatever this target would choose now.
    return this.archiveUpload(kind, name, S3ArchiveUpload.resume(this.uploadOptions(kind, name, 0), state));
  }

  /** Under `.atlas-ops/continuations/`, which the bucket's lifecycle rule expires; encrypted like the archives. */
  async saveContinuation(relativeKey: string, bytes: Buffer): Promise<void> {
    const key = `${this.prefix}${relativeKey}`;
    await this.s3(`store s3://${this.bucket}/${key}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentType: "application/octet-stream",
          ...this.encryption(),
        }),
      ),
    );
  }

  async loadContinuation(key: string): Promise<Buffer> {
    if (!key.startsWith(CONTINUATIONS_PREFIX)) throw new Error(`${key} is not a continuation of this target`);
    const response = await this.s3(`read s3://${this.bucket}/${this.prefix}${key}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key })),
    );
    return Buffer.from(await response.Body!.transformToByteArray());
  }

  private encryption() {
    return this.options.kmsKeyId
      ? { ServerSideEncryption: "aws:kms" as const, SSEKMSKeyId: this.options.kmsKeyId }
      : {};
  }

  private uploadOptions(kind: BackupKind, name: string, partSize: number): S3ArchiveUploadOptions {
    return {
      client: this.client,
      bucket: this.bucket,
      key: this.prefix + archiveKey(kind, name),
      partSize,
      queueSize: 3,
      create: { ContentType: "application/gzip", Tagging: `kind=${kind}`, ...this.encryption() },
      describe: describeS3Error,
    };
  }

  private archiveUpload(kind: BackupKind, name: string, upload: S3ArchiveUpload): ArchiveUpload {
    const key = this.prefix + archiveKey(kind, name);
    const encryption = this.encryption();
    return {
      size: () => upload.bytes,
      suspend: () => upload.suspend(),
      write: (bytes) => upload.write(bytes),
      reserve: (length) => upload.reserve(length),
      fill: (hole, bytes) => upload.fill(hole, bytes),
      complete: () => upload.complete(),
      commit: async (manifest) => {
        try {
          // Only if absent: a sidecar is never replaced, so a committed pair never changes.
          await this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: key + SIDECAR_SUFFIX,
              Body: `${JSON.stringify(manifest, null, 2)}\n`,
              ContentType: "application/json",
              Tagging: `kind=${kind}`,
              IfNoneMatch: "*",
              ...encryption,
            }),
          );
        } catch (error) {
          if ((error as { name?: string }).name === "PreconditionFailed") {
            throw new BackupConflictError(
              `s3://${this.bucket}/${key}${SIDECAR_SUFFIX} already exists: another backup committed it`,
              {
                cause: error,
              },
            );
          }
          throw describeS3Error(`store s3://${this.bucket}/${key}${SIDECAR_SUFFIX}`, error);
        }
        return `s3://${this.bucket}/${key}`;
      },
      abort: () => upload.abort(),
    };
  }

  private urlOf(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  private async readObject(key: string): Promise<string | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if ((response.ContentLength ?? 0) > MAX_SIDECAR_BYTES) {
        (response.Body as Readable | undefined)?.destroy();
        throw new SidecarTooLarge(
          `s3://${this.bucket}/${key}: sidecar is ${response.ContentLength} bytes, over the ` +
            `${MAX_SIDECAR_BYTES}-byte limit of a manifest`,
        );
      }
      return await response.Body!.transformToString("utf8");
    } catch (error) {
      if (error instanceof SidecarTooLarge) throw error;
      if ((error as { name?: string }).name === "NoSuchKey") return undefined;
      throw describeS3Error(`read s3://${this.bucket}/${key}`, error);
    }
  }

  private async s3<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw describeS3Error(what, error);
    }
  }
}

/** The whole object's size: a ranged response's ContentLength is the range's, its ContentRange ends "/<size>". */
function objectSize(response: { ContentLength?: number; ContentRange?: string }): number {
  const whole = /\/(\d+)$/.exec(response.ContentRange ?? "")?.[1];
  return whole ? Number(whole) : (response.ContentLength ?? 0);
}

const MIB = 1024 * 1024;
export const MIN_PART_BYTES = 8 * MIB;
/** Up to five parts are in memory at once (the current one, one held for a header, three in flight). */
export const MAX_PART_BYTES = 64 * MIB;

/**
 * The part size for an archive of data of `expectedBytes` (uncompressed): S3 allows 10,000 parts, so parts
 * grow with the data, with room for it to grow by half during the run and for gzip to gain nothing (random
 * payloads), from 8 MiB up to 64 MiB (a 625 GiB archive).
 */
export function choosePartSize(expectedBytes: number | undefined): number {
  if (!expectedBytes || !Number.isFinite(expectedBytes)) return MIN_PART_BYTES;
  const needed = Math.ceil((expectedBytes * 1.5) / 9_000 / MIB) * MIB;
  return Math.min(MAX_PART_BYTES, Math.max(MIN_PART_BYTES, needed));
}

/** A sidecar object too large to be a manifest: refused before it is read into memory. */
class SidecarTooLarge extends Error {
  override name = "SidecarTooLarge";
}

/** S3 errors say little on their own ("AccessDenied"): say what was being done and on which object. */
export function describeS3Error(what: string, error: unknown): Error {
  const name = (error as { name?: string }).name ?? "Error";
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`cannot ${what}: ${name}: ${message}`, { cause: error });
}
