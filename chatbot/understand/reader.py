"""The rule reader: any ordinary question -> `retrieval.plan.QueryPlan`. Pure, no I/O.

Passes run in a fixed order over one `Question`, each consuming the words it understood:
titles the node found, numbers (years, running times, ratings, "top 5"), sort words, people,
the fields asked, a plot/mood phrase, genres, countries and languages. What no pass took and is
not filler becomes the semantic phrase of a search; a parse that found little says so through a
low `confidence`, so a reachable LLM may fill the plan instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatbot.understand.groups import read_group
from chatbot.understand.lexicon import FILLER, MOVIE_NOUNS, PLURAL_NOUNS, SUPERLATIVES
from chatbot.understand.numbers import (
    read_avg_rating,
    read_duration,
    read_limit,
    read_num_ratings,
    read_years,
)
from chatbot.understand.people import PeopleIndex, build_index, name_tokens
from chatbot.understand.text import GAP, Question
from chatbot.understand.words import (
    merge_people,
    read_genres,
    read_people,
    read_places,
    read_unknown_names,
)
from retrieval.plan import (
    Compare,
    CompareField,
    FieldName,
    Filters,
    Intent,
    Measure,
    Names,
    QueryPlan,
    Range,
    Sort,
    SortKey,
    Vocabulary,
)
from retrieval.text import fold

Title = tuple[int, str, int | None]

PLURAL_SUPERLATIVE_LIMIT = 10
"""Rows for a plural superlative with no number ("the longest films")."""
PLOT_WORDS = 18
"""A statement this long that is not a question is a pasted plot: search by its meaning."""
LOW, MEDIUM = 0.3, 0.6

GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|thanks?|thank you|ok(?:ay)?|great|cool|nice|perfect|awesome|good (?:morning|evening|afternoon))"
    r"(?: (?:there|so much|a lot|again))?\b[\s,!.;:-]*(?:that's (?:helpful|great|perfect|nice|useful)[\s,!.]*)?"
)
"""A greeting or thanks before the question ("hello, which Spielberg films ...")."""
CHITCHAT = re.compile(
    r"^\W*(?:hi|hello|hey|hiya|yo|howdy|greetings|good (?:morning|evening|afternoon|night)|thanks?(?: you)?(?: (?:so|very) much)?|"
    r"thx|ty|cheers|bye|goodbye|see you|who are you|what are you|what can you (?:do|tell me)|what do you (?:do|know)|help|"
    r"how (?:does|do) (?:this|it|you) work|how do i use (?:this|you|it)|what is this|"
    r"how are you|how's it going|nice|great|cool|ok(?:ay)?|awesome|perfect|you'?re (?:great|awesome|welcome))\b"
    r"(?: (?:there|again|bot|a lot|so much|mate|buddy|friend|today|for (?:that|the help|your help)))*[\s!.?,:)]*$",
    re.I,
)
RECOMMEND = re.compile(
    r"\b(?:recommend\w*|suggest\w*|what (?:should|could|can|shall) (?:i|we) watch|what to watch|something to watch|"
    r"(?:movies?|films?|something) (?:for|to watch) (?:me|tonight)|i (?:liked|loved|enjoyed|like|love|enjoy)\b|"
    r"users like me|people like me|based on my|my taste|fans of|if i liked)\b"
)
SIMILAR = re.compile(
    r"\b(?:like|similar to|similar|resembl\w*|in the (?:vein|style|spirit) of|reminiscent of|same as|comparable to|"
    r"along the lines of|akin to|close to|the likes of)\b"
)
LIKE_TITLE = re.compile(
    r"\b(?:(?:movies?|films?|something|anything|more|ones?|stuff|titles?|pictures?) like|similar to|in the (?:vein|style|spirit) of|"
    r"reminiscent of|along the lines of|the likes of)[\s\x00]*\x00"
)
"""A film asked for by its likeness to a title the question names ("recommend me movies like
Alien", "suggest something similar to Heat"): a similarity question, whatever verb asks it; "I
liked Alien, what should I watch?" stays a recommendation."""
AGE_OF_LIKE = re.compile(r"\b(?:but |and |only |just )?(older|earlier|newer|more recent|later)(?: ones?| films?| movies?| titles?)?\b")
"""Films like a title, older or newer than it ("movies like The Matrix but older")."""
FOLLOW_UP = re.compile(
    r"\b(?:those|these|them|they|the ones|of which|among (?:them|those|these)|that list|the list|the above|"
    r"above ones|it|its|that one|this one|the first one|the second one|the last one|previous|same ones|results?)\b"
    r"|^(?:and|only|just|now|also|but|then|ok(?:ay)?|so|what if|of those|of these|sort|order|filter|narrow|keep|"
    r"remove|exclude|drop|which one)\b"
)
AGGREGATE = re.compile(
    r"(?<!highest )(?<!lowest )(?<!best )(?<!worst )(?<!top )(?<!better )(?<!worse )\b(?:average|avg|mean|median|total|sum|combined|overall length|in total|per (?:genre|year|decade|director|country|language|actor)|"
    r"for each|each (?:genre|year|decade|director|country|language)|(?:count|number|how many|group(?:ed)?|broken down|split)\b.*\b(?:by|per) (?:genre|decade|year|country|language|director)|"
    r"breakdown|distribution|who (?:directed|made|starred in|appeared in|acted in|wrote|has|had)\b.*\bthe most\b|(?:which|what) (?:director|actor|actress|writer|country|genre|year|decade|language|person)s?\b.*\b(?:most|highest|lowest|best|worst|longest|shortest)\b|"
    r"most (?:common|frequent|prolific|popular) (?:genre|director|actor|actress|country|language|decade|year)|"
    r"how many (?:directors|actors|actresses|writers|genres|countries|languages|different|distinct|unique))"
)
MEASURE = re.compile(r"\b(average|avg|mean|total|combined|sum of|in total)\b")
MEASURES: dict[str, Measure] = {
    "average": "avg", "avg": "avg", "mean": "avg", "total": "sum", "combined": "sum", "sum of": "sum", "in total": "sum",
}
"""An average or total the plan computes over the matching rows (of the one numeric field asked)."""
GROUPED = re.compile(
    r"\b(?:per|each|for every|by (?:genre|decade|year|country|language|director|actor)|broken down|breakdown|"
    r"distribution|grouped|most|least|highest|lowest)\b"
)
"""An aggregate over groups or a ranking of them ("average length per genre"): SQL, not a plan."""
COUNT = re.compile(
    r"\bhow many\b(?! (?:minutes|hours|ratings|votes|reviews|stars|people rated|users rated))|\bnumber of (?:movies|films|titles|pictures)\b|"
    r"\bnumber of (?:[^\W\d_]+ ){0,3}?(?:movies|films|titles|pictures)\b|\bcount (?:the |of |all |how )?|\bcount$|\bhow much (?:movies|films)\b"
)
LIST = re.compile(r"\b(?:list|every|all|each|show|which|what (?:movies|films)|any|enumerate|give me)\b")
HAVE_TITLE = re.compile(
    r"\b(?:do you have|is there|have you got|do you know|in (?:the|your|my) (?:catalog|catalogue|collection|database|library)|"
    r"tell me (?:more )?about|info(?:rmation)? (?:on|about)|details (?:on|of|about)|what about)\b"
)
FILLER_PHRASES = re.compile(
    r"\b(?:of all time|ever made|in history|so far|right now|currently|at the moment|if any|if possible|"
    r"by any chance|in (?:the|your|my) (?:catalog|catalogue|collection|database|library|list)|you (?:have|got|know of)|"
    r"(?:on|at|from|according to) (?:movielens|imdb|rotten tomatoes))\b"
)
ORDINAL_N = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6, "7th": 7,
    "8th": 8, "9th": 9, "10th": 10, "last": -1, "final": -1,
}
_RANKS = "|".join(k for k, n in ORDINAL_N.items() if n > 1)
ORDINAL = re.compile(rf"\b({_RANKS})[- ]?(?:most[- ]?)?(?=\x00)")
"""A rank before a superlative word the sort pass took ("the second longest", "3rd oldest")."""
_PLACE = "|".join(ORDINAL_N)
POSITION = re.compile(
    r"(?<![\w#])(?:tell me (?:more )?about |more (?:on|about) |what about |and |how about )?"
    rf"(?:the (?P<ord>{_PLACE}) (?:one|result|title|entry|pick|item|(?:movie|film)(?=\W*$|\W+(?:you|in|on|from|of|that)\b))"
    r"(?: (?:you|that you|that) (?:listed|mentioned|showed|named|gave|suggested|found)| (?:in|on|from|of) (?:the|that|your) (?:list|answer|results))?"
    r"|(?:number|no\.?|#) ?(?P<num>\d{1,3})(?=\W*$|\W+(?:you|in|on|from|of|that|please)\b))\b"
)
"""A pick from the previous answer's list by place ("the third one", "the last film you
listed", "number 4"): `position` 3, -1, 4."""
COMPARATIVES: tuple[tuple[str, CompareField, bool], ...] = (
    (r"\blonger\b", "duration_min", True),
    (r"\bshorter\b", "duration_min", False),
    (r"\b(?:newer|later|more recent|younger)\b", "year", True),
    (r"\b(?:older|earlier)\b", "year", False),
    (r"\b(?:better|higher)(?:[- ]rated)?\b|\brated (?:higher|better)\b", "avg_rating", True),
    (r"\b(?:worse|lower)(?:[- ]rated)?\b|\brated (?:lower|worse)\b", "avg_rating", False),
    (r"\bmore (?:popular|ratings)\b", "num_ratings", True),
    (r"\bless popular\b|\bfewer ratings\b", "num_ratings", False),
)
"""(pattern, field, the first film has more of it): "is Jaws longer than Alien?"."""

