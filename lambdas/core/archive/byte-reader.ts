/** Pull-style reading of exact byte counts from a stream of chunks, holding only what is asked for. */
export class ByteReader {
  private readonly chunks: Buffer[] = [];
  /**
   * Bytes of chunks[0] already consumed by the per-document fast paths (readIntoBuffered, bufferedInt32LE),
   * which then create no Buffer per document; every other method trims them first (`trimHead`).
   */
  private head = 0;
  private buffered = 0;
  private done = false;
  private readonly iterator: AsyncIterator<Buffer>;
  /** Bytes handed out so far (the position in the stream). */
  position = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    const inner = source[Symbol.asyncIterator]();
    this.iterator = {
      next: async () => {
        const result = await inner.next();
        if (result.done) return result;
        const value = result.value;
        return { done: false, value: Buffer.isBuffer(value) ? value : Buffer.from(value) };
      },
      return: async () => {
        await inner.return?.();
        return { done: true, value: undefined };
      },
    };
  }

  /** Makes at least `n` bytes available; returns false when the stream ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.done) {
      const result = await this.iterator.next();
      if (result.done) this.done = true;
      else if (result.value.length > 0) {
        this.chunks.push(result.value);
        this.buffered += result.value.length;
      }
    }
    return this.buffered >= n;
  }

  /** The next `n` bytes without consuming them (fewer at the end of the stream). */
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    this.trimHead();
    this.coalesce(Math.min(n, this.buffered));
    return this.chunks.length === 0 ? Buffer.alloc(0) : this.chunks[0]!.subarray(0, n);
  }

  /** Exactly `n` bytes, or undefined when the stream ends before them. */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    this.trimHead();
    this.coalesce(n);
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    this.position += n;
    return out;
  }

  /** The little-endian int32 at the current position without consuming it; undefined when fewer than 4 bytes are left. */
  async peekInt32LE(): Promise<number | undefined> {
    if (!(await this.fill(4))) return undefined;
    this.trimHead();
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32LE(0);
    this.coalesce(4);
    return this.chunks[0]!.readInt32LE(0);
  }

  /**
   * Copies exactly `n` bytes into `target` at `offset`, straight from the buffered chunks: no Buffer is created
   * per call, which is what keeps reading millions of small documents cheap. False when the stream ends first.
   */
  async readInto(target: Buffer, offset: number, n: number): Promise<boolean> {
    if (!(await this.fill(n))) return false;
    this.trimHead();
    this.copyOut(target, offset, n);
    return true;
  }

  /**
   * `readInto` without waiting, when `n` bytes are already buffered (almost always, for small documents): no
   * Promise per document. False, with nothing consumed, when fewer are buffered.
   */
  readIntoBuffered(target: Buffer, offset: number, n: number): boolean {
    if (this.buffered < n) return false;
    this.copyOut(target, offset, n);
    return true;
  }

  /** `peekInt32LE` without waiting: undefined when the first buffered chunk holds fewer than 4 bytes. */
  bufferedInt32LE(): number | undefined {
    const first = this.chunks[0];
    return first && first.length - this.head >= 4 ? first.readInt32LE(this.head) : undefined;
  }

  private copyOut(target: Buffer, offset: number, n: number): void {
    let copied = 0;
    while (copied < n) {
      const first = this.chunks[0]!;
      const take = Math.min(first.length - this.head, n - copied);
      first.copy(target, offset + copied, this.head, this.head + take);
      copied += take;
      this.head += take;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.buffered -= n;
    this.position += n;
  }

  private trimHead(): void {
    if (this.head === 0) return;
    this.chunks[0] = this.chunks[0]!.subarray(this.head);
    this.head = 0;
  }

  /** Up to `max` bytes (at least 1 unless the stream has ended): for streaming large entries through. */
  async readSome(max: number): Promise<Buffer | undefined> {
    if (!(await this.fill(1))) return undefined;
    this.trimHead();
    const first = this.chunks[0]!;
    const n = Math.min(max, first.length);
    return this.read(n);
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }

  /** Makes the first chunk hold at least `n` bytes. */
  private coalesce(n: number): void {
    if (this.chunks.length === 0 || this.chunks[0]!.length >= n) return;
    let count = 0;
    let bytes = 0;
    while (bytes < n) bytes += this.chunks[count++]!.length;
    const merged = Buffer.concat(this.chunks.slice(0, count));
    this.chunks.splice(0, count, merged);
  }
}
