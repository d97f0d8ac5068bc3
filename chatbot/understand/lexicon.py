"""The words the rule reader knows, as data: genres, nationalities, languages, numbers, filler.

Every canonical value is a list of candidates in order of preference; the reader keeps the first
the catalog's own vocabulary has (MovieLens says "Children", the course catalog "Family").
"""

from __future__ import annotations

from retrieval.plan import SortKey

GENRES: dict[str, tuple[str, ...]] = {
    "action": ("Action",), "actions": ("Action",), "action-packed": ("Action",),
    "adventure": ("Adventure",), "adventures": ("Adventure",),
    "animation": ("Animation",), "animated": ("Animation",), "animations": ("Animation",),
    "cartoon": ("Animation",), "cartoons": ("Animation",), "anime": ("Animation",),
    "biography": ("Biography",), "biographies": ("Biography",), "biopic": ("Biography",),
    "biopics": ("Biography",), "biographical": ("Biography",),
    "comedy": ("Comedy",), "comedies": ("Comedy",), "funny": ("Comedy",), "comic": ("Comedy",),
    "crime": ("Crime",), "gangster": ("Crime",),
    "documentary": ("Documentary",), "documentaries": ("Documentary",), "docs": ("Documentary",),
    "drama": ("Drama",), "dramas": ("Drama",), "dramatic": ("Drama",),
    "family": ("Family", "Children"), "kids": ("Children", "Family"), "children": ("Children", "Family"),
    "childrens": ("Children", "Family"), "family-friendly": ("Family", "Children"),
    "fantasy": ("Fantasy",), "fantasies": ("Fantasy",),
    "film-noir": ("Film-Noir",), "noir": ("Film-Noir",), "noirs": ("Film-Noir",),
    "history": ("History",), "historical": ("History",),
    "horror": ("Horror",), "horrors": ("Horror",), "scary": ("Horror",),
    "music": ("Music",), "musical": ("Musical",), "musicals": ("Musical",),
    "mystery": ("Mystery",), "mysteries": ("Mystery",),
    "romance": ("Romance",), "romances": ("Romance",), "romantic": ("Romance",),
    "sci-fi": ("Sci-Fi",), "scifi": ("Sci-Fi",), "science-fiction": ("Sci-Fi",), "sf": ("Sci-Fi",),
    "sport": ("Sport",), "sports": ("Sport",),
    "thriller": ("Thriller",), "thrillers": ("Thriller",),
    "war": ("War",), "western": ("Western",), "westerns": ("Western",),
    "imax": ("IMAX",),
}
GENRE_PHRASES: dict[str, tuple[str, ...]] = {
    "science fiction": ("Sci-Fi",), "film noir": ("Film-Noir",), "films noirs": ("Film-Noir",),
}
"""Two-word genre names (matched before single words)."""
GENRE_PAIRS: dict[str, tuple[tuple[str, ...], ...]] = {
    "rom-com": (("Romance",), ("Comedy",)), "rom-coms": (("Romance",), ("Comedy",)),
    "romcom": (("Romance",), ("Comedy",)), "romcoms": (("Romance",), ("Comedy",)),
}
"""One word naming two genres at once."""