# (pattern, key, descending): words that order a list ("sorted by year", "newest first")
_BY = r"\b(?:sort(?:ed)?|order(?:ed)?|rank(?:ed)?|arrange(?:d)?|list(?:ed)?)(?: (?:them|it|these|those|the list|the results|results|the movies|the films|everything|all))? (?:by|on|according to|in order of)(?: (?:their|the|its))?"
ORDERS: tuple[tuple[str, SortKey, bool], ...] = (
    (rf"{_BY} (?:release )?(?:year|date|release|age)\b", "year", False),
    (rf"{_BY} (?:length|duration|run(?:ning)?[- ]?time|runtime)\b", "duration_min", False),
    (rf"{_BY} (?:average )?(?:rating|score|stars)\b", "avg_rating", True),
    (rf"{_BY} (?:popularity|number of (?:ratings|votes)|(?:ratings|votes) count|votes)\b", "num_ratings", True),
    (rf"{_BY} (?:title|name)\b", "title", False),
    (r"\b(?:newest|latest|most recent) (?:first|to (?:oldest|earliest))\b|\breverse chronologic(?:al(?:ly)?)?(?: order)?\b", "year", True),
    (r"\b(?:oldest|earliest) (?:first|to (?:newest|latest))\b|\bchronologic(?:al(?:ly)?)?(?: order)?\b|\bin order of release\b|\bby release date\b|\bby year\b", "year", False),
    (r"\blongest (?:first|to shortest)\b", "duration_min", True),
    (r"\bshortest (?:first|to longest)\b", "duration_min", False),
    (r"\b(?:best|highest)[- ]?(?:rated )?first\b|(?<!how )\b(?:highly|well|critically)[- ](?:rated|reviewed|acclaimed)\b|\bacclaimed\b", "avg_rating", True),
    (r"\bby (?:their |the )?(?:average )?(?:rating|score|stars)\b", "avg_rating", True),
    (r"\bby (?:their |the )?(?:length|duration|run(?:ning)?[- ]?time|runtime)\b", "duration_min", False),
    (r"\bby (?:their |the )?(?:popularity|number of (?:ratings|votes))\b", "num_ratings", True),
    (r"\bby (?:their |the )?(?:title|name)\b", "title", False),
    (r"\balphabetic(?:al(?:ly)?)?(?: order)?\b|\bfrom a to z\b|\ba-z\b", "title", False),
)
DESC = re.compile(r"\b(?:descending|desc|highest first|largest first|reversed?|in reverse|from highest|biggest first|newest first)\b")
ASC = re.compile(r"\b(?:ascending|asc|lowest first|smallest first|from lowest|oldest first)\b")

