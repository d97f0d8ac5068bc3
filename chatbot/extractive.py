"""The answer written without an LLM: readable, grounded, built only from the rows, and worded
for exactly what was computed (an exact set, the closest matches, a count, a superlative)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatbot.plans import SORT_WORDS, conditions, pooled_scope
from chatbot.understand.reader import ORDINAL_N
from retrieval.plan import QueryPlan

NO_LLM_CONFIGURED_NOTE = "Answering from the catalog without an LLM."
FACT_ROWS = 5
"""A follow-up fact ("how long is it?", "when did they come out?") is a sentence per film up to
this many films; past it, the films are listed with their details."""

# (sort key, descending) -> the superlative ("the longest film")
_SUPERLATIVES = {
    ("duration_min", True): "longest", ("duration_min", False): "shortest",
    ("year", False): "oldest", ("year", True): "newest",
    ("avg_rating", True): "highest-rated", ("avg_rating", False): "lowest-rated",
    ("num_ratings", True): "most-rated", ("num_ratings", False): "least-rated",
    ("title", False): "first by title", ("title", True): "last by title",
}


def _films(n: int) -> str:
    return f"{n} film{'s' if n != 1 else ''}"


def _users(n: int) -> str:
    return f"{n} user{'s' if n != 1 else ''}"


def _names(values: Sequence[str], limit: int | None = None) -> str:
    shown = list(values)[:limit] if limit else list(values)
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def title_of(row: dict[str, Any]) -> str:
    return f"**{row['title']}**" + (f" ({row['year']})" if row.get("year") else "")


def named(row: dict[str, Any]) -> str:
    """*Title* (Year): a film named in a sentence."""
    return f"*{row['title']}*" + (f" ({row['year']})" if row.get("year") else "")


def _minutes(value: float) -> str:
    hours, minutes = divmod(round(value), 60)
    return f"{value:.0f} minutes" + (f" ({hours} h {minutes:02d} min)" if hours else "")


def describe_row(row: dict[str, Any]) -> str:
    """One line: **Title** (Year) — director; genres; runtime; rating."""
    bits = []
    if row.get("director"):
        bits.append(f"directed by {row['director']}")
    if row.get("genres"):
        bits.append(", ".join(row["genres"][:3]))
    if row.get("duration_min"):
        bits.append(f"{row['duration_min']} min")
    if row.get("avg_rating") is not None and row.get("num_ratings"):
        bits.append(f"rated {row['avg_rating']:.1f}/5 by {_users(row['num_ratings'])}")
    if row.get("actors"):
        bits.append("with " + ", ".join(list(row["actors"])[:2]))
    return title_of(row) + (" — " + "; ".join(bits) if bits else "")


# --- facts ------------------------------------------------------------------------------------


_FACT_CLAUSES = {
    "director": "was directed by {}", "year": "came out in {}", "country": "comes from {}",
    "language": "is in {}", "num_ratings": "has {} ratings", "summary": "is about this: {}",
    "actors": "stars {}", "writers": "was written by {}", "genres": "is listed as {}",
}


def _fact(row: dict[str, Any], name: str) -> str | None:
    """One field of one film as a clause after its title, or None when the row lacks it."""
    value = row.get(name)
    if value in (None, "", [], ()):
        return None
    if name == "duration_min":
        return f"runs {_minutes(value)}"
    if name == "avg_rating":
        votes = f" by {_users(row['num_ratings'])}" if row.get("num_ratings") else ""
        return f"is rated {float(value):.1f}/5{votes}"
    template = _FACT_CLAUSES.get(name)
    if template is None:
        return None
    return template.format(_names(value, 5) if isinstance(value, list | tuple) else value)


def fact_sentence(row: dict[str, Any], fields: Sequence[str]) -> str:
    """"*Pulp Fiction* (1994) was directed by Quentin Tarantino." — what was asked, first."""
    head = named(row)
    clauses = [c for c in (_fact(row, f) for f in fields if f != "title") if c]
    missing = [f for f in fields if f != "title" and _fact(row, f) is None]
    if not clauses:
        return f"{head}: your catalog does not record its {_names([SORT_WORDS.get(m, m) for m in missing]) or 'details'}."
    sentence = f"{head} {_names(clauses)}."
    if missing:
        sentence += f" Your catalog does not record its {_names([SORT_WORDS.get(m, m) for m in missing])}."
    return sentence


_COMPARED = {  # field -> (more, less, how a value reads)
    "duration_min": ("longer than", "shorter than", lambda v: f"{int(v)} minutes"),
    "year": ("newer than", "older than", lambda v: str(int(v))),
    "avg_rating": ("rated higher than", "rated lower than", lambda v: f"{float(v):.2f}/5"),
    "num_ratings": ("rated by more users than", "rated by fewer users than", lambda v: f"{int(v)} ratings"),
}


def comparison(rows: Sequence[dict[str, Any]], field: str, more: bool) -> str:
    """"Yes: *Jaws* (1975) is longer than *Alien* (1979): 124 minutes against 117 minutes." — the
    first film named against each other one, on the values the rows hold."""
    more_word, less_word, show = _COMPARED[field]
    first, others = rows[0], rows[1:]
    head = named(first)
    label = SORT_WORDS.get(field, field)
    out = []
    for other in others:
        name = named(other)
        a, b = first.get(field), other.get(field)
        if a is None or b is None:
            missing = head if a is None else name
            out.append(f"I can't compare them: your catalog does not record the {label} of {missing}.")
            continue
        if a == b:
            out.append(f"No: {head} and {name} have the same {label}, {show(a)}.")
            continue
        bigger = a > b
        verdict = "Yes" if bigger == more else "No"
        out.append(f"{verdict}: {head} is {more_word if bigger else less_word} {name}: {show(a)} against {show(b)}.")
    return "\n".join(out)


_MEASURED = {  # field -> (what it is, how a value reads)
    "duration_min": ("running time", _minutes),
    "avg_rating": ("average rating", lambda v: f"{v:.2f}/5"),
    "num_ratings": ("number of ratings", lambda v: f"{v:,.1f}".removesuffix(".0")),
    "year": ("release year", lambda v: f"{v:.0f}"),
}


def measured(rows: Sequence[dict[str, Any]], plan: QueryPlan, total: int) -> str | None:
    """"The average running time of the 9 films in your catalog (directed by Stanley Kubrick) is
    137 minutes (2 h 17 min)." — computed over every matching row; None when the rows are not all
    of them or none records the field."""
    if plan.measure is None or not plan.fields or len(rows) < total:
        return None
    field = plan.fields[0]
    values = [float(r[field]) for r in rows if r.get(field) is not None]
    if not values:
        return None
    what, show = _MEASURED[field]
    value = sum(values) if plan.measure == "sum" else sum(values) / len(values)
    conds = _conditions(plan)
    films = f"the {_films(len(rows))} in your catalog" + (f" ({conds})" if conds else "")
    if len(values) < len(rows):
        films = f"{len(values)} of {films}"
    head = "total" if plan.measure == "sum" else "average"
    if field == "avg_rating" and plan.measure == "avg":
        sentence = f"The average of the average ratings of {films} is {show(value)}"
    else:
        sentence = f"The {head} {what} of {films} is {show(value)}"
    missing = len(rows) - len(values)
    if missing:
        sentence += f"; {'the other one records' if missing == 1 else f'the other {missing} record'} no {what}"
    return sentence + "."


TIED_NAMED = 5
"""Groups tied at the top named in one sentence; more are listed."""
_GROUP_NOUNS = {
    "director": ("director", "directors"), "actor": ("actor", "actors"), "writer": ("writer", "writers"),
    "genre": ("genre", "genres"), "country": ("country", "countries"), "language": ("language", "languages"),
    "year": ("year", "years"), "decade": ("decade", "decades"),
}
# (field, highest first) -> what a group ranked by its films' average has ("the longest films on average")
_GROUP_RANKS = {
    ("duration_min", True): "the longest films on average", ("duration_min", False): "the shortest films on average",
    ("avg_rating", True): "the highest average rating", ("avg_rating", False): "the lowest average rating",
    ("num_ratings", True): "the most ratings per film on average", ("num_ratings", False): "the fewest ratings per film on average",
    ("year", True): "the newest films on average", ("year", False): "the oldest films on average",
}


def grouped(rows: Sequence[dict[str, Any]], plan: QueryPlan, total: int, capped: bool) -> str:
    """A group plan's figures: "**Steven Spielberg** is the director with the most films in your
    catalog: 15 films.", a ranking ("The 5 directors with ..."), every group ("Films in your
    catalog per decade (13 decades):"), or each group's top films ("The longest film in your
    catalog, per decade (9 decades):")."""
    group = plan.group
    assert group is not None
    one, many = _GROUP_NOUNS[group.by]
    conds = _conditions(plan)
    where = "in your catalog" + (f" ({conds})" if conds else "")
    if group.pick is not None:  # "the longest film of each decade": films, by group
        word = _SUPERLATIVES.get((group.pick.key, group.pick.desc), f"first by {group.pick.key}")
        groups = len({r["group_name"] for r in rows})
        spread = f"{groups} {many if groups != 1 else one}"
        if capped:
            spread = f"the first {_films(len(rows))} listed, across {spread}"
        elif len(rows) > groups:
            spread = f"{_films(len(rows))} across {spread}, ties kept"
        head = f"The {word} film {where}, per {one} ({spread}):"
        return "\n".join([head, *(f"{i}. {r['group_name']}: {describe_row(r)}" for i, r in enumerate(rows, 1))])

    def figure(row: dict[str, Any]) -> str:
        if group.field is None:
            return _films(row["films"])
        return f"{_MEASURED[group.field][1](row['value'])} over {_films(row['films'])}"

    lines = [f"{i}. **{r['name']}** — {figure(r)}" for i, r in enumerate(rows, 1)]
    if group.min_films > 1:
        lines.append(f"Only {many} with at least {group.min_films} matching films are ranked.")
    if group.top is None:
        what, _ = _MEASURED.get(group.field or "", ("", None))
        head = "Films" if group.field is None else f"{'Total' if group.measure == 'sum' else 'Average'} {what} of the films"
        shown = f"; the first {len(rows)} are listed" if capped else ""
        return "\n".join([f"{head} {where}, per {one} ({total} {many if total != 1 else one}{shown}):", *lines])
    if group.field is None:
        rank = "the most films" if group.desc is not False else "the fewest films"
    else:
        rank = _GROUP_RANKS[(group.field, group.desc is not False)]
    if len(rows) == 1:
        return f"**{rows[0]['name']}** is the {one} with {rank} {where}: {figure(rows[0])}." + (
            "\n" + lines[-1] if group.min_films > 1 else "")
    if group.top == 1 and len(rows) <= TIED_NAMED:  # every row holds the top figure
        tied = _names([f"**{r['name']}**" for r in rows])
        return f"{tied} are tied as the {many} with {rank} {where}: {figure(rows[0])} each." + (
            "\n" + lines[-1] if group.min_films > 1 else "")
    if group.top == 1:
        return "\n".join([f"{len(rows)} {many} tie for {rank} {where}:", *lines])
    kept = " (ties at the last place kept)" if len(rows) > group.top else ""
    return "\n".join([f"The {len(rows)} {many} with {rank} {where}{kept}:", *lines])


