"""Check LLM-drafted SQL against an allow-list and regenerate the SQL that will run.

The LLM is an untrusted user. `check_sql` bounds the draft's size and nesting, parses it with a
pgvector-aware sqlglot dialect (`retrieval.pgvector_sql`), resolves every name as PostgreSQL
would (`retrieval.sqlscope`: CTE scoping, column lineage through derived tables), walks every
node against allow-lists (statement shape, relations, functions by name *and* sqlglot class,
casts, LIMIT, where a vector may appear, cost, values grown again level after level) and
regenerates the SQL from the checked tree, with each `embed('phrase')` turned into a bound
parameter `%(embed_N)s::vector` and `id` added to a plain SELECT over movies so its rows can be
cited.

Running it is `retrieval.sqlrun.run_readonly` (re-exported here), which trusts none of this;
docs/sql-reader.md says what the database holds and what a DBA sets up on an external server.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError

from retrieval.pgvector_sql import VECTOR_OPS, VectorOp
from retrieval.sqlrules import (
    _ALLOWED_ANONYMOUS,
    _ALLOWED_FUNCS,
    _ALLOWED_NODES,
    _CAST_TYPES,
    _HOW_TO_VECTOR,
    _NO_RAW_EMBEDDING,
    _SENTINEL,
    _STATEMENT_WORDS,
    _VECTOR_FUNCS,
    _VECTOR_TEXT,
    MAX_FORMAT_CHARS,
    EmbedParam,
    _anon_name,
    _check_nesting,
    _check_tokens,
    _check_tree_depth,
    _first_line,
    _get_dialect,
    _int_literal,
    _is_vector_type,
    _number_literal,
    _outer,
    _snippet,
    _top_queries,
    _unparen,
)
from retrieval.sqlrun import (
    DEFAULT_ROW_CAP,
    DEFAULT_TIMEOUT_MS,
    LLM_SCHEMA,
    READER_ROLE,
    SEARCH_PATH,
    Rows,
    SQLRunError,
    close_pools,
    reader_conninfo,
    run_readonly,
    vector_literal,
)
from retrieval.sqlscope import (
    GROWTH,
    VECTOR,
    Resolver,
    UnsafeSQL,
    is_reserved_relation,
    is_tsquery_function,
    norm,
)

log = logging.getLogger(__name__)

EXPOSED_RELATIONS = frozenset({"movies"})
"""Relations the LLM may name (each is a view in LLM_SCHEMA)."""
MAX_SQL_CHARS = 4000
MAX_NODES = 1500
MAX_PHRASE_CHARS = 300
MAX_INNER_LIMIT = 10_000
"""LIMIT/OFFSET of subqueries (candidate sets for re-ranking) and OFFSET of the whole query."""
MAX_SCANS = 2
"""How many times one query may multiply the movies table by itself (one self-join)."""
MAX_REPLACEMENT_CHARS = 64
"""Longest replacement text replace()/regexp_replace() may insert (no unbounded inflation)."""
MAX_POWER_EXPONENT = 64


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


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, tree: exp.Expr, row_cap: int) -> None:
        self.tree = tree
        self.row_cap = row_cap
        self.names = Resolver()
        self.phrases: dict[str, str] = {}

    # -- entry --------------------------------------------------------------------------------

    def run(self) -> None:
        self._check_root()
        nodes = list(self.tree.walk())
        if len(nodes) > MAX_NODES:
            raise UnsafeSQL("The query is too long; write a shorter SELECT over movies.")
        _check_tree_depth(self.tree)
        for node in nodes:
            self._check_shape(node)
        for node in nodes:  # relations first: "no such relation" explains more than "no such column"
            if isinstance(node, exp.Table):
                self._check_table_name(node)
        self.names.query(self.tree, {}, None)
        embeds: list[exp.Anonymous] = []
        for node in nodes:
            if isinstance(node, exp.Anonymous) and _anon_name(node) == "embed":
                embeds.append(node)
            self._check_node(node)
        self._check_cost()
        self._check_growth(nodes)
        for node in embeds:
            self._bind_embed(node)
        self._add_id()

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

    # -- shapes and names ------------------------------------------------------------------------

    def _check_shape(self, node: exp.Expr) -> None:
        if isinstance(node, exp.With) and node.args.get("recursive"):
            raise UnsafeSQL("Recursive WITH queries are not allowed; write a plain SELECT.")
        if isinstance(node, exp.Select):
            if node.args.get("into"):
                raise UnsafeSQL("SELECT ... INTO creates a table; write a plain SELECT.")
            if node.args.get("locks"):
                raise UnsafeSQL("Locking clauses (FOR UPDATE / FOR SHARE) are not allowed; write a plain SELECT.")
        elif isinstance(node, (*_STATEMENT_WORDS, exp.Command)) and node is not self.tree:
            raise UnsafeSQL(self._disallowed(node))

    def _check_table_name(self, node: exp.Table) -> None:
        if node.args.get("db") or node.args.get("catalog"):
            raise UnsafeSQL(
                f"Schema-qualified names such as {_snippet(node)} are not allowed; "
                "query the movies relation by its plain name."
            )
        if not isinstance(node.this, exp.Identifier) and not is_tsquery_function(node.this):
            raise UnsafeSQL(f"{_snippet(node)} cannot be used as a table; select from movies.")

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
        elif isinstance(node, exp.Alias):
            if norm(node.args.get("alias")) == "embedding" and self._vtype(node.this) != "vector":
                raise UnsafeSQL("The name embedding is reserved for the embedding column; choose another alias.")
        elif isinstance(node, exp.Star):
            self._check_star(node)
        elif isinstance(node, exp.Literal) and node.is_string:
            if _VECTOR_TEXT.match(node.this) and any(c.isdigit() for c in node.this) and not self._array_literal_ok(node):
                raise UnsafeSQL(f"Vector literals such as {_snippet(node)} are not allowed; {_HOW_TO_VECTOR}.")
        elif isinstance(node, exp.Cast):
            self._check_cast(node)
        elif isinstance(node, VectorOp):
            self._check_vector_op(node)
        elif isinstance(node, exp.Identifier) and node.quoted and "\\" in node.this:
            raise UnsafeSQL("Names with backslash escapes are not allowed; use plain names.")
        elif isinstance(node, exp.Lateral) and not isinstance(node.this, (exp.Subquery, exp.Unnest, exp.Explode)):
            raise UnsafeSQL("LATERAL is only allowed before a parenthesized subquery or unnest(...).")
        elif isinstance(node, exp.MatchAgainst) and len(node.expressions) != 1:
            raise UnsafeSQL("@@ matches one tsvector against one tsquery, for example to_tsvector('english', summary) @@ plainto_tsquery('english', 'heist').")

    def _array_literal_ok(self, node: exp.Literal) -> bool:
        """'{1994,1995}' compared with ANY / @> / && is an int array, not a vector."""
        _, parent = _outer(node)
        if isinstance(parent, exp.Cast):
            to = parent.args.get("to")
            return isinstance(to, exp.DataType) and to.this == exp.DataType.Type.ARRAY
        if not isinstance(parent, (exp.Any, exp.All, exp.ArrayContainsAll, exp.ArrayContainedBy, exp.ArrayOverlaps)):
            return False
        return node.this.lstrip().startswith("{") and not any(
            isinstance(n, exp.Column) and self.names.kinds.get(id(n)) == VECTOR for n in parent.walk()
        )

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
        if isinstance(node, (exp.CurrentUser, exp.SessionUser, exp.CurrentSchema, exp.CurrentCatalog)):
            return f"{_snippet(node).lower()} is an SQL keyword for a database value, not a column; select the columns of movies."
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
            if isinstance(node, (exp.CurrentUser, exp.SessionUser, exp.CurrentSchema, exp.CurrentCatalog)):
                raise UnsafeSQL(self._disallowed(node))
            name = _snippet(node).split("(")[0].strip().lower()
            raise UnsafeSQL(f"The function {name}() is not allowed in a query over movies.")
        if isinstance(node, exp.CosineDistance):
            self._check_vector_func(node, "cosine_distance", [node.this, node.expression])
        elif isinstance(node, (exp.Replace, exp.RegexpReplace)):
            self._check_replace(node)
        elif isinstance(node, exp.TimeToStr):
            pattern = node.args.get("format")
            if not (isinstance(pattern, exp.Literal) and pattern.is_string and len(pattern.this) <= MAX_FORMAT_CHARS):
                raise UnsafeSQL(f"to_char() needs a quoted pattern of at most {MAX_FORMAT_CHARS} characters, for example to_char(avg_rating, 'FM9.00').")
        elif isinstance(node, exp.Pow):
            n = _number_literal(node.expression)
            if n is None or abs(n) > MAX_POWER_EXPONENT:
                raise UnsafeSQL(f"power() needs a literal exponent of at most {MAX_POWER_EXPONENT}; numbers that large cannot be shown.")

    @staticmethod
    def _check_replace(node: exp.Expr) -> None:
        """replace()/regexp_replace() may grow a value only by a short literal, never nested."""
        name = "regexp_replace" if isinstance(node, exp.RegexpReplace) else "replace"
        to = node.args.get("replacement") if isinstance(node, exp.RegexpReplace) else node.args.get("replacement")
        if not (isinstance(to, exp.Literal) and to.is_string and len(to.this) <= MAX_REPLACEMENT_CHARS):
            raise UnsafeSQL(
                f"{name}() needs a quoted replacement of at most {MAX_REPLACEMENT_CHARS} characters; "
                "computed replacements can grow a value without bound."
            )
        if any(isinstance(n, (exp.Replace, exp.RegexpReplace)) for n in node.this.walk()):
            raise UnsafeSQL(f"{name}() inside another replace() is not allowed; it can grow a value without bound.")

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

    def _check_column(self, node: exp.Column) -> None:
        if isinstance(node.this, exp.Star):
            return  # a qualified star the resolver expanded (it refuses one reaching the embedding)
        if id(node) not in self.names.kinds:
            # Not reached by the resolver: only inside constructs refused elsewhere.
            raise UnsafeSQL(f"The column {_snippet(node)} is not allowed here.")
        if self.names.kinds[id(node)] != VECTOR or self._embedding_position_ok(node):
            return
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
        if isinstance(parent, exp.Select) or (isinstance(parent, exp.Column) and isinstance(parent.parent, exp.Select)):
            return  # expanded by the resolver, which refuses a star that reaches the embedding
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

    # -- vector typing (by lineage, not by name) -------------------------------------------------

    def _vtype(self, node: exp.Expr) -> str | None:
        """'vector', 'bit' or None for anything else."""
        node = _unparen(node)
        if isinstance(node, exp.Anonymous) and _anon_name(node) == "binary_quantize":
            if len(node.expressions) == 1 and self._vtype(node.expressions[0]) == "vector":
                return "bit"
            return None
        return "vector" if self.names.kind_of(node) == VECTOR else None

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

    def _embedding_position_ok(self, node: exp.Expr) -> bool:
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

    def _is_vector_source(self, select: exp.Expr) -> bool:
        """A SELECT whose projected vector feeds a vector operator, a CTE or a derived table."""
        parent = select.parent
        while isinstance(parent, exp.SetOperation) and select.arg_key in ("this", "expression"):
            select, parent = parent, parent.parent
        if isinstance(parent, exp.CTE):
            return True
        if isinstance(parent, exp.Subquery):
            _, grand = _outer(parent)
            if isinstance(grand, (exp.From, exp.Join, exp.Lateral)):
                return True
            return self._vtype(parent) == "vector" and self._vector_position_ok(parent)
        return False

    # -- embed(), LIMIT, id, cost ----------------------------------------------------------------

    def _bind_embed(self, node: exp.Anonymous) -> None:
        args = node.expressions
        if len(args) != 1 or not isinstance(args[0], exp.Literal) or not args[0].is_string:
            raise UnsafeSQL("embed() takes exactly one quoted phrase, for example embed('a heist in a casino').")
        phrase = args[0].this.strip()
        if not phrase:
            raise UnsafeSQL("embed('') has no phrase; describe what to look for, for example embed('a heist in a casino').")
        if len(phrase) > MAX_PHRASE_CHARS:
            raise UnsafeSQL(f"The phrase in embed() is longer than {MAX_PHRASE_CHARS} characters; shorten it.")
        if not self._embedding_position_ok(node):
            raise UnsafeSQL(
                "embed('...') stands for a query vector and can only be compared with the "
                "embedding column, for example ORDER BY embedding <=> embed('a phrase')."
            )
        name = next((n for n, known in self.phrases.items() if known == phrase), None)
        if name is None:
            name = f"embed_{len(self.phrases)}"
            self.phrases[name] = phrase
        node.replace(EmbedParam(this=name))

    def _add_id(self) -> None:
        """Append `id` to a plain top-level SELECT over movies that lacks it, so rows are citable.

        Only where it cannot change the result: one movies row per output row (no GROUP BY,
        aggregate, DISTINCT or star), and no output column already called id."""
        select = self.tree
        if not isinstance(select, exp.Select) or select.args.get("group") or select.args.get("distinct"):
            return
        from_ = select.args.get("from_")
        table = from_.this if from_ is not None else None
        if not isinstance(table, exp.Table) or id(table) in self.names.cte_of or is_tsquery_function(table.this):
            return
        joins = select.args.get("joins") or []
        if any(not isinstance(j.this, (exp.Unnest, exp.Explode)) and not (
            isinstance(j.this, exp.Lateral) and isinstance(j.this.this, (exp.Unnest, exp.Explode))
        ) and not (
            isinstance(j.this, exp.Table) and is_tsquery_function(j.this.this)
        ) for j in joins):
            return
        outputs = self.names.outputs.get(id(select), [])
        if any(name == "id" for name, _ in outputs) or any(isinstance(p, exp.Star) for p in select.expressions):
            return
        for proj in select.expressions:
            for node in proj.walk():
                if isinstance(node, (exp.Select, exp.Unnest, exp.Explode)):
                    return
                if isinstance(node, exp.AggFunc) and node.find_ancestor(exp.Window) is None:
                    return
        alias = table.args.get("alias")
        qualifier = norm(alias.this) if alias is not None and alias.this else ("movies" if joins else "")
        column = exp.column("id", table=qualifier) if qualifier else exp.column("id")
        select.set("expressions", [*select.expressions, column])

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

    def _check_growth(self, nodes: list[exp.Expr]) -> None:
        """A WITH query or subquery may build a longer value (||, concat, replace, string_agg,
        ...) only from values nobody built before: chained level after level, s || s doubles a
        value per level and regexp_replace's \\& multiplies it, without bound. The query that
        returns the rows may do it once more (its result is cut by the byte caps)."""
        outer = self._result_selects()
        for node in nodes:
            if not isinstance(node, GROWTH) or id(node.find_ancestor(exp.Select)) in outer:
                continue
            if self.names.uses_grown(node):
                raise UnsafeSQL(
                    f"{_snippet(node)} makes a value longer from one a WITH query or subquery already "
                    "built by concatenation, replace or aggregation; chained, that grows without bound. "
                    "Build the text once, in the outer SELECT."
                )

    def _result_selects(self) -> set[int]:
        """The SELECTs whose rows are the result: the root, or each branch of a root UNION."""
        found: set[int] = set()
        stack: list[exp.Expr] = [self.tree]
        while stack:
            node = stack.pop()
            if isinstance(node, exp.Subquery):
                stack.append(node.this)
            elif isinstance(node, exp.SetOperation):
                stack += [node.this, node.expression]
            elif isinstance(node, exp.Select):
                found.add(id(node))
        return found

    def _check_cost(self) -> None:
        memo: dict[int, int] = {}

        def nested_in(node: exp.Expr) -> int:
            """Scans of subqueries that may run once per row of the query around them."""
            worst = 0
            for sub in _top_queries(node):
                if self._vtype(sub.parent if isinstance(sub.parent, exp.Subquery) else sub) == "vector":
                    continue  # the single-row embedding lookup
                worst = max(worst, scans(sub))
            return worst

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
            memo[key] = 0  # a cycle cannot occur (CTEs never see themselves); be safe anyway
            items = []
            if query.args.get("from_") is not None:
                items.append(query.args["from_"].this)
            joins = query.args.get("joins") or []
            items.extend(j.this for j in joins)
            total = sum(item_scans(i) for i in items)
            nested = 0
            for key_name, value in query.args.items():
                if key_name in ("from_", "joins", "with_"):
                    continue
                for child in value if isinstance(value, list) else [value]:
                    if isinstance(child, exp.Expr):
                        nested = max(nested, nested_in(child))
            for join in joins:  # JOIN ... ON runs once per pair
                if join.args.get("on") is not None:
                    nested = max(nested, nested_in(join.args["on"]))
            memo[key] = total + nested
            return memo[key]

        def item_scans(item: exp.Expr) -> int:
            item = _unparen(item)
            if isinstance(item, exp.Table):
                if is_tsquery_function(item.this):
                    return 0  # one row
                cte = self.names.cte_of.get(id(item))
                return scans(cte.this) if cte is not None else 1
            if isinstance(item, exp.Lateral) and isinstance(item.this, (exp.Unnest, exp.Explode)):
                item = item.this
            elif isinstance(item, (exp.Lateral, exp.Subquery)):
                return scans(item.this)
            # unnest(...) of one row's array, or of ARRAY(SELECT ...): a subquery there is a scan
            return sum(scans(sub) for sub in _top_queries(item))

        for node in self.tree.find_all(exp.Select):
            if scans(node) > MAX_SCANS:
                raise UnsafeSQL(
                    "The query joins movies with itself more than once, which is too expensive; "
                    "use at most one self-join."
                )


def check_sql(sql: str, *, row_cap: int = DEFAULT_ROW_CAP) -> GuardedSQL:
    """Check one LLM draft against the allow-list and return the SQL that will run.

    Raises `UnsafeSQL` with one sentence naming what is wrong and what to write instead; every
    failure of the checker itself becomes such a sentence too (the turn falls back, never crashes).
    """
    try:
        return _check_sql(sql, row_cap)
    except UnsafeSQL:
        raise
    except RecursionError:
        raise UnsafeSQL("The query is nested too deeply; write a flatter SELECT over movies.") from None
    except Exception as exc:
        log.exception("the SQL checker failed on a draft")
        raise UnsafeSQL(
            f"The SQL could not be checked ({type(exc).__name__}); write a simpler SELECT over movies."
        ) from None


_MODIFIERS = ("order", "limit", "offset")


def _unwrap(tree: exp.Expr) -> exp.Expr:
    """A parenthesised top-level query is that query, with the ORDER BY / LIMIT / OFFSET written
    after the parentheses moved inside (they would otherwise be lost)."""
    while isinstance(tree, exp.Subquery) and not tree.args.get("alias"):
        inner = tree.this
        mods = {k: tree.args[k] for k in _MODIFIERS if tree.args.get(k) is not None}
        if any(v is not None and k not in ("this", *_MODIFIERS) for k, v in tree.args.items()):
            raise UnsafeSQL(f"{_snippet(tree)} cannot be used as a query; write one plain SELECT over movies.")
        if mods:
            if not isinstance(inner, (exp.Select, exp.SetOperation, exp.Subquery)):
                raise UnsafeSQL(f"{_snippet(inner)} cannot be used as a query; write one plain SELECT over movies.")
            if any(inner.args.get(k) is not None for k in ("limit", "offset")):
                # (... LIMIT n) ORDER BY / LIMIT: which rows survive depends on both; no single SELECT says it
                raise UnsafeSQL(
                    "ORDER BY, LIMIT or OFFSET both inside and after a parenthesised query is not allowed; "
                    "write one SELECT with a single ORDER BY and LIMIT."
                )
            for key, value in mods.items():
                inner.set(key, value.pop())  # an ORDER BY after the parentheses replaces one inside
        tree = inner
    return tree


def _check_sql(sql: str, row_cap: int) -> GuardedSQL:
    text = (sql or "").strip()
    if not text:
        raise UnsafeSQL("The SQL is empty; write one SELECT over movies.")
    if len(text) > MAX_SQL_CHARS:
        raise UnsafeSQL(f"The SQL is longer than {MAX_SQL_CHARS} characters; write a shorter SELECT.")
    if _SENTINEL in text:
        raise UnsafeSQL("The SQL contains a NUL character; remove it.")
    tokens = _check_tokens(text)
    _check_nesting(tokens)
    dialect = _get_dialect()
    try:
        statements = [s for s in dialect.parser().parse(tokens, text) if s is not None]
    except ParseError as exc:
        raise UnsafeSQL(f"The SQL could not be parsed ({_first_line(exc)}); write one plain SELECT over movies.") from None
    if len(statements) != 1:
        raise UnsafeSQL("Exactly one statement is allowed; send a single SELECT with no semicolons inside.")
    tree = _unwrap(statements[0])
    if tree.parent is not None:
        tree.pop()
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


__all__ = [
    "DEFAULT_ROW_CAP",
    "Rows",
    "is_reserved_relation",
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
