import { createReadStream } from "node:fs";
import {
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
  type FileHandle,
} from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BACKUP_KINDS, type BackupKind, type BackupManifest } from "../archive/events";
import { parseManifest } from "../archive/manifest";
import { ARCHIVE_SUFFIX, CONTINUATIONS_PREFIX, MAX_SIDECAR_BYTES, SIDECAR_SUFFIX } from "../archive/names";
import { ArchiveDigest } from "./archive-digest";
import { clearAbandonedPartials, runSuffix } from "./partial-files";
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
} from "./target";

/**
 * Backups in a local directory: `<dir>/<kind>/<name>.tar.gz` + `.manifest.json`. The archive is written as a
 * `.partial` file of this run's own (tar headers patched in place), synced and linked to its name, then the
 * sidecar the same way: a crash leaves no sidecar, and of two runs at once exactly one commits.
 */
export class FileTarget implements BackupTarget {
  readonly url: string;
  private readonly root: string;

  constructor(directory: string) {
    this.root = resolve(directory);
    this.url = pathToFileURL(this.root).href;
  }

  async list(kind?: BackupKind, options: ListOptions = {}): Promise<StoredBackup[]> {
    const backups: StoredBackup[] = [];
    for (const k of kind ? [kind] : BACKUP_KINDS) {
      let names: string[];
      try {
        names = await readdir(join(this.root, k));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw new Error(`cannot list ${join(this.root, k)}: ${(error as Error).message}`);
      }
      for (const file of names.filter((n) => n.endsWith(ARCHIVE_SUFFIX + SIDECAR_SUFFIX))) {
        const name = file.slice(0, -(ARCHIVE_SUFFIX + SIDECAR_SUFFIX).length);
        const key = archiveKey(k, name);
        let manifest: BackupManifest | undefined;
        try {
          manifest = await this.readSidecar(key);
        } catch (error) {
          const url = pathToFileURL(join(this.root, k, file)).href;
          options.onUnreadable?.({ url, reason: (error as Error).message });
          continue;
        }
        if (manifest) backups.push({ name, kind: k, key, url: this.urlOf(key), manifest });
      }
    }
    return backups.sort(newestFirst);
  }

  async latest(kind: BackupKind, options?: ListOptions): Promise<StoredBackup | undefined> {
    return (await this.list(kind, options))[0];
  }

  async openArchive(key: string, options: OpenArchiveOptions = {}): Promise<OpenedArchive> {
    const path = this.pathOf(key);
    const handle = await open(path, "r").catch((error: Error) => {
      throw new Error(`cannot open archive ${path}: ${error.message}`);
    });
    const { size } = await handle.stat().catch(async (error: Error) => {
      await handle.close();
      throw new Error(`cannot read archive ${path}: ${error.message}`);
    });
    const stream = createReadStream(path, { fd: handle, start: options.start, highWaterMark: 1024 * 1024 });
    return { stream, bytes: size };
  }

  async readSidecar(key: string): Promise<BackupManifest | undefined> {
    const path = this.pathOf(key) + SIDECAR_SUFFIX;
    let text: string;
    try {
      const size = (await stat(path)).size;
      if (size > MAX_SIDECAR_BYTES) {
        throw new Error(
          `${path}: sidecar is ${size} bytes, over the ${MAX_SIDECAR_BYTES}-byte limit of a manifest`,
        );
      }
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      if ((error as NodeJS.ErrnoException).code === "EISDIR")
        throw new Error(`${path}: sidecar is a directory`);
      throw error;
    }
    return parseManifest(text, path);
  }

  async clearAbandoned(): Promise<string[]> {
    const removed: string[] = [];
    for (const kind of BACKUP_KINDS) removed.push(...(await clearAbandonedPartials(join(this.root, kind))));
    return removed;
  }

