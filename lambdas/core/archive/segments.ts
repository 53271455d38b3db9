import { createHash, type Hash } from "node:crypto";
import type { FileSegment } from "./events";

/**
 * Bytes of a .bson segment. Node's SHA-256 (OpenSSL, ~1.7 GB/s here) cannot hand its state to another process,
 * and the one library that can (hash-wasm, `save()`/`load()`) hashes at ~0.28 GB/s, which would add ~3 CPU
 * seconds per GB to every backup; so a large file is hashed in segments that end at fixed places, and a run
 * continued in another invocation stops only where a segment ends.
 */
export const SEGMENT_BYTES = 256 * 1024 * 1024;

/** Where a file's hashing stands at a segment boundary: all a later invocation needs to go on. */
export interface SegmentsState {
  segments: FileSegment[];
  bytes: number;
  documents: number;
}

/**
 * Hashes a .bson document by document, cutting segments where the manifest says they end: after the first
 * document whose end reaches the next multiple of `segmentBytes`. Writer and readers share it, so both cut
 * the same segments.
 */
export class SegmentHasher {
  private readonly closed: FileSegment[];
  private hash: Hash = createHash("sha256");
  private bytes: number;
  private documents: number;
  private segmentStartBytes: number;
  private segmentStartDocuments: number;

  constructor(
    private readonly segmentBytes: number = SEGMENT_BYTES,
    state?: SegmentsState,
  ) {
    this.closed = state ? [...state.segments] : [];
    this.bytes = state?.bytes ?? 0;
    this.documents = state?.documents ?? 0;
    this.segmentStartBytes = this.bytes;
    this.segmentStartDocuments = this.documents;
  }

  /** Adds one whole document; true when a segment ends after it (a place a run may stop or resume). */
  add(document: Uint8Array): boolean {
    return this.addRun(document, 1);
  }

  /**
   * Bytes before the current segment can end: the document that reaches them ends it. A caller that hashes
   * documents in runs cuts a run after that document (one hash update per run rather than per document).
   */
  get bytesToSegmentEnd(): number {
    return (Math.floor(this.bytes / this.segmentBytes) + 1) * this.segmentBytes - this.bytes;
  }

  /**
   * Adds whole documents laid end to end, of which at most the last reaches `bytesToSegmentEnd`; true when a
   * segment ends after the run.
   */
  addRun(run: Uint8Array, documents: number): boolean {
    const start = this.bytes;
    this.hash.update(run);
    this.bytes += run.length;
    this.documents += documents;
    if (Math.floor(this.bytes / this.segmentBytes) === Math.floor(start / this.segmentBytes)) return false;
    this.closeSegment();
    return true;
  }

  /** The state at the boundary just reached (only valid right after `add` returned true, or before any). */
  state(): SegmentsState {
    if (this.bytes !== this.segmentStartBytes) throw new Error("segments state asked for inside a segment");
    return { segments: [...this.closed], bytes: this.bytes, documents: this.documents };
  }

  /** The file's checksums for its manifest entry: one `sha256`, or `segments` when it has more than one. */
  finish(): { sha256: string } | { segments: FileSegment[] } {
    if (this.bytes > this.segmentStartBytes || this.closed.length === 0) this.closeSegment();
    if (this.closed.length === 1) return { sha256: this.closed[0]!.sha256 };
    return { segments: [...this.closed] };
  }

  private closeSegment(): void {
    this.closed.push({
      bytes: this.bytes - this.segmentStartBytes,
      documents: this.documents - this.segmentStartDocuments,
      sha256: this.hash.digest("hex"),
    });
    this.hash = createHash("sha256");
    this.segmentStartBytes = this.bytes;
    this.segmentStartDocuments = this.documents;
  }
}
