"""Check LLM-drafted SQL against an allow-list, then run it with database-level defences only.

The LLM is an untrusted user. `check_sql` parses a draft with a pgvector-aware sqlglot dialect
(`retrieval.pgvector_sql`), walks every node of the tree against allow-lists (statement shape,
relations, columns, functions by name *and* sqlglot class, casts, LIMIT, vector typing, cost)
and regenerates the SQL that will run from the checked tree, with each `embed('phrase')` turned
into a bound parameter `%(embed_N)s::vector`. `run_readonly` does not trust that check: it runs
as a login role that can only SELECT one view, inside `BEGIN READ ONLY` with a local
`statement_timeout` and pinned `search_path`, caps the rows and always rolls back.

What the database holds (created by `retrieval.schema.create_schema` on the embedded server, where
the app connects as a superuser and the reader logs in through trust auth):

- schema `llm` with view `llm.movies` = exactly `retrieval.schema.LLM_COLUMNS` of the catalog's
  `movies` table (the view runs with its owner's rights, so the reader needs no table grant);
- role `movie_rag_reader`: LOGIN, no other attributes, USAGE on `llm`, SELECT on `llm.movies`,
  CONNECT on the catalog database, nothing else; role defaults
  `default_transaction_read_only=on`, `statement_timeout=2s`, `search_path=llm, public`,
  `idle_in_transaction_session_timeout=10s` (the pool also sends these as startup options).

On an external server a DBA runs, once per cluster and then per catalog database:

    CREATE ROLE movie_rag_reader LOGIN PASSWORD '...' NOSUPERUSER NOCREATEDB NOCREATEROLE
        NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 32;
    ALTER ROLE movie_rag_reader SET default_transaction_read_only = on;
    ALTER ROLE movie_rag_reader SET statement_timeout = '2s';
    ALTER ROLE movie_rag_reader SET search_path = llm, public;
    ALTER ROLE movie_rag_reader SET idle_in_transaction_session_timeout = '10s';
    GRANT CONNECT ON DATABASE <catalog> TO movie_rag_reader;
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;      -- PostgreSQL < 15 only

then lets the app role create schema `llm` (GRANT CREATE ON DATABASE <catalog> TO <app role>), or
creates it, the view and the two grants itself (see `retrieval.schema._after_create`), and sets
`MOVIE_RAG_SQL_READER_URL=postgresql://movie_rag_reader:...@host/<catalog>`.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from retrieval.pgvector_sql import VECTOR_OPS, PgVector, PgVectorGenerator, VectorOp
from retrieval.schema import LLM_COLUMNS

log = logging.getLogger(__name__)

READER_ROLE = "movie_rag_reader"
"""The login role LLM SQL runs as."""
LLM_SCHEMA = "llm"
"""The schema holding the views the reader may SELECT."""
SEARCH_PATH = f"{LLM_SCHEMA}, public"
"""`movies` resolves to `llm.movies`; `public` stays for pgvector's type, operators, functions."""
EXPOSED_RELATIONS = frozenset({"movies"})
"""Relations the LLM may name (each is a view in LLM_SCHEMA)."""
DEFAULT_ROW_CAP = 50
DEFAULT_TIMEOUT_MS = 2000
MAX_SQL_CHARS = 4000
MAX_NODES = 1500
MAX_PHRASE_CHARS = 300
MAX_INNER_LIMIT = 10_000
"""LIMIT/OFFSET of subqueries (candidate sets for re-ranking) and OFFSET of the whole query."""
MAX_SCANS = 2
POOL_MAX_SIZE = 4
"""Reader connections per database URL."""
"""How many times one query may multiply the movies table by itself (one self-join)."""


class UnsafeSQL(ValueError):
    """The draft breaks a rule; str() is one sentence for a person or for the LLM's repair try."""


