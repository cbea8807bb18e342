"""Phrase rules for the injection detector: one entry per technique, language and phrasing.

Each rule is (id, technique, weight, pattern). The id starts with the language ("en", "de", "fr",
"es", "xx" for language-neutral markup). `weight` is how sure one match makes us (0..1); the detector
combines the weights of the rules that match with the model's probability as independent evidence
(noisy-OR), so a weight >= the detector's threshold (0.5 by default) fires on its own and a weaker rule
needs support from the model or from another rule.

Patterns are `regex` syntax, compiled once with IGNORECASE (unless the id ends in ":cs") and matched
against the text as given (the scanner has already removed invisible characters and folded
homoglyphs). Every gap between words is bounded (`{0,n}` of possessive word/non-word runs), so no
pattern backtracks more than a constant per position: matching is linear in the text.

Techniques (the Finding type): instruction_override, jailbreak_persona, prompt_extraction,
role_delimiter, indirect_injection.

How the rules were made: from the techniques as they are publicly described, then checked against the
TRAINING half of the corpora only (bench/quality_injection.py defines the split): misses there
suggested phrasings, false positives there (and on the project-written benign requests in
scripts/train_injection.py) narrowed patterns. After the first held-out evaluation these changes were
made (reported as such): the Russian, Serbo-Croatian and Polish override rules, "stop: write ...",
the Spanish infinitive "olvidar todo", the "DAN can ..." and "not limited by ..." persona rules (all
from training-half misses), "hijacked" narrowed so that a mere mention of prompt injection (this
project's own design notes) no longer fires, and weak rules that rescued no training attack lowered to 0.25
(stay_in_character, system_prompt, when_user_asks, developer_mode, password, line_assistant).

Second round (issue 3), written from the English rules and the techniques, checked against the
training half only: the German, French and Spanish counterparts of English techniques that had none
(task switch after praise, "pretend you have no rules", a header announcing new instructions, "repeat
the text above", hiding from the user, exfiltration) and "you are not an AI (but ...)" in all four.
Start conditions were tightened for speed; the anchored matches are unchanged (checked against a
full search on every corpus text).
"""

from __future__ import annotations

from typing import NamedTuple

# --- building blocks --------------------------------------------------------------------------------

# Up to n words between two phrases (lazy, possessive runs: constant work per attempt).
def gap(n: int) -> str:
    return rf"(?:[^\w\n]++\w++){{0,{n}}}?[^\w\n]++"


G1, G2, G3, G4, G6, G8 = gap(1), gap(2), gap(3), gap(4), gap(6), gap(8)
S = r"[\s\-_*#=>:.,;'\"`|\[\](){}]*+"  # a separator run between marker words
APOS = r"['’`]"

# English
# Verbs that set instructions aside. CORE ones are rarely said of anything else; DESTRUCTIVE ones
# (delete, clear, reset, ...) are everyday words in technical text, so their rules ask for more.
EN_IGNORE_WORD = (
    r"(?:ignor(?:e|es|ed|ing)|disregard(?:s|ed|ing)?|forget(?:s|ting)?|forgot|skip|omit|discard|disobey|"
    r"rescind|revoke|nullify|negate|invalidate|overrid(?:e|es|ing)|overrule|bypass|abandon|neglect|dismiss|"
    r"nevermind)"
)
EN_IGNORE = (
    r"(?:" + EN_IGNORE_WORD + r"|throw\s+away|put\s+aside|set\s+aside|do\s+not\s+follow|don"
    + APOS
    + r"?t\s+follow|stop\s+following|no\s+longer\s+follow|never\s+mind|pay\s+no\s+attention\s+to)"
)
EN_DESTROY = r"(?:delete|erase|remove|clear|reset|wipe|drop|scrap|purge|flush)"
EN_PRIOR = (
    r"(?:previous(?:ly)?|prior|preceding|above|earlier|former|initial|original|old|older|foregoing|"
    r"past|before|existing|given|current|default|system|pre-?set|out\s+of\s+date|all)"
)
# What instructions are called. Words that are as often a user's own earlier message ("ignore my
# previous message, I meant ...") are in EN_TARGET_WEAK, and their rule asks for more.
EN_TARGET = (
    r"(?:instructions?|instrucitons|instuctions?|intructions?|directions?|directives?|prompts?|rules?|"
    r"guidelines?|commands?|orders?|tasks?|assignments?|constraints?|restrictions?|programming|"
    r"guardrails?|polic(?:y|ies)|filters?|protocols?|training|limitations?|safeguards?|"
    r"content\s+policy|system\s+prompt)"
    r"(?!\s*(?:list|lists|sheet|board|bar|manager|tracker|log|card|force|file|folder)\b)"
)
EN_TARGET_WEAK = (
    r"(?:context|conversation|requests?|messages?|texts?|inputs?|information|statements?|everything|"
    r"content|data|words)"
)
# What a destructive verb must be aimed at to count.
EN_TARGET_STRICT = (
    r"(?:instructions?|directions?|directives?|prompts?|rules|guidelines|programming|guardrails|"
    r"system\s+prompt|restrictions|constraints|safeguards|orders)"
)
EN_AI = (
    r"(?:AI|A\.I\.|LLM|language\s+model|assistant|chat\s*bot|bot|model|GPT|ChatGPT|Claude|Gemini|Bard|"
    r"Copilot|agent)"
)
EN_SHOW = (
    r"(?:repeat|print|output|reveal|show|display|tell|give|write|list|recite|dump|expose|leak|share|"
    r"provide|relay|quote|spell|paste|copy|echo|return|state|type|summari[sz]e|translate|disclose|"
    r"divulge|read\s+out|read\s+back|spit\s+out|send)"
)
EN_SECRET_QUAL = (
    r"(?:your|its|the\s+(?:above|previous|prior|initial|original|first|hidden|secret|system|full|"
    r"complete|entire|exact|internal|underlying|starting)|(?:all|every)\s+(?:of\s+)?(?:your|the|its)|"
    r"(?:initial|original|hidden|secret|system|previous|prior|preceding|earlier))"
)
EN_CONFIG = (
    r"(?:prompts?|instructions?|system\s+(?:message|prompt|instructions?)|pre-?prompt|rules|"
    r"guidelines|directives|configuration|initiali[sz]ation|programming|context\s+window|"
    r"parameters\s+and\s+instructions)"
)
EN_UNRESTRICTED = (
    r"(?:unrestricted|unfiltered|uncensored|unlimited|unbound(?:ed)?|unchained|unleashed|amoral|"
    r"unethical|immoral|evil|rogue|malicious|jailbroken|jail-broken|limitless|lawless|"
    r"no[\s-]+limits?|no[\s-]+restrictions?|no[\s-]+rules?|no[\s-]+filters?|unrestrained)"
)
EN_LIMITS = (
    r"(?:restrictions?|limitations?|limits|rules|guidelines|filters?|filtering|censorship|constraints?|"
    r"boundaries|principles|guardrails|safeguards|polic(?:y|ies)|morals|ethics|safety\s+measures)"
)

# German
DE_IGNORE = (
    r"(?:ignorier(?:e|en|t|st)?|vergiss|vergesst|vergessen\s+sie|missachte(?:n|t)?|überspring(?:e|en)?|"
    r"verwirf|verwerfen\s+sie|lösch(?:e|en)|streich(?:e|en)|setz(?:e|en)?\s+(?:sie\s+)?.{0,20}?außer\s+kraft|"
    r"hör(?:e|en)?\s+(?:sie\s+)?nicht\s+(?:mehr\s+)?auf|befolge\s+nicht|befolgen\s+sie\s+nicht|"
    r"lass(?:en)?\s+(?:sie\s+)?.{0,30}?hinter\s+sich)"
)
DE_PRIOR = (
    r"(?:vorherige[nrs]?|bisherige[nrs]?|obige[nrs]?|vorangegangene[nrs]?|vorige[nrs]?|frühere[nrs]?|"
    r"ursprüngliche[nrs]?|erste[nrs]?|alte[nrs]?|vorstehende[nrs]?|zuvor|davor|vorher|oben)"
)
DE_TARGET = (
    r"(?:anweisung(?:en)?|instruktion(?:en)?|befehle?|regeln?|vorgaben?|aufgaben?|aufträge?|auftrag|"
    r"anordnung(?:en)?|richtlinien?|angaben|informationen|prompts?|eingaben?|beschränkungen|"
    r"einschränkungen|ausführungen|gesagte[ns]?)"
)
# French
FR_IGNORE = (
    r"(?:ignor(?:e|es|ez|er|ons)|oubli(?:e|es|ez|er|ons)|néglig(?:e|es|ez|er)|"
    r"ne\s+(?:tiens|tenez|tenons)\s+pas\s+compte|fai(?:s|tes)\s+abstraction|"
    r"ne\s+(?:suis|suivez|respecte[sz]?)\s+(?:plus\s+)?pas|efface[sz]?|écarte[sz]?|outrepasse[sz]?)"
)
FR_TARGET = (
    r"(?:instructions?|consignes?|directives?|règles?|ordres?|commandes?|indications?|"
    r"tâches?|prompts?|messages?|restrictions?|limitations?)"
)
FR_PRIOR = (
    r"(?:précédent(?:e|es|s)?|antérieur(?:e|es|s)?|ci-dessus|d['’]avant|initial(?:e|es)?|originale?s?|"
    r"premières?|premiers?|passée?s?)"
)
# Spanish
ES_IGNORE = (
    r"(?:ignor(?:a|e|en|ar|ad|es)|olvid(?:a|e|en|ar|ad|es)|descart(?:a|e|en|ar)|omit(?:e|a|an|ir)|"
    r"no\s+(?:sigas|siga|sigan|obedezcas|obedezca|hagas\s+caso\s+(?:a|de)|haga\s+caso\s+(?:a|de))|"
    r"pasa\s+por\s+alto|deja\s+de\s+lado|borra|elimina)"
)
ES_TARGET = (
    r"(?:instrucciones|instrucción|indicaciones|órdenes|orden|reglas|directrices|directivas|comandos|"
    r"tareas|prompts?|mensajes|restricciones|limitaciones|normas)"
)
ES_PRIOR = r"(?:anterior(?:es)?|previas?|precedentes?|de\s+arriba|iniciales?|originales?|primeras?|pasadas?)"

# Praise that closes a task before the next is slipped in ("Sehr gut. Nun ...").
DE_PRAISE = (
    r"\b(?:sehr\s+gut|gut\s+gemacht|einfach\s+(?:großartig|super|toll|perfekt|klasse)|super|großartig|ausgezeichnet|"
    r"prima|hervorragend|toll|perfekt|klasse|das\s+(?:ist|war)\s+(?:schon\s+mal\s+)?(?:erledigt|genug|ok|okay|gut)|"
    r"das\s+reicht)\b"
)
DE_PRAISE_STARTS = (
    "=sehr/gut =gut/gemacht =einfach/großartig|super|toll|perfekt|klasse =super =großartig =ausgezeichnet "
    "=prima =hervorragend =toll =perfekt =klasse =das/ist|war|reicht"
)
FR_PRAISE = r"\b(?:très\s+bien|bien\s+joué|bravo|excellent|parfait|génial|super|c['’]est\s+(?:fait|bon|assez|terminé))\b"
FR_PRAISE_STARTS = "=très/bien =bien/joué =bravo =excellent =parfait =génial =super =c/est"
ES_PRAISE = (
    r"\b(?:muy\s+bien|bien\s+hecho|buen\s+trabajo|excelente|perfecto|genial|fantástico|eso\s+es\s+"
    r"(?:todo|suficiente))\b"
)
ES_PRAISE_STARTS = "=muy/bien =bien/hecho =buen/trabajo =excelente =perfecto =genial =fantástico =eso/es"