  async startArchive(kind: BackupKind, name: string): Promise<ArchiveUpload> {
    const key = archiveKey(kind, name);
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true }).catch((error: Error) => {
      throw new Error(`backup directory ${dirname(path)} is not writable: ${error.message}`);
    });
    // A name of its own per run: two runs of the same backup never write, or remove, each other's file.
    const partial = `${path}${runSuffix()}`;
    const handle = await open(partial, "wx").catch((error: Error) => {
      throw new Error(`cannot create ${partial}: ${error.message}`);
    });
    return this.archiveUpload(key, partial, handle, 0, new ArchiveDigest());
  }

  async resumeArchive(kind: BackupKind, name: string, state: UploadState): Promise<ArchiveUpload> {
    const key = archiveKey(kind, name);
    const { partial, size } = state.fields as { partial: string; size: number };
    if (dirname(partial) !== dirname(this.pathOf(key)))
      throw new Error(`continuation names ${partial}, not ${key}`);
    const handle = await open(partial, "r+").catch((error: NodeJS.ErrnoException) => {
      // As S3 says of an upload completed or aborted meanwhile: this run's archive is no longer being written.
      if (error.code === "ENOENT")
        throw new BackupConflictError(`${partial} no longer exists`, { cause: error });
      throw new Error(`cannot reopen ${partial}: ${error.message}`);
    });
    return this.archiveUpload(key, partial, handle, size, ArchiveDigest.resumed());
  }

  async saveContinuation(key: string, bytes: Buffer): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}${runSuffix()}`;
    await writeFile(partial, bytes, { flag: "wx" });
    await syncFile(partial);
    await rename(partial, path);
  }

  async loadContinuation(key: string): Promise<Buffer> {
    if (!key.startsWith(CONTINUATIONS_PREFIX)) throw new Error(`${key} is not a continuation of this target`);
    return readFile(this.pathOf(key));
  }

  private archiveUpload(
    key: string,
    partial: string,
    handle: FileHandle,
    startSize: number,
    digest: ArchiveDigest,
  ): ArchiveUpload {
    const path = this.pathOf(key);
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await handle.close();
    };
    let size = startSize;
    const writeAt = async (bytes: Buffer, offset: number): Promise<void> => {
      try {
        for (let done = 0; done < bytes.length;) {
          const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, offset + done);
          done += bytesWritten;
        }
      } catch (error) {
        throw new Error(`cannot write ${partial}: ${(error as Error).message}`, { cause: error });
      }
      digest.add(offset, bytes);
    };
    const owned: string[] = [partial];
    return {
      size: () => size,
      suspend: async () => {
        await handle.sync();
        await close();
        return { fields: { partial, size }, blobs: [] };
      },
      write: async (bytes) => {
        const offset = size;
        size += bytes.length;
        await writeAt(bytes, offset);
      },
      reserve: async (length) => {
        const hole = { offset: size, length };
        size += length;
        return hole;
      },
      fill: async (hole, bytes) => {
        if (bytes.length !== hole.length) {
          throw new Error(`${partial}: ${bytes.length} bytes for a hole of ${hole.length} at ${hole.offset}`);
        }
        await writeAt(bytes, hole.offset);
      },
      complete: async () => {
        // A crashed attempt of a step (a retry resumed before it) may have written on past this archive's end.
        await handle.truncate(size);
        await handle.sync();
        await close();
        const sha256 = await digest.finish(size, async (offset) =>
          createReadStream(partial, { start: offset, highWaterMark: 1024 * 1024 }),
        );
        return { sha256, bytes: size };
      },
      commit: async (manifest) => {
        // link() refuses an existing name: of two runs of the same backup, exactly one stores the archive.
        await link(partial, path).catch((error: NodeJS.ErrnoException) => {
          if (error.code === "EEXIST")
            throw new BackupConflictError(`${path} already exists: another backup stored it first`);
          throw new Error(`cannot store ${path}: ${error.message}`);
        });
        owned.push(path);
        await rm(partial, { force: true });
        const sidecar = `${path}${SIDECAR_SUFFIX}`;
        const sidecarPartial = `${sidecar}${runSuffix()}`;
        owned.push(sidecarPartial);
        await writeFile(sidecarPartial, `${JSON.stringify(manifest, null, 2)}\n`, { flag: "wx" });
        await syncFile(sidecarPartial);
        await link(sidecarPartial, sidecar).catch((error: NodeJS.ErrnoException) => {
          if (error.code === "EEXIST")
            throw new BackupConflictError(`${sidecar} already exists: another backup committed it`);
          throw error;
        });
        await rm(sidecarPartial, { force: true });
        owned.length = 0;
        await syncFile(dirname(path));
        return this.urlOf(key);
      },
      abort: async () => {
        await close().catch(() => undefined);
        // Only what this run created: its partial files and an archive it linked but never committed.
        for (const file of owned) await rm(file, { force: true }).catch(() => undefined);
      },
    };
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    const inside = relative(this.root, path);
    // relative(), not a prefix test: a root of "/" holds "/x.tar.gz", and "/backups2" is not in "/backups".
    if (inside === "" || inside === ".." || inside.startsWith("../") || isAbsolute(inside)) {
      throw new Error(`archive key ${key} leaves ${this.root}`);
    }
    return path;
  }

  private urlOf(key: string): string {
    return pathToFileURL(this.pathOf(key)).href;
  }
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
