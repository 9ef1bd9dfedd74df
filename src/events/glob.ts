/**
 * Glob matching in time linear in the glob and the subject. Regular
 * expressions built from globs backtrack: a filter such as `*a*a*a*a*b`
 * against a long branch name takes minutes and blocks the event loop, and
 * filters are typed by tenants. This matcher runs the glob as a set of
 * positions (an NFA) and never backtracks, so its work per subject character
 * is bounded by the glob's size (at most quadratic in the token count).
 *
 * Syntax:
 * - `*` matches any run of characters except `/`.
 * - `**` as a whole path segment matches any number of segments, including none.
 * - `?` matches one character except `/`.
 * - `[abc]`, `[a-z]` and `[!a-z]` (or `[^a-z]`) match one character of a class.
 * - `{a,b}` matches either alternative.
 * - `\` makes the next character literal; every other character matches itself.
 */

type Token =
  | { kind: 'literal'; char: string }
  | { kind: 'one' }
  | { kind: 'star' }
  | { kind: 'globstar' }
  | { kind: 'class'; negated: boolean; ranges: [string, string][] };

/** Upper bound on the alternatives that braces expand to, so `{a,b}{c,d}...` cannot explode. */
export const MAX_BRACE_EXPANSIONS = 64;

export class GlobSyntaxError extends Error {}

/** Expands `{a,b}` alternatives, innermost last; throws on unbalanced braces or too many expansions. */
export function expandBraces(glob: string): string[] {
  let open = -1;
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') {
      if (depth === 0) open = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth < 0) throw new GlobSyntaxError('unbalanced }');
      if (depth === 0) {
        const parts = splitTopLevel(glob.slice(open + 1, i));
        const prefix = glob.slice(0, open);
        const rest = expandBraces(glob.slice(i + 1));
        const out: string[] = [];
        for (const part of parts) {
          for (const inner of expandBraces(part)) {
            for (const tail of rest) {
              out.push(prefix + inner + tail);
              if (out.length > MAX_BRACE_EXPANSIONS) throw new GlobSyntaxError(`braces expand to more than ${MAX_BRACE_EXPANSIONS} alternatives`);
            }
          }
        }
        return out;
      }
    }
  }
  if (depth !== 0) throw new GlobSyntaxError('unclosed {');
  return [glob];
}