# --- leads ----------------------------------------------------------------------------------------


def _conditions(plan: QueryPlan | None) -> str:
    found = conditions(plan.filters) if plan is not None else []
    return ", ".join(found)


_ORDINALS = {n: word for word, n in ORDINAL_N.items() if n > 1 and word.isalpha()}


def _ordinal(n: int) -> str:
    return _ORDINALS.get(n) or f"{n}th"


def nothing_found(plan: QueryPlan | None) -> str:
    """Said plainly: which conditions found nothing."""
    if plan is not None and plan.position is not None:
        if plan.position > 0:
            return f"The previous answer has no film number {plan.position}."
        return "The previous answer listed no films to pick from."
    conds = _conditions(plan)
    if conds:
        return f"No films in your catalog match: {conds}."
    return "I found no film in your catalog that matches."


def _superlative_lead(plan: QueryPlan, rows: list[dict[str, Any]], scope: str) -> str:
    assert plan.sort is not None
    word = _SUPERLATIVES.get((plan.sort.key, plan.sort.desc), f"first by {plan.sort.key}")
    if plan.rank is not None:
        word = f"{_ordinal(plan.rank)} {word}"
    conds = _conditions(plan)
    among = f" {scope}" + (f" ({conds})" if conds else "")
    limit = plan.limit or 1
    if len(rows) == 1:
        return f"The {word} film{among} is {describe_row(rows[0])}."
    if len(rows) > limit:
        return f"{_films(len(rows)).capitalize()} tie for the {word}{among}:"
    return f"The {limit} {word} films{among}:"


