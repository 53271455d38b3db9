import { ArchiveError, BACKUP_KINDS, type BackupManifest } from "./events";

/** Parses and checks a manifest (inside the archive or the sidecar); the error names the file. */
export function parseManifest(text: string, file: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ArchiveError(`manifest is not valid JSON: ${(error as Error).message}`, { file });
  }
  const m = value as Partial<BackupManifest> | null;
  const problem = (): string | undefined => {
    if (typeof m !== "object" || m === null) return "manifest is not a JSON object";
    if (m.formatVersion !== 1) return `unsupported formatVersion ${String(m.formatVersion)} (expected 1)`;
    if (typeof m.name !== "string" || typeof m.app !== "string") return "manifest lacks name or app";
    if (!BACKUP_KINDS.includes(m.kind as never)) return `manifest kind "${String(m.kind)}" is not valid`;
    if (!Array.isArray(m.collections)) return "manifest lacks the collections list";
    for (const c of m.collections) {
      if (typeof c?.db !== "string" || typeof c.collection !== "string" || typeof c.file !== "string") {
        return "a manifest collection lacks db, collection or file";
      }
      if (
        !Number.isSafeInteger(c.documents) ||
        !Number.isSafeInteger(c.bytes) ||
        !/^[0-9a-f]{64}$/.test(c.sha256)
      ) {
        return `manifest entry for ${c.db}.${c.collection} has invalid documents, bytes or sha256`;
      }
    }
    return undefined;
  };
  const reason = problem();
  if (reason) throw new ArchiveError(reason, { file });
  return m as BackupManifest;
}

/** The archive's own manifest as JSON (without the sidecar-only `archive` field). */
export function encodeManifest(manifest: BackupManifest): Buffer {
  const { archive: _archive, ...inner } = manifest;
  return Buffer.from(`${JSON.stringify(inner, null, 2)}\n`, "utf8");
}
