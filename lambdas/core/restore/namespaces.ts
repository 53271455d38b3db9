/**
 * Namespace selection and renaming with mongorestore's meaning, so a command written for the stock tool
 * selects the same collections here:
 * - `--nsInclude` / `--nsExclude` patterns: `*` matches any run of characters (dots included); `\*` is a
 *   literal asterisk and `\\` a literal backslash; `$` is not allowed. They match the namespace in the archive.
 * - `--nsFrom` / `--nsTo` pairs: either `*` wildcards (the n-th `*` of nsTo takes what the n-th `*` of nsFrom
 *   matched) or `$name$` variables (each name once in nsFrom, any order and number of uses in nsTo). When
 *   several pairs match, the one given last wins (as mongorestore does).
 */

export class NamespacePatternError extends Error {
  override name = "NamespacePatternError";
}

export interface Namespace {
  db: string;
  collection: string;
}

export function formatNamespace(ns: Namespace): string {
  return `${ns.db}.${ns.collection}`;
}

/** Splits `db.collection` at the first dot (collection names may contain dots, database names may not). */
export function parseNamespace(text: string): Namespace {
  const dot = text.indexOf(".");
  if (dot <= 0 || dot === text.length - 1) {
    throw new NamespacePatternError(`"${text}" is not a namespace (expected <database>.<collection>)`);
  }
  return { db: text.slice(0, dot), collection: text.slice(dot + 1) };
}

type Token = { literal: string } | { variable: string };

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/g;

/** Turns unescaped `*` into numbered variables, then resolves the escapes `\*`, `\\` and a lone `\`. */
function wildcardTokens(pattern: string): Token[] {
  const tokens: Token[] = [];
  let literal = "";
  let stars = 0;
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i]!;
    if (char === "\\") {
      const next = pattern[i + 1];
      if (next === "*" || next === "\\") {
        literal += next;
        i += 1;
      }
      continue;
    }
    if (char === "*") {
      if (literal) tokens.push({ literal });
      literal = "";
      stars += 1;
      tokens.push({ variable: String(stars) });
      continue;
    }
    literal += char;
  }
  if (literal) tokens.push({ literal });
  return tokens;
}

/** Splits `a.$x$_$y$` into literals and variables; a `$` that opens no closed variable is an error. */
function variableTokens(pattern: string, what: string): Token[] {
  const tokens: Token[] = [];
  let rest = pattern;
  while (rest.length > 0) {
    const open = rest.indexOf("$");
    if (open < 0) {
      tokens.push({ literal: rest });
      break;
    }
    if (open > 0) tokens.push({ literal: rest.slice(0, open) });
    const close = rest.indexOf("$", open + 1);
    if (close < 0) throw new NamespacePatternError(`${what} "${pattern}" has an unclosed $variable$`);
    tokens.push({ variable: rest.slice(open + 1, close) });
    rest = rest.slice(close + 1);
  }
  return tokens;
}

function compile(tokens: Token[], what: string, pattern: string): { regex: RegExp; variables: string[] } {
  const variables: string[] = [];
  let source = "";
  for (const token of tokens) {
    if ("literal" in token) {
      source += token.literal.replace(REGEX_SPECIAL, "\\$&");
      continue;
    }
    if (variables.includes(token.variable)) {
      throw new NamespacePatternError(`${what} "${pattern}" uses the variable $${token.variable}$ twice`);
    }
    variables.push(token.variable);
    source += "(.*?)";
  }
  return { regex: new RegExp(`^${source}$`, "s"), variables };
}

/** A set of include or exclude patterns. */
export class NamespaceMatcher {
  private readonly regexes: RegExp[];

  constructor(patterns: readonly string[], what = "--nsInclude") {
    this.regexes = patterns.map((pattern) => {
      if (pattern.includes("$")) {
        throw new NamespacePatternError(
          `${what} "${pattern}": "$" is not allowed in include/exclude patterns`,
        );
      }
      return compile(wildcardTokens(pattern), what, pattern).regex;
    });
  }

  get empty(): boolean {
    return this.regexes.length === 0;
  }

  matches(namespace: string): boolean {
    return this.regexes.some((regex) => regex.test(namespace));
  }
}

interface RenameRule {
  regex: RegExp;
  variables: string[];
  to: Token[];
}

/** The nsFrom/nsTo pairs. */
export class NamespaceRenamer {
  private readonly rules: RenameRule[];

  constructor(from: readonly string[], to: readonly string[]) {
    if (from.length !== to.length) {
      throw new NamespacePatternError(
        `--nsFrom was given ${from.length} time(s) and --nsTo ${to.length} time(s): they go in pairs`,
      );
    }
    this.rules = from.map((fromPattern, index) => rule(fromPattern, to[index]!)).reverse();
  }

  /** The new name of a namespace, or the namespace itself when no pair matches. */
  rename(namespace: string): string {
    for (const { regex, variables, to } of this.rules) {
      const match = regex.exec(namespace);
      if (!match) continue;
      return to
        .map((token) =>
          "literal" in token ? token.literal : (match[variables.indexOf(token.variable) + 1] ?? ""),
        )
        .join("");
    }
    return namespace;
  }
}

function rule(from: string, to: string): RenameRule {
  const usesVariables = from.includes("$");
  if (!usesVariables) {
    const count = (text: string) => wildcardTokens(text).filter((token) => "variable" in token).length;
    if (count(from) !== count(to)) {
      throw new NamespacePatternError(
        `--nsFrom "${from}" and --nsTo "${to}" have different numbers of "*" wildcards`,
      );
    }
  }
  const fromTokens = usesVariables ? variableTokens(from, "--nsFrom") : wildcardTokens(from);
  const toTokens = usesVariables ? variableTokens(to, "--nsTo") : wildcardTokens(to);
  const { regex, variables } = compile(fromTokens, "--nsFrom", from);
  for (const token of toTokens) {
    if ("variable" in token && !variables.includes(token.variable)) {
      throw new NamespacePatternError(
        `--nsTo "${to}" uses $${token.variable}$, which --nsFrom "${from}" does not define`,
      );
    }
  }
  return { regex, variables, to: toTokens };
}

export interface NamespaceSelectionOptions {
  include?: readonly string[];
  exclude?: readonly string[];
  renameFrom?: readonly string[];
  renameTo?: readonly string[];
}

/**
 * Decides, for each namespace of an archive, whether it is restored and under which name. Validates every
 * pattern up front so a typo fails before anything is read or written.
 */
export class NamespaceSelection {
  private readonly include: NamespaceMatcher;
  private readonly exclude: NamespaceMatcher;
  private readonly renamer: NamespaceRenamer;

  constructor(options: NamespaceSelectionOptions = {}) {
    this.include = new NamespaceMatcher(options.include ?? [], "--nsInclude");
    this.exclude = new NamespaceMatcher(options.exclude ?? [], "--nsExclude");
    this.renamer = new NamespaceRenamer(options.renameFrom ?? [], options.renameTo ?? []);
  }

  /** The target namespace, or undefined when the namespace is not selected. */
  target(source: Namespace): Namespace | undefined {
    const name = formatNamespace(source);
    if (!this.include.empty && !this.include.matches(name)) return undefined;
    if (this.exclude.matches(name)) return undefined;
    const renamed = this.renamer.rename(name);
    if (renamed === name) return source;
    try {
      return parseNamespace(renamed);
    } catch {
      throw new NamespacePatternError(
        `renaming ${name} gives "${renamed}", which is not <database>.<collection>`,
      );
    }
  }
}
