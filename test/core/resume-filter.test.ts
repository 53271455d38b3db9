import { Decimal128, Double, Int32, Long, type Document } from "mongodb";
import { describe, expect, it } from "vitest";
import { afterIdFilter, decodeId, encodeId } from "../../lambdas/core/backup/resume-filter";

/**
 * MongoDB's query semantics for numeric `_id`s, as the server applies them (src/mongo/db/matcher/
 * expression_leaf.cpp, ComparisonMatchExpressionBase::compare: "NaN is equal to NaN but otherwise always
 * compares to false"; the index bounds the planner builds for `{$gt: NaN}` are empty too), while in
 * `sort: {_id: 1}` NaN comes first among the numbers. FerretDB refuses NaN on the wire, so this is checked
 * against these rules rather than a server.
 */
function numberOf(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  switch ((value as { _bsontype?: string })?._bsontype) {
    case "Int32":
    case "Double":
      return Number((value as Int32 | Double).valueOf());
    case "Long":
      return (value as Long).toNumber();
    case "Decimal128":
      return Number((value as Decimal128).toString());
    default:
      return undefined;
  }
}

function compare(op: string, value: number, bound: number): boolean {
  if (Number.isNaN(value) || Number.isNaN(bound)) {
    const both = Number.isNaN(value) && Number.isNaN(bound);
    return op === "$gte" || op === "$lte" || op === "$eq" ? both : false;
  }
  switch (op) {
    case "$gt":
      return value > bound;
    case "$gte":
      return value >= bound;
    case "$lt":
      return value < bound;
    case "$lte":
      return value <= bound;
    case "$eq":
      return value === bound;
    case "$ne":
      return value !== bound;
    default:
      throw new Error(`operator ${op} not modelled`);
  }
}

/** Whether a numeric `_id` matches a filter built of `$or`/`$and`/`$nor` and `_id` operators (numbers only). */
function matches(filter: Document, id: number): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === "$or") return (condition as Document[]).some((f) => matches(f, id));
    if (key === "$and") return (condition as Document[]).every((f) => matches(f, id));
    if (key === "$nor") return !(condition as Document[]).some((f) => matches(f, id));
    if (key !== "_id") throw new Error(`field ${key} not modelled`);
    const asNumber = numberOf(condition);
    if (asNumber !== undefined) return compare("$eq", id, asNumber);
    return operators(condition as Document, id);
  });
}

function operators(condition: Document, id: number): boolean {
  return Object.entries(condition).every(([op, operand]) => {
    if (op === "$type") {
      const types = Array.isArray(operand) ? operand : [operand];
      return types.some((type) =>
        ["number", "double", "int", "long", "decimal", 1, 16, 18, 19].includes(type),
      );
    }
    if (op === "$not") return !operators(operand as Document, id);
    if (op === "$in") return (operand as unknown[]).some((v) => compare("$eq", id, numberOf(v)!));
    if (op === "$nin") return !(operand as unknown[]).some((v) => compare("$eq", id, numberOf(v)!));
    const bound = numberOf(operand);
    if (bound === undefined) return false; // a bound of another type: no number matches it
    return compare(op, id, bound);
  });
}

describe("resuming a collection after its last `_id` (numeric `_id`s)", () => {
  // In `{_id: 1}` order: NaN sorts before every other number.
  const ids = [
    new Double(Number.NaN),
    new Double(Number.NEGATIVE_INFINITY),
    new Int32(-3),
    new Double(-0.5),
    Long.fromNumber(0),
    new Double(2.5),
    new Int32(7),
    Long.fromString("9007199254740993"),
    new Double(Number.POSITIVE_INFINITY),
  ];

  it.each(ids.map((id, index) => [encodeId(id), index]))(
    "after %s, the filter selects exactly the numbers that sort after it",
    (encoded, index) => {
      const filter = afterIdFilter(decodeId(encoded as string), false);
      const selected = ids.filter((id) => matches(filter, numberOf(id)!)).map((id) => encodeId(id));
      expect(selected).toEqual(ids.slice((index as number) + 1).map((id) => encodeId(id)));
    },
  );

  it("after a Decimal128 NaN `_id`, the other numbers are still read", () => {
    const filter = afterIdFilter(Decimal128.fromString("NaN"), false);
    expect(matches(filter, 1)).toBe(true);
    expect(matches(filter, Number.NEGATIVE_INFINITY)).toBe(true);
  });
});
