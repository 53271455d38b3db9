/**
 * CRC-64 with the ECMA-182 polynomial in reflected form (Go's `crc64.ECMA` table, used by mongodump --archive
 * for each namespace's EOF header). Two 32-bit halves keep it in fast integer arithmetic.
 */
const TABLE_HI = new Uint32Array(256);
const TABLE_LO = new Uint32Array(256);
{
  const POLY_HI = 0xc96c5795;
  const POLY_LO = 0xd7870f42;
  for (let i = 0; i < 256; i += 1) {
    let hi = 0;
    let lo = i;
    for (let bit = 0; bit < 8; bit += 1) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) {
        hi = (hi ^ POLY_HI) >>> 0;
        lo = (lo ^ POLY_LO) >>> 0;
      }
    }
    TABLE_HI[i] = hi;
    TABLE_LO[i] = lo;
  }
}

export class Crc64 {
  // Kept inverted between updates, as Go's crc64.Update does at its entry and exit.
  private hi = 0xffffffff;
  private lo = 0xffffffff;

  update(bytes: Uint8Array): void {
    let hi = this.hi;
    let lo = this.lo;
    for (let i = 0; i < bytes.length; i += 1) {
      const index = (lo ^ bytes[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TABLE_LO[index]!;
      hi = (hi >>> 8) ^ TABLE_HI[index]!;
    }
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
  }

  /** The checksum as a signed 64-bit integer (how the archive stores it). */
  value(): bigint {
    const unsigned = (BigInt(~this.hi >>> 0) << 32n) | BigInt(~this.lo >>> 0);
    return BigInt.asIntN(64, unsigned);
  }
}