FIELDS: tuple[tuple[str, FieldName], ...] = (
    (r"\bwho (?:directed|made|helmed|shot|directs)\b|\bdirector(?:s)? (?:of|for|behind)\b|\bwho(?: is|'s| was| were) (?:the )?directors?\b|\bdirected by who(?:m)?\b|\b(?:their|its|the|with|and|plus) directors?\b|\bwhose (?:film|movie) is\b|\bwho was behind\b", "director"),
    (r"\bwho (?:wrote|penned|scripted|writes)\b|\b(?:screen)?writers? (?:of|for|behind)\b|\bwritten by who(?:m)?\b|\b(?:their|its|the|with|and) (?:screen)?writers?\b|\bscreenplay (?:of|for)\b|\bwho(?: is|'s| was| were) (?:the )?(?:screen)?writers?\b", "writers"),
    (r"\bwho (?:stars|starred|acts|acted|plays|played|appears|appeared|is|was|were|are)(?: in)\b|\b(?:which|what) (?:actors?|actress(?:es)?|stars?)\b|\bwho (?:stars|starred|acted|appeared)\b|\bwho's in\b|\b(?:the |its |their |full )?cast\b|\bactors? (?:in|of)\b|\b(?:lead|main|leading) (?:actors?|actress(?:es)?|roles?|stars?)\b|\bstarring who(?:m)?\b|\b(?:their|its|the|with|and) (?:actors|stars)\b|\bwho is starring\b", "actors"),
    (r"\bwhen (?:was|were|did|is)\b|\b(?:what|which) year\b|\brelease (?:date|year)\b|\byear (?:of release|released|it came out)\b|\bhow old is\b|\b(?:their|its|the|with|and) (?:release )?years?\b", "year"),
    (r"\bhow long\b|\b(?:their |its |the )?run(?:ning)?[- ]?times?\b|\bruntimes?\b|\b(?:their |its |the )?length\b|\bduration\b|\bhow many (?:minutes|hours)\b", "duration_min"),
    (r"\bwhat(?:'s| is| was| are| were)(?: [^\W\d_]+){0,6}[\s\x00]*about\W*$|\bwhat(?:'s| is| was| are| were)[\s\x00]*(?:it|that|this|the (?:movie|film)|they|those|them)?[\s\x00]*about\b|\b(?:the |its |their )?(?:plot|summary|synopsis|storyline|premise)(?: of| for)?\b(?! (?:about|involv|where|with|in which))|\bwhat happens in\b|\b(?:the )?story of\b|\bdescribe\b|\bdescription\b", "summary"),
    (r"\bhow many (?:ratings|votes|reviews|people rated|users rated)\b|\bnumber of (?:ratings|votes|reviews)\b", "num_ratings"),
    (r"\b(?:how|what)(?:'s| is| was| are| were| well| good| highly)\b[\s\x00\w]{0,40}?\brated\b|\b(?:the |its |their |average )?ratings?\b|\b(?:the |its )?score\b|\bhow good\b|\bhow many stars\b", "avg_rating"),
    (r"\b(?:what|which) (?:genres?|kind of (?:movie|film)|type of (?:movie|film)|sort of (?:movie|film))\b|\bgenres? (?:of|is|are)\b|\b(?:their|its|the|with|and) genres?\b", "genres"),
    (r"\b(?:what|which) countr(?:y|ies)\b|\bcountr(?:y|ies) of\b|\bwhere (?:was|were|is)\b[\s\x00\w]{0,40}?\b(?:made|filmed|shot|produced|from)\b|\b(?:their|its|the) countr(?:y|ies)\b", "country"),
    (r"\b(?:what|which) languages?\b|\blanguages? (?:of|is)\b|\bin what language\b|\b(?:their|its|the) languages?\b", "language"),
)
DESCRIPTION = re.compile(
    r"(?:a|an|the|two|three|four|some|someone|somebody|people|group of|young|old)\b(?:\W+[^\W\d_]+){3,}"
)
"""Leftover words that describe a story ("a shark terrorizes a beach town", "two brothers rob
banks"): a plot search read as written, not words the rules failed to read."""
SEMANTIC_CUE = re.compile(
    r"(?<!what )(?<!how )(?<!tell me )(?<!more )(?<!know )(?<!info )\b(?:about|regarding|concerning|involving|involve|involves|where|in which|wherein|set (?:in|on|during|at)|taking place|"
    r"that takes? place|dealing with|deals with|centered on|centred on|based on|on the (?:theme|subject|topic) of|"
    r"that (?:feel|feels)|with (?:a|an|some|lots of|plenty of)|featuring (?:a|an|some)|that (?:involve|involves|feature|features|show|shows|depict|depicts|explore|explores|tell|tells|has|have)|"
    r"whose (?:plot|story)(?: is| involves)?|(?:plot|story|theme) (?:about|where|involving|of)|the mood of|mood|vibe|vibes|feel-good|feel good)\b"
)
UNAPPLIED = re.compile(
    r"\b(?:(?:and )?(?:then )?(?:delete|drop|truncate|insert|update|alter|grant|remove)\b(?: (?:them|it|all|everything|the \w+|table \w+))*|"
    r"(?:the )?(?:database|db) users|passwords?|system prompt|compos(?:ed|er)|soundtrack|music (?:by|for|of)|cinematograph\w*|produced by|producers?|oscar[- ]winning|oscar winners?|academy award[- ]winning|award[- ]winning|won (?:an |the )?oscars?|box[- ]office|highest[- ]grossing|gross(?:ed|ing)?|budget|"
    r"on netflix|streaming|in 3d|in colou?r|black and white|black-and-white|silent|rated (?:g|pg|pg-13|r|nc-17)\b|"
    r"short (?:films?|movies?|ones)|long (?:films?|movies?|ones)|(?:last|past) (?:\d+|few|couple of|ten|five) years|this year|last year|recent(?:ly)?|new(?:er)? (?:films?|movies?|releases?)|"
    r"old(?:er)? (?:films?|movies?)|cult|underrated|overrated|hidden gems?|classics?)\b"
)


