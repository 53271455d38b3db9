import { hash } from "node:crypto";

/**
 * Order-independent digest of a multiset of raw BSON documents: the sum, modulo 2^256, of each document's
 * SHA-256. Two collections hold the same documents (byte for byte, with the same multiplicities) exactly when
 * their digests agree (up to SHA-256 collisions), whatever order a server returns them in.
 *
 * It runs once per document on every backup, verify and restore check, so it allocates as little as it can per
 * document: a one-shot `crypto.hash` (no Hash object) whose 32 bytes come back as a "binary" (latin1) string (one
 * character per byte: a Buffer per call costs about three times the hashing of a 250-byte document), added into
 * eight 32-bit limbs (no BigInt).
 */
export class DocumentsDigest {
  /** Little-endian limbs: limbs[0] holds the least significant 32 bits of the sum. */
  private readonly limbs = new Uint32Array(8);
  private count = 0;

  add(document: Uint8Array): void {
    const sha = hash("sha256", document, "binary");
    const limbs = this.limbs;
    let carry = 0;
    for (let limb = 0; limb < 8; limb += 1) {
      // The SHA-256 read as a big-endian number: its last four bytes are the least significant limb.
      const at = 28 - 4 * limb;
      const word =
        ((sha.charCodeAt(at) << 24) |
          (sha.charCodeAt(at + 1) << 16) |
          (sha.charCodeAt(at + 2) << 8) |
          sha.charCodeAt(at + 3)) >>>
        0;
      const sum = limbs[limb]! + word + carry;
      limbs[limb] = sum; // stored modulo 2^32
      carry = sum > 0xffffffff ? 1 : 0;
    }
    this.count += 1;
  }

  get documents(): number {
    return this.count;
  }

  /** 64 hex characters. */
  hex(): string {
    let hex = "";
    for (let limb = 7; limb >= 0; limb -= 1) hex += this.limbs[limb]!.toString(16).padStart(8, "0");
    return hex;
  }
}

/** A digest carried over from an earlier invocation (its `hex()` and `documents`), to add more documents to. */
export function resumeDocumentsDigest(hex: string, documents: number): DocumentsDigest {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not a documents digest: ${JSON.stringify(hex)}`);
  const digest = new DocumentsDigest();
  const state = digest as unknown as { limbs: Uint32Array; count: number };
  for (let limb = 0; limb < 8; limb += 1) {
    state.limbs[limb] = Number.parseInt(hex.slice(56 - 8 * limb, 64 - 8 * limb), 16);
  }
  state.count = documents;
  return digest;
}
