"""Name resolution for the SQL guard: every table and column reference resolved as PostgreSQL
would resolve it, and every column's *lineage* (does it carry the embedding?) tracked through
CTEs, derived tables, set operations and subqueries.

The checker (`retrieval.sqlguard`) then judges what each name really is instead of what it is
called: a CTE is visible only in its own WITH's body and later siblings (never itself: recursive
WITH is refused), a name that no visible CTE answers to is a real relation (and only `movies`
is allowed), a column renamed in a derived table is still the embedding, and an unquoted
`user` or `current_role` is the role name, never a column. Lineage also says which columns a
lower level built by concatenation, replace or aggregation (`grown`), so the checker can refuse
growing them again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlglot import exp

from retrieval.schema import LLM_COLUMNS, Base

VECTOR = "vector"
"""Kind of a value that is (a copy of) the raw embedding or a query vector."""

# PostgreSQL's SQL-standard special values: unquoted, these names are never a column.
SPECIAL_VALUES = frozenset({
    "user", "current_user", "session_user", "current_role", "system_user", "current_catalog",
    "current_schema", "current_date", "current_time", "current_timestamp", "localtime",
    "localtimestamp",
})

GROWTH: tuple[type[exp.Expr], ...] = (
    exp.DPipe, exp.Concat, exp.ConcatWs, exp.Replace, exp.RegexpReplace, exp.GroupConcat, exp.ArrayAgg,
    exp.ArrayToString, exp.Array,
)
"""What makes a value longer than its inputs (the byte caps cut the result; these bound the work)."""

SYSTEM_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid", "oid"})

# Relations a CTE name may not shadow (besides anything named pg_*): the catalog's own tables
# (read from the schema, so new tables are covered), LangGraph's checkpointer, information_schema.
_OTHER_RELATIONS = frozenset({
    "information_schema", "checkpoints", "checkpoint_blobs", "checkpoint_writes",
    "checkpoint_migrations", "store", "store_migrations",
})


TSQUERY_FUNCS = frozenset({"to_tsquery", "plainto_tsquery", "phraseto_tsquery", "websearch_to_tsquery"})
"""One-row functions a query may name in FROM, as full-text search idioms do."""


def is_tsquery_function(node: exp.Expr | None) -> bool:
    """Whether `node` (a Table's `this`) is a call of one of TSQUERY_FUNCS."""
    return isinstance(node, exp.Anonymous) and isinstance(node.this, str | exp.Identifier) and (
        norm(node.this) in TSQUERY_FUNCS and not (isinstance(node.this, exp.Identifier) and node.this.quoted)
    )


def is_reserved_relation(name: str) -> bool:
    """Whether `name` is (or may be) a real relation the database resolves unqualified."""
    lowered = name.lower()
    tables = {t.name.lower() for t in Base.metadata.tables.values()}
    return lowered.startswith("pg_") or lowered in tables or lowered in _OTHER_RELATIONS


def _names(cols: list[tuple[str | None, str | None]], grown: list[bool]) -> frozenset[str]:
    return frozenset(n for (n, _), g in zip(cols, grown, strict=False) if n and g)


class UnsafeSQL(ValueError):
    """The draft breaks a rule; str() is one sentence for a person or for the LLM's repair try."""


def norm(ident: exp.Expr | str | None) -> str:
    """How PostgreSQL sees a name: unquoted names fold to lower case, quoted ones stay exact."""
    if ident is None:
        return ""
    if isinstance(ident, str):
        return ident.lower()
    if isinstance(ident, exp.Identifier):
        return ident.this if ident.quoted else ident.this.lower()
    return ident.name.lower()


Columns = dict[str, "str | None"]
"""Output column name -> kind (VECTOR or None)."""


@dataclass
class Source:
    """One FROM item: the name it answers to and the columns it has."""

    name: str
    columns: Columns
    movies: bool = False
    """True for the real `movies` relation (not a CTE or derived table)."""
    grown: frozenset[str] = frozenset()
    """Columns built by concatenation, replace or aggregation in a WITH query or subquery."""


@dataclass
class Scope:
    """One SELECT level: its FROM items and the level it is nested in (for correlation)."""

    sources: list[Source] = field(default_factory=list)
    parent: Scope | None = None
    using: set[str] = field(default_factory=set)

    def levels(self) -> Iterator[Scope]:
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent


def nested_queries(node: exp.Expr) -> Iterator[exp.Expr]:
    """The outermost queries (SELECT / set operations) inside an expression, and every column
    reference outside them; iterative, so deep trees cannot overflow the stack."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (exp.Select, exp.SetOperation)):
            yield current
            continue
        if isinstance(current, exp.Column):
            yield current
            continue
        for value in current.args.values():
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Expr):
                    stack.append(child)


class Resolver:
    """Walks a query once, scope by scope, recording what every reference resolves to."""

    def __init__(self) -> None:
        self.kinds: dict[int, str | None] = {}
        """id(Column) -> the kind of what it names."""
        self.sources: dict[int, Source] = {}
        """id(Column) -> the FROM item it resolved to (None for output aliases)."""
        self.cte_of: dict[int, exp.CTE] = {}
        """id(Table) -> the CTE it names; a Table not here is the real movies relation."""
        self.outputs: dict[int, list[tuple[str | None, str | None]]] = {}
        """id(query) -> its output columns (name or None when unnamed, kind)."""
        self.grown: dict[int, list[bool]] = {}
        """id(query) -> per output column: built by GROWTH (or from a column that was)."""
        self.grown_refs: set[int] = set()
        """id(Column) of references to a grown column of a WITH query, subquery or unnest."""

    # -- queries ------------------------------------------------------------------------------

    def query(self, node: exp.Expr, ctes: dict[str, exp.CTE], parent: Scope | None) -> list[tuple[str | None, str | None]]:
        inner = node.this if isinstance(node, exp.Subquery) else node
        while isinstance(inner, (exp.Paren, exp.Subquery)):
            inner = inner.this
        with_ = inner.args.get("with_")
        if with_ is not None:
            ctes = self._with(with_, ctes, parent)
        if isinstance(inner, exp.SetOperation):
            left = self.query(inner.this, ctes, parent)
            right = self.query(inner.expression, ctes, parent)
            if len(left) != len(right):
                raise UnsafeSQL("Each side of a UNION, INTERSECT or EXCEPT must select the same number of columns.")
            out = [(name, VECTOR if VECTOR in (lk, rk) else None) for (name, lk), (_, rk) in zip(left, right, strict=True)]
            grown = [a or b for a, b in zip(self._grown_of(inner.this), self._grown_of(inner.expression), strict=True)]
            self.grown[id(inner)] = grown
            scope = Scope(parent=parent, sources=[Source("", {n: k for n, k in out if n}, grown=_names(out, grown))])
            for key in ("order", "limit", "offset"):
                if inner.args.get(key) is not None:
                    self.expression(inner.args[key], scope, ctes)
        elif isinstance(inner, exp.Select):
            out = self._select(inner, ctes, parent)
        else:
            raise UnsafeSQL(f"{type(inner).__name__.upper()} cannot be used as a query here; write a SELECT over movies.")
        self.outputs[id(inner)] = out
        if inner is not node:
            self.outputs[id(node)] = out
            self.grown[id(node)] = self.grown[id(inner)]
        return out

    def _grown_of(self, query: exp.Expr) -> list[bool]:
        while isinstance(query, (exp.Paren, exp.Subquery)) and id(query) not in self.grown:
            query = query.this
        return self.grown.get(id(query), [])

    def uses_grown(self, node: exp.Expr) -> bool:
        """Whether `node` uses a column (or a nested query's output) already built by GROWTH."""
        for found in nested_queries(node):
            if isinstance(found, exp.Column):
                if id(found) in self.grown_refs:
                    return True
            elif any(self._grown_of(found)):
                return True
        return False

    def is_grown(self, node: exp.Expr) -> bool:
        """Whether `node` builds a longer value (GROWTH outside nested queries) or uses one."""
        if self.uses_grown(node):
            return True
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, GROWTH):
                return True
            if isinstance(current, (exp.Select, exp.SetOperation)):
                continue
            for value in current.args.values():
                for child in value if isinstance(value, list) else [value]:
                    if isinstance(child, exp.Expr):
                        stack.append(child)
        return False

    def _with(self, with_: exp.With, ctes: dict[str, exp.CTE], parent: Scope | None) -> dict[str, exp.CTE]:
        if with_.args.get("recursive"):
            raise UnsafeSQL("Recursive WITH queries are not allowed; write a plain SELECT.")
        visible = dict(ctes)
        defined: set[str] = set()
        for cte in with_.expressions:
            name = norm(cte.args["alias"].this)
            if cte.args["alias"].columns:
                raise UnsafeSQL(
                    f"Column lists on a WITH query ({name}(...)) are not allowed; name the "
                    "columns with AS inside the query instead."
                )
            if name in defined:
                raise UnsafeSQL(f"The WITH query name {name} is defined twice; give each one its own name.")
            if is_reserved_relation(name) or name in {"movies", *SPECIAL_VALUES}:
                raise UnsafeSQL(
                    f"The WITH query name {name} is the name of a database relation; choose another "
                    "name, for example picks."
                )
            self.query(cte.this, visible, parent)  # sees earlier siblings, never itself
            defined.add(name)
            visible[name] = cte
        return visible

    def _select(self, select: exp.Select, ctes: dict[str, exp.CTE], parent: Scope | None) -> list[tuple[str | None, str | None]]:
        if not select.expressions:
            raise UnsafeSQL("The SELECT lists no columns; name the columns of movies you need.")
        scope = Scope(parent=parent)
        from_ = select.args.get("from_")
        items: list[tuple[exp.Expr, exp.Join | None]] = [(from_.this, None)] if from_ is not None else []
        items += [(j.this, j) for j in select.args.get("joins") or []]
        for item, join in items:
            if join is not None and (join.args.get("method") or "").upper() == "NATURAL":
                raise UnsafeSQL("NATURAL JOIN is not allowed; write JOIN ... ON with the columns to match.")
            source = self._from_item(item, scope, ctes, parent)
            if source.name and any(s.name == source.name for s in scope.sources):
                raise UnsafeSQL(f"The table name {source.name} is used twice in one FROM; give each its own alias.")
            scope.sources.append(source)
            if join is not None:
                for ident in join.args.get("using") or []:
                    name = norm(ident)
                    if sum(1 for s in scope.sources if name in s.columns) < 2:
                        raise UnsafeSQL(f"JOIN ... USING ({name}) needs a column {name} on both sides.")
                    scope.using.add(name)
                if join.args.get("on") is not None:
                    self.expression(join.args["on"], scope, ctes)
        out: list[tuple[str | None, str | None]] = []
        grown: list[bool] = []
        for proj in select.expressions:
            if isinstance(proj, exp.Star) or (isinstance(proj, exp.Column) and isinstance(proj.this, exp.Star)):
                expanded = self._star(proj, scope)
                out += expanded
                table = norm(proj.args.get("table")) if isinstance(proj, exp.Column) else ""
                big = {n for s in scope.sources if not table or s.name == table for n in s.grown}
                grown += [n in big for n, _ in expanded]
                continue
            self.expression(proj, scope, ctes)
            out.append((self._output_name(proj), self.kind_of(proj.this if isinstance(proj, exp.Alias) else proj)))
            grown.append(self.is_grown(proj.this if isinstance(proj, exp.Alias) else proj))
        self.grown[id(select)] = grown
        names = {n: k for n, k in out if n}
        for key, value in select.args.items():
            if key in ("expressions", "from_", "joins", "with_") or value is None:
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Expr):
                    self.expression(child, scope, ctes, outputs=names if key in ("order", "group") else None)
        return out

    def _from_item(self, item: exp.Expr, scope: Scope, ctes: dict[str, exp.CTE], parent: Scope | None) -> Source:
        while isinstance(item, exp.Paren):
            item = item.this
        alias = item.args.get("alias") if isinstance(item, (exp.Table, exp.Subquery, exp.Unnest, exp.Lateral)) else None
        alias_name = norm(alias.this) if isinstance(alias, exp.TableAlias) and alias.this else ""
        if isinstance(item, exp.Lateral) and isinstance(item.this, (exp.Unnest, exp.Explode)):
            # LATERAL unnest(...) AS a(x) is unnest(...) AS a(x): a function in FROM is lateral anyway
            return self._unnest(item.this, alias, alias_name, scope, ctes)
        if isinstance(item, exp.Table) and is_tsquery_function(item.this):
            # a one-row function in FROM: its column is named by the alias (or the function)
            fn = item.this
            for arg in fn.expressions:
                if not (isinstance(arg, exp.Literal) and arg.is_string):
                    raise UnsafeSQL(
                        f"{norm(fn.this)}() in FROM takes quoted text only, for example "
                        f"FROM movies, {norm(fn.this)}('english', 'bank heist') AS q."
                    )
            if isinstance(alias, exp.TableAlias) and alias.columns:
                raise UnsafeSQL(f"Column lists on a table alias ({alias_name}(...)) are not allowed; write AS {alias_name or 'q'}.")
            name = alias_name or norm(fn.this)
            if name == "embedding":
                raise UnsafeSQL("The name embedding is reserved for the embedding column; choose another alias.")
            return Source(name, {name: None})
        if isinstance(item, exp.Table):
            if isinstance(alias, exp.TableAlias) and alias.columns:
                raise UnsafeSQL(
                    f"Column lists on a table alias ({alias_name}(...)) are not allowed; name the "
                    "columns with AS inside the subquery instead."
                )
            name = norm(item.this)
            cte = ctes.get(name) if not (item.args.get("db") or item.args.get("catalog")) else None
            if cte is not None:
                self.cte_of[id(item)] = cte
                cols = self.outputs[id(cte.this)]
                return Source(alias_name or name, {n: k for n, k in cols if n}, grown=_names(cols, self._grown_of(cte.this)))
            # Anything no visible CTE answers to is a real relation: movies, or refused.
            if name != "movies":
                if name.startswith("pg_") or name == "information_schema":
                    raise UnsafeSQL(f"System catalogs such as {name} are not allowed; only the movies relation can be queried.")
                raise UnsafeSQL(f"The relation {name} is not available; only movies can be queried.")
            cols_: Columns = {c: (VECTOR if c == "embedding" else None) for c in LLM_COLUMNS}
            return Source(alias_name or name, cols_, movies=True)
        if isinstance(item, (exp.Subquery, exp.Lateral)):
            lateral = isinstance(item, exp.Lateral) or bool(item.args.get("lateral"))
            body = item.this
            if isinstance(alias, exp.TableAlias) and alias.columns:
                raise UnsafeSQL(
                    f"Column lists on a table alias ({alias_name}(...)) are not allowed; name the "
                    "columns with AS inside the subquery instead."
                )
            cols = self.query(body, ctes, scope if lateral else parent)
            return Source(alias_name, {n: k for n, k in cols if n}, grown=_names(cols, self._grown_of(body)))
        if isinstance(item, (exp.Unnest, exp.Explode)):
            return self._unnest(item, alias, alias_name, scope, ctes)
        raise UnsafeSQL("Only movies, WITH queries, subqueries and unnest(...) can be used in FROM.")

    def _unnest(self, item: exp.Expr, alias: exp.Expr | None, alias_name: str, scope: Scope, ctes: dict[str, exp.CTE]) -> Source:
        for arg in item.expressions:
            self.expression(arg, scope, ctes)  # a function in FROM sees earlier items
        names: list[str] = []
        if isinstance(alias, exp.TableAlias):
            names = [norm(c) for c in alias.columns]
            if not names and alias_name:
                names = [alias_name]  # `unnest(x) AS g`: g names the table and its column
        if not names:
            names = ["unnest"]
        offset = item.args.get("offset")
        if isinstance(offset, exp.Identifier):
            names.append(norm(offset))
        elif offset:
            names.append("ordinality")
        if "embedding" in names or alias_name == "embedding":
            raise UnsafeSQL("The name embedding is reserved for the embedding column; choose another alias.")
        big = any(self.is_grown(arg) for arg in item.expressions)
        return Source(alias_name or "unnest", dict.fromkeys(names), grown=frozenset(names) if big else frozenset())

    def _star(self, proj: exp.Expr, scope: Scope) -> list[tuple[str | None, str | None]]:
        table = norm(proj.args.get("table")) if isinstance(proj, exp.Column) else ""
        sources = [s for s in scope.sources if not table or s.name == table]
        if table and not sources:
            raise UnsafeSQL(f"The table name {table} in {table}.* is not defined in the query.")
        out: list[tuple[str | None, str | None]] = []
        for source in sources:
            if any(k == VECTOR for k in source.columns.values()):
                raise UnsafeSQL(
                    "SELECT * would include the raw embedding; list the columns you need, for example "
                    "SELECT id, title, year."
                )
            out += list(source.columns.items())
        return out

    @staticmethod
    def _output_name(proj: exp.Expr) -> str | None:
        """The name PostgreSQL gives an output column, where it is certain (else None)."""
        if isinstance(proj, exp.Alias):
            return norm(proj.args.get("alias"))
        node = proj
        while isinstance(node, (exp.Cast, exp.Paren)):
            node = node.this
        if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
            return norm(node.this)
        return None

    # -- expressions --------------------------------------------------------------------------

    def expression(self, node: exp.Expr, scope: Scope, ctes: dict[str, exp.CTE], *, outputs: Columns | None = None) -> None:
        for found in nested_queries(node):
            if isinstance(found, exp.Column):
                self._column(found, scope, outputs)
            else:
                self.query(found, ctes, scope)

    def _column(self, col: exp.Column, scope: Scope, outputs: Columns | None) -> None:
        if isinstance(col.this, exp.Star):
            raise UnsafeSQL(
                f"{col.sql()} would include the raw embedding; list the columns you need, "
                "for example SELECT id, title, year."
            )
        ident = col.this
        name = norm(ident)
        table = norm(col.args.get("table")) if col.args.get("table") is not None else ""
        if col.args.get("db") or col.args.get("catalog"):
            raise UnsafeSQL(f"Schema-qualified names such as {col.sql()} are not allowed; use table.column at most.")
        if not table and isinstance(ident, exp.Identifier) and not ident.quoted and name in SPECIAL_VALUES:
            raise UnsafeSQL(
                f"{name} is an SQL keyword for a database value, not a column; select the columns "
                "of movies."
            )
        if table:
            for level in scope.levels():
                source = next((s for s in level.sources if s.name == table), None)
                if source is None:
                    continue
                if name in source.columns:
                    self._resolved(col, source.columns[name], source)
                    return
                if source.movies and name in SYSTEM_COLUMNS:
                    raise UnsafeSQL(f"The system column {name} is not available; use the columns of movies.")
                raise UnsafeSQL(f"There is no column {name} in {table}; {self._has(source)}.")
            raise UnsafeSQL(f"The table name {table} in {col.sql()} is not defined in the query.")
        # A bare name in ORDER BY / GROUP BY may be an output alias; if it is also an input
        # column of another kind, PostgreSQL's choice differs by clause, so refuse.
        if outputs is not None and name in outputs and isinstance(col.parent, (exp.Ordered, exp.Group)):
            inputs = [s for s in scope.sources if name in s.columns]
            if inputs and any(s.columns[name] != outputs[name] for s in inputs):
                raise UnsafeSQL(f"{name} is both an output name and an input column here; give the output another name.")
            self.kinds[id(col)] = outputs[name]
            return
        for level in scope.levels():
            matches = [s for s in level.sources if name in s.columns]
            if len(matches) > 1 and name not in level.using:
                raise UnsafeSQL(f"The column name {name} is ambiguous here; qualify it as table.{name}.")
            if matches:
                self._resolved(col, matches[0].columns[name], matches[0])
                return
        for level in scope.levels():
            if any(s.name == name for s in level.sources):
                raise UnsafeSQL(
                    f"{name} names a whole table row, which would include the raw embedding; "
                    "select the columns you need."
                )
        if name in SYSTEM_COLUMNS:
            raise UnsafeSQL(f"The system column {name} is not available; use the columns of movies.")
        raise UnsafeSQL(f"There is no column {name}; movies has {', '.join(LLM_COLUMNS)}.")

    def _resolved(self, col: exp.Column, kind: str | None, source: Source) -> None:
        self.kinds[id(col)] = kind
        self.sources[id(col)] = source
        if norm(col.this) in source.grown:
            self.grown_refs.add(id(col))

    @staticmethod
    def _has(source: Source) -> str:
        named = [n for n in source.columns if n]
        if source.movies:
            return f"movies has {', '.join(LLM_COLUMNS)}"
        return f"it has {', '.join(named)}" if named else "it has no named columns (name them with AS)"

    def kind_of(self, node: exp.Expr) -> str | None:
        """VECTOR when `node` evaluates to a vector by lineage, else None (bit vectors are the
        checker's business: they come only from binary_quantize)."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Column):
            return self.kinds.get(id(node))
        if isinstance(node, (exp.Subquery, exp.Select, exp.SetOperation)):
            while isinstance(node, exp.Subquery):
                node = node.this
            cols = self.outputs.get(id(node))
            if cols and len(cols) == 1:
                return cols[0][1]
            return None
        if isinstance(node, exp.Anonymous) and norm(node.this) == "embed":
            return VECTOR
        if type(node).__name__ == "EmbedParam":
            return VECTOR
        if isinstance(node, exp.Cast):
            to = node.args.get("to")
            if isinstance(to, exp.DataType) and to.this == exp.DataType.Type.VECTOR:
                return self.kind_of(node.this)
        return None
