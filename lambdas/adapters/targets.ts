import { fileURLToPath } from "node:url";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { FileTarget } from "../core/targets/file-target";
import type { BackupTarget } from "../core/targets/target";

/**
 * Resolves `file://DIR`, a plain directory path or `s3://BUCKET/PREFIX` to a backup target. A URL it cannot use
 * throws at once (the CLI's usage error); the promise rejects only when the S3 target fails to load. That target
 * (and the AWS SDK behind it) is loaded only for an S3 URL: loading it costs a CLI run some 0.05 s of CPU.
 */
export function resolveTarget(url: string, options: { kmsKeyId?: string } = {}): Promise<BackupTarget> {
  if (url.startsWith("s3://")) {
    const rest = url.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new Error(`"${url}" does not name a valid S3 bucket (s3://BUCKET/PREFIX)`);
    }
    const config = { bucket, prefix: slash < 0 ? "" : rest.slice(slash + 1), kmsKeyId: options.kmsKeyId };
    return import("./s3-target.js").then(({ S3Target }) => new S3Target(config));
  }
  if (url.startsWith("file://")) return Promise.resolve(new FileTarget(fileURLToPath(url)));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new Error(`unsupported target "${url}": use file://DIR, a directory path or s3://BUCKET/PREFIX`);
  }
  return Promise.resolve(new FileTarget(isAbsolute(url) ? url : resolve(url)));
}

/**
 * Splits an archive URL (`s3://b/prefix/daily/x.tar.gz`, `file:///d/daily/x.tar.gz` or a path) into the target
 * holding it and its key: the key is `<kind>/<file>` when the parent folder is a kind, else just the file.
 */
export function resolveArchive(url: string): Promise<{ target: BackupTarget; key: string }> {
  if (url.startsWith("s3://")) {
    const rest = url.slice("s3://".length);
    const slash = rest.indexOf("/");
    if (slash < 0 || rest.endsWith("/")) {
      const where = slash < 0 ? rest : rest.slice(0, slash);
      throw new Error(
        `"${url}" names a bucket or a folder, not an archive: give s3://${where}/[PREFIX/]daily/NAME.tar.gz ` +
          `(atlas-ops list s3://${where}/ shows the backups)`,
      );
    }
  }
  const path = url.startsWith("s3://") ? url : url.startsWith("file://") ? fileURLToPath(url) : resolve(url);
  const file = basename(path);
  const parent = dirname(path);
  const parentName = basename(parent);
  const isKind = parentName === "daily" || parentName === "weekly" || parentName === "monthly";
  const root = isKind ? dirname(parent) : parent;
  const key = isKind ? `${parentName}/${file}` : file;
  if (url.startsWith("s3://")) {
    return resolveTarget(`${root}/`).then((target) => ({ target, key }));
  }
  return Promise.resolve({ target: new FileTarget(root), key });
}