# adjective -> (countries, languages), each in order of preference.
NATIONALITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "american": (("USA", "United States", "United States of America"), ()),
    "british": (("UK", "United Kingdom"), ()),
    "english": ((), ("English",)),
    "french": (("France",), ("French",)),
    "italian": (("Italy",), ("Italian",)),
    "german": (("Germany", "West Germany", "East Germany"), ("German",)),
    "japanese": (("Japan",), ("Japanese",)),
    "spanish": (("Spain",), ("Spanish",)),
    "mexican": (("Mexico",), ()),
    "chinese": (("China",), ("Mandarin", "Cantonese", "Chinese")),
    "korean": (("South Korea", "Korea"), ("Korean",)),
    "swedish": (("Sweden",), ("Swedish",)),
    "danish": (("Denmark",), ("Danish",)),
    "norwegian": (("Norway",), ("Norwegian",)),
    "finnish": (("Finland",), ("Finnish",)),
    "dutch": (("Netherlands",), ("Dutch",)),
    "belgian": (("Belgium",), ()),
    "swiss": (("Switzerland",), ()),
    "austrian": (("Austria",), ()),
    "polish": (("Poland",), ("Polish",)),
    "czech": (("Czech Republic", "Czechoslovakia"), ("Czech",)),
    "russian": (("Russia", "Soviet Union", "USSR"), ("Russian",)),
    "soviet": (("Soviet Union", "USSR"), ()),
    "indian": (("India",), ("Hindi",)),
    "canadian": (("Canada",), ()),
    "australian": (("Australia",), ()),
    "irish": (("Ireland",), ()),
    "brazilian": (("Brazil",), ()),
    "portuguese": (("Portugal",), ("Portuguese",)),
    "argentinian": (("Argentina",), ()), "argentine": (("Argentina",), ()),
    "greek": (("Greece",), ("Greek",)),
    "turkish": (("Turkey",), ("Turkish",)),
    "iranian": (("Iran",), ("Persian", "Farsi")),
    "israeli": (("Israel",), ("Hebrew",)),
    "hungarian": (("Hungary",), ("Hungarian",)),
    "taiwanese": (("Taiwan",), ()),
    "algerian": (("Algeria",), ()),
    "maltese": (("Malta",), ()),
    "kiwi": (("New Zealand",), ()),
    "south african": (("South Africa",), ()),
    "icelandic": (("Iceland",), ("Icelandic",)), "romanian": (("Romania",), ("Romanian",)),
    "ukrainian": (("Ukraine",), ("Ukrainian",)), "serbian": (("Serbia",), ("Serbian",)),
    "croatian": (("Croatia",), ("Croatian",)), "egyptian": (("Egypt",), ("Arabic",)),
    "moroccan": (("Morocco",), ()), "nigerian": (("Nigeria",), ()), "kenyan": (("Kenya",), ()),
    "thai": (("Thailand",), ("Thai",)), "vietnamese": (("Vietnam",), ("Vietnamese",)),
    "filipino": (("Philippines",), ("Filipino", "Tagalog")), "indonesian": (("Indonesia",), ("Indonesian",)),
    "chilean": (("Chile",), ()), "colombian": (("Colombia",), ()), "cuban": (("Cuba",), ()),
    "peruvian": (("Peru",), ()), "lebanese": (("Lebanon",), ()), "pakistani": (("Pakistan",), ("Urdu",)),
    "senegalese": (("Senegal",), ()), "scottish": (("UK", "United Kingdom"), ()),
    "welsh": (("UK", "United Kingdom"), ()), "bollywood": (("India",), ("Hindi",)),
    "hollywood": (("USA", "United States"), ()),
    "hong kong": (("Hong Kong",), ()),
    "new zealand": (("New Zealand",), ()),
}
# Languages named by a word that is not a nationality ("in Mandarin").
LANGUAGE_WORDS: dict[str, tuple[str, ...]] = {
    "mandarin": ("Mandarin",), "cantonese": ("Cantonese",), "aramaic": ("Aramaic",),
    "hindi": ("Hindi",), "latin": ("Latin",), "arabic": ("Arabic",), "hebrew": ("Hebrew",),
    "persian": ("Persian",), "farsi": ("Persian", "Farsi"), "yiddish": ("Yiddish",),
}
# Country names people write that the catalog spells otherwise.
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "america": ("USA", "United States"), "united states": ("USA", "United States"),
    "the states": ("USA", "United States"), "usa": ("USA", "United States"),
    "u.s.a.": ("USA", "United States"), "u.s.": ("USA", "United States"),
    "britain": ("UK", "United Kingdom"), "great britain": ("UK", "United Kingdom"),
    "england": ("UK", "United Kingdom"), "united kingdom": ("UK", "United Kingdom"),
    "uk": ("UK", "United Kingdom"), "u.k.": ("UK", "United Kingdom"),
    "korea": ("South Korea", "Korea"), "holland": ("Netherlands",),
    "germany": ("Germany", "West Germany", "East Germany"),
}
CASE_SENSITIVE_ALIASES = {"US": ("USA", "United States")}
"""Written in capitals only: "us" is a pronoun."""

NUMBER_WORDS: dict[str, int] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "a hundred": 100, "a dozen": 12, "dozen": 12, "a couple of": 2,
    "a couple": 2, "couple of": 2,
}
DECADE_WORDS: dict[str, int] = {
    "twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
    "seventies": 1970, "eighties": 1980, "nineties": 1990, "noughties": 2000, "aughts": 2000,
}

MOVIE_NOUNS = frozenset({
    "movie", "movies", "film", "films", "picture", "pictures", "flick", "flicks", "title", "titles",
    "one", "ones", "feature", "features", "motion", "cinema", "thing", "things",
})
PLURAL_NOUNS = frozenset({"movies", "films", "pictures", "flicks", "titles", "ones", "features", "things"})

