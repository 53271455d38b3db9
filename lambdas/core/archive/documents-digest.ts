import { createHash } from "node:crypto";

const MODULUS = 1n << 256n;

/**
 * Order-independent digest of a multiset of raw BSON documents: the sum, modulo 2^256, of each document's
 * SHA-256. Two collections hold the same documents (byte for byte, with the same multiplicities) exactly when
 * their digests agree (up to SHA-256 collisions), whatever order a server returns them in.
 */
export class DocumentsDigest {
  private sum = 0n;
  private count = 0;

  add(document: Uint8Array): void {
    const hex = createHash("sha256").update(document).digest("hex");
    this.sum = (this.sum + BigInt(`0x${hex}`)) % MODULUS;
    this.count += 1;
  }

  get documents(): number {
    return this.count;
  }

  /** 64 hex characters. */
  hex(): string {
    return this.sum.toString(16).padStart(64, "0");
  }
}