function splitTopLevel(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

function parseClass(glob: string[], start: number): { token: Token; end: number } {
  let i = start + 1;
  let negated = false;
  if (glob[i] === '!' || glob[i] === '^') {
    negated = true;
    i++;
  }
  const ranges: [string, string][] = [];
  let first = true;
  while (i < glob.length && (glob[i] !== ']' || first)) {
    first = false;
    let low = glob[i];
    if (low === '\\') low = glob[++i] ?? '';
    if (glob[i + 1] === '-' && glob[i + 2] !== undefined && glob[i + 2] !== ']') {
      let high = glob[i + 2];
      let next = i + 3;
      if (high === '\\') {
        high = glob[i + 3] ?? '';
        next = i + 4;
      }
      if ((high.codePointAt(0) ?? 0) < (low.codePointAt(0) ?? 0)) throw new GlobSyntaxError(`range ${low}-${high} is out of order`);
      ranges.push([low, high]);
      i = next;
    } else {
      ranges.push([low, low]);
      i++;
    }
  }
  if (i >= glob.length) throw new GlobSyntaxError('unclosed [');
  return { token: { kind: 'class', negated, ranges }, end: i + 1 };
}

/** Turns one brace-free glob into tokens, walking code points so that emoji and other astral characters stay whole. */
function tokenize(source: string): Token[] {
  const glob = Array.from(source);
  const tokens: Token[] = [];
  for (let i = 0; i < glob.length; ) {
    const c = glob[i];
    if (c === '\\') {
      if (i + 1 >= glob.length) throw new GlobSyntaxError('ends with a backslash');
      tokens.push({ kind: 'literal', char: glob[i + 1] });
      i += 2;
    } else if (c === '*') {
      let end = i;
      while (glob[end] === '*') end++;
      const wholeSegment = (i === 0 || glob[i - 1] === '/') && (end === glob.length || glob[end] === '/');
      if (end - i >= 2 && wholeSegment) {
        tokens.push({ kind: 'globstar' });
        // `**/` also matches no segment at all, so its slash belongs to the globstar.
        i = glob[end] === '/' ? end + 1 : end;
      } else {
        tokens.push({ kind: 'star' });
        i = end;
      }
    } else if (c === '?') {
      tokens.push({ kind: 'one' });
      i++;
    } else if (c === '[') {
      const { token, end } = parseClass(glob, i);
      tokens.push(token);
      i = end;
    } else {
      tokens.push({ kind: 'literal', char: c });
      i++;
    }
  }
  return tokens;
}

function classMatches(token: Extract<Token, { kind: 'class' }>, c: string): boolean {
  if (c === '/') return false;
  const point = c.codePointAt(0) ?? 0;
  const inside = token.ranges.some(([low, high]) => point >= (low.codePointAt(0) ?? 0) && point <= (high.codePointAt(0) ?? 0));
  return inside !== token.negated;
}

/**
 * Adds position `i` and the positions reachable from it without consuming a
 * character: past a `*`, and past a globstar that is being entered (a
 * globstar matches no segment only when it starts, not halfway through one).
 */
function addState(tokens: Token[], states: Uint8Array, i: number, entering: boolean): void {
  while (i <= tokens.length) {
    const token = tokens[i];
    const seen = states[i] === 1;
    states[i] = 1;
    if (token?.kind === 'star' && !seen) {
      i++;
    } else if (token?.kind === 'globstar' && entering) {
      i++;
    } else {
      return;
    }
  }
}

/** Work allowance shared by the matches of one event; see MatchBudgetExceeded. */
export interface MatchBudget {
  steps: number;
}

/**
 * Raised when matching one event would take more steps than its budget. Each
 * step is linear, but files times globs times webhooks times path length has
 * no useful bound, so the caller caps the total and decides what a cut-off
 * match means.
 */
export class MatchBudgetExceeded extends Error {}

/** Runs the tokens over the subject, keeping every reachable glob position at once. */
function runTokens(tokens: Token[], subject: string, budget: MatchBudget | undefined): boolean {
  let current = new Uint8Array(tokens.length + 1);
  let next = new Uint8Array(tokens.length + 1);
  addState(tokens, current, 0, true);
  for (const c of subject) {
    next.fill(0);
    if (budget) {
      budget.steps -= tokens.length;
      if (budget.steps < 0) throw new MatchBudgetExceeded('glob matching exceeded its step budget');
    }
    for (let i = 0; i < tokens.length; i++) {
      if (current[i] === 0) continue;
      const token = tokens[i];
      if (token.kind === 'literal') {
        if (token.char === c) addState(tokens, next, i + 1, true);
      } else if (token.kind === 'one') {
        if (c !== '/') addState(tokens, next, i + 1, true);
      } else if (token.kind === 'class') {
        if (classMatches(token, c)) addState(tokens, next, i + 1, true);
      } else if (token.kind === 'star') {
        if (c !== '/') addState(tokens, next, i, true);
      } else if (i + 1 === tokens.length) {
        // A trailing globstar matches everything that is left.
        addState(tokens, next, i, true);
      } else {
        addState(tokens, next, i, false);
        // Inside a globstar a slash ends a segment, and the rest of the glob may start after it.
        if (c === '/') addState(tokens, next, i + 1, true);
      }
    }
    if (!next.includes(1)) return false;
    [current, next] = [next, current];
  }
  return current[tokens.length] === 1;
}

export type GlobMatcher = ((subject: string, budget?: MatchBudget) => boolean) & { tokenCount: number };

/**
 * Compiles globs into one predicate that is true when any glob matches, and
 * records the total token count after brace expansion, the size that
 * matching cost grows with. Throws GlobSyntaxError on invalid syntax.
 */
export function compileGlobs(globs: readonly string[]): GlobMatcher {
  const compiled = globs.flatMap((glob) => expandBraces(glob)).map(tokenize);
  const matcher = ((subject: string, budget?: MatchBudget) => compiled.some((tokens) => runTokens(tokens, subject, budget))) as GlobMatcher;
  matcher.tokenCount = compiled.reduce((sum, tokens) => sum + tokens.length + 1, 0);
  return matcher;
}
