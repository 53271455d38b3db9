import { createHash } from "node:crypto";
import type { BackupKind } from "./events";
import { BACKUP_KINDS } from "./events";

/** Archive names, kinds and collection file names: the parts of the format that are plain strings. */

export const ARCHIVE_SUFFIX = ".tar.gz";
export const SIDECAR_SUFFIX = ".manifest.json";
/** A manifest lists every collection: 64 MiB holds several hundred thousand; a larger sidecar is not ours. */
export const MAX_SIDECAR_BYTES = 64 * 1024 * 1024;
/** Name of the manifest entry inside the archive's top-level directory (mongorestore skips top-level files). */
export const MANIFEST_ENTRY = "manifest.json";

const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ARCHIVE_NAME = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})_backup_(\d{8})_(\d{6})$/;

export function assertAppName(app: string): string {
  if (!APP_NAME.test(app)) {
    throw new Error(
      `app name "${app}" is not valid: letters, digits, ".", "_" and "-", at most 64 characters`,
    );
  }
  return app;
}

export function parseKind(kind: string): BackupKind {
  if ((BACKUP_KINDS as readonly string[]).includes(kind)) return kind as BackupKind;
  throw new Error(`backup kind "${kind}" is not one of ${BACKUP_KINDS.join(", ")}`);
}

/** `<app>_backup_YYYYMMDD_HHMMSS` in UTC. */
export function archiveName(app: string, at: Date): string {
  const iso = at.toISOString();
  const date = iso.slice(0, 10).replaceAll("-", "");
  const time = iso.slice(11, 19).replaceAll(":", "");
  return `${assertAppName(app)}_backup_${date}_${time}`;
}

/** The app and UTC time encoded in an archive name, or undefined when the name is not one of ours. */
export function parseArchiveName(name: string): { app: string; at: Date } | undefined {
  const match = ARCHIVE_NAME.exec(name);
  if (!match) return undefined;
  const [, app, d, t] = match as unknown as [string, string, string, string];
  const at = new Date(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}Z`,
  );
  return Number.isNaN(at.getTime()) ? undefined : { app, at };
}

// mongodump escapes collection names for file names the way Go's url.QueryEscape does.
const UNRESERVED = /[A-Za-z0-9\-_.~]/;

export function escapeCollectionName(name: string): string {
  let out = "";
  for (const byte of Buffer.from(name, "utf8")) {
    const char = String.fromCharCode(byte);
    if (byte < 0x80 && UNRESERVED.test(char)) out += char;
    else if (char === " ") out += "+";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Longest escaped name mongodump keeps whole: with `.metadata.json.gz` it stays within 255 bytes. */
const MAX_ESCAPED_NAME = 238;
const KEPT_PREFIX = 208;

/**
 * A collection's file name (without `.bson`/`.metadata.json`) as mongodump writes it: the escaped name, or
 * for one longer than 238 bytes its first 208 bytes, `%24` (an escaped `$`) and the unpadded base64url
 * SHA-1 of the real name (mongo-tools `mongodump/prepare.go`, `outputPath`). The real name stays in the
 * metadata's `collectionName`, where mongorestore reads it for such a name.
 */
export function collectionFileName(name: string): string {
  const escaped = escapeCollectionName(name);
  if (escaped.length <= MAX_ESCAPED_NAME) return escaped;
  const hash = createHash("sha1").update(name, "utf8").digest("base64url");
  return `${escaped.slice(0, KEPT_PREFIX)}%24${hash}`;
}

export function unescapeCollectionName(fileName: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < fileName.length; i += 1) {
    const char = fileName[i]!;
    if (char === "+") bytes.push(0x20);
    else if (char === "%" && /^[0-9A-Fa-f]{2}$/.test(fileName.slice(i + 1, i + 3))) {
      bytes.push(parseInt(fileName.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(char, "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Where a backup that spans invocations keeps its state between them, under the target's prefix. */
export const CONTINUATIONS_PREFIX = ".atlas-ops/continuations/";

/** The key, relative to a target, of the state a backup's step `step` of run `run` leaves for the next. */
export function continuationKey(kind: string, name: string, run: string, step: number): string {
  return `${CONTINUATIONS_PREFIX}${kind}/${name}/${run}/${String(step).padStart(5, "0")}.state`;
}
