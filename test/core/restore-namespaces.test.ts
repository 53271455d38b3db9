import { describe, expect, it } from "vitest";
import {
  NamespaceMatcher,
  NamespacePatternError,
  NamespaceRenamer,
  NamespaceSelection,
  parseNamespace,
} from "../../lambdas/core/restore/namespaces";

describe("include and exclude patterns (mongorestore meaning)", () => {
  it("matches exact names and * across any characters, dots included", () => {
    const matcher = new NamespaceMatcher(["shop.orders", "logs.*", "*.users", "a*c.x"]);
    expect(matcher.matches("shop.orders")).toBe(true);
    expect(matcher.matches("shop.orders2")).toBe(false);
    expect(matcher.matches("logs.2024.jan")).toBe(true);
    expect(matcher.matches("crm.users")).toBe(true);
    expect(matcher.matches("crm.users.archive")).toBe(false);
    expect(matcher.matches("abbbc.x")).toBe(true);
    expect(matcher.matches("ac.x")).toBe(true);
    expect(matcher.matches("ab.x")).toBe(false);
  });

  it("treats regular-expression characters literally and \\* as a literal asterisk", () => {
    const matcher = new NamespaceMatcher(["a.b+c(d)", "s.star\\*"]);
    expect(matcher.matches("a.b+c(d)")).toBe(true);
    expect(matcher.matches("a.bbc(d)")).toBe(false);
    expect(matcher.matches("s.star*")).toBe(true);
    expect(matcher.matches("s.starry")).toBe(false);
  });

  it("refuses $ in include and exclude patterns", () => {
    expect(() => new NamespaceMatcher(["db.$x$"], "--nsExclude")).toThrow(
      /--nsExclude "db.\$x\$": "\$" is not allowed/,
    );
  });
});

describe("renaming with --nsFrom/--nsTo", () => {
  it("maps * wildcards in order", () => {
    const renamer = new NamespaceRenamer(["prod.*"], ["staging.*"]);
    expect(renamer.rename("prod.orders")).toBe("staging.orders");
    expect(renamer.rename("prod.a.b")).toBe("staging.a.b");
    expect(renamer.rename("other.orders")).toBe("other.orders");
    expect(new NamespaceRenamer(["*.x_*"], ["*_copy.*"]).rename("db.x_y")).toBe("db_copy.y");
  });

  it("maps $variables$ captured lazily, reordered in nsTo", () => {
    const renamer = new NamespaceRenamer(["data.$prefix$_$customer$"], ["$customer$.$prefix$"]);
    expect(renamer.rename("data.sales_acme")).toBe("acme.sales");
    // Lazy capture: the first "_" splits prefix from customer, as in mongorestore.
    expect(renamer.rename("data.a_b_c")).toBe("b_c.a");
  });

  it("lets the pair given last win when several match", () => {
    const renamer = new NamespaceRenamer(["a.*", "a.special"], ["b.*", "c.special"]);
    expect(renamer.rename("a.special")).toBe("c.special");
    expect(renamer.rename("a.other")).toBe("b.other");
  });

  it("refuses unpaired, mismatched or undefined patterns with the pattern named", () => {
    expect(() => new NamespaceRenamer(["a.*"], [])).toThrow(/go in pairs/);
    expect(() => new NamespaceRenamer(["a.*"], ["b.c"])).toThrow(/different numbers of "\*"/);
    expect(() => new NamespaceRenamer(["a.$x$"], ["b.$y$"])).toThrow(/--nsTo "b.\$y\$" uses \$y\$/);
    expect(() => new NamespaceRenamer(["a.$x$.$x$"], ["b.$x$"])).toThrow(/twice/);
    expect(() => new NamespaceRenamer(["a.$x"], ["b.$x$"])).toThrow(NamespacePatternError);
  });
});

describe("selection", () => {
  it("filters on the archive's names, then renames", () => {
    const selection = new NamespaceSelection({
      include: ["shop.*"],
      exclude: ["shop.tmp_*"],
      renameFrom: ["shop.*"],
      renameTo: ["shop_restored.*"],
    });
    expect(selection.target({ db: "shop", collection: "orders" })).toEqual({
      db: "shop_restored",
      collection: "orders",
    });
    expect(selection.target({ db: "shop", collection: "tmp_1" })).toBeUndefined();
    expect(selection.target({ db: "crm", collection: "users" })).toBeUndefined();
  });

  it("selects everything by default and refuses a rename without a database", () => {
    expect(new NamespaceSelection().target({ db: "a", collection: "b.c" })).toEqual({
      db: "a",
      collection: "b.c",
    });
    const bad = new NamespaceSelection({ renameFrom: ["a.*"], renameTo: ["*"] });
    expect(() => bad.target({ db: "a", collection: "b" })).toThrow(/renaming a.b gives "b"/);
  });

  it("splits a namespace at the first dot", () => {
    expect(parseNamespace("db.coll.with.dots")).toEqual({ db: "db", collection: "coll.with.dots" });
    expect(() => parseNamespace("nodot")).toThrow(/not a namespace/);
  });
});