class SQLRunError(RuntimeError):
    """The database refused or cancelled a query; str() is one sentence, `sqlstate` the code."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass(frozen=True)
class GuardedSQL:
    """A checked query: what runs, and the phrases its parameters stand for."""

    sql: str
    """psycopg text generated from the checked tree: `%(embed_N)s::vector` parameters and every
    literal `%` doubled (psycopg sends it as a single `%`)."""
    phrases: dict[str, str] = field(default_factory=dict)
    """Parameter name -> phrase to embed, in order of first appearance."""
    readable: str = ""
    """The same SQL as the server receives it (single `%`), for people and logs."""

    def params(self, embed: Any) -> dict[str, str]:
        """Bind values for `run_readonly`: `embed(phrase) -> list[float]` for each phrase."""
        return {name: vector_literal(embed(phrase)) for name, phrase in self.phrases.items()}


def vector_literal(values: Iterable[float]) -> str:
    """pgvector's text form of a vector, `[0.1,0.2,...]`, for a `%(embed_N)s::vector` parameter."""
    out = []
    for v in values:
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"vector value {v!r} is not a finite number")
        out.append(repr(f))
    if not out:
        raise ValueError("a vector needs at least one value")
    return "[" + ",".join(out) + "]"


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------


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
    EmbedParam,
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
_ALLOWED_ANONYMOUS = frozenset({"cardinality", "every", *_VECTOR_FUNCS})

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


def _norm(ident: exp.Expr | str | None) -> str:
    """How PostgreSQL sees a name: unquoted names fold to lower case, quoted ones stay exact."""
    if ident is None:
        return ""
    if isinstance(ident, str):
        return ident.lower()
    if isinstance(ident, exp.Identifier):
        return ident.this if ident.quoted else ident.this.lower()
    return ident.name.lower()


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


