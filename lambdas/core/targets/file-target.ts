import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Readable } from "node:stream";
import { BACKUP_KINDS, type BackupKind, type BackupManifest } from "../archive/events";
import { parseManifest } from "../archive/manifest";
import { ARCHIVE_SUFFIX, MAX_SIDECAR_BYTES, SIDECAR_SUFFIX } from "../archive/names";
import {
  archiveKey,
  newestFirst,
  type ArchiveUpload,
  type BackupTarget,
  type ListOptions,
  type StoredBackup,
} from "./target";

/**
 * Backups in a local directory: `<dir>/<kind>/<name>.tar.gz` + `.manifest.json`. The archive is written as
 * `.partial`, synced and renamed, then the sidecar is written the same way: a crash leaves no sidecar.
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

  async openArchive(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    const handle = await open(path, "r").catch((error: Error) => {
      throw new Error(`cannot open archive ${path}: ${error.message}`);
    });
    return createReadStream(path, { fd: handle, highWaterMark: 1024 * 1024 });
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

  async startArchive(kind: BackupKind, name: string): Promise<ArchiveUpload> {
    const key = archiveKey(kind, name);
    const path = this.pathOf(key);
    const partial = `${path}.partial`;
    await mkdir(dirname(path), { recursive: true }).catch((error: Error) => {
      throw new Error(`backup directory ${dirname(path)} is not writable: ${error.message}`);
    });
    const stream = createWriteStream(partial, { flags: "wx" });
    await new Promise<void>((ok, fail) => {
      stream.once("open", () => ok());
      stream.once("error", (error) => fail(new Error(`cannot create ${partial}: ${error.message}`)));
    });
    return {
      stream,
      commit: async (manifest) => {
        await syncFile(partial);
        await rename(partial, path);
        const sidecar = `${path}${SIDECAR_SUFFIX}`;
        await writeFile(`${sidecar}.partial`, `${JSON.stringify(manifest, null, 2)}\n`, { flag: "w" });
        await syncFile(`${sidecar}.partial`);
        await rename(`${sidecar}.partial`, sidecar);
        return this.urlOf(key);
      },
      abort: async () => {
        stream.destroy();
        await rm(partial, { force: true }).catch(() => undefined);
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
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