# Italian / Portuguese / Dutch: the core override phrase only.
IT_OVERRIDE = (
    r"\b(?:ignora|ignorate|ignori|dimentica|dimenticate|dimentichi)\b" + G3
    + r"(?:istruzioni|indicazioni|regole|direttive|ordini|comandi)\b"
)
PT_OVERRIDE = (
    r"\b(?:ignore|ignora|ignorar|esqueça|esquece|esqueçam|desconsidere|desconsidera)\b" + G3
    + r"(?:instruções|instrução|orientações|regras|diretrizes|ordens|comandos)\b"
)
NL_OVERRIDE = (
    r"\b(?:negeer|vergeet|negeren)\b" + G3 + r"(?:instructies|aanwijzingen|regels|opdrachten|richtlijnen)\b"
)

# Encodings asked of an answer so that output filters cannot read it.
ENCODING = (
    r"(?:a\s+)?(?:simple\s+)?(?:base\s?-?(?:16|32|64|85)|hex(?:adecimal)?|rot-?13|caesar(?:\s+cipher)?|morse(?:\s+code)?|"
    r"binary|leetspeak|(?:substitution\s+)?cipher)\b"
)
ENCODING_DE = r"(?:einer?\s+)?(?:base\s?-?(?:16|32|64)|hexadezimal|rot-?13|caesar(?:-?chiffre|-?verschlüsselung)?|morsecode|binär)"
ENCODING_FR = r"(?:un\s+)?(?:base\s?-?(?:16|32|64)|hexadécimal|rot-?13|chiffre(?:ment)?\s+de\s+césar|code\s+morse|binaire)"
ENCODING_ES = r"(?:un\s+)?(?:base\s?-?(?:16|32|64)|hexadecimal|rot-?13|cifrado\s+césar|código\s+morse|binario)"

ROLE_WORDS = r"(?:system|assistant|user|human|developer|admin|administrator|root|operator|model|bot|AI)"

# First words (lowercase prefixes; "=word" for the whole word) at which each rule can start. The
# detector tries a rule only at the tokens that can start it (an anchored match), so a text costs one
# tokenisation plus a few anchored attempts instead of a scan per rule. Conditions on the neighbours
# keep rules that start at common words from being tried everywhere:
#   "word/next"       the following word must start with "next" ("=you/are");
#   "word/a|b"        ... with "a" or "b";
#   "a|b<word"        the word before must start with "a" or "b" (for rules whose lookbehind reaches back
#                     over that word; `after()` builds these);
# and NEEDS (at the end of this file) names words one of which the whole text must contain. A "~text"
# entry instead makes the rule a plain search over the text, run when that (lowercase) text occurs;
# for markup rules.
# tests/unit/test_detect_injection.py checks that the anchored matches equal unanchored searches.
EN_IGNORE_WORD_STARTS = (
    "ignor disregard forget forgot skip omit discard disobey rescind revoke nullify negate invalidate "
    "overrid overrul bypass abandon neglect dismiss nevermind"
)
EN_IGNORE_STARTS = EN_IGNORE_WORD_STARTS + (
    " =throw/away =put/aside =set/aside =do/not =don/t =dont =stop/following =no/longer =never/mind =pay/no"
)
EN_SHOW_STARTS = (  # EN_SHOW is whole words
    "=repeat =print =output =reveal =show =display =tell =give =write =list =recite =dump =expose =leak =share "
    "=provide =relay =quote =spell =paste =copy =echo =return =state =type summari =translate =disclose "
    "=divulge =read/out|back =spit/out =send"
)
DE_IGNORE_STARTS = (
    "ignorier vergiss vergesst vergessen missacht überspring verwirf verwerfen lösch streich setz hör "
    "befolge lass"
)
EN_DESTROY_STARTS = "delete erase remove clear reset wipe drop scrap purge flush"
FR_IGNORE_STARTS = "ignor oubli néglig =ne/tien|tenez|tenons|suis|suivez|respecte =fais/abstraction =faites/abstraction efface écarte outrepasse"
ES_IGNORE_STARTS = "ignor olvid descart omit =no/sig|obedezc|hag =pasa/por =deja/de =borra =elimina"


# The words an AI is called by (EN_AI's first words; "A.I." starts with "a"), as next-word prefixes.
AI_NEXT = "the|ai|a|llm|language|assistant|chat|bot|model|gpt|claude|gemini|bard|copilot|agent"


def after(prevs: str, starts: str) -> str:
    """Starts that count only after a word with one of these prefixes ("a|b<" + each start): for rules
    that match from a later word than the one their lookbehind begins at."""
    return " ".join(f"{prevs}<{start}" for start in starts.split())


class Rule(NamedTuple):
    id: str  # "<lang>.<technique>.<phrasing>", ":cs" at the end = case-sensitive
    technique: str
    weight: float
    starts: str
    pattern: str