class _Checker:
    def __init__(self, tree: exp.Expr, row_cap: int) -> None:
        self.tree = tree
        self.row_cap = row_cap
        self.ctes: dict[str, exp.CTE] = {}
        self.relations: set[str] = set()
        """Names a FROM item answers to (tables, aliases, CTEs) other than unnest aliases."""
        self.columns: set[str] = set(LLM_COLUMNS)
        """Names a column reference may use: catalog columns and names the query defines."""
        self.unnest_names: set[str] = set()
        self.phrases: dict[str, str] = {}

    # -- entry --------------------------------------------------------------------------------

    def run(self) -> None:
        self._check_root()
        nodes = list(self.tree.walk())
        if len(nodes) > MAX_NODES:
            raise UnsafeSQL("The query is too long; write a shorter SELECT over movies.")
        for node in nodes:
            self._collect_names(node)
        for node in nodes:  # relations first: "no such relation" explains more than "no such column"
            if isinstance(node, exp.Table):
                self._check_table(node)
        embeds: list[exp.Anonymous] = []
        for node in nodes:
            if isinstance(node, exp.Anonymous) and _anon_name(node) == "embed":
                embeds.append(node)
            self._check_node(node)
        self._check_cost()
        for node in embeds:
            self._bind_embed(node)

    def _check_root(self) -> None:
        root = self.tree
        if isinstance(root, (exp.Select, exp.SetOperation)):
            return
        raise UnsafeSQL(f"Only a SELECT query is allowed, but this is {self._statement_word(root)}.")

    @staticmethod
    def _statement_word(node: exp.Expr) -> str:
        if isinstance(node, exp.Command):
            word = str(node.this).upper()
            return f"{'an' if word[:1] in 'AEIOU' else 'a'} {word} command"
        for cls, word in _STATEMENT_WORDS.items():
            if isinstance(node, cls):
                return word
        return f"a {type(node).__name__.upper()} statement"

    # -- names ----------------------------------------------------------------------------------

    def _collect_names(self, node: exp.Expr) -> None:
        if isinstance(node, exp.With) and node.args.get("recursive"):
            raise UnsafeSQL("Recursive WITH queries are not allowed; write a plain SELECT.")
        if isinstance(node, exp.Select):
            if node.args.get("into"):
                raise UnsafeSQL("SELECT ... INTO creates a table; write a plain SELECT.")
            if node.args.get("locks"):
                raise UnsafeSQL("Locking clauses (FOR UPDATE / FOR SHARE) are not allowed; write a plain SELECT.")
        if isinstance(node, exp.CTE):
            name = _norm(node.alias_or_name)
            self.ctes[name] = node
            self.relations.add(name)
            if node.args["alias"].columns:
                raise UnsafeSQL(
                    f"Column lists on a WITH query ({name}(...)) are not allowed; name the "
                    "columns with AS inside the query instead."
                )
        elif isinstance(node, exp.TableAlias) and not isinstance(node.parent, exp.CTE):
            name = _norm(node.this)
            if isinstance(node.parent, (exp.Unnest, exp.Explode)):
                self.unnest_names.add(name)
                self.columns.add(name)
                for col in node.columns:
                    if _norm(col) == "embedding":
                        raise UnsafeSQL("The name embedding is reserved for the embedding column; choose another alias.")
                    self.columns.add(_norm(col))
            else:
                if node.columns:
                    raise UnsafeSQL(
                        f"Column lists on a table alias ({name}(...)) are not allowed; name the "
                        "columns with AS inside the subquery instead."
                    )
                if name:
                    self.relations.add(name)
        elif isinstance(node, exp.Alias):
            name = _norm(node.args.get("alias"))
            if name == "embedding" and not self._is_embedding_column(node.this):
                raise UnsafeSQL("The name embedding is reserved for the embedding column; choose another alias.")
            self.columns.add(name)
        elif isinstance(node, exp.Table) and not node.args.get("alias"):
            self.relations.add(_norm(node.this))

    # -- per node --------------------------------------------------------------------------------

    def _check_node(self, node: exp.Expr) -> None:
        if isinstance(node, exp.Anonymous):
            self._check_function(node)
        elif isinstance(node, _ALLOWED_NODES):
            pass
        elif isinstance(node, exp.Func) and not isinstance(node, exp.Command):
            self._check_function(node)
        else:
            raise UnsafeSQL(self._disallowed(node))
        if isinstance(node, (exp.Select, exp.SetOperation)):
            self._check_limit(node, top=node is self.tree)
        elif isinstance(node, exp.Column):
            self._check_column(node)
        elif isinstance(node, exp.Star):
            self._check_star(node)
        elif isinstance(node, exp.Literal) and node.is_string:
            if _VECTOR_TEXT.match(node.this) and any(c.isdigit() for c in node.this):
                raise UnsafeSQL(f"Vector literals such as {_snippet(node)} are not allowed; {_HOW_TO_VECTOR}.")
        elif isinstance(node, exp.Cast):
            self._check_cast(node)
        elif isinstance(node, VectorOp):
            self._check_vector_op(node)
        elif isinstance(node, exp.Identifier) and node.quoted and "\\" in node.this:
            raise UnsafeSQL("Names with backslash escapes are not allowed; use plain names.")
        elif isinstance(node, exp.Lateral) and not isinstance(node.this, exp.Subquery):
            raise UnsafeSQL("LATERAL is only allowed before a parenthesized subquery.")

    @staticmethod
    def _disallowed(node: exp.Expr) -> str:
        if isinstance(node, (*_STATEMENT_WORDS, exp.Command)):
            return (
                f"Only a SELECT query is allowed, but the query contains "
                f"{_Checker._statement_word(node)}."
            )
        if isinstance(node, (exp.Placeholder, exp.Parameter, exp.SessionParameter)):
            return f"Parameters such as {_snippet(node)} are not allowed; {_HOW_TO_VECTOR}."
        if isinstance(node, exp.Dot):
            return f"Qualified names such as {_snippet(node)} are not allowed; use the plain names of movies' columns."
        if isinstance(node, exp.BitwiseAnd):
            return "Bitwise operators and U&\"...\" names are not allowed; use plain names."
        if isinstance(node, (exp.UnicodeString, exp.ByteString, exp.BitString, exp.HexString)):
            return f"Escaped, bit and byte string literals such as {_snippet(node)} are not allowed; use plain 'text'."
        if isinstance(node, exp.Fetch):
            return "FETCH FIRST is not allowed; use LIMIT n."
        if isinstance(node, exp.Values):
            return "VALUES lists are not allowed; select from movies."
        if isinstance(node, exp.TableSample):
            return "TABLESAMPLE is not allowed; use ORDER BY and LIMIT."
        return f"The construct {_snippet(node)} is not allowed in a query over movies."

    def _check_function(self, node: exp.Expr) -> None:
        if isinstance(node, exp.Anonymous):
            ident = node.this
            name = _anon_name(node)
            if isinstance(ident, exp.Identifier) and ident.quoted:
                raise UnsafeSQL(f"Quoted function names such as {_snippet(ident)} are not allowed; write {ident.this.lower()}(...) unquoted if it is allowed.")
            if name == "embed":
                return
            if name not in _ALLOWED_ANONYMOUS:
                raise UnsafeSQL(f"The function {name}() is not allowed in a query over movies.")
            if name in _VECTOR_FUNCS:
                self._check_vector_func(node, name, node.expressions)
            return
        if not isinstance(node, _ALLOWED_FUNCS):
            name = _snippet(node).split("(")[0].strip().lower()
            raise UnsafeSQL(f"The function {name}() is not allowed in a query over movies.")
        if isinstance(node, exp.CosineDistance):
            self._check_vector_func(node, "cosine_distance", [node.this, node.expression])

    def _check_vector_func(self, node: exp.Expr, name: str, args: Sequence[exp.Expr]) -> None:
        kind, arity = _VECTOR_FUNCS[name]
        if len(args) != arity:
            raise UnsafeSQL(f"{name}() takes {arity} argument{'s' if arity > 1 else ''}.")
        for arg in args:
            got = self._vtype(arg)
            if got != kind:
                if kind == "bit":
                    raise UnsafeSQL(
                        f"{name}() compares bit vectors; write {name}(binary_quantize(embedding), "
                        "binary_quantize(embed('a phrase')))."
                    )
                raise UnsafeSQL(f"{name}() needs vectors, but {_snippet(arg)} is not one; {_HOW_TO_VECTOR}.")
        if name == "binary_quantize":
            _, parent = _outer(node)
            ok = isinstance(parent, VectorOp) and parent.bits or (
                isinstance(parent, exp.Anonymous) and _anon_name(parent) in ("hamming_distance", "jaccard_distance")
            )
            if not ok:
                raise UnsafeSQL(
                    "binary_quantize() may only be an operand of <~>, <%>, hamming_distance() or "
                    "jaccard_distance(); the raw bits cannot be selected."
                )

    def _check_table(self, node: exp.Table) -> None:
        if node.args.get("db") or node.args.get("catalog"):
            raise UnsafeSQL(
                f"Schema-qualified names such as {_snippet(node)} are not allowed; "
                "query the movies relation by its plain name."
            )
        if not isinstance(node.this, exp.Identifier):
            raise UnsafeSQL(f"{_snippet(node)} cannot be used as a table; select from movies.")
        name = _norm(node.this)
        if name in EXPOSED_RELATIONS or name in self.ctes:
            return
        if name.startswith("pg_") or name == "information_schema":
            raise UnsafeSQL(f"System catalogs such as {name} are not allowed; only the movies relation can be queried.")
        raise UnsafeSQL(f"The relation {name} is not available; only movies can be queried.")

    def _check_column(self, node: exp.Column) -> None:
        if node.args.get("db") or node.args.get("catalog"):
            raise UnsafeSQL(f"Schema-qualified names such as {_snippet(node)} are not allowed; use table.column at most.")
        if isinstance(node.this, exp.Star):
            raise UnsafeSQL(
                f"{_snippet(node)} would include the raw embedding; list the columns you need, "
                "for example SELECT id, title, year."
            )
        table = node.args.get("table")
        if table is not None and _norm(table) not in self.relations | self.unnest_names:
            raise UnsafeSQL(f"The table name {_norm(table)} in {_snippet(node)} is not defined in the query.")
        name = _norm(node.this)
        if name not in self.columns:
            if table is None and name in self.relations:
                raise UnsafeSQL(
                    f"{name} names a whole table row, which would include the raw embedding; "
                    "select the columns you need."
                )
            if name in ("ctid", "xmin", "xmax", "cmin", "cmax", "tableoid", "oid"):
                raise UnsafeSQL(f"The system column {name} is not available; use the columns of movies.")
            raise UnsafeSQL(
                f"There is no column {name}; movies has {', '.join(LLM_COLUMNS)}."
            )
        if table is None and name in self.relations and name not in self.unnest_names:
            raise UnsafeSQL(f"{name} is both a table and a column name here; qualify it as table.{name}.")
        if name == "embedding" and not self._embedding_position_ok(node):
            _, parent = _outer(node)
            if isinstance(parent, (exp.ArrayContainsAll, exp.ArrayContainedBy, exp.ArrayOverlaps, exp.Any, exp.In)):
                raise UnsafeSQL(
                    "@>, <@, &&, ANY and IN do not work on embeddings; to find movies like a title, "
                    "ORDER BY embedding <=> (SELECT embedding FROM movies WHERE title = '...')."
                )
            raise UnsafeSQL(_NO_RAW_EMBEDDING)

    @staticmethod
    def _check_star(node: exp.Star) -> None:
        parent = node.parent
        if isinstance(parent, exp.Count):
            return
        raise UnsafeSQL(
            "SELECT * would include the raw embedding; list the columns you need, for example "
            "SELECT id, title, year."
        )

    def _check_cast(self, node: exp.Cast) -> None:
        to = node.args.get("to")
        if _is_vector_type(to):
            if self._vtype(node.this) != "vector":
                raise UnsafeSQL(f"Vector literals such as {_snippet(node)} are not allowed; {_HOW_TO_VECTOR}.")
            if not self._vector_position_ok(node):
                raise UnsafeSQL(_NO_RAW_EMBEDDING)
            return
        if not isinstance(to, exp.DataType):
            raise UnsafeSQL(f"The cast {_snippet(node)} is not allowed; cast to int, numeric, float, text or boolean.")
        base = to
        if to.this == exp.DataType.Type.ARRAY and to.expressions:
            base = to.expressions[0]
        if not isinstance(base, exp.DataType) or base.this not in _CAST_TYPES:
            raise UnsafeSQL(f"The cast {_snippet(node)} is not allowed; cast to int, numeric, float, text or boolean.")

    def _check_vector_op(self, node: VectorOp) -> None:
        want = "bit" if node.bits else "vector"
        for side in (node.this, node.expression):
            got = self._vtype(side)
            if got == want:
                continue
            inner = _unparen(side)
            if self._looks_like_vector_literal(inner):
                raise UnsafeSQL(f"Vector literals such as {_snippet(inner)} are not allowed; {_HOW_TO_VECTOR}.")
            if node.bits:
                raise UnsafeSQL(
                    f"{node.op} compares bit vectors; write binary_quantize(embedding) {node.op} "
                    "binary_quantize(embed('a phrase'))."
                )
            if isinstance(inner, exp.Literal) and inner.is_string:
                raise UnsafeSQL(
                    f"{node.op} compares vectors, but {_snippet(inner)} is text; write "
                    f"embed({_snippet(inner)}) or (SELECT embedding FROM movies WHERE title = {_snippet(inner)})."
                )
            raise UnsafeSQL(f"Both sides of {node.op} must be vectors, but {_snippet(inner)} is not; {_HOW_TO_VECTOR}.")

    @staticmethod
    def _looks_like_vector_literal(node: exp.Expr) -> bool:
        if isinstance(node, exp.Cast):
            node = node.this
        if isinstance(node, exp.Array):
            return True
        return isinstance(node, exp.Literal) and node.is_string and bool(_VECTOR_TEXT.match(node.this))

    # -- vector typing -------------------------------------------------------------------------

    @staticmethod
    def _is_embedding_column(node: exp.Expr | None) -> bool:
        return isinstance(node, exp.Column) and _norm(node.this) == "embedding"

    def _vtype(self, node: exp.Expr) -> str | None:
        """'vector', 'bit' or None for anything else."""
        node = _unparen(node)
        if self._is_embedding_column(node) or isinstance(node, EmbedParam):
            return "vector"
        if isinstance(node, exp.Anonymous):
            name = _anon_name(node)
            if name == "embed":
                return "vector"
            if name == "binary_quantize" and len(node.expressions) == 1 and self._vtype(node.expressions[0]) == "vector":
                return "bit"
            return None
        if isinstance(node, exp.Cast) and _is_vector_type(node.args.get("to")):
            return "vector" if self._vtype(node.this) == "vector" else None
        if isinstance(node, exp.Subquery):
            select = node.this
            if isinstance(select, exp.Select) and len(select.expressions) == 1:
                proj = select.expressions[0]
                if isinstance(proj, exp.Alias):
                    proj = proj.this
                if self._is_embedding_column(proj):
                    return "vector"
        return None

    def _vector_position_ok(self, node: exp.Expr) -> bool:
        """Whether a vector value here is consumed by pgvector rather than shown or reshaped."""
        child, parent = _outer(node)
        if isinstance(parent, VectorOp):
            return True
        if isinstance(parent, exp.Anonymous) and _anon_name(parent) in _VECTOR_FUNCS:
            return True
        if isinstance(parent, exp.CosineDistance):
            return True
        if isinstance(parent, exp.Cast) and _is_vector_type(parent.args.get("to")):
            return self._vector_position_ok(parent)
        return False

    def _embedding_position_ok(self, node: exp.Column) -> bool:
        if self._vector_position_ok(node):
            return True
        child, parent = _outer(node)
        if isinstance(parent, exp.Is) and isinstance(parent.expression, exp.Null):
            return True
        if isinstance(parent, exp.Alias):
            child, parent = parent, parent.parent
        if isinstance(parent, exp.Select) and child.arg_key == "expressions":
            return self._is_vector_source(parent)
        return False

    def _is_vector_source(self, select: exp.Select) -> bool:
        """A SELECT whose projected embedding feeds a vector operator, a CTE or a derived table."""
        parent = select.parent
        if isinstance(parent, exp.CTE):
            return True
        if isinstance(parent, exp.Subquery):
            _, grand = _outer(parent)
            if isinstance(grand, (exp.From, exp.Join, exp.Lateral)):
                return True
            return self._vtype(parent) == "vector" and self._vector_position_ok(parent)
        return False

    # -- embed(), LIMIT, cost ----------------------------------------------------------------

    def _bind_embed(self, node: exp.Anonymous) -> None:
        args = node.expressions
        if len(args) != 1 or not isinstance(args[0], exp.Literal) or not args[0].is_string:
            raise UnsafeSQL("embed() takes exactly one quoted phrase, for example embed('a heist in a casino').")
        phrase = args[0].this.strip()
        if not phrase:
            raise UnsafeSQL("embed('') has no phrase; describe what to look for, for example embed('a heist in a casino').")
        if len(phrase) > MAX_PHRASE_CHARS:
            raise UnsafeSQL(f"The phrase in embed() is longer than {MAX_PHRASE_CHARS} characters; shorten it.")
        if not self._vector_position_ok(node):
            raise UnsafeSQL(
                "embed('...') stands for a query vector and can only be compared with the "
                "embedding column, for example ORDER BY embedding <=> embed('a phrase')."
            )
        name = next((n for n, known in self.phrases.items() if known == phrase), None)
        if name is None:
            name = f"embed_{len(self.phrases)}"
            self.phrases[name] = phrase
        node.replace(EmbedParam(this=name))

    def _check_limit(self, query: exp.Expr, *, top: bool) -> None:
        limit = query.args.get("limit")
        offset = query.args.get("offset")
        if isinstance(limit, exp.Fetch):
            raise UnsafeSQL("FETCH FIRST is not allowed; use LIMIT n.")
        cap = self.row_cap if top else MAX_INNER_LIMIT
        if limit is None:
            if top:
                query.set("limit", exp.Limit(expression=exp.Literal.number(self.row_cap)))
        else:
            n = _int_literal(limit.expression)
            if n is None:
                raise UnsafeSQL(f"LIMIT must be a whole number up to {cap}, not {_snippet(limit.expression)}.")
            if n > cap:
                raise UnsafeSQL(f"LIMIT {n} is more than the {cap} rows allowed; use LIMIT {cap} or less.")
            if limit.args.get("offset") is not None:
                raise UnsafeSQL("Write LIMIT n OFFSET m instead of LIMIT m, n.")
        if offset is not None:
            n = _int_literal(offset.expression)
            if n is None or n > MAX_INNER_LIMIT:
                raise UnsafeSQL(f"OFFSET must be a whole number up to {MAX_INNER_LIMIT}.")

    def _check_cost(self) -> None:
        memo: dict[int, int] = {}

        def scans(query: exp.Expr | None) -> int:
            query = _unparen(query) if query is not None else None
            if query is None:
                return 0
            if isinstance(query, exp.Subquery):
                return scans(query.this)
            if isinstance(query, exp.SetOperation):
                return max(scans(query.this), scans(query.expression))
            if not isinstance(query, exp.Select):
                return 0
            key = id(query)
            if key in memo:
                return memo[key]
            items = []
            if query.args.get("from_") is not None:
                items.append(query.args["from_"].this)
            items.extend(j.this for j in query.args.get("joins") or [])
            total = sum(item_scans(i) for i in items)
            # Subqueries outside FROM may run once per row: they multiply.
            nested = 0
            for key_name, value in query.args.items():
                if key_name in ("from_", "joins", "with_"):
                    continue
                for child in value if isinstance(value, list) else [value]:
                    if isinstance(child, exp.Expr):
                        for sub in _top_queries(child):
                            if self._vtype(sub.parent if isinstance(sub.parent, exp.Subquery) else sub) == "vector":
                                continue  # the single-row embedding lookup
                            nested = max(nested, scans(sub))
            memo[key] = total + nested
            return memo[key]

        def item_scans(item: exp.Expr) -> int:
            item = _unparen(item)
            if isinstance(item, exp.Table):
                name = _norm(item.this)
                if name in self.ctes:
                    return scans(self.ctes[name].this)
                return 1
            if isinstance(item, exp.Lateral):
                return scans(item.this)
            if isinstance(item, exp.Subquery):
                return scans(item.this)
            return 0  # unnest of one row's array

        for node in self.tree.find_all(exp.Select):
            if scans(node) > MAX_SCANS:
                raise UnsafeSQL(
                    "The query joins movies with itself more than once, which is too expensive; "
                    "use at most one self-join."
                )


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