def lead(
    rows: list[dict[str, Any]], *, plan: QueryPlan | None, route: str | None, anchors: list[dict[str, Any]],
    total: int, capped: bool, exact: bool,
) -> str:
    follow = route == "follow_up"
    scope = "among the previous results" if follow else "in your catalog"
    if route == "similar" and anchors:
        a = anchors[0]
        conds = _conditions(plan)
        return f"Films in your catalog closest to {a['title']} ({a['year']})" + (f", {conds}:" if conds else ":")
    if route == "recommendation":
        seeds = ", ".join(a["title"] for a in anchors)
        if not seeds and plan is not None and plan.sort is not None and plan.sort.key == "avg_rating":
            conds = _conditions(plan)
            return "Recommended from your catalog, the best rated first" + (f" ({conds}):" if conds else ":")
        return f"Recommended from your catalog{' for fans of ' + seeds if seeds else ''}:"
    pool = pooled_scope(plan, exact)
    if plan is not None and plan.intent == "superlative" and plan.sort and (exact or pool):
        return _superlative_lead(plan, rows, pool or scope)
    if not exact:
        return "The closest matches " + ("among the previous results:" if follow else "in your catalog:")
    conds = _conditions(plan)
    order = f", by {SORT_WORDS.get(plan.sort.key, plan.sort.key)}" if plan is not None and plan.sort else ""
    counted = f"{_films(total)} {scope} match{'es' if total == 1 else ''}" + (f" ({conds})" if conds else "")
    if plan is not None and plan.intent == "count":
        counted = (f"{_films(total)} of the previous results match{'es' if total == 1 else ''}" if follow
                   else f"Your catalog has {_films(total)} that match{'es' if total == 1 else ''}")
        counted += f" ({conds})" if conds else ""
    shown = f"; the first {len(rows)} are listed (the most an answer lists){order}:" if capped else f"{order}:"
    return counted[0].upper() + counted[1:] + shown


