import { createHash } from "node:crypto";

/**
 * The SHA-256 of an archive whose bytes are stored mostly in order. Bytes handed in where hashing stands are
 * hashed at once; the first bytes stored out of order (after a hole filled later) stop that, and `finish`
 * reads the stored archive back from there. SHA-256 cannot take earlier bytes once later ones are hashed, and
 * holding the later bytes until the hole is filled would cost the memory that holes exist to save.
 */
export class ArchiveDigest {
  private readonly hash = createHash("sha256");
  private hashedTo = 0;
  private stoppedAt: number | undefined;

  /** A digest of an upload resumed in another invocation: the bytes stored before are read back at the end. */
  static resumed(): ArchiveDigest {
    const digest = new ArchiveDigest();
    digest.stoppedAt = 0;
    return digest;
  }

  /** Bytes now stored at `offset`. */
  add(offset: number, bytes: Buffer): void {
    if (this.stoppedAt !== undefined) return;
    if (offset !== this.hashedTo) {
      this.stoppedAt = this.hashedTo;
      return;
    }
    this.hash.update(bytes);
    this.hashedTo += bytes.length;
  }

  /** The digest of the `size` bytes stored, reading back what could not be hashed in order. */
  async finish(size: number, readFrom: (offset: number) => Promise<AsyncIterable<Buffer>>): Promise<string> {
    const from = this.stoppedAt ?? this.hashedTo;
    if (from < size) {
      let at = from;
      for await (const chunk of await readFrom(from)) {
        this.hash.update(chunk);
        at += chunk.length;
      }
      if (at !== size)
        throw new Error(`read back ${at - from} bytes from offset ${from}, expected ${size - from}`);
    }
    return this.hash.digest("hex");
  }
}