FILLER = frozenset({
    # asking
    "what", "which", "who", "whom", "whose", "where", "when", "why", "how", "is", "are", "was", "were",
    "be", "been", "do", "does", "did", "done", "can", "could", "would", "will", "should", "shall",
    "may", "might", "must", "please", "pls", "plz", "kindly", "tell", "show", "list", "give", "find",
    "get", "fetch", "name", "names", "display", "return", "search", "look", "looking", "want",
    "wanna", "need", "like", "love", "id", "i", "im", "me", "my", "mine", "we", "us", "our", "you",
    "your", "yours", "they", "them", "their", "it", "its", "there", "here", "this", "that", "these",
    "those", "have", "has", "had", "got", "gotten", "own", "know", "see", "watch", "watching",
    "recommend", "suggest", "help", "hey", "hi", "ok", "okay", "so", "well", "now", "also", "just",
    "only", "really", "very", "too", "s", "t", "d", "ll", "re", "ve", "m",
    # determiners, prepositions, conjunctions
    "a", "an", "the", "some", "any", "all", "every", "each", "of", "in", "on", "at", "to", "for",
    "from", "by", "with", "and", "or", "but", "not", "no", "as", "than", "then", "into", "out",
    "up", "over", "about", "available", "other", "else", "more", "most", "least", "much", "many",
    "few", "both", "either", "neither", "nor", "between", "made", "released", "come", "came",
    "run", "runs", "running", "last", "lasts", "lasting", "produced", "filmed",
    "random", "randomly", "single", "whole", "entire", "complete", "full", "set", "count", "counting", "total", "ca", "wo", "together", "write", "wrote", "writes", "direct", "directs", "act", "acts", "number", "next", "fans", "fan", "among", "amongst",
    # the catalog
    "catalog", "catalogue", "collection", "database", "db", "library", "data", "dataset",
    "stored", "included", "include", "includes", "exist", "exists", "listed",
    # judgement words that are not filters
    "good", "great", "nice", "cool", "decent", "fun", "interesting", "classic", "classics",
    "famous", "well-known", "popular", "favorite", "favourite", "kind", "sort", "type", "genre",
    "genres", "category", "categories", "ever", "something", "anything", "stuff", "everything",
    "make", "makes", "making", "shoot", "shot", "release", "appear", "appears", "appeared", "play",
    "plays", "played", "similar", "recommendation", "recommendations", "suggestion", "suggestions",
    "ideas", "options", "picks", "info", "information", "details", "liked", "loved", "enjoyed", "enjoy", "watched", "seen", "tonight", "weekend", "today",
    "directed", "co-directed", "codirected", "co-written", "screenplays", "screenplay", "scripts", "starring", "featuring", "star", "stars", "starred", "acted", "written",
})

# "the longest", "the best rated": (pattern, sort key, highest first)
SUPERLATIVES: tuple[tuple[str, SortKey, bool], ...] = (
    (r"\b(?:longest|lengthiest|longest-running)\b", "duration_min", True),
    (r"\bshortest\b", "duration_min", False),
    (r"\b(?:oldest|earliest|first (?:ever )?(?:made|released))\b|\b(?:the|his|her|their|'s) (?:very )?first (?:movie|film|picture|feature)\b|\b(?:came|comes|come) out first\b|\bwas (?:made|released) first\b", "year", False),
    (r"\b(?:newest|latest|most recent|youngest|last (?:made|released))\b|\b(?:the|his|her|their|'s) (?:very )?(?:last|final) (?:movie|film|picture|feature)\b|\b(?:came|comes|come) out last\b|\bmost recently\b", "year", True),
    (r"\b(?:best|highest|top)[- ]?rated\b|\bbest[- ]reviewed\b|\b(?:highest|best|top)[- ](?:average[- ])?(?:rating|score)s?\b|\bbest\b|\bgreatest\b|\bfinest\b|\bmost (?:acclaimed|highly rated|loved)\b", "avg_rating", True),
    (r"\b(?:worst|lowest)[- ]?rated\b|\b(?:lowest|worst)[- ](?:average[- ])?(?:rating|score)s?\b|\bworst\b", "avg_rating", False),
    (r"\bmost (?:popular|rated|watched|reviewed|voted|ratings|votes|seen)\b|\bmost-rated\b", "num_ratings", True),
    (r"\bleast (?:popular|rated|watched|reviewed|seen)\b|\bfewest (?:ratings|votes)\b", "num_ratings", False),
)