def extractive_answer(
    rows: list[dict[str, Any]], *, plan: QueryPlan | None = None, route: str | None = None,
    anchors: list[dict[str, Any]] | None = None, total: int | None = None, capped: bool = False,
    exact: bool = True, alternatives: Sequence[dict[str, Any]] = (), sql: str | None = None,
) -> str:
    """A grounded answer listing `rows` in order (every one of them); with no rows, says so and
    offers `alternatives` (nearest rows that do not meet the conditions) labelled as such."""
    titled = [r for r in rows if r.get("title")]
    unapplied = list(plan.unapplied) if plan is not None else []
    caveat = [f"I could not apply: {'; '.join(unapplied)}."] if unapplied else []
    if plan is not None and plan.group is not None and rows:
        return "\n".join([grouped(rows, plan, total or len(rows), capped), *caveat])
    if not titled:
        if rows:  # an aggregate from SQL, e.g. an average
            lines = ["Result: " + "; ".join(", ".join(f"{k} = {v}" for k, v in r.items()) for r in rows)]
        else:
            lines = [nothing_found(plan)]
            if alternatives:
                lines.append("Not matches, but the closest by meaning:")
                lines += [f"- {describe_row(r)}" for r in alternatives]
        return "\n".join(lines + caveat + _sql_block(sql))
    if plan is not None and plan.intent == "aggregate" and (figure := measured(titled, plan, total or len(titled))):
        listed = [f"{i}. {describe_row(r)}" for i, r in enumerate(titled, 1)]  # the films it was computed over
        return "\n".join([f"{figure} The films it was computed over:", *caveat, *listed, *_sql_block(sql)])
    if plan is not None and plan.intent == "fact" and plan.compare is not None and len(titled) > 1:
        return "\n".join([comparison(titled, plan.compare.field, plan.compare.more), *caveat, *_sql_block(sql)])
    if plan is not None and plan.intent == "fact" and plan.fields and (route != "follow_up" or len(titled) <= FACT_ROWS):
        facts = [fact_sentence(r, plan.fields) for r in titled]
        return "\n".join(facts + caveat + _sql_block(sql))
    if plan is not None and plan.intent == "fact" and not plan.fields and (plan.position is not None or plan.anchors):
        # "tell me about Casablanca", "tell me about the third one": the film, described
        picked = [describe_row(r) + "." + (f" {r['summary']}" if r.get("summary") else "") for r in titled]
        return "\n".join(picked + caveat + _sql_block(sql))
    else:
        first = lead(titled, plan=plan, route=route, anchors=anchors or [],
                     total=total if total is not None else len(titled), capped=capped, exact=exact)
        if first.endswith(".") and len(titled) == 1:  # a single superlative says it all
            return "\n".join([first, *caveat, *_sql_block(sql)])
        lines = [first]
    lines += caveat
    lines += [f"{i}. {describe_row(r)}" for i, r in enumerate(titled, 1)]
    return "\n".join(lines + _sql_block(sql))


def _sql_block(sql: str | None) -> list[str]:
    return [f"\nFound with this SQL:\n```sql\n{sql}\n```"] if sql else []
