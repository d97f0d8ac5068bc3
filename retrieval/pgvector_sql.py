"""A sqlglot dialect that understands pgvector's six distance operators.

Stock sqlglot (postgres) reads `a <=> b` as MySQL's null-safe equality and writes it back as
`a IS NOT DISTINCT FROM b` (silently wrong SQL), cannot parse `<#>`, `<+>`, `<~>`, and splits
`<%>` into `< % >`. Here every operator becomes its own expression node (a subclass of
`VectorOp`) and is generated back byte-for-byte, so SQL regenerated from a checked tree runs
exactly what was checked.

Precedence follows PostgreSQL: user-defined operators bind looser than `+`/`-` and tighter than
comparisons, so `a <-> b + c < 1` is `(a <-> (b + c)) < 1`.
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.generators.postgres import PostgresGenerator
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokens import TokenType


class VectorOp(exp.Expression, exp.Binary):
    """A pgvector distance operator; `op` is its exact spelling."""

    op: ClassVar[str] = ""
    bits: ClassVar[bool] = False
    """True for the operators on `bit` values (Hamming, Jaccard)."""


class L2Distance(VectorOp):
    op = "<->"


class CosineDistance(VectorOp):
    op = "<=>"


class NegativeInnerProduct(VectorOp):
    op = "<#>"


class L1Distance(VectorOp):
    op = "<+>"


class HammingDistance(VectorOp):
    op = "<~>"
    bits = True


class JaccardDistance(VectorOp):
    op = "<%>"
    bits = True


VECTOR_OPS: dict[str, type[VectorOp]] = {
    cls.op: cls
    for cls in (L2Distance, CosineDistance, NegativeInnerProduct, L1Distance, HammingDistance, JaccardDistance)
}

# TokenType is a closed enum, so all six operators share one token type (the one stock sqlglot
# already uses for `<->`) and the parser tells them apart by the token's text.
_VECTOR_TOKEN = TokenType.LR_ARROW


class PgVectorParser(PostgresParser):
    # `<->` leaves the multiplicative level: pgvector operators sit at "any other operator".
    FACTOR = {k: v for k, v in PostgresParser.FACTOR.items() if k is not _VECTOR_TOKEN}

    _seed: exp.Expr | None = None

    def _parse_bitwise(self) -> exp.Expr | None:
        this = super()._parse_bitwise()
        while self._match(_VECTOR_TOKEN):
            klass = VECTOR_OPS[self._prev.text]
            comments = self._prev_comments
            this = self.expression(klass(this=this, expression=self._parse_term()), comments=comments)
            # Left-associative with the other operators of this level (`||`, `&`, JSON ops):
            # resume the stock loop with `this` as its left operand.
            self._seed = this
            this = super()._parse_bitwise()
        return this

    def _parse_term(self, parse_mod: bool = True) -> exp.Expr | None:
        if self._seed is not None:
            seed, self._seed = self._seed, None
            return seed
        return super()._parse_term(parse_mod=parse_mod)


def _vector_op_sql(self: PostgresGenerator, expression: exp.Expr) -> str:
    assert isinstance(expression, VectorOp)
    return self.binary(expression, expression.op)


class PgVectorGenerator(PostgresGenerator):
    TRANSFORMS = {**PostgresGenerator.TRANSFORMS, **{cls: _vector_op_sql for cls in VECTOR_OPS.values()}}


class PgVector(Postgres):
    """PostgreSQL plus pgvector's operators (registered with sqlglot as dialect `pgvector`)."""

    class Tokenizer(Postgres.Tokenizer):
        KEYWORDS = {**Postgres.Tokenizer.KEYWORDS, **{op: _VECTOR_TOKEN for op in VECTOR_OPS}}

    Parser = PgVectorParser
    Generator = PgVectorGenerator