def check_sql(sql: str, *, row_cap: int = DEFAULT_ROW_CAP) -> GuardedSQL:
    """Check one LLM draft against the allow-list and return the SQL that will run.

    Raises `UnsafeSQL` with one sentence naming what is wrong and what to write instead.
    """
    text = (sql or "").strip()
    if not text:
        raise UnsafeSQL("The SQL is empty; write one SELECT over movies.")
    if len(text) > MAX_SQL_CHARS:
        raise UnsafeSQL(f"The SQL is longer than {MAX_SQL_CHARS} characters; write a shorter SELECT.")
    if _SENTINEL in text:
        raise UnsafeSQL("The SQL contains a NUL character; remove it.")
    tokens = _check_tokens(text)
    dialect = _get_dialect()
    try:
        statements = [s for s in dialect.parser().parse(tokens, text) if s is not None]
    except ParseError as exc:
        raise UnsafeSQL(f"The SQL could not be parsed ({_first_line(exc)}); write one plain SELECT over movies.") from None
    if len(statements) != 1:
        raise UnsafeSQL("Exactly one statement is allowed; send a single SELECT with no semicolons inside.")
    tree = statements[0]
    checker = _Checker(tree, row_cap)
    checker.run()
    generated = tree.sql(dialect=dialect, comments=False)
    escaped = generated.replace("%", "%%")
    readable = generated
    for name in checker.phrases:
        marker = f"{_SENTINEL}{name}{_SENTINEL}"
        escaped = escaped.replace(marker, f"%({name})s")
        readable = readable.replace(marker, f"%({name})s")
    return GuardedSQL(sql=escaped, phrases=dict(checker.phrases), readable=readable)


