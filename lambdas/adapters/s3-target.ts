import { PassThrough, type Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { BACKUP_KINDS, type BackupKind, type BackupManifest } from "../core/archive/events";
import { parseManifest } from "../core/archive/manifest";
import { ARCHIVE_SUFFIX, MAX_SIDECAR_BYTES, SIDECAR_SUFFIX } from "../core/archive/names";
import {
  archiveKey,
  newestFirst,
  type ArchiveUpload,
  type BackupTarget,
  type ListOptions,
  type StoredBackup,
} from "../core/targets/target";
import { createS3Client } from "./aws-clients";

export interface S3TargetOptions {
  bucket: string;
  /** Key prefix, "" or ending in "/". */
  prefix?: string;
  kmsKeyId?: string;
  client?: S3Client;
  /** Multipart part size (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
}

/**
 * Backups in S3: `<prefix><kind>/<name>.tar.gz` streamed as a multipart upload, tagged `kind=<kind>`, then the
 * sidecar `<same>.manifest.json` (the commit marker). A failure aborts the upload and tries to delete what was
 * stored; where the role may not delete (the deployed backup role), a stored archive without its sidecar stays
 * invisible to listings until the bucket's lifecycle rule expires it.
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

  async openArchive(key: string): Promise<Readable> {
    const response = await this.s3(`read ${this.urlOf(key)}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key })),
    );
    return response.Body as Readable;
  }

  async readSidecar(archiveKeyValue: string): Promise<BackupManifest | undefined> {
    const key = this.prefix + archiveKeyValue + SIDECAR_SUFFIX;
    const text = await this.readObject(key);
    return text === undefined ? undefined : parseManifest(text, `s3://${this.bucket}/${key}`);
  }

  async startArchive(kind: BackupKind, name: string): Promise<ArchiveUpload> {
    const key = this.prefix + archiveKey(kind, name);
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const encryption = this.options.kmsKeyId
      ? { ServerSideEncryption: "aws:kms" as const, SSEKMSKeyId: this.options.kmsKeyId }
      : {};
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, ContentType: "application/gzip", ...encryption },
      tags: [{ Key: "kind", Value: kind }],
      partSize: this.options.partSize ?? 8 * 1024 * 1024,
      queueSize: 3,
      leavePartsOnError: false,
    });
    const done = upload.done();
    let failure: unknown;
    done.catch((error: unknown) => {
      failure = error;
      // The archive writer sees the failure at its next write instead of filling a dead stream.
      body.destroy(describeS3Error(`upload to s3://${this.bucket}/${key}`, error));
    });
    const remove = async (): Promise<void> => {
      await upload.abort().catch(() => undefined);
      await this.client
        .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
        .catch(() => undefined);
    };
    return {
      stream: body,
      commit: async (manifest) => {
        try {
          await done;
          await this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: key + SIDECAR_SUFFIX,
              Body: `${JSON.stringify(manifest, null, 2)}\n`,
              ContentType: "application/json",
              Tagging: `kind=${kind}`,
              ...encryption,
            }),
          );
        } catch (error) {
          await remove();
          throw describeS3Error(`store s3://${this.bucket}/${key}`, failure ?? error);
        }
        return `s3://${this.bucket}/${key}`;
      },
      abort: async () => {
        body.destroy();
        await remove();
      },
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