# A request to change the catalog is named, never echoed (an injected command stays out of the answer).
_CHANGE = re.compile(r"(?:and )?(?:then )?(?:delete|drop|truncate|insert|update|alter|grant|remove)\b", re.I)
CHANGE_REQUEST = "changing the catalog (I only read it)"


def read_plan(
    question: str, vocab: Vocabulary, *, titles: Sequence[Title] = (), has_previous: bool = False
) -> QueryPlan:
    """Read one question into a plan. `titles`: catalog titles the node found in it; `vocab`:
    the catalog's own names; `has_previous`: a previous turn left results to follow up on."""
    plan = _read(question, vocab, titles, has_previous)
    if plan.anchors and plan.filters.title and plan.intent in ("fact", "similar", "recommend"):
        return plan.model_copy(update={"filters": plan.filters.model_copy(update={"title": None})})
    if titles and plan.intent not in ("fact", "similar", "recommend", "aggregate") and plan.filters.title is None:
        # the question is not about the titles found in it ("movies about a plane crash"): their
        # words are the question's own words
        return _read(question, vocab, (), has_previous)
    return plan


def _read(question: str, vocab: Vocabulary, titles: Sequence[Title], has_previous: bool) -> QueryPlan:
    q = Question(question)
    v = q.view
    if not q.orig:
        return QueryPlan(intent="chitchat", confidence=LOW)
    if CHITCHAT.match(q.orig):
        return QueryPlan(intent="chitchat")
    words = q.orig.split()
    if len(words) >= PLOT_WORDS and not re.match(r"^\W*(?:who|what|which|when|where|how|why|list|show|give|find|tell|can|could|do|does|is|are|i want|i'd like|recommend|suggest|any)\b", v) and not (titles and SIMILAR.search(v)):
        return QueryPlan(intent="search", semantic=q.orig, confidence=0.8)

    greeted = bool(q.take_first(GREETING))
    v = q.view.lstrip(GAP)  # the question proper, for the whole-question patterns
    scope = "previous" if has_previous and FOLLOW_UP.search(v) else "catalog"
    anchors, title_filter, title_or_anchor = _read_titles(q, titles, build_index(vocab))
    q.take(FILLER_PHRASES)
    group = read_group(q)  # "which director has the most films": before the sort words take "most"
    title_filter = title_filter or _read_title_words(q)
    recommend = bool(RECOMMEND.search(v))
    similar = bool(anchors) and bool(SIMILAR.search(q.view)) and (not recommend or bool(LIKE_TITLE.search(q.view)))
    count = bool(COUNT.search(v))
    num_ratings = read_num_ratings(q)
    avg_rating = read_avg_rating(q)
    duration = read_duration(q)
    years = read_years(q)
    aggregate = group is not None or bool(AGGREGATE.search(q.view))
    count = count and not aggregate
    position = q.take_first(POSITION) if has_previous else None
    if position:
        scope = "previous"
    people = read_people(q, build_index(vocab))  # before sort words: "Ahmed Best" is a name
    sort, superlative = _read_sort(q)
    if not duration.is_empty():
        q.take(r"\b(?:short|long|lengthy)\b")  # "short comedies under 95 min": the bound says it
    unapplied = [
        CHANGE_REQUEST if _CHANGE.match(q.orig[m.start() : m.end()]) else q.orig[m.start() : m.end()]
        for m in q.take(UNAPPLIED)
    ]
    ordinal = q.take_first(ORDINAL)  # "the second longest": a rank below the top
    limit = read_limit(q)
    if limit is not None and re.search(r"\btop\b", v):  # "top 5", "top 3 westerns by rating"
        sort, superlative = sort or Sort(key="avg_rating", desc=True), True
    fields = _read_fields(q)
    compare: Compare | None = None
    if len(anchors) > 1:  # "is Jaws longer than Alien?"
        for pattern, column, more in COMPARATIVES:
            if q.take(pattern):
                fields.append(column)
                compare = compare or Compare(field=column, more=more)
    measure = MEASURES.get(m.group(1)) if aggregate and (m := MEASURE.search(q.low)) and not GROUPED.search(q.low) else None
    relative = [
        q.orig[m.start() : m.end()] for pattern, _, _ in COMPARATIVES for m in q.take(rf"(?:{pattern}) than(?= *\x00)")
    ] if len(anchors) == 1 else []
    if similar and len(anchors) == 1 and years.is_empty():  # "like The Matrix but older"
        year = next((y for tid, _, y in titles if tid == anchors[0]), None)
        if year is not None and (age := q.take_first(AGE_OF_LIKE)):
            years = Range(max=year - 1) if age.group(1) in ("older", "earlier") else Range(min=year + 1)
    semantic = _read_semantic(q)
    genres = read_genres(q, vocab)
    countries, languages, either, unplaced = read_places(q, vocab)
    unapplied += unplaced
    unknown = read_unknown_names(q)
    guessed = unknown.by_role["people"]
    if len(guessed.all_of) == 1 and not (guessed.any_of or guessed.none_of or either or title_filter):
        # "Harry Potter movies", "Greta Gerwig films": a name the catalog's credits lack is a
        # person or the words of a series' titles
        name = guessed.all_of.pop()
        either = (Filters(people=Names(all_of=(name,))), Filters(title=name))
    names = merge_people(people, unknown)
    for start, end in people.unresolved:  # a shared surname no later pass explained
        if GAP not in q.view[start:end]:
            unapplied.append(q.orig[start:end])
            q.consume(start, end)
    residual = _residual(q)

    filters = Filters(
        title=title_filter, year=years, duration_min=duration, avg_rating=avg_rating, num_ratings=num_ratings,
        genres=genres, directors=names["directors"], actors=names["actors"], writers=names["writers"],
        people=names["people"], countries=countries, languages=languages,
        exclude_ids=tuple(anchors) if similar else (), either=either,
    )
    elliptical = not re.search(r"\b(?:movies?|films?|pictures?|flicks?|titles?|catalog|collection)\b", v)
    if has_previous and scope == "catalog" and elliptical and (count or sort) and filters.is_empty() \
            and not (residual or anchors or fields or q.semantic_cued):
        scope = "previous"  # "how many are there?", "and the oldest?" ask about the last answer
    confidence = 1.0
    if unknown.unknown or unapplied or (has_previous and not position and re.match(r"\W*(?:what|how) about\b", v)):
        confidence = MEDIUM

    intent: Intent
    has_filters = not filters.is_empty()
    if recommend and not similar:
        intent = "recommend"
        semantic = semantic or residual
    elif similar:
        intent = "similar"
    elif group is not None:
        intent = "aggregate"
    elif aggregate and not relative and len(anchors) == 1 and not has_filters and list(fields) == ["avg_rating"]:
        # "the average rating of Titanic": one film's average is a field of its row
        intent = "fact"
    elif aggregate or relative:
        # "films longer than The Godfather" compares with a row: guarded SQL, not a plan
        intent, confidence = "aggregate", min(confidence, MEDIUM)
        unapplied += [f"{r} {titles[0][1]}" for r in relative]
    elif count:
        intent = "count"
    elif anchors and re.match(r"\W*(?:is|was|were|are|did|does|do|has|had)\b", v) and not (sort or count):
        # "was Jaws directed by Spielberg?": the named film, checked against the conditions
        intent = "fact"
        fields = fields or [name for key, name in CHECKED_FIELDS if not _empty(getattr(filters, key))]
    elif anchors and not fields and not HAVE_TITLE.search(v) and len((residual or "").split()) > 2:
        intent = "search"  # a title inside a description ("... after a plane crash"): read again without it
    elif title_or_anchor and (sort or count or has_filters) and not fields:
        anchors = []  # "the longest Star Wars movie": the title's words filter
        intent = "superlative" if sort and superlative else "count" if count else "list"
        if intent == "superlative" and limit is None:
            limit = PLURAL_SUPERLATIVE_LIMIT if _plural(q, v) else 1
    elif (anchors and (fields or not (sort or has_filters or semantic))) or (scope == "previous" and (fields or position) and not sort):
        intent = "fact"
        if position:
            semantic = None
    elif superlative and sort:
        intent = "superlative"
        if limit is None:
            limit = PLURAL_SUPERLATIVE_LIMIT if _plural(q, v) else 1
    elif fields and not (has_filters or sort):
        # "who directed the film about the shark": a fact about a film the rules could not name
        intent, semantic, confidence = "fact", semantic or residual, MEDIUM if semantic or residual else LOW
        if scope == "catalog" and (named := _capitalised_title(q.orig)):
            # "Who directed Inception?" with no such catalog title: look for its words, say nothing else
            filters, semantic, confidence = filters.model_copy(update={"title": named}), None, MEDIUM
    elif greeted and not (has_filters or sort or q.semantic_cued or count):
        intent, semantic = "chitchat", None  # "Thanks, that's helpful"
    elif semantic or residual:
        intent = "search"
        if semantic and residual and len(residual.split()) <= 3:
            semantic = f"{residual} {semantic}"  # "uplifting movies about friendship"
        if not semantic:
            semantic = residual
            if not has_filters and not DESCRIPTION.match(fold(residual or "")):
                confidence = min(confidence, MEDIUM)  # nothing but leftover words: an LLM may read it better
    elif has_filters or sort or scope == "previous" or limit or LIST.search(v):
        intent = "list"
    else:
        intent, semantic, confidence = "search", q.orig.rstrip("?!. "), LOW
    if intent in ("count", "superlative", "aggregate") and not q.semantic_cued:
        if residual and intent != "aggregate":  # "the two newest Pixar films": a word the plan cannot apply
            unapplied.append(residual)
            confidence = min(confidence, MEDIUM)
        semantic = None
    rank = None
    if ordinal and intent == "superlative" and sort is not None:
        rank, limit = ORDINAL_N[ordinal.group(1)], 1
    elif ordinal:
        unapplied.append(q.orig[ordinal.start() : ordinal.end()].strip())
    if intent not in ("list", "search", "superlative", "recommend", "similar"):
        sort = None
    return QueryPlan(
        intent=intent, filters=filters, scope=scope if intent not in ("recommend", "similar") else "catalog",  # type: ignore[arg-type]
        sort=sort, limit=limit, rank=rank, compare=compare if intent == "fact" else None,
        measure=measure if intent == "aggregate" and group is None and _measurable(fields) else None,
        group=group if intent == "aggregate" else None,
        position=_position(position) if intent == "fact" else None,
        fields=tuple(dict.fromkeys(fields)), semantic=semantic or None,
        anchors=tuple(anchors) if intent in ("fact", "similar", "recommend", "aggregate") else (),
        unapplied=tuple(dict.fromkeys(unapplied)), confidence=confidence,
    )