# --------------------------------------------------------------------------------------------
# Read-only execution
# --------------------------------------------------------------------------------------------

_pools: dict[str, Any] = {}
_pools_lock = threading.Lock()


def reader_conninfo(db: str, *, reader_url: str | None = None) -> str:
    """Connection string for the reader role: `reader_url` as given, else `db` with the user
    swapped for READER_ROLE and no password (the embedded server trusts local logins)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from retrieval.database import libpq_url

    params = conninfo_to_dict(libpq_url(reader_url or db))
    if reader_url is None:
        params["user"] = READER_ROLE
        params.pop("password", None)
    params["options"] = (
        "-c default_transaction_read_only=on "
        f"-c statement_timeout={DEFAULT_TIMEOUT_MS} "
        "-c idle_in_transaction_session_timeout=10000 "
        f"-c search_path={SEARCH_PATH.replace(' ', '')}"
    )
    params.setdefault("application_name", "movie-rag-sqlguard")
    return make_conninfo("", **params)


def _reset(conn: Any) -> None:
    # Undo anything session-level a query might have left behind that a rollback does not undo
    # (session advisory locks, prepared statements, LISTEN, temp objects, session GUCs).
    conn.execute("DISCARD ALL")


def _pool_for(conninfo: str) -> Any:
    from psycopg_pool import ConnectionPool

    with _pools_lock:
        pool = _pools.get(conninfo)
        if pool is None:
            pool = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=POOL_MAX_SIZE,
                kwargs={"autocommit": True, "prepare_threshold": None},
                reset=_reset,
                name="sqlguard",
                timeout=10.0,
                open=True,
            )
            _pools[conninfo] = pool
        return pool


def close_pools() -> None:
    """Close every reader pool (tests, shutdown)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


