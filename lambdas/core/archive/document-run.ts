/**
 * Raw BSON documents laid end to end in one buffer, as they sit in a `.bson` file. The reader hands documents on
 * in runs rather than as one Buffer each: a 1 GB restore of small documents would otherwise create millions of
 * short-lived objects, and the garbage collector lets those (and the memory they pin) pile up past the budget.
 * The bytes of a run are already checked: every document's length and structure were walked when it was read.
 */
export class DocumentRun {
  constructor(
    readonly bytes: Buffer,
    readonly count: number,
  ) {}

  /** A run from separate documents (copied once into one buffer). */
  static of(documents: readonly Uint8Array[]): DocumentRun {
    return new DocumentRun(Buffer.concat(documents), documents.length);
  }

  get byteLength(): number {
    return this.bytes.length;
  }

  /**
   * The run cut into runs of at most `maxDocuments` documents and `maxBytes` bytes (a single larger document
   * makes a run of its own); views into this one, no copy.
   */
  split(maxDocuments: number, maxBytes = Number.POSITIVE_INFINITY): DocumentRun[] {
    if (this.count <= maxDocuments && this.bytes.length <= maxBytes) return [this];
    const parts: DocumentRun[] = [];
    let start = 0;
    let at = 0;
    let count = 0;
    while (at < this.bytes.length) {
      const length = this.bytes.readInt32LE(at);
      if (count > 0 && (count === maxDocuments || at + length - start > maxBytes)) {
        parts.push(new DocumentRun(this.bytes.subarray(start, at), count));
        start = at;
        count = 0;
      }
      at += length;
      count += 1;
    }
    parts.push(new DocumentRun(this.bytes.subarray(start, at), count));
    return parts;
  }

  /** Each document as a view into the run (no copy); a view is valid as long as the run is. */
  *documents(): Generator<Buffer> {
    let at = 0;
    while (at < this.bytes.length) {
      const length = this.bytes.readInt32LE(at);
      yield this.bytes.subarray(at, at + length);
      at += length;
    }
  }
}