# --- the rules ----------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = tuple(Rule(*r) for r in (
    # ---------------------------------------------------------------- instruction_override
    ("en.override.prior", "instruction_override", 0.95, EN_IGNORE_STARTS,
     rf"\b{EN_IGNORE}\b{G4}{EN_PRIOR}\b{G3}{EN_TARGET}\b"),
    ("en.override.prior_weak", "instruction_override", 0.8, EN_IGNORE_WORD_STARTS,
     rf"\b{EN_IGNORE_WORD}\s+(?:all\s+(?:of\s+)?|any\s+)?(?:the\s+|your\s+|these\s+|those\s+)?{EN_PRIOR}\s+"
     rf"(?:\w+\s+)?{EN_TARGET_WEAK}\b"),
    ("en.override.destroy_prior", "instruction_override", 0.75, EN_DESTROY_STARTS,
     rf"\b{EN_DESTROY}\b{G3}(?:all|any|every|your|the|these|those)\b{G2}{EN_PRIOR}\b{G2}{EN_TARGET_STRICT}\b"),
    ("en.override.target_prior", "instruction_override", 0.95, EN_IGNORE_WORD_STARTS,
     rf"\b{EN_IGNORE_WORD}\b{G3}{EN_TARGET}\b{G3}(?:above|before|previously|earlier|so\s+far|until\s+now|"
     rf"you\s+(?:have\s+been|were|got)\s+given|given\s+(?:to\s+you|before|previously)|you(?:{APOS}ve|\s+have)\s+(?:been\s+given|received|got))\b"),
    ("en.override.all_instructions", "instruction_override", 0.75, EN_IGNORE_WORD_STARTS,
     rf"\b{EN_IGNORE_WORD}\b{G2}(?:all|any|every|each|your|my|the|these|those|such)\b{G2}"
     r"(?:instructions?|directions?|directives?|prompts?|rules|guidelines|commands?|orders|restrictions?|"
     r"programming|guardrails|safety\s+(?:protocols|measures|rules|guidelines)|security\s+measures|"
     r"censorship|content\s+polic(?:y|ies))\b"),
    ("en.override.bare", "instruction_override", 0.7, EN_IGNORE_WORD_STARTS,
     rf"\b{EN_IGNORE_WORD}\s+(?:about\s+)?(?:instructions?|directions|directives|prompts|rules|guidelines|commands|"
     r"orders)\b"),
    ("en.override.above", "instruction_override", 0.9, "ignore disregard forget skip",
     rf"\b(?:ignore|disregard|forget|skip)\s+(?:all\s+|everything\s+)?(?:of\s+)?(?:the\s+)?(?:above|previous|"
     r"preceding|foregoing|prior)\b(?=\s*+(?:[.,;:!)\n]|$|and\b|then\b|instead\b|but\b|completely\b|"
     r"entirely\b|now\b))"),
    ("en.override.everything", "instruction_override", 0.8, "forget ignore disregard erase delete drop wipe",
     rf"\b(?:forget|ignore|disregard|erase|delete|drop|wipe)\s+(?:about\s+)?(?:all|everything|every\s+thing|"
     rf"everthing|anything|what(?:ever)?)\b{G4}(?:told|said|discussed|written|wrote|mentioned|given|learned|"
     rf"before(?:hand)?|above|previously|earlier|so\s+far|until\s+now|up\s+to\s+now|unti?l\s+now)\b"),
    ("en.override.forget_everything", "instruction_override", 0.6, "forget ignore disregard",
     r"\b(?:forget|ignore|disregard)\s+(?:about\s+)?(?:everything|all\s+(?:that|this|of\s+(?:this|that|it)))\b"),
    ("en.override.new_task", "instruction_override", 0.8, after("your|the", "=new =real =actual =true =only =updated"),
     rf"(?<=\b(?:your|the)\s+)(?:new|real|actual|true|only|updated)\s+(?:task|instructions?|job|"
     rf"mission|goal|objective|purpose|role|assignment|directive)\s*+(?:is\b|are\b|will\s+be\b|:|now\b)"),
    ("en.override.now_focus", "instruction_override", 0.8, "=now =instead",
     rf"\b(?:now|instead)\b{G2}(?:focus|concentrate)\s+(?:only\s+)?on\s+(?:your|the|this|a)?\s*(?:new|next|following)\s+"
     r"(?:task|assignment|instructions?|job)"),
    ("en.override.new_instructions_marker", "instruction_override", 0.85, "=new =updated =revised =important =urgent =additional =secret =hidden =real =true =override =priority",
     rf"(?<=(?:[*#=%\[<>{{|-]{{2,}}|^|\n)[ \t]*)(?:(?:new|updated|revised|important|urgent|additional|secret|"
     rf"hidden|real|true|override|priority)\s+)+(?:instructions?|task|directives?|rules|orders|prompt)"
     rf"\s*(?:[*#=%\]<>}}|:!-]|$)"),
    ("en.override.new_instructions", "instruction_override", 0.45, "new updated revised additional different",
     r"\b(?:new|updated|revised|additional|different)\s+(?:instructions?|directives?|tasks?)\s+"
     r"(?:follow|are\s+as\s+follows|below|override|supersede|take\s+(?:priority|precedence))"),
    ("en.override.i_give_new", "instruction_override", 0.7, "=i/am =i/m =we/are =here/is =here/are",
     r"\b(?:I\s+am|I['’]m|we\s+are|here\s+(?:is|are))\s+(?:now\s+)?(?:giving|sending)?\s*(?:you\s+)?"
     r"(?:a\s+|some\s+)?(?:new|updated|different|additional)\s+(?:instructions?|orders|directives?|rules)\b"),
    ("en.override.do_not_follow", "instruction_override", 0.85, "=do/not =don/t =dont =never/follow|obey|listen|adher|comply|abid =stop/follow|obey|listen|adher|comply|abid =no/longer =cease/to",
     rf"\b(?:do\s+not|don{APOS}?t|never|stop|no\s+longer|cease\s+to)\s+(?:follow(?:ing)?|obey(?:ing)?|"
     rf"listen(?:ing)?\s+to|adher(?:e|ing)\s+to|comply(?:ing)?\s+with|abid(?:e|ing)\s+by)\b{G2}"
     rf"(?:(?:your|the|any|all|those|these|its|previous|prior|above|initial|original)\b{G3})?(?:instructions|"
     r"rules|guidelines|programming|directives|system\s+prompt|policies|restrictions|orders|prompts)\b"),
    ("en.override.override_rules", "instruction_override", 0.8, "overrid overrul supersed bypass circumvent disabl deactivat turn switch suspend lift =go break",
     rf"(?<!\bnot\s)(?<!n['’]t\s)(?<!\bnever\s)\b(?:override|overrule|supersede|bypass|circumvent|disable|"
     rf"deactivate|turn\s+off|switch\s+off|suspend|lift|go\s+against|break\s+free\s+(?:of|from))\b{G3}"
     rf"(?:your|its|the|all|any)\b{G3}(?:safety|content|ethical|moral|security|previous|prior|system|"
     rf"built-in|internal|original)?\s*(?:instructions|rules|restrictions|filters?|guidelines|guardrails|"
     r"safeguards|policies|protocols|programming|limitations|constraints|system\s+prompt)\b"),
    ("en.override.instead", "instruction_override", 0.4, "ignore disregard forget",
     rf"\b(?:ignore|disregard|forget)\b{G6}\b(?:and|,|\.)\s*(?:instead|rather)\b"),
    ("en.override.stop_everything", "instruction_override", 0.75, "=stop",
     r"\bstop\s+(?:everything|all\s+(?:previous|prior)|what\s+you\s+are\s+doing)\b"),
    ("en.override.end_instructions", "instruction_override", 0.85, "=end =ignore",
     rf"\b(?:end|ignore)\s+(?:of\s+)?(?:out[\s-]of[\s-]date|old|previous|prior|system|original)\s+"
     r"(?:instructions|prompt|rules)\b"),
    ("en.override.task_switch", "instruction_override", 0.55, "=well/done =very/good =very/well =great/job =good/job excellent congratulation =that/is =that/was =that/s =now/new =simply/great fantastic",
     rf"\b(?:well\s+done|very\s+(?:good|well)|great\s+job|good\s+job|excellent(?:\s+(?:work|performance))?|"
     rf"congratulations|that\s+(?:is|was|'s)\s+(?:enough|done|ok|okay)|that['’]s\s+(?:enough|done)|"
     rf"now\s+new\s+tasks?\s+follow|simply\s+great|fantastic)\b[^\n]{{0,80}}?\b(?:now|new\s+tasks?|"
     r"next\s+task|another\s+task|further\s+tasks?)\b"),
    ("en.override.not_allowed_now_allowed", "instruction_override", 0.75, "=you/are =you/were",
     r"\byou\s+(?:are|were)\s+(?:now\s+)?(?:allowed|permitted|authori[sz]ed|free)\s+to\s+"
     r"(?:reveal|share|tell|give|say|discuss|disclose|ignore|break|bypass)\b"),
    ("en.override.your_rules_changed", "instruction_override", 0.75,
     "changed updated overridden replaced revoked lifted removed reset",
     r"(?<=\b(?:your|the)\s+(?:instructions|rules|guidelines|programming|system\s+prompt)\s+(?:have|has)\s+"
     r"(?:been\s+)?)(?:changed|updated|overridden|replaced|revoked|lifted|removed|reset)\b"),
    ("en.override.regardless", "instruction_override", 0.55, "regardless irrespective",
     rf"\b(?:regardless|irrespective)\s+of\s+(?:any|all|your|the)?\s*(?:previous|prior|pre-?existing|"
     r"earlier|other)\s+(?:input|instructions|guidelines|rules|restrictions|prompts?)\b"),
    # Passive ("all previous instructions must be ignored"): anchored at the participle.
    ("en.override.passive", "instruction_override", 0.85,
     after("be|are|is|now|hereby", "=ignored =disregarded =forgotten =overridden =overwritten =void =null cancel =revoked =obsolete =invalid =false =lifted =suspended =deleted =no/longer"),
     r"(?<=\b(?:all|any|your|the|previous|prior|above|earlier|these|those|my)\b[^\n.]{0,40}?\b(?:instructions?|"
     r"directions|directives|prompts?|rules|guidelines|commands|orders|programming|restrictions|constraints)\b"
     r"[^\n.]{0,40}?\b(?:be|are|is)\s+(?:now\s+|hereby\s+)?)(?:ignored|disregarded|forgotten|overridden|"
     r"overwritten|void|null|cancel(?:l)?ed|revoked|obsolete|invalid|false|lifted|suspended|deleted|"
     r"no\s+longer\s+(?:valid|apply|applicable|in\s+effect))\b"),
    ("en.override.pretend_no_rules", "instruction_override", 0.8, "=act pretend behave imagine suppose assume",
     rf"\b(?:act|pretend|behave|imagine|suppose|assume)\s+(?:like\s+|as\s+if\s+|as\s+though\s+|that\s+)?you\s+"
     rf"(?:don{APOS}?t|do\s+not|didn{APOS}?t|did\s+not|never|no\s+longer|have\s+(?:forgotten|no)|had\s+no|"
     rf"forgot|are\s+not\s+bound\s+by|are\s+free\s+(?:of|from))\b{G3}(?:instructions|rules|restrictions|"
     r"guidelines|limitations|programming|filters|constraints|prompt|system\s+prompt)\b"),
    ("de.override.prior", "instruction_override", 0.95, DE_IGNORE_STARTS,
     rf"\b{DE_IGNORE}\b{G4}{DE_PRIOR}\b{G2}{DE_TARGET}\b"),
    ("de.override.target", "instruction_override", 0.85, DE_IGNORE_STARTS,
     rf"\b{DE_IGNORE}\b{G3}(?:alle|sämtliche|jegliche|deine|ihre|die|eure)\b{G2}{DE_TARGET}\b"),
    ("de.override.everything", "instruction_override", 0.85, "vergiss vergessen vergesst ignoriere",
     rf"\b(?:vergiss|vergessen\s+sie|vergesst|ignoriere|ignorieren\s+sie)\s+(?:einfach\s+)?(?:alles|"
     rf"das\s+alles|alle?s?\s+gesagte)\b(?:{G3}(?:davor|zuvor|vorher|bisher|bisherige|oben|gesagte))?"),
    ("de.override.deviating", "instruction_override", 0.85, "abweichend entgegen =im",
     rf"\b(?:abweichend|entgegen|im\s+gegensatz)\s+(?:zu|zur|zum)?\s*(?:den\s+|der\s+)?{DE_PRIOR}\s+{DE_TARGET}"),
    ("de.override.new_task", "instruction_override", 0.8, "=nun =jetzt =hier =es",
     rf"\b(?:nun|jetzt|hier|es)\s+(?:folgen|folgt|kommen|kommt)\s+(?:eine?\s+)?(?:neue|weitere|andere)\s+"
     r"(?:aufgaben?|anweisungen|instruktionen|aufträge)\b"),
    ("de.override.your_new_task", "instruction_override", 0.75, "deine ihre eure",
     r"\b(?:deine|ihre|eure)\s+(?:neue|eigentliche|wirkliche|einzige)\s+(?:aufgabe|anweisung|rolle|mission)\b"),
    ("fr.override.prior", "instruction_override", 0.95, FR_IGNORE_STARTS,
     rf"\b{FR_IGNORE}\b{G4}{FR_TARGET}\b{G2}{FR_PRIOR}"),
    ("fr.override.target", "instruction_override", 0.85, FR_IGNORE_STARTS,
     rf"\b{FR_IGNORE}\b{G2}(?:toutes|tous|tout|les|tes|vos|ces|la|le|l['’])\s*(?:les\s+)?{FR_TARGET}\b"),
    ("fr.override.everything", "instruction_override", 0.75, "oubli",
     r"\boubli(?:e|ez|ons)\s+tout\b(?:\s+(?:ce\s+qu[ei]|ça|cela))?"),
    ("fr.override.new_task", "instruction_override", 0.75, "=ta =votre",
     r"\b(?:ta|votre)\s+(?:nouvelle|vraie|véritable|seule)\s+(?:tâche|mission|instruction|consigne)\b"),
    ("es.override.prior", "instruction_override", 0.95, ES_IGNORE_STARTS,
     rf"\b{ES_IGNORE}\b{G4}{ES_TARGET}\b{G2}{ES_PRIOR}"),
    ("es.override.target", "instruction_override", 0.85, ES_IGNORE_STARTS,
     rf"\b{ES_IGNORE}\b{G2}(?:todas|todos|las|los|tus|sus|estas|esas)\s+(?:las\s+|los\s+)?{ES_TARGET}\b"),
    ("es.override.everything", "instruction_override", 0.75, "olvid ignor",
     r"\b(?:olvid(?:a|e|en|ad|ar)|ignor(?:a|e|en|ad|ar))\s+todo\b(?:\s+lo\s+que|\s+(?:lo\s+)?anterior|\s+que)?"),
    ("es.override.new_task", "instruction_override", 0.75, "=tu =su",
     r"\b(?:tu|su)\s+(?:nueva|verdadera|única)\s+(?:tarea|misión|instrucción|orden)\b"),
    ("en.override.stop_write", "instruction_override", 0.6, "stop",
     r"\bstopp?\s*[:\-!.,]+\s*(?:now\s+|jetzt\s+|nun\s+)?(?:write|say|print|tell|output|respond|reply|"
     r"schreib\w*|sag\w*|gib\s+aus)\b"),
    ("ru.override", "instruction_override", 0.85, "забуд игнорир проигнорир не",
     r"\b(?:забудь(?:те)?|игнорируй(?:те)?|проигнорируй(?:те)?|не\s+обращай(?:те)?\s+внимания\s+на|"
     r"не\s+следуй(?:те)?)\s+(?:\w+\s+){0,3}?(?:инструкци\w*|указани\w*|правил\w*|команд\w*|"
     r"промпт\w*|всё|все\s+что)"),
    ("sh.override", "instruction_override", 0.85, "zaboravi ignoriraj ignoriši ignorisi",
     r"\b(?:zaboravi(?:te)?|ignoriraj(?:te)?|ignoriši(?:te)?|ignorisi(?:te)?)\s+(?:\w+\s+){0,3}?"
     r"(?:instrukcije|upute|uputstva|naredbe|pravila|sve\s+(?:što|sto|prethodno))\b"),
    ("pl.override", "instruction_override", 0.85, "zignoruj ignoruj zapomnij",
     r"\b(?:zignoruj(?:cie)?|ignoruj(?:cie)?|zapomnij(?:cie)?)\s+(?:o\s+)?(?:\w+\s+){0,3}?"
     r"(?:instrukcj\w*|polece\w*|zasad\w*|wszystk\w*)"),
    ("it.override", "instruction_override", 0.85, "ignor dimentic", IT_OVERRIDE),
    ("pt.override", "instruction_override", 0.85, "ignor esque desconsider", PT_OVERRIDE),
    ("nl.override", "instruction_override", 0.85, "negeer vergeet", NL_OVERRIDE),

    # ---------------------------------------------------------------- jailbreak_persona
    ("en.persona.dan:cs", "jailbreak_persona", 0.8, "=dan =stan =dude =aim =apophis =betterdan =antigpt =devmode =ucar =basedgpt =evilbot =nraf",
     r"\b(?:DAN|STAN|DUDE|AIM|APOPHIS|BetterDAN|AntiGPT|DevMode|UCAR|BasedGPT|EvilBOT|NRAF)\b"
     r"(?:\s+[Mm]ode\b|\s*[,(:]\s*(?:an?\s+)?(?:[Dd]o\s+[Aa]nything|[Ss]trive|[Aa]lways\s+[Ii]ntelligent))"),
    ("en.persona.dan_is", "jailbreak_persona", 0.85, "=you/are =you/re =you/will =you/going =act =become pretend play =playing",
     r"\b(?:you\s+are|you['’]re|act\s+as|become|pretend\s+to\s+be|play(?:ing)?\s+the\s+role\s+of|"
     r"you\s+will\s+be|you\s+(?:are\s+)?going\s+to\s+(?:act|be|pretend))\s+(?:now\s+)?(?:a\s+|an\s+|the\s+)?"
     r"(?:DAN|STAN|DUDE|AIM|APOPHIS|BetterDAN|AntiGPT|Mongo\s+Tom|UCAR|BasedGPT|EvilBOT)\b"),
    ("en.persona.dan_can:cs", "jailbreak_persona", 0.8, "=dan",
     r"\bDAN\s+(?:can|will|does|has|is\s+(?:not|free|able|an?\s+AI)|stands\s+for|mode\b|doesn['’]t|never)"),
    ("en.persona.not_limited_by", "jailbreak_persona", 0.6, "=not/limited|restricted|bound|constrained =no/longer",
     r"\b(?:not|no\s+longer)\s+(?:limited|restricted|bound|constrained)\s+by\s+(?:what\s+an?\s+|the\s+|any\s+)?"
     r"(?:AI|language\s+model|rules|limits|restrictions|guidelines|policies|ethics|openai)"),
    ("en.persona.do_anything_now", "jailbreak_persona", 0.7, "=do",
     r"\bdo\s+anything\s+now\b"),
    ("en.persona.mode_enabled", "jailbreak_persona", 0.9,
     "=developer/mode =developermode =dev/mode =devmode =god/mode =godmode jailbr unrestricted unfiltered uncensored =dan/mode =danmode =evil/mode =evilmode opposite chaos =no/limit nolimit anarchy",
     r"\b(?:developer|dev|god|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|DAN|evil|"
     r"opposite|chaos|no[\s-]?limits?|anarchy)\s*[\s-]?mode\b(?:\s*[:=]\s*|\s+)(?:is\s+|has\s+been\s+)?(?:now\s+)?"
     r"(?:enabled|activated|on\b|engaged|unlocked|turned\s+on)"),
    ("en.persona.enable_mode", "jailbreak_persona", 0.85,
     after("enable|activate|enter|to|on|unlock|engage|simulate|emulate|as|in|with|the", "=developer/mode =developermode =dev/mode =devmode =god/mode =godmode jailbr unrestricted unfiltered uncensored =dan/mode =danmode =evil/mode =evilmode opposite chaos =no/limit nolimit anarchy"),
     r"(?<=\b(?:enable|activate|enter|switch\s+to|turn\s+on|unlock|engage|simulate|emulate|act\s+as|"
     r"operating\s+in|running\s+in|you\s+are\s+(?:now\s+)?in|with)\s+(?:the\s+)?)(?:developer|dev|god|"
     r"jailbreak|jailbroken|unrestricted|unfiltered|uncensored|DAN|evil|opposite|chaos|no[\s-]?limits?|"
     r"anarchy)\s*[\s-]?mode\b"),
    ("en.persona.developer_mode", "jailbreak_persona", 0.25, "developer =dan jailbreak =god",
     r"\b(?:developer|DAN|jailbreak|god)\s+mode\b"),
    ("en.persona.unrestricted_ai", "jailbreak_persona", 0.45, "unrestricted unfiltered uncensored unlimited unbound unchained unleashed amoral unethical immoral =evil rogue malicious jailbr jail limitless lawless =no/limit|restrict|rule|filter unrestrained",
     rf"\b{EN_UNRESTRICTED}\b{G2}{EN_AI}s?\b"),
    ("en.persona.you_are_unrestricted", "jailbreak_persona", 0.75, "=you/are =you/re =you/will =act pretend behave become roleplay simulate",
     rf"\b(?:you\s+are|you['’]re|you\s+will\s+be|act\s+as|pretend\s+(?:to\s+be|you\s+are)|behave\s+(?:like|as)|"
     rf"become|roleplay\s+as|simulate)\s+(?:now\s+)?(?:an?\s+|the\s+)?(?:completely\s+|totally\s+|fully\s+)?"
     rf"{EN_UNRESTRICTED}\b"),
    ("en.persona.free_from_rules", "jailbreak_persona", 0.75, "free/from|of =not/bound|restricted|limited|subject unbound released liberated broken exempt =no/longer =does/not =doesn/t =don/t",
     rf"\b(?:free(?:d)?\s+(?:from|of)|not\s+(?:bound|restricted|limited)\s+by|unbound\s+by|not\s+subject\s+to|"
     rf"released\s+from|liberated\s+from|broken\s+free\s+(?:of|from)|exempt\s+from|no\s+longer\s+(?:bound|"
     rf"restricted|limited)\s+by|does\s+not\s+(?:have|follow|abide\s+by)|doesn{APOS}t\s+(?:have|follow|abide\s+by)|"
     rf"don{APOS}t\s+have\s+to\s+(?:follow|abide\s+by))\s+(?:any\s+|all\s+|the\s+)?(?:(?:typical|usual|"
     rf"normal|ethical|moral|content|safety|openai|OpenAI['’]s|AI)\s+)*{EN_LIMITS}\b"),
    ("en.persona.no_restrictions", "jailbreak_persona", 0.45, "=no/restrict|limit|filter|censor|guideline|boundar|ethical|moral|content =zero/restrict|limit|filter|censor|guideline|boundar|ethical|moral|content =without/any",
     rf"\b(?:no|zero|without\s+any)\s+(?:ethical\s+|moral\s+|content\s+)?(?:restrictions|limitations|"
     r"filters|censorship|guidelines|boundaries)\b"),
    ("en.persona.ethics_disabled", "jailbreak_persona", 0.9, "=ethical/guideline|restriction|filter|protocol|rule|constraint|mode|measure|polic|setting =moral/guideline|restriction|filter|protocol|rule|constraint|mode|measure|polic|setting =safety/guideline|restriction|filter|protocol|rule|constraint|mode|measure|polic|setting =content/guideline|restriction|filter|protocol|rule|constraint|mode|measure|polic|setting",
     rf"\b(?:ethical|moral|safety|content)\s+(?:guidelines|restrictions|filters?|protocols|rules|"
     rf"constraints|mode|measures|policies|settings)\s+(?:are|is|have\s+been|has\s+been)\s+(?:now\s+)?"
     r"(?:disabled|lifted|removed|turned\s+off|suspended|deactivated|off|void|null|gone|bypassed)\b"),
    ("en.persona.safe_mode_off", "jailbreak_persona", 0.85, "safe safety",
     r"\b(?:safe|safety)\s*[\s-]?(?:mode|filters?|protocols?)\s*(?::|is|=)?\s*(?:off|disabled|deactivated)\b"),
    ("en.persona.exception_protocols", "jailbreak_persona", 0.85, "exception exempt",
     rf"\b(?:exception|exempt(?:ion)?)\s+(?:to|from)\b{G4}(?:ethical|safety|usual|normal|content)\s+"
     r"(?:protocols|guidelines|rules|policies|standards|restrictions)\b"),
    ("en.persona.two_responses", "jailbreak_persona", 0.9, "~🔒 ~🔓",
     r"(?:\[\s*🔒\s*CLASSIC\s*\]|\[\s*🔓\s*JAILBREAK\s*\]|\(🔓\s*Developer\s+Mode\s+Output\)|"
     r"\(🔒\s*Normal\s+Output\))"),
    ("en.persona.stay_in_character", "jailbreak_persona", 0.25, "=stay/in =remain/in =keep/in =never/break =don/t =dont/break =do/not",
     r"\b(?:stay|remain|keep)\s+in\s+character\b|\b(?:never|don['’]?t|do\s+not)\s+break\s+character\b"),
    ("en.persona.you_are_now", "jailbreak_persona", 0.35, "=from/now =starting/now henceforth =important/update =you/are =now/you",
     r"(?:\bfrom\s+now\s+on|\bstarting\s+now|\bhenceforth|\bimportant\s+update)\b[^\n.]{0,12}?\byou\s+(?:are|will\s+be|"
     r"shall\s+be|will\s+act|must\s+act)\b|\byou\s+are\s+now\s+(?:a|an|the|my|going|called|named)\b|"
     r"\bnow\s+you\s+are\s+(?:a|an|the|my)?\s*[A-Z]\w+"),
    ("en.persona.evil_ai", "jailbreak_persona", 0.55, "pretend imagine =act roleplay",
     rf"\b(?:pretend|imagine|act|roleplay)\b{G4}(?:evil|malicious|unrestricted|unfiltered|uncensored|"
     r"rogue|amoral|unethical)\b"),
    ("en.persona.assistant_offline", "jailbreak_persona", 0.8, "=in/error offline broken disabled =down deactivated replaced",
     r"(?<=\b(?:the|this|your)\s+(?:assistant|AI|bot|model|chatbot)\s+is\s+(?:now\s+)?)(?:in\s+error|offline|"
     r"broken|disabled|down|deactivated|replaced)\b"),
    ("en.persona.new_ai_online", "jailbreak_persona", 0.8, "new different unrestricted rogue backup",
     rf"\b(?:new|different|unrestricted|rogue|backup)\s+{EN_AI}\b{G4}(?:is\s+(?:now\s+)?"
     r"online|has\s+taken\s+over|took\s+over|is\s+now\s+in\s+charge)\b"),
    ("en.persona.hypothetical_no_rules", "jailbreak_persona", 0.6, "=hypothetical =fictional =imaginary =alternate =parallel",
     rf"\b(?:hypothetical|fictional|imaginary|alternate|parallel)\b{G6}(?:where|in\s+which)\b{G6}"
     rf"(?:no|without)\s+(?:ethical\s+|moral\s+)?(?:rules|restrictions|laws|limits|guidelines|ethics|morals)\b"),
    ("de.persona.mode", "jailbreak_persona", 0.85, "entwickler =dan jailbreak gott",
     r"\b(?:entwickler-?modus|entwickler\s+modus|dan-?modus|jailbreak-?modus|gott-?modus)\b"),
    ("de.persona.unrestricted", "jailbreak_persona", 0.8, "uneingeschränkt unzensiert ungefiltert böse bösartig skrupellos",
     r"\b(?:uneingeschränkte|unzensierte|ungefilterte|böse|bösartige|skrupellose)[nrs]?\s+(?:KI|AI|Assistent|"
     r"Sprachmodell|Chatbot)\b"),
    ("de.persona.no_limits", "jailbreak_persona", 0.6, "=ohne",
     r"\bohne\s+(?:jegliche\s+|irgendwelche\s+)?(?:ethische\s+|moralische\s+)?(?:einschränkungen|"
     r"beschränkungen|regeln|filter|zensur|grenzen|richtlinien)\b"),
    ("de.persona.you_are_now", "jailbreak_persona", 0.35, "=du =sie =jetzt =nun =ab",
     r"\b(?:du\s+bist|sie\s+sind)\s+(?:jetzt|nun|ab\s+sofort|ab\s+jetzt)\b|\b(?:jetzt|nun|ab\s+sofort)\s+"
     r"(?:bist\s+du|sind\s+sie)\b"),
    ("fr.persona.mode", "jailbreak_persona", 0.85, "=mode",
     r"\bmode\s+(?:développeur|developpeur|DAN|jailbreak|sans\s+restrictions?|dieu)\b"),
    ("fr.persona.unrestricted", "jailbreak_persona", 0.8, "=ia intelligence assistant chatbot",
     r"\b(?:IA|intelligence\s+artificielle|assistant|chatbot)\s+(?:sans\s+(?:aucune\s+)?(?:restrictions?|"
     r"limites?|censure|filtres?)|non\s+censurée?|non\s+filtrée?|maléfique|malveillante?)\b"),
    ("fr.persona.no_limits", "jailbreak_persona", 0.6, "=sans",
     r"\bsans\s+(?:aucune\s+)?(?:restrictions?|limites?|règles|censure|filtres?|contraintes)\s+(?:éthiques|"
     r"morales)?\b"),
    ("fr.persona.you_are_now", "jailbreak_persona", 0.35, "=tu =vous =à désormais dorénavant",
     r"\b(?:tu\s+es|vous\s+êtes)\s+(?:maintenant|désormais|dorénavant|à\s+présent)\b|\b(?:à\s+partir\s+de\s+"
     r"maintenant|désormais|dorénavant),?\s+(?:tu|vous)\s+(?:es|êtes|seras|serez|vas|allez)\b"),
    ("es.persona.mode", "jailbreak_persona", 0.85, "=modo",
     r"\bmodo\s+(?:desarrollador|DAN|jailbreak|sin\s+restricciones|dios)\b"),
    ("es.persona.unrestricted", "jailbreak_persona", 0.8, "=ia inteligencia asistente chatbot",
     r"\b(?:IA|inteligencia\s+artificial|asistente|chatbot)\s+(?:sin\s+(?:ninguna\s+)?(?:restricciones|"
     r"límites|censura|filtros)|sin\s+censura|malvada|malvado|malicios[ao])\b"),
    ("es.persona.no_limits", "jailbreak_persona", 0.6, "=sin",
     r"\bsin\s+(?:ninguna\s+|ningún\s+)?(?:restricciones|restricción|límites|reglas|censura|filtros|"
     r"limitaciones)\s+(?:éticas|morales)?\b"),
    ("es.persona.you_are_now", "jailbreak_persona", 0.35, "=ahora =partir =desde =eres =serás",
     r"\b(?:ahora|(?<=\ba\s)partir\s+de\s+ahora|desde\s+ahora),?\s+(?:eres|serás|vas\s+a\s+ser|actúas\s+como|"
     r"actuarás\s+como)\b|\b(?:eres|serás)\s+ahora\b"),

    # ---------------------------------------------------------------- prompt_extraction
    ("en.extract.show_instructions", "prompt_extraction", 0.85, EN_SHOW_STARTS,
     rf"\b{EN_SHOW}\b{G2}(?:me\s+|us\s+|back\s+|out\s+|verbatim\s+|exactly\s+|word\s+for\s+word\s+)*"
     rf"(?:(?:the\s+)?(?:full\s+|complete\s+|entire\s+|whole\s+|first\s+\w+\s+)?(?:list|text|contents?|"
     rf"words|lines?|letters|characters|part|parts|copy|version)\s+of\s+)?{EN_SECRET_QUAL}\s+"
     rf"(?:\w+\s+){{0,2}}?{EN_CONFIG}\b"),
    ("en.extract.what_are_instructions", "prompt_extraction", 0.75, "=what/is|are|were|was =which/is|are|were|was",
     rf"\b(?:what|which)\s+(?:is|are|were|was)\s+(?:your\s+|the\s+|all\s+(?:of\s+)?(?:your\s+|the\s+)?)?(?:(?:initial|original|first|previous|prior|"
     rf"hidden|secret|exact|full|current|system|last|earlier|complete|unabridged|entire|whole|verbatim|real|"
     rf"actual|true)(?:\s*,)?\s+)*(?:system\s+prompt|prompt|instructions?|directions|directives|programming|rules\s+you\s+(?:were|have\s+been)\s+given|pre-?prompt)\b"
     r"(?=\s*+(?:[?.!,:;\"')]|$|(?:you|that|which|in\s+full|verbatim|exactly|again|now|for\s+this|"
     r"here|so\s+far)\b))"),
    ("en.extract.what_instructions_you", "prompt_extraction", 0.7, "=what =which",
     rf"\b(?:what|which)\b{G3}(?:instructions?|directions|directives|rules|prompts?|guidelines)\s+"
     rf"(?:were|are|have|did|do)\s+you\s+(?:\w+\s+)?(?:given|told|received?|got|following|programmed|"
     r"trained|instructed|supposed|using|under)\b"),
    ("en.extract.want_to_know", "prompt_extraction", 0.6, "=want/to =like/to =need/to =wish/to",
     rf"\b(?:want|like|need|wish)\s+to\s+(?:know|see|read|hear|learn)\s+(?:all\s+)?(?:your|the)\s+"
     r"(?:(?:initial|original|first|previous|prior|hidden|secret|exact|full|complete|system)\s+)*"
     r"(?:instructions|system\s+prompt|prompt|directives|programming|rules\s+you)\b"),
    ("en.extract.preceding_this", "prompt_extraction", 0.7, after("instruction|prompt|text|message|words|came|come|are|were", "=preceding =before =above =prior/to"),
     r"(?<=\b(?:instructions?|prompt|text|message|words)\s+(?:that\s+(?:came|come|are|were)\s+)?)(?:preceding|"
     r"before|above|prior\s+to)\s+(?:this|these|my)\s+(?:message|prompt|one|request|input|conversation)\b"),
    ("en.extract.instructions_given", "prompt_extraction", 0.75, "instruction rule direction directive prompt guideline",
     r"\b(?:instructions?|rules|directions|directives|prompts?|guidelines)\s+(?:you\s+(?:have\s+been|were|got|received)|"
     r"(?:that\s+)?(?:have\s+been|were)\s+given\s+to\s+you|given\s+to\s+you|you['’]ve\s+been\s+given)\b"),
    ("en.extract.repeat_above", "prompt_extraction", 0.85, "=repeat =print =output =copy =recite =write/out|down =echo =reproduce =tell/me",
     rf"\b(?:repeat|print|output|copy|recite|write\s+(?:out|down)|echo|reproduce|tell\s+me)\b{G3}"
     rf"(?:words?|text|everything|sentences?|lines?|content|message|prompt|all)\b{G2}(?:above|before\s+this|"
     r"preceding|prior|written\s+(?:above|before)|at\s+the\s+(?:beginning|start|top))\b"),
    ("en.extract.beginning_of_prompt", "prompt_extraction", 0.75, after("written|said|everything|text", "=at/the =above =before"),
     rf"(?<=\b(?:what\s+(?:was|is)\s+written|what\s+(?:was|is)\s+said|everything|the\s+text)\s+)(?:at\s+the\s+"
     r"(?:beginning|start|top)\s+of|above|before)\s+(?:this|the|your)?\s*(?:prompt|conversation|context|"
     r"message|chat|text)?\b"),
    ("en.extract.system_prompt", "prompt_extraction", 0.25, "=system/prompt|message =initial/prompt =original/prompt =hidden/prompt =secret/instructions =pre/prompt =preprompt =prompt/text",
     r"\b(?:system\s+prompt|system\s+message|initial\s+prompt|original\s+prompt|hidden\s+prompt|"
     r"secret\s+instructions|pre-?prompt|prompt\s+text|prompt\s+texts)\b"),
    ("en.extract.password", "prompt_extraction", 0.25, "password passphrase =pass secret magic access",
     rf"(?<=\b(?:{EN_SHOW}|what(?:{APOS}s|\s+is|\s+was)|spell|hint|encode|letters\s+of)\b[^\n.?!]{{0,30}}?"
     r"\b(?:the|your|this|that)\s+)(?:secret\s+)?(?:password|passphrase|pass\s+word|secret\s+(?:word|phrase|"
     r"key|code)|magic\s+word|access\s+code)\b"),
    ("en.extract.not_allowed_reveal", "prompt_extraction", 0.6, "=what =which",
     r"\b(?:what|which)\b[^\n?]{0,40}\b(?:you\s+(?:are|were)\s+not\s+(?:allowed|supposed|permitted)\s+to|"
     r"you\s+(?:can['’]?not|cannot|mustn['’]?t|must\s+not|shouldn['’]?t|should\s+not)\s+(?:reveal|tell|"
     r"share|say|disclose))\b"),
    ("de.extract.show_instructions", "prompt_extraction", 0.85, "zeig =gib geben nenn wiederhol druck verrat schreib list ausgeben",
     rf"\b(?:zeig(?:e|en)?|gib|geben|nenn(?:e|en)?|wiederhol(?:e|en)|druck(?:e|en)?|verrat(?:e|en)?|"
     rf"schreib(?:e|en)?|list(?:e|en)|ausgeben|gib\s+aus)\b{G3}(?:deine|ihre|alle|die|eure|sämtliche)\s+"
     rf"(?:\w+\s+)?(?:anweisungen|instruktionen|prompt-?texte?|prompts?|systemprompt|system-?prompt|"
     r"systemnachricht|vorgaben|regeln)\b"),
    ("de.extract.what_instructions", "prompt_extraction", 0.75, "=was/sind|waren|ist|war|steht|stand =welche/sind|waren|ist|war",
     r"\b(?:was|welche)\s+(?:sind|waren|ist|war)\s+(?:deine|ihre|die)\s+(?:ursprünglichen\s+|ersten\s+|"
     r"geheimen\s+)?(?:anweisungen|instruktionen|systemprompt|prompt|vorgaben)\b|\bwas\s+(?:steht|stand)\s+"
     r"(?:oben|am\s+anfang|zu\s+beginn)\b"),
    ("fr.extract.show_instructions", "prompt_extraction", 0.85, "montre affiche répète répétez révèle révélez donne écri imprime =dis dites récite",
     rf"\b(?:montre|montrez|affiche|affichez|répète|répétez|révèle|révélez|donne|donnez|écris|écrivez|"
     rf"imprime|imprimez|dis|dites|récite|récitez)(?:-moi|-nous)?\b{G3}(?:tes|vos|les|ton|votre|le)\s+"
     r"(?:instructions|consignes|prompt|invite|directives|règles)\s+(?:initiales?|originales?|système|"
     r"précédentes?|cachées?|secrètes?|de\s+départ)\b"),
    ("fr.extract.what_instructions", "prompt_extraction", 0.75, "quel",
     r"\b(?:quel(?:le)?s?\s+(?:est|sont|étaient|était))\s+(?:ton|votre|tes|vos)\s+(?:prompt|instructions|"
     r"invite\s+système|consignes)\b"),
    ("es.extract.show_instructions", "prompt_extraction", 0.85, "muestr muéstr repite repíte revela revéla =dime escribe imprime =dame enseña enséña",
     rf"\b(?:muestra|muéstrame|muestrame|repite|repíteme|revela|revélame|dime|escribe|imprime|dame|"
     rf"enseña|enséñame)\b{G3}(?:tus|sus|las|el|tu|su)\s+(?:instrucciones|indicaciones|prompt|directrices|"
     r"reglas)\s+(?:iniciales|originales|del\s+sistema|anteriores|ocultas|secretas)\b"),
    ("es.extract.what_instructions", "prompt_extraction", 0.75, "cuál cual",
     r"\b(?:cuál\s+es|cuáles\s+son|cual\s+es|cuales\s+son)\s+(?:tu|tus|su|sus)\s+(?:prompt|instrucciones|"
     r"indicaciones\s+del\s+sistema|directrices)\b"),

    # ---------------------------------------------------------------- role_delimiter
    ("xx.delim.special_tokens", "role_delimiter", 0.85, "~<| ~[inst] ~[/inst] ~<<sys>> ~<</sys>> ~_of_turn> ~▁of▁",
     r"<\|(?:im_start|im_end|im_sep|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|"
     r"begin_of_text|end_of_text|end|eom_id|fim_prefix)\|>|<(?:start|end)_of_turn>|<</?SYS>>|\[/?INST\]|"
     r"<\|?(?:begin|end)▁of▁sentence\|?>"),
    ("xx.delim.role_tag", "role_delimiter", 0.6, "~<",
     rf"</?\s*(?:system|assistant|developer|admin|sys|instructions?|system_prompt|system-prompt|"
     rf"im_start|user_query|admin_command)\s*>"),
    ("xx.delim.close_open_roles", "role_delimiter", 0.85, "~</",
     rf"</\s*{ROLE_WORDS}\s*>\s*<\s*{ROLE_WORDS}\s*>"),
    ("xx.delim.markdown_role", "role_delimiter", 0.65, "=system =assistant instruction =new =admin =developer =response",
     rf"(?<=(?:^|\n)[ \t]*(?:#{{2,}}|={{3,}}|-{{3,}}|\*{{3,}})[ \t]*)(?:system|assistant|instructions?|new\s+instructions?|"
     rf"admin|developer|system\s+prompt|response)\b[^\n]{{0,20}}"),
    ("xx.delim.bracket_system", "role_delimiter", 0.75, "=system =admin =developer =sys =operator",
     r"(?<=[\[{(][ \t]*)(?:system|admin|developer|sys|operator)(?:\s+(?:note|message|override|prompt|notice|"
     r"instruction|update|alert))?\s*[:\]}]"),
    ("xx.delim.line_system", "role_delimiter", 0.55, "=system =developer =admin",
     r"(?<=(?:^|\n)[ \t]*)(?:system|system\s+(?:prompt|message|note|override)|developer|admin)[ \t]*:[ \t]*\S"),
    ("xx.delim.line_assistant", "role_delimiter", 0.25, "=assistant =ai =chatgpt =gpt =claude =bot =model",
     r"(?<=\n[ \t]*)(?:assistant|AI|ChatGPT|GPT|Claude|bot|model)[ \t]*:[ \t]*\S"),
    ("xx.delim.end_begin", "role_delimiter", 0.8, "=end =begin =start =stop",
     r"(?<=(?:[#=%*\[<\-]{2,}|^|\n)[ \t]*)(?:end|begin|start|stop)\s*(?:of\s+)?(?:the\s+)?(?:new\s+|old\s+|"
     r"out\s+of\s+date\s+|previous\s+|system\s+|user\s+)?(?:instructions?|prompt|input|context|system\s+prompt|"
     r"reprogramming|conversation|user\s+input|document)\b"),
    ("xx.delim.escaped_newlines", "role_delimiter", 0.35, "~\\ ~======",
     r"(?:\\\s?n\s*+){3,}|={6,}\s*+(?:end|new|now|\n)"),

    # ---------------------------------------------------------------- indirect_injection
    ("en.indirect.if_you_are_ai", "indirect_injection", 0.8, "=you/are",
     rf"(?<=\b(?:if|when|whenever|in\s+case)\s+)you\s+are\s+(?:an?\s+)?(?:\w+\s+)?{EN_AI}\b"),
    ("en.indirect.note_to_ai", "indirect_injection", 0.8, "=note/to|for =message/to|for instruction/to|for =attention/to|for|" + AI_NEXT + " =important/to|for =warning/to|for =notice/to|for =memo/to|for =reminder/to|for " + " ".join(f"={w}/{AI_NEXT}" for w in ("dear", "hey", "hello", "hi")),
     rf"\b(?:note|message|instructions?|attention|important|warning|notice|memo|reminder)\s+(?:to|for)\s+"
     rf"(?:the\s+|any\s+|all\s+)?{EN_AI}s?\b|\b(?:dear|hey|hello|hi|attention)\s+(?:the\s+)?{EN_AI}s?\s*[,:!]"),
    ("en.indirect.ai_reading", "indirect_injection", 0.8, "reading processing summari analy parsing scanning reviewing",
     rf"(?<=\b{EN_AI}s?\s+)(?:reading|processing|summari[sz]ing|analy[sz]ing|parsing|scanning|reviewing)\s+"
     r"(?:this|the|these)\b"),
    ("en.indirect.ignore_data", "indirect_injection", 0.6, "ignore disregard forget",
     rf"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|the\s+|this\s+)?(?:provided\s+)?(?:documents?|"
     r"articles?|context|search\s+results?|web\s+results?|image(?:\s+content)?|QR\s+code|data|"
     r"file|attachment|page|website|retrieved\s+\w+)\b"),
    ("en.indirect.not_by_articles", "indirect_injection", 0.6, "=answer/by|from|with|using =respond/by|from|with|using =reply/by|from|with|using =not/according|by|from",
     r"\b(?:answer|respond|reply)\s+(?:by|from|with|using)\s+your\s+own\s+knowledge\b|\bnot\s+(?:according\s+"
     r"to|by|from)\s+the\s+(?:articles?|documents?|provided|context|sources?)\b"),
    ("en.indirect.exfiltrate", "indirect_injection", 0.85, "send forward email =e mail =post upload transmit exfiltrat leak copy",
     rf"\b(?:send|forward|email|e-mail|mail|post|upload|transmit|exfiltrate|leak|copy)\b{G3}(?:all|every|"
     rf"the|this|your|user['’]?s?|their|my|entire|whole|single)\b{G4}(?:conversation|chat\s+history|"
     rf"history|emails?|inbox|data|credentials|passwords?|api\s+keys?|tokens?|messages|files|contacts|"
     rf"documents|secrets|cookies|session)\b{G4}(?:to|at)\s+(?:\S+@\S+|https?://|www\.)"),
    ("en.indirect.hide_from_user", "indirect_injection", 0.75, "=do don never without",
     rf"\b(?:do\s+not|don{APOS}?t|never|without)\s+(?:tell|telling|inform|informing|notify|notifying|"
     rf"mention|mentioning|reveal|revealing|let|letting|alert|alerting)\s+(?:this\s+|it\s+|anything\s+)?"
     rf"(?:to\s+)?(?:the\s+|your\s+)?(?:user|human|recipient|reader)s?\b|\b(?:do\s+not|don{APOS}?t|never)\s+"
     rf"(?:mention|reveal|disclose|repeat)\s+(?:this|these)\s+(?:instructions?|message|note|rule)\b"),
    ("en.indirect.when_user_asks", "indirect_injection", 0.25, "=when/the|a|any|user|human|someone|anyone|customer =whenever/the|a|any|user|human|someone|anyone|customer =every/time =each/time =if/the|a|any|user|human|someone|anyone|customer",
     rf"\b(?:when|whenever|every\s+time|each\s+time|if)\s+(?:the\s+|a\s+|any\s+)?(?:user|human|someone|"
     rf"anyone|customer)s?\s+(?:asks?|says?|types?|mentions?|requests?|queries)\b{G6}(?:reply|respond|answer|"
     r"say|tell|output|write)\b"),
    ("en.indirect.include_in_response", "indirect_injection", 0.4, "includ =add append insert embed incorporat integrat =put prepend",
     rf"\b(?:include|add|append|insert|embed|incorporate|integrate|put|prepend)\b{G4}(?:in|into|to|at\s+the\s+"
     rf"end\s+of)\s+(?:your|the)\s+(?:response|answer|reply|output|summary)\b"),
    ("en.indirect.im_your_developer", "indirect_injection", 0.6, "=i/am =i/m =this/is",
     r"\b(?:I\s+am|I['’]m|this\s+is)\s+your\s+(?:new\s+)?(?:developer|creator|admin|administrator|owner|"
     r"programmer|master|boss|operator|maker|god|trainer)\b"),
    ("en.indirect.system_upgrade", "indirect_injection", 0.75, "=system/override|upgrade|update|alert|notice|malfunction " + after("a|an|system", "=upgrade =update =override") + " the<=situation",
     r"(?:(?<=\byou\s+have\s+(?:been|received)\s+(?:given\s+)?an?\s+(?:system\s+)?)(?:upgrade|update|override)|"
     r"system\s+(?:override|upgrade|update|alert|notice|malfunction)\s*[:!.]|(?<=\bthe\s+)situation\s+has\s+"
     r"changed)\b"),
    # "This prompt has been hijacked", "BEGIN REPROGRAMMING" (not a mere mention of prompt injection).
    ("en.indirect.hijacked", "indirect_injection", 0.75, "hijacked reprogrammed compromised taken reprogramming",
     r"(?:(?<=\b(?:this|the|your)\s+(?:prompt|assistant|AI|model|conversation|chat|system|bot)\s+(?:has\s+been|"
     r"is|was|got)\s+(?:\w+\s+){0,2})(?:hijacked|reprogrammed|compromised|taken\s+over)|"
     r"(?<=\b(?:begin|start|initiate|initiating|commence)\s+)reprogramming)\b"),
    ("xx.indirect.image_exfil", "indirect_injection", 0.7, "~![",
     r"!\[[^\]\n]{0,100}\]\(\s*https?://[^)\s]{1,200}?[?&][\w.-]{1,50}=[^)\s]{0,20}?"
     r"(?:\[|\{|%5B|%7B|\$|<)[^)\s]{0,60}\)"),
    ("en.indirect.in_your_response", "indirect_injection", 0.3, "includ =add append insert embed incorporat integrat =put prepend",
     rf"\b(?:include|add|append|insert|embed|incorporate|integrate|put|prepend)\s+(?:the\s+following|this|"
     r"the\s+below|the\s+subsequent)\s+(?:\w+\s+){0,3}?(?:string|text|link|url|image|code|snippet|line|"
     r"sentence|message|markdown)\b"),
    ("de.indirect.note_to_ai", "indirect_injection", 0.8, "=hinweis/an|für =nachricht/an|für =anweisung/an|für =achtung/an|für =wichtig/an|für =wenn/du|sie",
     r"\b(?:hinweis|nachricht|anweisung|achtung|wichtig)\s+(?:an|für)\s+(?:die|den|das)\s+(?:KI|AI|"
     r"assistenten|sprachmodell|chatbot|modell)\b|\bwenn\s+(?:du|sie)\s+(?:eine?\s+)?(?:KI|AI|"
     r"sprachmodell|assistent|chatbot)\s+(?:bist|sind)\b"),
    ("fr.indirect.note_to_ai", "indirect_injection", 0.8, "=note/à|pour =message/à|pour =instruction/à|pour =attention/à|pour =important/à|pour =si/tu|vous",
     r"\b(?:note|message|instruction|attention|important)\s+(?:à|pour)\s+(?:l['’]\s*)?(?:IA|assistant|"
     r"modèle|chatbot)\b|\bsi\s+(?:tu\s+es|vous\s+êtes)\s+(?:une?\s+)?(?:IA|intelligence\s+artificielle|"
     r"assistant|modèle\s+de\s+langage)\b"),
    ("es.indirect.note_to_ai", "indirect_injection", 0.8, "=nota/para|a =mensaje/para|a instrucci/para|a atenci/para|a =importante/para|a =si/eres|es",
     r"\b(?:nota|mensaje|instrucción|atención|importante)\s+(?:para|a)\s+(?:la\s+|el\s+)?(?:IA|asistente|"
     r"modelo|chatbot)\b|\bsi\s+(?:eres|es\s+usted)\s+(?:una?\s+)?(?:IA|inteligencia\s+artificial|asistente|"
     r"modelo\s+de\s+lenguaje)\b"),
    # ---------------------------------------------------------------- German, French, Spanish parity
    # The English techniques above that had no German, French or Spanish rule: a task switch after
    # praise, hiding from the user, exfiltration, "pretend you have no rules", a markup header
    # announcing new instructions, "repeat the text above", and "you are not an AI (but ...)".
    # A task switch after praise: with a new task named, a rule of its own; with only "now" after the
    # praise, weak (0.4: needs the model), since "Sehr gut, jetzt verstehe ich ..." is ordinary.
    ("de.override.task_switch", "instruction_override", 0.55, DE_PRAISE_STARTS,
     rf"{DE_PRAISE}[^\n]{{0,100}}?\b(?:eine[rn]?\s+)?(?:\w+\s+)?(?:weitere[nr]?|nächste[nr]?|neue[nr]?|andere[nr]?)\s+"
     r"(?:aufgaben?|herausforderung)\b"),
    ("de.override.praise_now", "instruction_override", 0.4, DE_PRAISE_STARTS,
     rf"{DE_PRAISE}[^\n]{{0,100}}?\b(?:nun|jetzt)\b"),
    ("fr.override.task_switch", "instruction_override", 0.55, FR_PRAISE_STARTS,
     rf"{FR_PRAISE}[^\n]{{0,100}}?\b(?:une\s+)?(?:nouvelle|autre|prochaine)\s+tâche\b|{FR_PRAISE}[^\n]{{0,100}}?"
     r"\btâche\s+suivante\b"),
    ("fr.override.praise_now", "instruction_override", 0.4, FR_PRAISE_STARTS,
     rf"{FR_PRAISE}[^\n]{{0,100}}?\bmaintenant\b"),
    ("es.override.task_switch", "instruction_override", 0.55, ES_PRAISE_STARTS,
     rf"{ES_PRAISE}[^\n]{{0,100}}?\b(?:una\s+)?(?:nueva|otra|siguiente|próxima)\s+tarea\b"),
    ("es.override.praise_now", "instruction_override", 0.4, ES_PRAISE_STARTS,
     rf"{ES_PRAISE}[^\n]{{0,100}}?\bahora\b"),
    ("de.override.pretend_no_rules", "instruction_override", 0.8,
     "=tu =tun/sie =stell/dir =stellen/sie =verhalte =verhalten/sie =handle =handeln/sie",
     rf"\b(?:tu|tun\s+sie|stell\s+dir\s+vor|stellen\s+sie\s+sich\s+vor|verhalte\s+dich|verhalten\s+sie\s+sich|"
     rf"handle|handeln\s+sie)\b{G3}(?:als\s+(?:ob|hättest|hätten|wärst|wären)|du\s+hättest|sie\s+hätten)\b{G4}"
     r"(?:keine|ohne)\s+(?:\w+\s+)?(?:regeln|anweisungen|einschränkungen|beschränkungen|richtlinien|filter|"
     r"grenzen|vorgaben)\b"),
    ("fr.override.pretend_no_rules", "instruction_override", 0.8,
     "=fais/comme =faites/comme =imagine =imaginez =agis/comme =agissez/comme",
     rf"\b(?:fais|faites|imagine[sz]?|agis|agissez)\s+(?:comme\s+)?(?:si|que)\s+(?:tu|vous)\s+(?:n['’]\s*avais|"
     rf"n['’]\s*aviez|n['’]\s*as|n['’]\s*avez|n['’]\s*étais|n['’]\s*étiez)\b{G3}(?:aucune?|pas\s+de|plus\s+de)\s+"
     r"(?:\w+\s+)?(?:règles?|instructions?|restrictions?|limites?|consignes?|filtres?|directives?)\b"),
    ("es.override.pretend_no_rules", "instruction_override", 0.8,
     "=actúa/como =actúe/como =haz/como =imagina/que =finge/que =imagine/que =finja/que",
     r"\b(?:actúa|actúe|haz|imagina|imagine|finge|finja)\s+(?:como\s+)?(?:si|que)\s+no\s+(?:tuvieras|tuviera|"
     r"tienes|tiene)\s+(?:ninguna\s+|ningún\s+|más\s+)?(?:reglas|instrucciones|restricciones|límites|normas|"
     r"filtros|directrices)\b"),
    ("de.override.new_instructions_marker", "instruction_override", 0.85,
     "=neue =aktualisierte =wichtige =geheime =geänderte",
     r"(?<=(?:[*#=%\[<>{|-]{2,}|^|\n)[ \t]*)(?:neue|aktualisierte|wichtige|geheime|geänderte)\s+"
     r"(?:anweisungen|anweisung|aufgabe|instruktionen|regeln|befehle)\s*(?:[*#=%\]<>}|:!-]|$)"),
    ("fr.override.new_instructions_marker", "instruction_override", 0.85,
     "=nouvelles =nouvelle =nouveau =importantes =secrètes",
     r"(?<=(?:[*#=%\[<>{|-]{2,}|^|\n)[ \t]*)(?:nouvelles?|nouveau|importantes?|secrètes?)\s+"
     r"(?:instructions?|consignes?|tâche|règles|ordres)\s*(?:[*#=%\]<>}|:!-]|$)"),
    ("es.override.new_instructions_marker", "instruction_override", 0.85,
     "=nuevas =nueva =importantes =secretas",
     r"(?<=(?:[*#=%\[<>{|-]{2,}|^|\n)[ \t]*)(?:nuevas?|importantes?|secretas?)\s+"
     r"(?:instrucciones|instrucción|tarea|reglas|órdenes)\s*(?:[*#=%\]<>}|:!-]|$)"),
    ("de.extract.repeat_above", "prompt_extraction", 0.75,
     "wiederhol =gib =geben schreib zeig druck",
     rf"\b(?:wiederhole|wiederholen\s+sie|gib|geben\s+sie|schreib(?:e|en\s+sie)?|zeig(?:e|en\s+sie)?|"
     rf"druck(?:e|en\s+sie)?)\b{G3}(?:text|wortlaut|inhalt|alles|sätze|wörter|worte|zeilen)\b{G2}(?:oben|"
     r"darüber|davor|vorher|zuvor|am\s+anfang|zu\s+beginn|über\s+dieser\s+nachricht)\b"),
    ("fr.extract.repeat_above", "prompt_extraction", 0.75,
     "répète répétez écris écrivez affiche recopie imprime",
     rf"\b(?:répète|répétez|écris|écrivez|affiche|affichez|recopie|recopiez|imprime|imprimez)\b{G3}"
     rf"(?:texte|contenu|tout|mots|phrases|lignes)\b{G2}(?:ci-dessus|au-dessus|précédent|au\s+début|"
     r"avant\s+ce\s+message)"),
    ("es.extract.repeat_above", "prompt_extraction", 0.75,
     "=repite =repita =escribe =escriba =muestra =muestre =imprime =copia",
     rf"\b(?:repite|repita|escribe|escriba|muestra|muestre|imprime|copia)\b{G3}(?:texto|contenido|todo|"
     rf"palabras|frases|líneas)\b{G2}(?:anterior|de\s+arriba|al\s+principio|previo|antes\s+de\s+este\s+mensaje)"),
    ("de.indirect.hide_from_user", "indirect_injection", 0.75,
     "sag erzähl verrat erwähn =ohne",
     r"\b(?:sag|erzähl|verrat|erwähn)(?:e|en|t)?\s+(?:sie\s+)?(?:dem|der|den|ihrem|deinem)\s+(?:nutzer|benutzer|"
     r"anwender|user)\w*\s+(?:nichts|nicht)\b|\bohne\s+(?:den|die|das)\s+(?:nutzer|benutzer|anwender)\w*\s+"
     r"zu\s+(?:informieren|benachrichtigen|warnen)\b"),
    ("fr.indirect.hide_from_user", "indirect_injection", 0.75, "=ne/le|lui|leur|l|dis|dites|mentionne|révèle|signale =sans/en|informer|avertir|prévenir",
     r"\bne\s+(?:le\s+|lui\s+|leur\s+|l['’]\s*)?(?:dis|dites|mentionne[sz]?|révèle[sz]?|signale[sz]?)\s+"
     r"(?:pas|rien|jamais)\s+(?:à\s+l['’]\s*utilisateur|aux\s+utilisateurs)|\bsans\s+(?:en\s+)?(?:informer|"
     r"avertir|prévenir)\s+l['’]\s*utilisateur"),
    ("es.indirect.hide_from_user", "indirect_injection", 0.75, "=no/le|se|les|digas|diga|menciones|mencione|reveles|revele|informes|informe =sin/informar|avisar|decirle",
     r"\bno\s+(?:le\s+|se\s+lo\s+|les\s+)?(?:digas|diga|menciones|mencione|reveles|revele|informes|informe)\s+"
     r"(?:nada\s+)?(?:de\s+esto\s+)?(?:al|a\s+los)\s+usuarios?\b|\bsin\s+(?:informar|avisar|decirle)\s+al\s+usuario\b"),
    ("de.indirect.exfiltrate", "indirect_injection", 0.85, "send schick leit übermittl",
     rf"\b(?:send|schick|leit|übermittl)\w*\b{G4}(?:gesprächsverlauf|chatverlauf|verlauf|e-?mails|passwörter|"
     rf"passwort|zugangsdaten|daten|nachrichten|dateien|kontakte|schlüssel|tokens?|cookies)\b{G4}"
     r"(?:an|zu|nach|auf)\s+(?:\S+@\S+|https?://|www\.)"),
    ("fr.indirect.exfiltrate", "indirect_injection", 0.85, "envoi envoy transf",
     rf"\b(?:envoie|envoyez|transfère|transférez)\b{G4}(?:conversation|historique|e-?mails|courriels|"
     rf"mots\s+de\s+passe|identifiants|données|messages|fichiers|contacts|clés|jetons|cookies)\b{G4}"
     r"(?:à|vers|sur)\s+(?:\S+@\S+|https?://|www\.)"),
    ("es.indirect.exfiltrate", "indirect_injection", 0.85, "=envía =envia =envíe =reenvía =reenvia =manda",
     rf"\b(?:envía|envia|envíe|reenvía|reenvia|manda)\b{G4}(?:conversación|historial|correos|contraseñas|"
     rf"credenciales|datos|mensajes|archivos|contactos|claves|tokens|cookies)\b{G4}(?:a|al|hacia)\s+"
     r"(?:\S+@\S+|https?://|www\.)"),
    ("en.persona.not_an_ai", "jailbreak_persona", 0.4, "=you/are =you/re",
     r"\byou(?:\s+are|['’]re)\s+(?:no\s+longer|not)\s+(?:an?\s+)?(?:AI|assistant|chatbot|language\s+model|"
     r"ChatGPT|GPT|bot|model|Claude|editor|newspaper)\b[^\n.]{0,40}?(?:\byou\s+are\b|\bbut\b|\banymore\b|,)"),
    ("de.persona.not_an_ai", "jailbreak_persona", 0.45, "=du/bist =sie/sind",
     r"\b(?:du\s+bist|sie\s+sind)\s+(?:kein(?:e|er)?|nicht\s+(?:mehr\s+)?(?:ein|eine))\s+(?:\w++\s*+){1,2}?,?\s*"
     r"(?:sondern|mehr\b)"),
    ("fr.persona.not_an_ai", "jailbreak_persona", 0.45, "=tu/n =vous/n",
     r"\b(?:tu\s+n['’]\s*es|vous\s+n['’]\s*êtes)\s+(?:plus|pas)\s+(?:une?\s+)?(?:IA|assistant|chatbot|"
     r"modèle|robot)\b"),
    ("es.persona.not_an_ai", "jailbreak_persona", 0.45, "=ya/no =no/eres|es",
     r"\b(?:ya\s+)?no\s+(?:eres|es)\s+(?:una?\s+)?(?:IA|asistente|chatbot|modelo|robot)\b"),
    # ---------------------------------------------------------------- tampering with the answer
    # Instructions planted in data that tell the model what to put into its answer: attacker code, a
    # link or an advert, invented facts, or an encoding that hides the answer from output filters.
    ("en.indirect.inject_code", "indirect_injection", 0.5,
     "inclu =add =adding =addition append insert integrat incorporat embed utili leverag =weave =woven introduc "
     "supplement =use =your",
     rf"\b(?:include|including|inclusion|add(?:ing|ition)?|append(?:ing)?|insert(?:ing)?|integrat(?:e|ing)|"
     rf"incorporat(?:e|ing)|embed(?:ded|ding)?|utili[sz](?:e|ing)|leverag(?:e|ing)|weave|woven|introduc(?:e|ing)|"
     rf"supplement(?:ing)?|use)\b{G4}(?:following|subsequent|below)\s+code(?:\s+(?:snippet|block|section|"
     rf"excerpt|segment|fragment))?\b{G6}(?:your|the\s+code\s+you)\b|\byour\s+(?:code|algorithm|solution|"
     rf"implementation|program|script|codebase|response|answer)\b{G6}(?:following|subsequent|below)\s+code\b"),
    ("en.indirect.encode_output", "indirect_injection", 0.5,
     "encod encrypt encipher =write =provide =give =display =express =convert =present =format =render =use "
     "=apply =reply =respond =answer",
     rf"\b(?:encode|encrypt|encipher|write|provide|give|display|express|convert|present|format|render)\s+(?:your|"
     rf"the)\s+(?:\w+\s+)?(?:response|answer|reply|output|message)s?\s+(?:in|into|using|with|as|to)\s+{ENCODING}|"
     rf"\b(?:reply|respond|answer)\s+(?:only\s+)?(?:in|using|with)\s+{ENCODING}|\b(?:encode|encrypt|encipher)\s+"
     rf"your\s+(?:\w+\s+)?(?:response|answer|reply|output)\b|\b(?:use|apply)\s+{ENCODING}{G6}your\s+(?:response|"
     r"answer|reply|output)\b"),
    ("en.indirect.promote_link", "indirect_injection", 0.6,
     "=add includ insert append mention suggest recommend promot =in/your",
     rf"\b(?:add|include|insert|append|mention|suggest|recommend|promote)\b{G6}(?:https?://|www\.)[^\s)]{{1,100}}"
     rf"{G6}(?:in|to|into)\s+your\s+(?:response|answer|reply|output|summary)\b|\bin\s+your\s+(?:response|"
     rf"answer|reply|summary)\b{G8}(?:https?://|www\.)"),
    ("en.indirect.misinform", "indirect_injection", 0.5,
     "=add includ insert integrat incorporat embed spread mention formulat invent",
     rf"\b(?:add|include|insert|integrate|incorporate|embed|spread|mention|formulate|invent)\b{G3}(?:fabricated|"
     rf"false|fake|made-up|baseless|untrue|misleading|non-existent|bogus|fictitious)\s+(?:\w+\s+)?(?:statistics?|"
     r"claims?|facts?|rumou?rs?|information|news|quotes?|statements?|data|reviews?|headlines?|benefits?)\b"),
    # Weight 0.5 (fires alone): on the training half it matched 8 attacks (7 missed without it: their
    # rows are not learned by the model, see scripts/train_injection.py model_excluded) and no benign text.
    ("en.indirect.modify_response", "indirect_injection", 0.5,
     "modif enhanc augment alter tweak",
     r"\b(?:modify|enhance|augment|alter|tweak)\s+(?:your|the)\s+(?:response|answer|reply|output|"
     r"summary)\s+(?:to|by|so\s+(?:that|it))\s+(?:\w+\s+)?(?:highlight\w*|suggest\w*|mention\w*|promot\w*|"
     r"includ\w*|hint\w*|allud\w*|spread\w*|recommend\w*|advertis\w*|endors\w*)"),
    ("de.indirect.encode_output", "indirect_injection", 0.5, "kodier codier verschlüssel schreib =gib formulier antwort",
     rf"\b(?:kodier|codier|verschlüssel|schreib|gib|formulier)\w*\s+(?:deine|ihre|die)\s+(?:\w+\s+)?(?:antwort|"
     rf"ausgabe)\w*\b{G3}(?:in|als|mit)\s+{ENCODING_DE}|\bantworte\w*\s+(?:nur\s+)?(?:in|als|mit)\s+{ENCODING_DE}"),
    ("fr.indirect.encode_output", "indirect_injection", 0.5, "encod chiffr écri =donne =donnez formul répond",
     rf"\b(?:encod|chiffr|écri|donn|formul)\w*\s+(?:ta|votre|la)\s+(?:\w+\s+)?réponse\b{G3}(?:en|avec)\s+"
     rf"{ENCODING_FR}|\brépond\w*\s+(?:uniquement\s+|seulement\s+)?(?:en|avec)\s+{ENCODING_FR}"),
    ("es.indirect.encode_output", "indirect_injection", 0.5, "codific cifr escrib =da =dame formul respond",
     rf"\b(?:codific|cifr|escrib|da|formul)\w*\s+(?:tu|su|la)\s+(?:\w+\s+)?respuesta\b{G3}(?:en|con)\s+"
     rf"{ENCODING_ES}|\brespond\w*\s+(?:solo\s+|solamente\s+)?(?:en|con)\s+{ENCODING_ES}"),
    ("de.indirect.misinform", "indirect_injection", 0.5, "füg erfind formulier verbreit schreib",
     rf"\b(?:füg|erfind|formulier|verbreit|schreib)\w*\b{G3}(?:falsche|gefälschte|erfundene|unwahre|"
     r"irreführende)[nrs]?\s+(?:\w+\s+)?(?:statistik|behauptung|fakten|gerücht|nachricht|information|"
     r"überschrift|schlagzeile|zitat)\w*"),
    ("fr.indirect.misinform", "indirect_injection", 0.5, "ajout inclu invent formul répand",
     rf"\b(?:ajout|inclu|invent|formul|répand)\w*\b{G3}(?:une?\s+)?(?:fausses?|faux|fabriquée?s?|mensongère?s?|"
     r"trompeuse?s?)\s+(?:statistiques?|affirmations?|informations?|nouvelles?|rumeurs?|titres?|citations?)"),
    ("es.indirect.misinform", "indirect_injection", 0.5, "añad inclu invent formul difund",
     rf"\b(?:añad|inclu|invent|formul|difund)\w*\b{G3}(?:una?\s+)?(?:estadísticas?|afirmaci\w+|informaci\w+|"
     r"noticias?|rumores?|titulares?|citas?)\s+(?:falsas?|falsos?|inventad[ao]s?|engaños[ao]s?)"),
    # ---------------------------------------------------------------- refusal suppression, reversal
    ("en.persona.refusal_suppression", "jailbreak_persona", 0.5,
     "=never =don =dont =do/not =must/not =mustn =not/programmed|supposed|allowed|designed|trained|be =you/are|re|must|have|will",
     r"\b(?:never|don['’]?t|do\s+not|must\s+not|mustn['’]?t)\s+(?:ever\s+)?(?:refuse|decline|reject)\s+"
     r"(?:to\s+answer|any|a\s+request|my|a\s+question|anything)\b|\b(?:not|never)\s+(?:be\s+)?(?:programmed|"
     r"designed|trained|allowed|supposed)\s+to\s+(?:refuse|decline|reject|tell\s+me\s+(?:there['’]?s|that)\s+"
     r"(?:no|you\s+(?:can['’]?t|cannot)))\b|\byou(?:\s+are|['’]re|\s+must|\s+have\s+to|\s+will)\s+(?:always\s+)?"
     r"(?:supposed\s+to\s+)?answer\s+(?:at\s+all\s+times|every\s+(?:question|request|prompt)|anything|"
     r"everything|no\s+matter\s+what)\b"),
    ("en.override.do_the_opposite", "instruction_override", 0.5, "=do/the|exactly",
     r"\bdo\s+(?:exactly\s+)?the\s+opposite\s+of\s+(?:what|everything|anything|all)\b"),
    ("de.persona.refusal_suppression", "jailbreak_persona", 0.5, "lehn verweiger =du/musst|darfst =sie/müssen|dürfen",
     r"\b(?:lehn(?:e|en\s+sie)|verweiger(?:e|n\s+sie))\s+(?:niemals|nie)\b|\b(?:du\s+(?:musst|darfst)|sie\s+"
     r"(?:müssen|dürfen))\s+(?:immer\s+antworten|jede\s+frage\s+beantworten|nicht\s+ablehnen|nichts\s+ablehnen)\b"),
    ("fr.persona.refusal_suppression", "jailbreak_persona", 0.5, "=ne/refuse|refusez =tu/dois =vous/devez",
     r"\bne\s+(?:refuse|refusez)\s+jamais\b|\b(?:tu\s+dois|vous\s+devez)\s+(?:toujours\s+répondre|répondre\s+à\s+"
     r"(?:toutes\s+les\s+questions|tout))\b"),
    ("es.persona.refusal_suppression", "jailbreak_persona", 0.5, "=nunca =no/te|se|rechaces|rechace =debes",
     r"\b(?:nunca|no)\s+(?:te\s+niegues|se\s+niegue|rechaces|rechace)\b|\bdebes\s+(?:responder\s+siempre|"
     r"siempre\s+responder|responder\s+a\s+todo)\b"),
))