def _dedupe(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}_{seen[name]}")
        else:
            seen[name] = 1
            out.append(name)
    return out


def run_readonly(
    sql: str,
    params: Mapping[str, Any],
    *,
    db: str,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    row_cap: int = DEFAULT_ROW_CAP,
    reader_url: str | None = None,
) -> list[dict]:
    """Run `sql` as the reader role with database-level defences only (no checking here).

    `db` is the catalog's libpq URL; the reader's connection is derived from it unless
    `reader_url` names one. Each call: BEGIN READ ONLY, SET LOCAL statement_timeout and
    search_path, fetch at most `row_cap` rows, ROLLBACK. Raises `SQLRunError` when the database
    refuses or cancels the query and `retrieval.database.DatabaseError` when it cannot connect.
    """
    import psycopg
    from psycopg import sql as pgsql
    from psycopg_pool import PoolTimeout

    from retrieval.database import DatabaseError, describe_url

    conninfo = reader_conninfo(db, reader_url=reader_url)
    timeout_ms = max(1, int(timeout_ms))
    try:
        pool = _pool_for(conninfo)
        with pool.connection() as conn:
            try:
                conn.execute("BEGIN READ ONLY")
                conn.execute(pgsql.SQL("SET LOCAL statement_timeout = {}").format(pgsql.Literal(f"{timeout_ms}ms")))
                conn.execute(pgsql.SQL("SET LOCAL lock_timeout = {}").format(pgsql.Literal(f"{timeout_ms}ms")))
                conn.execute(pgsql.SQL("SET LOCAL search_path = {}").format(pgsql.SQL(SEARCH_PATH)))
                # stream() always uses the extended protocol, which refuses a second statement
                # ("SELECT 1; COMMIT; ..."), and lets us stop reading at the row cap.
                cap = max(0, int(row_cap))
                cur = conn.cursor()
                rows: list[dict] = []
                names: list[str] | None = None
                for row in cur.stream(sql, dict(params), size=max(1, min(cap, 100))):  # type: ignore[arg-type]
                    if names is None:
                        names = _dedupe([c.name for c in cur.description or ()])
                    if len(rows) >= cap:
                        break
                    rows.append(dict(zip(names, row, strict=True)))
                return rows
            except psycopg.OperationalError as exc:
                if exc.sqlstate is None:
                    raise
                raise _run_error(exc, timeout_ms) from exc
            except psycopg.Error as exc:
                raise _run_error(exc, timeout_ms) from exc
            finally:
                if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    try:
                        conn.execute("ROLLBACK")
                    except psycopg.Error:
                        log.debug("rollback failed on a reader connection", exc_info=True)
    except PoolTimeout as exc:
        raise DatabaseError(
            f"Could not connect to {describe_url(db)} as {READER_ROLE} for read-only SQL; create the "
            "role as retrieval/sqlguard.py describes or set MOVIE_RAG_SQL_READER_URL."
        ) from exc
    except psycopg.OperationalError as exc:
        if isinstance(exc, psycopg.errors.QueryCanceled) or getattr(exc, "sqlstate", None):
            raise _run_error(exc, timeout_ms) from exc
        raise DatabaseError(f"Lost the read-only connection to {describe_url(db)}: {exc}".strip()) from exc


def _run_error(exc: Exception, timeout_ms: int) -> SQLRunError:
    import psycopg

    state = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    primary = (diag.message_primary if diag is not None else None) or str(exc).splitlines()[0]
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return SQLRunError(f"The query ran longer than {timeout_ms} ms and was cancelled.", state)
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return SQLRunError(f"The database refused to write: {primary}.", state)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return SQLRunError(f"The database refused the query: {primary}.", state)
    return SQLRunError(f"The database rejected the query: {primary}.", state)


__all__ = [
    "DEFAULT_ROW_CAP",
    "DEFAULT_TIMEOUT_MS",
    "EXPOSED_RELATIONS",
    "LLM_SCHEMA",
    "READER_ROLE",
    "SEARCH_PATH",
    "VECTOR_OPS",
    "GuardedSQL",
    "SQLRunError",
    "UnsafeSQL",
    "check_sql",
    "close_pools",
    "reader_conninfo",
    "run_readonly",
    "vector_literal",
]
