"""The allow-lists and token-level rules of the SQL guard, and the small tree helpers it shares.

What a draft may contain (syntax nodes, functions by sqlglot class and by name, casts), how deep
it may nest before the parser is even tried, and the guard's dialect: pgvector's operators plus
`EmbedParam`, the bound parameter each `embed('phrase')` becomes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from retrieval.pgvector_sql import PgVector, PgVectorGenerator, VectorOp
from retrieval.sqlscope import UnsafeSQL, norm

MAX_DEPTH = 20
"""Deepest nesting of parentheses (and so of subqueries) a draft may have."""
MAX_PREFIX_RUN = 8
"""Longest run of prefix operators (NOT NOT ..., - - ...)."""
MAX_BRACKET_DEPTH = 4
"""Deepest nesting of square brackets (ARRAY[...], x[i]): sqlglot re-annotates the subtree of
every bracket and backtracks into nested ones, so its time doubles with each level."""
MAX_BRACKETS = 32
"""Most square-bracket pairs in one draft (each costs a pass over its subtree)."""
MAX_TREE_DEPTH = 500
"""Deepest syntax tree (long flat AND/OR chains are deep trees; sqlglot copes with ~1,000)."""


class EmbedParam(exp.Expression):
    """Where `embed('phrase')` stood: a bound vector parameter."""

    arg_types = {"this": True}


_SENTINEL = "\x00"


class _GuardGenerator(PgVectorGenerator):
    TRANSFORMS = {
        **PgVectorGenerator.TRANSFORMS,
        # A NUL-fenced marker (the input may not contain NUL) so `%` can be escaped around it.
        EmbedParam: lambda self, e: f"{_SENTINEL}{e.args['this']}{_SENTINEL}::vector",
    }


class _GuardDialect(PgVector):
    Generator = _GuardGenerator


_dialect: _GuardDialect | None = None


def _get_dialect() -> _GuardDialect:
    global _dialect
    if _dialect is None:
        _dialect = _GuardDialect()
    return _dialect


# Plain syntax nodes a SELECT over one table may use. Functions are checked separately.
_ALLOWED_NODES: tuple[type[exp.Expr], ...] = (
    exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery, exp.From, exp.Join,
    exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset,
    exp.Distinct, exp.With, exp.CTE, exp.TableAlias, exp.Alias, exp.Column, exp.Identifier,
    exp.Table, exp.Star, exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.And, exp.Or,
    exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is, exp.In, exp.Between,
    exp.Like, exp.ILike, exp.RegexpLike, exp.RegexpILike, exp.SimilarTo, exp.Add, exp.Sub,
    exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Case, exp.If, exp.Cast, exp.DataType,
    exp.DataTypeParam, exp.Array, exp.ArrayContainsAll, exp.ArrayContainedBy,
    exp.ArrayOverlaps, exp.Bracket, exp.Any, exp.All, exp.Window, exp.WindowSpec, exp.Tuple,
    exp.Lateral, exp.DPipe, exp.Filter, exp.WithinGroup, exp.Exists, exp.Var, VectorOp,
    EmbedParam, exp.Collate, exp.MatchAgainst, exp.ArrayContains, exp.NullSafeEQ,
    exp.NullSafeNEQ, exp.Escape,
)

# Functions by sqlglot class (what the tree holds is what gets generated).
_ALLOWED_FUNCS: tuple[type[exp.Expr], ...] = (
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Stddev, exp.StddevSamp, exp.Variance,
    exp.PercentileCont, exp.PercentileDisc, exp.Mode, exp.LogicalAnd, exp.LogicalOr,
    exp.ArrayAgg, exp.GroupConcat, exp.Lower, exp.Upper, exp.Initcap, exp.Trim, exp.Length,
    exp.Substring, exp.Left, exp.Right, exp.Concat, exp.ConcatWs, exp.Replace, exp.StrPosition,
    exp.SplitPart, exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least, exp.Round, exp.Abs,
    exp.Floor, exp.Ceil, exp.Sqrt, exp.Ln, exp.Log, exp.Pow, exp.Sign, exp.Trunc,
    exp.ArrayToString, exp.ArraySize, exp.ArrayPosition, exp.Explode, exp.Unnest,
    exp.RowNumber, exp.Rank, exp.DenseRank, exp.PercentRank, exp.CosineDistance,
    exp.Extract, exp.CurrentDate, exp.CurrentTimestamp, exp.Rand, exp.StringToArray,
    exp.RegexpReplace, exp.TimestampTrunc, exp.ArrayRemove, exp.Reverse, exp.Lag, exp.Lead,
    exp.FirstValue, exp.LastValue, exp.NthValue, exp.Ntile, exp.CumeDist, exp.StartsWith,
    exp.WidthBucket, exp.TimeToStr,
)

# Functions sqlglot does not know (exp.Anonymous), by lower-case unquoted name.
_VECTOR_FUNCS = {  # name -> (argument kind, number of arguments)
    "l2_distance": ("vector", 2),
    "inner_product": ("vector", 2),
    "l1_distance": ("vector", 2),
    "cosine_distance": ("vector", 2),
    "vector_dims": ("vector", 1),
    "vector_norm": ("vector", 1),
    "binary_quantize": ("vector", 1),
    "hamming_distance": ("bit", 2),
    "jaccard_distance": ("bit", 2),
}
_TEXT_SEARCH_FUNCS = frozenset({
    "to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery",
    "ts_rank", "ts_rank_cd", "setweight", "numnode", "querytree",
})
_ALLOWED_ANONYMOUS = frozenset({
    "cardinality", "every", "char_length", "character_length", "octet_length", "array_length",
    "array_upper", "array_lower", "date_part", "make_date", *_TEXT_SEARCH_FUNCS, *_VECTOR_FUNCS,
})
MAX_FORMAT_CHARS = 64
"""Longest to_char() pattern (its output grows with the pattern, never beyond a few times it)."""

_CAST_TYPES = frozenset({
    exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.SMALLINT,
    exp.DataType.Type.DECIMAL, exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE,
    exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR,
    exp.DataType.Type.BOOLEAN, exp.DataType.Type.DATE,
})

_STATEMENT_WORDS = {
    exp.Insert: "an INSERT", exp.Update: "an UPDATE", exp.Delete: "a DELETE",
    exp.Merge: "a MERGE", exp.Create: "a CREATE", exp.Drop: "a DROP", exp.Alter: "an ALTER",
    exp.Copy: "a COPY", exp.Set: "a SET", exp.TruncateTable: "a TRUNCATE",
    exp.Transaction: "a BEGIN", exp.Commit: "a COMMIT", exp.Rollback: "a ROLLBACK",
    exp.Grant: "a GRANT", exp.Values: "a VALUES list", exp.Pragma: "a PRAGMA",
}

_VECTOR_TEXT = re.compile(r"^\s*[\[{]\s*[-+0-9.eE,\s]*[\]}]\s*$")

_HOW_TO_VECTOR = (
    "write embed('a phrase') or (SELECT embedding FROM movies WHERE title = '...') where a "
    "query vector is needed"
)
_NO_RAW_EMBEDDING = (
    "The raw embedding column may only be compared with a pgvector operator "
    "(for example ORDER BY embedding <=> embed('a phrase')); it cannot be selected, cast, "
    "grouped or passed to other functions."
)


_norm = norm


def _snippet(node: exp.Expr) -> str:
    text = node.sql(dialect=_get_dialect(), comments=False).replace(_SENTINEL, "")
    return text if len(text) <= 60 else text[:57] + "..."


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _outer(node: exp.Expr) -> tuple[exp.Expr, exp.Expr | None]:
    """(the node with its parentheses, the first parent that is not a parenthesis)."""
    child, parent = node, node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    return child, parent


def _is_vector_type(dt: exp.Expr | None) -> bool:
    if not isinstance(dt, exp.DataType):
        return False
    if dt.this == exp.DataType.Type.VECTOR:
        return True
    return dt.this == exp.DataType.Type.USERDEFINED and _norm(dt.args.get("kind")) in ("halfvec", "sparsevec")


def _int_literal(node: exp.Expr | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string and re.fullmatch(r"\d+", node.this):
        return int(node.this)
    return None


def _anon_name(node: exp.Anonymous) -> str:
    return _norm(node.this) if isinstance(node.this, exp.Identifier) else str(node.this).lower()


def _number_literal(node: exp.Expr | None) -> float | None:
    node = _unparen(node) if node is not None else None
    if isinstance(node, exp.Neg):
        inner = _number_literal(node.this)
        return -inner if inner is not None else None
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(node.this)
        except ValueError:
            return None
    return None


def _check_tree_depth(tree: exp.Expr) -> None:
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise UnsafeSQL("The query is nested too deeply; write a flatter SELECT over movies.")
        for value in node.args.values():
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Expr):
                    stack.append((child, depth + 1))


def _top_queries(node: exp.Expr) -> list[exp.Expr]:
    """Outermost SELECT/set-operation nodes inside `node` (not descending into them)."""
    found: list[exp.Expr] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (exp.Select, exp.SetOperation)):
            found.append(current)
            continue
        for value in current.args.values():
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Expr):
                    stack.append(child)
    return found


def _check_tokens(sql: str) -> list[Any]:
    dialect = _get_dialect()
    try:
        tokens = dialect.tokenize(sql)
    except TokenError as exc:
        raise UnsafeSQL(f"The SQL could not be read ({_first_line(exc)}); write one plain SELECT over movies.") from None
    commands = dialect.tokenizer_class.COMMANDS
    for i, tok in enumerate(tokens):
        if tok.token_type in commands and (i == 0 or tokens[i - 1].token_type == TokenType.SEMICOLON):
            # Statements sqlglot cannot parse (DO, EXPLAIN, CALL, VACUUM, ...) are never a SELECT.
            if i > 0:
                raise UnsafeSQL("Exactly one statement is allowed; send a single SELECT with no semicolons inside.")
            word = tok.text.upper()
            raise UnsafeSQL(
                f"Only a SELECT query is allowed, but this is {'an' if word[:1] in 'AEIOU' else 'a'} {word} command."
            )
        if tok.token_type == TokenType.UNICODE_STRING:
            raise UnsafeSQL("Unicode escape strings (U&'...') are not allowed; write plain 'text'.")
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            tok.token_type == TokenType.VAR and tok.text in ("U", "u") and nxt is not None
            and nxt.token_type == TokenType.AMP and nxt.start == tok.end + 1
        ):
            raise UnsafeSQL('Unicode-escaped names (U&"...") are not allowed; use plain names.')
        if (
            tok.token_type == TokenType.IDENTIFIER and nxt is not None
            and nxt.token_type == TokenType.L_PAREN
            and not (i > 0 and tokens[i - 1].token_type == TokenType.ALIAS)
        ):
            raise UnsafeSQL(f'Quoted function names such as "{tok.text}"(...) are not allowed; write the name unquoted.')
    return tokens


def _first_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        e = errors[0]
        where = f" at line {e.get('line')}, column {e.get('col')}" if e.get("line") else ""
        return f"{e.get('description', 'syntax error')}{where}"
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def _check_nesting(tokens: Sequence[Any]) -> None:
    """Refuse what would nest deeper than the parser can go, or take it exponential time,
    before it tries: parentheses and square brackets count towards one depth, and brackets
    have a lower bound of their own."""
    depth = run = brackets = bracket_depth = 0
    prefix = (TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE)
    opening = {TokenType.L_PAREN, TokenType.L_BRACKET}
    closing = {TokenType.R_PAREN, TokenType.R_BRACKET}
    for tok in tokens:
        if tok.token_type in opening:
            depth += 1
            if depth > MAX_DEPTH:
                raise UnsafeSQL(
                    f"The query nests parentheses or subqueries more than {MAX_DEPTH} deep; write a flatter SELECT."
                )
            if tok.token_type == TokenType.L_BRACKET:
                brackets += 1
                bracket_depth += 1
                if bracket_depth > MAX_BRACKET_DEPTH:
                    raise UnsafeSQL(
                        f"The query nests square brackets (ARRAY[...] or x[i]) more than {MAX_BRACKET_DEPTH} "
                        "deep; write a flatter SELECT."
                    )
                if brackets > MAX_BRACKETS:
                    raise UnsafeSQL(
                        f"The query uses square brackets (ARRAY[...] or x[i]) more than {MAX_BRACKETS} times; "
                        "write a shorter SELECT."
                    )
        elif tok.token_type in closing:
            depth -= 1
            if tok.token_type == TokenType.R_BRACKET:
                bracket_depth = max(0, bracket_depth - 1)
        run = run + 1 if tok.token_type in prefix else 0
        if run > MAX_PREFIX_RUN:
            raise UnsafeSQL("The query chains too many NOT or sign operators in a row; simplify the condition.")