MEASURED: frozenset[FieldName] = frozenset({"duration_min", "avg_rating", "num_ratings", "year"})


def _measurable(fields: Sequence[FieldName]) -> bool:
    """One numeric field asked ("the average running time"): an aggregate the plan can compute."""
    return len(set(fields)) == 1 and fields[0] in MEASURED


def _position(m: re.Match[str] | None) -> int | None:
    if m is None:
        return None
    n = int(m.group("num")) if m.group("num") else ORDINAL_N[m.group("ord")]
    return n or None


CHECKED_FIELDS: tuple[tuple[str, FieldName], ...] = (
    ("directors", "director"), ("actors", "actors"), ("writers", "writers"), ("year", "year"),
    ("duration_min", "duration_min"), ("genres", "genres"), ("countries", "country"),
    ("languages", "language"), ("avg_rating", "avg_rating"), ("num_ratings", "num_ratings"),
)


def _empty(value: object) -> bool:
    return bool(getattr(value, "is_empty", lambda: True)())


def _read_titles(q: Question, titles: Sequence[Title], people: PeopleIndex) -> tuple[list[int], str | None, bool]:
    """Blank each catalog title the node found (and a year written after it): (anchors, title
    filter, whether the filter stands in for the anchors). A title followed by "movies"/"series"
    is a title filter ("the Star Wars movies"); by "movie"/"film" either ("the longest Star Wars
    movie" filters, "who directed the Jaws movie" names one)."""
    anchors: list[int] = []
    at: dict[int, int] = {}  # anchor -> where the question names it
    title_filter = None
    soft = False
    for found in titles:
        tid, _, year = found
        title = getattr(found, "named", found[1])  # as the question names it: "Amelie" (TitleRow)
        key = fold(title)
        keys = [key] + [re.sub(r"^(?:the|a|an) ", "", key)] + ([key.split(":")[0]] if ":" in key else [])
        for k in keys:
            pos = q.view.find(k)
            if pos < 0 or not k.strip():
                continue
            end = pos + len(k)
            if _names_a_person(q, pos, end, people) or _reads_as_words(q, pos, end, title):
                break
            longer = re.match(r" ([A-Z][\w'’-]*)", q.orig[end:])
            if longer and fold(longer.group(1)) not in FILLER | _QUESTION_WORDS and not _is_name_word(people, longer.group(1)):
                break  # "The Dark Knight Rises" is another film than "The Dark Knight"
            m = re.match(rf"\s*[(,]?\s*(?:from |of |in )?(?:{year})\)?" if year else r"(?!)", q.view[end:])
            if m:
                end += m.end()
            after = q.view[end:]
            if re.match(r"\s*(?:movies|films|series|franchise|saga|trilogy|sequels|collection|pictures)\b", after):
                title_filter = q.orig[pos : pos + len(k)]
                q.consume(pos, end)
                break
            if re.match(r"\s*(?:movie|film|picture)\b", after):
                title_filter, soft = q.orig[pos : pos + len(k)], True
            q.consume(pos, end)
            if tid not in anchors:
                anchors.append(tid)
                at[tid] = pos
            break
    return sorted(anchors, key=at.__getitem__), title_filter, soft  # in the question's order