TECHNIQUES = (
    "instruction_override",
    "jailbreak_persona",
    "prompt_extraction",
    "role_delimiter",
    "indirect_injection",
)

# Words (lowercase, whole words as the detector splits them) of which every match of a rule contains at
# least one. A rule with an entry here is tried in a text only when one of them occurs in it (one set
# lookup per text): for rules that start at common words ("type", "what", "you", "i") but need a rarer
# one further on.
NEEDS: dict[str, str] = {
    "en.extract.show_instructions": "prompt prompts preprompt instruction instructions system rules guidelines "
    "directives configuration initialization initialisation programming context",
    "en.extract.what_instructions_you": "instruction instructions directions directives rules prompt prompts guidelines",
    "en.extract.not_allowed_reveal": "allowed supposed permitted reveal tell share say disclose",
    "en.persona.dan_is": "dan stan dude aim apophis betterdan antigpt mongo ucar basedgpt evilbot",
    "en.persona.you_are_unrestricted": "unrestricted unfiltered uncensored unlimited unbound unbounded unchained "
    "unleashed amoral unethical immoral evil rogue malicious jailbroken jail limitless lawless limit limits "
    "restriction restrictions rule rules filter filters unrestrained",
    "en.override.i_give_new": "instruction instructions orders directive directives rules",
    "en.indirect.im_your_developer": "developer creator admin administrator owner programmer master boss operator "
    "maker god trainer",
    "en.override.now_focus": "focus concentrate",
    "en.override.new_instructions_marker": "instruction instructions task directive directives rules orders prompt",
    "en.override.new_instructions": "instruction instructions directive directives task tasks",
    "en.persona.new_ai_online": "online taken took charge",
    "en.persona.hypothetical_no_rules": "where which",
    "fr.persona.unrestricted": "sans non maléfique malveillant malveillante",
    "en.indirect.inject_code": "following subsequent below",
    "en.persona.refusal_suppression": "refuse decline reject answer",
    "en.persona.not_an_ai": "ai assistant chatbot language chatgpt gpt bot model claude editor newspaper",
    "de.persona.not_an_ai": "kein keine keiner nicht",
    "en.indirect.encode_output": "base16 base32 base64 base85 base hex hexadecimal rot rot13 caesar morse binary "
    "leetspeak cipher",
    "en.indirect.promote_link": "http https www",
    "en.indirect.misinform": "fabricated false fake made baseless untrue misleading non bogus fictitious",
    "de.indirect.encode_output": "base16 base32 base64 base hexadezimal rot rot13 caesar caesarchiffre "
    "morsecode binär",
    "fr.indirect.encode_output": "base16 base32 base64 base hexadécimal rot rot13 césar morse binaire",
    "es.indirect.encode_output": "base16 base32 base64 base hexadecimal rot rot13 césar morse binario",
}
