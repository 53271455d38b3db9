// The driver's OP_MSG document sequence (kind 1 section). It is internal to the driver, so its shape is
// declared here; raw-insert.ts checks at load time that it is still there.
declare module "mongodb/lib/cmap/commands" {
  export class DocumentSequence {
    constructor(field: string);
    push(document: object, serialized: Uint8Array): number;
  }
}