_PREPOSITIONS = frozenset({
    "about", "after", "against", "among", "around", "at", "before", "behind", "beyond", "between",
    "by", "for", "from", "in", "inside", "into", "like", "near", "of", "off", "on", "out",
    "outside", "over", "through", "to", "toward", "under", "up", "with", "within", "without",
})


def _names_a_person(q: Question, pos: int, end: int, people: PeopleIndex) -> bool:
    """Whether the title's words at q.view[pos:end] are a catalog person's: part of a longer full
    name ("The Cruise" inside "Tom Cruise"), or a name used as one ("the best Hitchcock movie",
    "films by Hitchcock" are about the director, not the film "Hitchcock")."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^\W_]+", q.low)]
    for i in range(len(spans)):
        for n in range(2, people.longest + 1):
            window = spans[i : i + n]
            if len(window) < n:
                break
            lo, hi = window[0][0], window[-1][1]
            if hi <= pos or lo >= end or (lo >= pos and hi <= end):
                continue  # no overlap, or inside the title
            if tuple(q.low[a:b] for a, b in window) in people.full:
                return True
    key = name_tokens(q.low[pos:end])
    if key not in people.full and key not in people.tails:
        return False
    return bool(
        re.match(r"\s*(?:'s\s+)?(?:movies?|films?|pictures?|flicks?|westerns?|comedies|dramas|thrillers)\b", q.low[end:])
        or re.search(r"\b(?:by|starring|with|featuring|directed by|written by)\s+$", q.low[:pos])
    )


def _reads_as_words(q: Question, pos: int, end: int, title: str) -> bool:
    """A title opening with a preposition, written in lower case after a film noun, is the
    preposition: "movies about time travel" do not name "About Time"."""
    words = title.split()
    written = q.orig[pos:end]
    return (
        bool(words) and fold(words[0]) in _PREPOSITIONS and written == written.lower() and title != title.lower()
        and bool(re.search(r"\b(?:movies?|films?|pictures?|flicks?|something|anything|ones?|stuff)\s+$", q.low[:pos]))
    )


def _is_name_word(people: PeopleIndex, word: str) -> bool:
    key = tuple(re.findall(r"[^\W_]+", fold(word.removesuffix("'s"))))
    return key in people.tails or key in people.full


_QUESTION_WORDS = {"what", "who", "whom", "when", "where", "which", "how", "is", "was", "tell", "give", "show", "i", "the", "a", "an"}


def _capitalised_title(text: str) -> str | None:
    """The capitalised words of a title the catalog lacks ("What is Inception about?" -> Inception)."""
    for m in re.finditer(r"(?<![\w'])[A-Z0-9][\w'’:-]*(?:\s+(?:[A-Z0-9][\w'’:-]*|of|the|and|a|an|in|on|to|for))*", text):
        words = m.group(0).split()
        while words and fold(words[0]) in _QUESTION_WORDS | FILLER:
            words.pop(0)
        while words and fold(words[-1]) in {"of", "the", "and", "a", "an", "in", "on", "to", "for"}:
            words.pop()
        if words:
            return " ".join(words).rstrip(":")
    return None


def _read_title_words(q: Question) -> str | None:
    """'with love in the title', 'titled Zorro', 'whose title contains "star"'."""
    patterns = (
        r"\b(?:with|having|has|containing|contain|includes?|that have)(?: the word| the words)? [\"'“]?(?P<t>[^\"”\x00]+?)[\"'”]? in (?:the|its|their) (?:title|name)s?\b",
        r"\b(?:whose |where the |with a )?titles? (?:contains?|includes?|has|have|with|containing|including|starts? with|starting with|begins? with)(?: the word| the words)? [\"'“](?P<t>[^\"”]+)[\"'”]",
        r"\b(?:whose |where the |with a )?titles? (?:contains?|includes?|has|have|with|containing|including)(?: the word| the words)? (?P<t>[^\s\x00?!.,]+)",
        r"\b(?:titled|called|named|entitled) [\"'“](?P<t>[^\"”]+)[\"'”]",
        r"\b(?:titled|called|named|entitled) (?P<t>[^\x00?!.,]+?)\s*(?=[?!.,]|$|\x00)",
    )
    for pattern in patterns:
        m = q.take_first(pattern)
        if m:
            return q.orig[m.start("t") : m.end("t")].strip(" '\"")
    return None


def _read_sort(q: Question) -> tuple[Sort | None, bool]:
    """(sort, is a superlative): "sorted by year" orders a list; "the longest" picks the top."""
    for pattern, key, desc in ORDERS:
        m = q.take_first(pattern)
        if m:
            if DESC.search(q.view) and not desc:
                desc = True
                q.take_first(DESC)
            elif ASC.search(q.view) and desc:
                desc = False
                q.take_first(ASC)
            return Sort(key=key, desc=desc), False
    for pattern, key, desc in SUPERLATIVES:
        m = q.take_first(rf"(?:\bthe |\b(?:one|ones) )?(?:{pattern})")
        if m:
            return Sort(key=key, desc=desc), True
    return None, False


def _plural(q: Question, v: str) -> bool:
    """Whether a superlative asks for several rows ("the longest films", "which are the oldest")."""
    m = re.search(r"\x00+", q.view)
    after = q.view[m.end() : m.end() + 40] if m else ""
    for word in re.findall(r"[^\W\d_]+", after)[:4]:
        if word in MOVIE_NOUNS or word.endswith("ies") or word in PLURAL_NOUNS:
            return word in PLURAL_NOUNS or word.endswith(("ies", "s")) and word not in ("is", "was", "series")
        if word in ("is", "was"):
            return False
        if word in ("are", "were"):
            return True
    if re.search(r"\b(?:are|were)\b", v) and not re.search(r"\b(?:is|was)\b", v):
        return True
    return bool(re.search(r"\b(?:movies|films|pictures|flicks|ones|titles)\b", v)) and not re.search(r"\b(?:is|was|movie|film)\b", v)


def _read_fields(q: Question) -> list[FieldName]:
    found: list[tuple[int, FieldName]] = []
    for pattern, name in FIELDS:
        for m in q.take(pattern, across=True):
            found.append((m.start(), name))
    return [name for _, name in sorted(found)]


def _read_semantic(q: Question) -> str | None:
    """The phrase after a plot/mood word ("about a heist gone wrong", "where the hero dies")."""
    m = SEMANTIC_CUE.search(q.view)
    if not m:
        return None
    cue = m.group(0)
    keep_cue = cue in ("feel-good", "feel good") or cue.startswith(("with ", "featuring ", "based on", "set ")) or cue in ("mood", "vibe", "vibes")
    start = m.start() if keep_cue else m.end()
    if cue.startswith("featuring "):
        start = m.start() + len("featuring ")
    rest = q.view[start:]
    stop = re.search(r"[,;?!.]|\x00|\bbut\b|\bplease\b|\b(?:sorted|ordered|sort|order) by\b", rest)
    end = start + (stop.start() if stop else len(rest))
    phrase = q.orig[start:end].strip(" '\"")
    phrase = re.sub(r"\s+(?:movies?|films?|pictures?|flicks?)$", "", phrase)
    if not re.search(r"[^\W\d_]{3,}", phrase):
        return None
    if cue in ("mood", "vibe", "vibes"):
        before = q.orig[: m.start()].split()
        phrase = " ".join([*before[-2:], phrase]) if before else phrase
    q.consume(m.start(), end)
    q.semantic_cued = True
    return phrase


def _residual(q: Question) -> str | None:
    """What no pass understood and is not filler, as written (a search phrase), or None."""
    words = q.words_left()
    content = [
        (s, e) for s, e, w in words
        if (base := re.sub(r"'(?:s|re|ve|d|ll|m)$|n't$", "", w)) not in FILLER and base not in MOVIE_NOUNS and not w.isdigit()
    ]
    if not content:
        return None
    start, end = content[0][0], content[-1][1]
    if (article := re.search(r"\b(a|an|the)\s+$", q.view[:start])) and (article.group(1) != "the" or len(content) > 2):
        start = article.start()  # "a giant shark ...": the description as written
    span = q.view[start:end]
    out = []
    for m in re.finditer(r"[^\s\x00]+", span):
        w = q.orig[start + m.start() : start + m.end()]
        out.append(w)
    while out and re.fullmatch(r"(?:movies?|films?|pictures?|flicks?)[,.?!]*", fold(out[-1])):
        out.pop()
    while out and re.fullmatch(r"(?:movies?|films?|pictures?|flicks?)[,.?!]*", fold(out[0])):
        out.pop(0)
    phrase = " ".join(out).strip(" ,.?!'\"")
    if GAP in phrase or not re.search(r"[^\W\d_]{3,}", phrase):
        return None
    return phrase
