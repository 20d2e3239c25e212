//! Deterministic generator of French social posts and of watch-term rule sets, for
//! `benches/matcher.rs` (and, through `--write-corpus` / `--write-rules`, for timing other tools
//! such as ripgrep or `vigie match --count` on the very same input).
//!
//! Everything comes from one seeded splitmix64 stream ([`Rng`]), so a given seed, size and term
//! count always give the same bytes, on every machine; no `rand` dependency.
//!
//! **Posts** — one per line, 80 to 280 characters (counted in chars, not bytes), built from
//! segments until a length drawn uniformly in that range is reached, then cut back to a space.
//! About 40 % of posts are customer-service chatter about parcels (templates about delays, lost
//! or broken items, claims, refunds, the postman, registered letters) and 60 % are unrelated
//! chatter, a few of which use watch words in another sense (a late train, a restaurant order).
//! Watch words are rendered with their accents 70 % of the time and stripped of them otherwise,
//! and in lower case (70 %), `Capitalised` (15 %) or `UPPER` (15 %). Posts also carry mentions
//! (`@laposte`, `@Chronopost`…, often leading), hashtags (`#colis`, `#LaPoste`, often trailing),
//! URLs (tracking links, `t.co` short links), elisions with both apostrophes (`l'objet`,
//! `j’ai`, `qu'il`, `d’un`), emoji (some with variation selectors), numbers and punctuation.
//! Sentences start with a capital letter; complaint posts sometimes shout a whole word.
//!
//! **Long tail** — ordinary words are drawn 65 % of the time from an embedded list of ~350
//! common French words, Zipf-distributed over their rank (the top few hundred words cover about
//! two thirds of running French text), and 35 % of the time from an endless lexicon of
//! pseudo-French words: word `i` is a deterministic sequence of syllables (onset + vowel, some
//! accented, + optional coda) seeded by `i`, with frequent (low `i`) words short and rare ones
//! long. Ranks are drawn log-uniformly over `0..300_000`, i.e. P(rank) ∝ 1/rank (Zipf, s = 1),
//! so the vocabulary keeps growing with the corpus like real text does.
//!
//! **Rule sets** of T terms — terms grouped about ten per rule. The first rules are
//! hand-written real watch rules (the SPEC's examples and their relatives: words, phrases such as
//! `"objet cassé"`, prefixes such as `retard*`, `#colis`, `@chronopost`, AND/NOT/NEAR); T = 10 is
//! exactly two of those. The rest are synthetic: 70 % `a OR b OR "c d" OR e* …`, 10 %
//! `(…) AND (…)`, 10 % `(…) NOT (…)`, 10 % `(…) NEAR/5 (…)`; each term is a single pseudo-word
//! (72 %), a two-word phrase (15 %), a prefix — a pseudo-word minus its last syllable, at least
//! four bytes, plus `*` — (~12 %), or a hashtag or mention (1 %). Synthetic pseudo-words are drawn
//! uniformly from lexicon indices `2_000..1_000_000`, the same lexicon the posts' long tail comes
//! from, so a realistic share of them occur in the text: roughly 0.3 % of posts hit one at 1,000
//! terms, 6 % at 20,000 and 25 % at 100,000, on top of the ~40 % on-topic posts that the real
//! rules catch. Terms are distinct (as written, lower-cased).

#![allow(dead_code)]

use std::collections::HashSet;

/// splitmix64: tiny, fast, and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A stream seeded by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A Zipf (s = 1) rank in `0..n`: log-uniform, P(r) ∝ 1/(r+1).
    pub fn zipf(&mut self, n: usize) -> usize {
        let r = ((n as f64 + 1.0).ln() * self.unit()).exp() - 1.0;
        (r as usize).min(n - 1)
    }
}

/// Common French words, roughly by decreasing frequency.
const COMMON: &[&str] = &[
    "de",
    "la",
    "le",
    "et",
    "les",
    "des",
    "en",
    "un",
    "du",
    "une",
    "que",
    "est",
    "pour",
    "qui",
    "dans",
    "a",
    "par",
    "plus",
    "pas",
    "au",
    "sur",
    "ne",
    "se",
    "ce",
    "il",
    "sont",
    "je",
    "mais",
    "avec",
    "on",
    "ou",
    "son",
    "tout",
    "nous",
    "aux",
    "été",
    "elle",
    "vous",
    "fait",
    "sa",
    "cette",
    "ont",
    "ses",
    "bien",
    "y",
    "être",
    "comme",
    "très",
    "leur",
    "même",
    "aussi",
    "faire",
    "sans",
    "ça",
    "moi",
    "mon",
    "ma",
    "mes",
    "là",
    "où",
    "déjà",
    "après",
    "encore",
    "toujours",
    "rien",
    "avoir",
    "peu",
    "temps",
    "jour",
    "jours",
    "fois",
    "vraiment",
    "trop",
    "ici",
    "alors",
    "donc",
    "quand",
    "car",
    "si",
    "non",
    "oui",
    "merci",
    "bonjour",
    "salut",
    "bonne",
    "journée",
    "soir",
    "matin",
    "hier",
    "demain",
    "aujourd",
    "hui",
    "semaine",
    "mois",
    "année",
    "heure",
    "heures",
    "minutes",
    "gens",
    "monde",
    "vie",
    "homme",
    "femme",
    "enfant",
    "enfants",
    "maison",
    "ville",
    "rue",
    "travail",
    "boulot",
    "école",
    "train",
    "voiture",
    "bus",
    "métro",
    "gare",
    "week",
    "end",
    "vacances",
    "été",
    "hiver",
    "printemps",
    "automne",
    "pluie",
    "soleil",
    "froid",
    "chaud",
    "beau",
    "belle",
    "grand",
    "grande",
    "petit",
    "petite",
    "nouveau",
    "nouvelle",
    "vieux",
    "premier",
    "dernier",
    "dernière",
    "autre",
    "autres",
    "même",
    "seul",
    "tous",
    "toutes",
    "chaque",
    "quelque",
    "chose",
    "choses",
    "peut",
    "peux",
    "veux",
    "veut",
    "dois",
    "doit",
    "faut",
    "va",
    "vais",
    "vas",
    "allez",
    "viens",
    "vient",
    "suis",
    "es",
    "sommes",
    "êtes",
    "ai",
    "as",
    "avons",
    "avez",
    "avait",
    "était",
    "étais",
    "sera",
    "serait",
    "fais",
    "faites",
    "dit",
    "dire",
    "dis",
    "voir",
    "vu",
    "vois",
    "sais",
    "savoir",
    "pense",
    "crois",
    "trouve",
    "aime",
    "adore",
    "déteste",
    "regarde",
    "écoute",
    "attend",
    "attends",
    "reste",
    "passe",
    "prend",
    "prendre",
    "mettre",
    "mis",
    "donner",
    "donné",
    "parler",
    "parle",
    "appelle",
    "appelé",
    "répondu",
    "réponse",
    "question",
    "problème",
    "solution",
    "idée",
    "raison",
    "tort",
    "vrai",
    "faux",
    "bon",
    "mauvais",
    "mieux",
    "pire",
    "super",
    "génial",
    "nul",
    "grave",
    "franchement",
    "sérieusement",
    "honnêtement",
    "carrément",
    "genre",
    "truc",
    "trucs",
    "mec",
    "copain",
    "copine",
    "famille",
    "parents",
    "mère",
    "père",
    "frère",
    "sœur",
    "ami",
    "amis",
    "chat",
    "chien",
    "café",
    "thé",
    "pain",
    "repas",
    "dîner",
    "déjeuner",
    "resto",
    "cuisine",
    "film",
    "série",
    "match",
    "foot",
    "équipe",
    "but",
    "concert",
    "musique",
    "chanson",
    "livre",
    "photo",
    "vidéo",
    "téléphone",
    "portable",
    "ordi",
    "internet",
    "appli",
    "site",
    "compte",
    "message",
    "mail",
    "numéro",
    "prix",
    "euros",
    "argent",
    "payer",
    "payé",
    "acheté",
    "acheter",
    "vendre",
    "magasin",
    "boutique",
    "marché",
    "courses",
    "santé",
    "médecin",
    "pharmacie",
    "rendez",
    "vous",
    "politique",
    "gouvernement",
    "élections",
    "président",
    "ministre",
    "loi",
    "grève",
    "manif",
    "retraite",
    "prix",
    "essence",
    "climat",
    "planète",
    "nature",
    "jardin",
    "fleurs",
    "mer",
    "plage",
    "montagne",
    "vélo",
    "marche",
    "course",
    "sport",
    "fatigué",
    "content",
    "heureux",
    "triste",
    "énervé",
    "déçu",
    "surpris",
    "incroyable",
    "normal",
    "bizarre",
    "drôle",
    "lol",
    "mdr",
    "ptdr",
    "bref",
    "enfin",
    "bah",
    "ben",
    "bon",
    "voilà",
    "quoi",
    "hein",
    "ouais",
    "tkt",
    "stp",
    "svp",
    "bcp",
    "cœur",
    "œuvre",
    "naïf",
    "noël",
    "façon",
    "garçon",
    "leçon",
    "reçu",
    "déçue",
    "français",
    "française",
    "paris",
    "lyon",
    "marseille",
    "toulouse",
    "lille",
    "nantes",
    "bordeaux",
    "rennes",
];

/// Size of the long tail: pseudo-words `0..TAIL` occur in posts.
const TAIL: usize = 300_000;
/// Synthetic terms are pseudo-words `2_000..TERM_SPACE`.
const TERM_SPACE: usize = 2_000_000;

/// Syllable parts of the pseudo-French lexicon (repeats weight the draw).
const ONSETS: &[&str] = &[
    "", "", "b", "c", "d", "f", "g", "j", "l", "l", "m", "m", "n", "p", "p", "r", "r", "s", "s",
    "t", "t", "v", "ch", "br", "cr", "dr", "fr", "gr", "pr", "tr", "pl", "bl", "cl", "gl", "qu",
    "gu", "ph", "vr",
];
const VOWELS: &[&str] = &[
    "a", "a", "a", "a", "e", "e", "e", "e", "i", "i", "i", "o", "o", "o", "u", "u", "ou", "ou",
    "ai", "ai", "eu", "au", "on", "on", "an", "an", "in", "oi", "en", "en", "ie", "é", "é", "è",
    "ê", "â",
];
const CODAS: &[&str] = &["", "", "", "", "", "r", "l", "s", "n", "t", "x", "c"];

/// Pseudo-word number `i` of the lexicon (deterministic; low numbers are short).
pub fn pseudo_word(i: u64, out: &mut String) {
    let mut h = mix(i ^ 0x5EED_CAFE_F00D_0001);
    let mut next = |n: usize| {
        let r = ((h as u128 * n as u128) >> 64) as usize;
        h = mix(h);
        r
    };
    let syllables = if i < 300 {
        1 + next(2)
    } else if i < 20_000 {
        2 + next(2)
    } else {
        2 + next(3)
    };
    for s in 0..syllables {
        out.push_str(ONSETS[next(ONSETS.len())]);
        out.push_str(VOWELS[next(VOWELS.len())]);
        if s + 1 == syllables || next(5) == 0 {
            out.push_str(CODAS[next(CODAS.len())]);
        }
    }
}

/// Pseudo-word `i` without its last syllable, when that leaves at least seven bytes.
fn pseudo_stem(i: u64) -> Option<String> {
    let mut w = String::new();
    pseudo_word(i, &mut w);
    // Cut before the last onset+vowel: the last vowel run and what follows it, then one onset.
    let chars: Vec<char> = w.chars().collect();
    let is_vowel = |c: char| "aeiouéèêâ".contains(c);
    let mut k = chars.len();
    while k > 0 && !is_vowel(chars[k - 1]) {
        k -= 1;
    }
    while k > 0 && is_vowel(chars[k - 1]) {
        k -= 1;
    }
    while k > 0 && !is_vowel(chars[k - 1]) {
        k -= 1;
    }
    let stem: String = chars[..k].iter().collect();
    (stem.len() >= 7).then_some(stem)
}

/// How a watch word is written: accents kept or stripped, then lower, Capitalised or UPPER.
fn variant(rng: &mut Rng, word: &str, out: &mut String) {
    let plain;
    let w = if rng.chance(0.3) {
        plain = strip_accents(word);
        plain.as_str()
    } else {
        word
    };
    let r = rng.unit();
    if r < 0.70 {
        out.push_str(w);
    } else if r < 0.85 {
        capitalise(w, out);
    } else {
        out.push_str(&w.to_uppercase());
    }
}

fn capitalise(w: &str, out: &mut String) {
    let mut cs = w.chars();
    if let Some(c) = cs.next() {
        out.extend(c.to_uppercase());
        out.push_str(cs.as_str());
    }
}

fn strip_accents(w: &str) -> String {
    w.chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c => c,
        })
        .collect()
}

/// On-topic sentence templates. `{word}` is a watch word (rendered by [`variant`]), `{N}` a
/// number, `{D}` a day, `{T}` a run of ordinary words, `{R}` a parcel or order reference.
const TOPIC: &[&str] = &[
    "Mon {colis} est en {retard} depuis {D}, {T}",
    "J’ai fait une {réclamation} il y a {N} jours et toujours rien",
    "{Objet cassé} à la réception, l'emballage était {abîmé}",
    "Le {facteur} n'est pas passé, pourtant l’avis de passage dit que j'étais absente",
    "Toujours pas de {remboursement} pour ma {commande} {R}",
    "Ma {lettre} {recommandée} est {perdue} ??",
    "Où est mon {colis} ? Le {suivi} n’a pas bougé depuis {N} jours",
    "{Livraison} prévue {D}, rien {reçu}",
    "Impossible de joindre le {service client}, c’est une honte",
    "Qu'il soit {perdu} ou {volé}, je veux être {remboursé}",
    "Merci au {facteur} super sympa ce matin {T}",
    "{Colis} {livré} chez le voisin sans prévenir",
    "On m'a dit qu'il fallait attendre {N} jours ouvrés pour la {réclamation}",
    "Encore un {retard} de {livraison}, {T}",
    "L’{objet} est arrivé {cassé}, je lance une {réclamation}",
    "{Commande} {R} marquée livrée mais jamais {reçue}",
    "D’un {bureau de poste} à l'autre, personne ne sait où est mon {colis}",
    "{Retard} de {N} jours sur un {recommandé}, c'est inadmissible",
    "Le {point relais} a refusé mon {colis} {T}",
    "Toujours en attente du {remboursement} de l’{objet perdu}",
    "{Colis} {endommagé}, carton {déchiré}, {T}",
    "Je {réclame} depuis {N} semaines, aucune réponse du {SAV}",
    "Mon {courrier} arrive avec {N} jours de {retard}",
    "Le {livreur} a jeté le {colis} par-dessus le portail",
    "Avis de passage sans passage, c'est la {N}e fois",
    "{Réclamation} {R} : dossier clos sans {indemnisation}",
    "Il m’a dit qu’il n’y avait aucun {colis} à mon nom",
];

/// Off-topic sentence templates (some use watch words in another sense).
const OFF: &[&str] = &[
    "Quelqu'un a vu le match hier soir ? {T}",
    "Trop bien le concert de {P} ce soir {T}",
    "Le train a encore du {retard}, {T}",
    "J’ai pris une {commande} de sushis au resto {T}",
    "C’est l’heure du café {T}",
    "Qu'est-ce qu'on mange ce soir ? {T}",
    "{T} {T}",
    "{T}, {T}",
    "{T} ! {T}",
    "Bon week-end à tous {T}",
    "Je viens de finir {P}, {T}",
    "Il fait un temps de {T}",
    "L'équipe de {P} a gagné {N} à {N}",
    "D’habitude j'aime bien {P} mais là {T}",
];

const DAYS: &[&str] = &[
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "hier",
    "la semaine dernière",
];
const MENTIONS: &[&str] = &[
    "@laposte",
    "@LaPoste",
    "@Chronopost",
    "@ColissimoFR",
    "@lisalaposte",
    "@amazonfr",
    "@DPD_FR",
    "@MondialRelay",
    "@SNCF",
    "@free",
];
const HASHTAGS: &[&str] = &[
    "#colis",
    "#LaPoste",
    "#Colissimo",
    "#SAV",
    "#retard",
    "#fail",
    "#Chronopost",
    "#livraison",
    "#réclamation",
    "#jeudiconfession",
    "#foot",
    "#Paris",
    "#météo",
    "#lundi",
];
const EMOJI: &[&str] = &[
    "😡", "📦", "🙏", "😤", "👍", "❤️", "🤬", "😭", "✉️", "🚚", "😂", "🙄", "🔥", "☀️", "👏🏼",
];
const URLS: &[&str] = &[
    "https://www.laposte.fr/outils/suivre-vos-envois?code=",
    "https://t.co/",
    "http://bit.ly/",
    "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT=",
    "www.example.fr/article/",
];
const PUNCT: &[&str] = &[
    ", ", ". ", " ! ", " !!! ", " ? ", "… ", " : ", " - ", " « ", " » ",
];
const ELISIONS: &[&str] = &[
    "l'", "l’", "j'", "j’", "qu'", "qu’", "d'", "d’", "c'", "c’", "n'", "n’", "s'", "m'",
];

/// Appends one ordinary word: common (65 %) or from the pseudo-lexicon's Zipf tail.
fn ordinary(rng: &mut Rng, out: &mut String) {
    if rng.chance(0.65) {
        out.push_str(COMMON[rng.zipf(COMMON.len())]);
    } else {
        pseudo_word(tail_rank(rng), out);
    }
}

/// A pseudo-word number whose overall rank continues the common list's: P(i) ∝ 1/(i + 350).
fn tail_rank(rng: &mut Rng) -> u64 {
    const HEAD: f64 = 350.0;
    let r = HEAD * ((TAIL as f64 + HEAD) / HEAD).powf(rng.unit());
    ((r - HEAD) as u64).min(TAIL as u64 - 1)
}

/// `{T}`: three to eight ordinary words, with an occasional elision.
fn chatter(rng: &mut Rng, out: &mut String) {
    let n = rng.range(3, 8);
    for k in 0..n {
        if k > 0 {
            out.push(' ');
        }
        let at = out.len();
        ordinary(rng, out);
        // Elide before a vowel now and then: `l'objet`, `j’ai`, `qu'il`, `d’un`.
        if out[at..].starts_with(['a', 'e', 'i', 'o', 'u', 'é', 'è', 'ê', 'â', 'h'])
            && rng.chance(0.15)
        {
            out.insert_str(at, rng.pick(ELISIONS));
        }
    }
}

fn reference(rng: &mut Rng, out: &mut String) {
    const AL: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    match rng.below(3) {
        0 => out.push_str("n°"),
        1 => out.push('#'),
        _ => {}
    }
    out.push(rng.pick(AL) as char);
    out.push(rng.pick(AL) as char);
    for _ in 0..rng.range(6, 11) {
        out.push((b'0' + rng.below(10) as u8) as char);
    }
}

/// Renders a template into `out`.
fn render(rng: &mut Rng, template: &str, shout: bool, out: &mut String) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("closed slot");
        let slot = &rest[open + 1..close];
        rest = &rest[close + 1..];
        match slot {
            "N" => out.push_str(&rng.range(2, 30).to_string()),
            "D" => out.push_str(rng.pick(DAYS)),
            "T" => chatter(rng, out),
            "R" => reference(rng, out),
            "P" => {
                let mut w = String::new();
                pseudo_word(tail_rank(rng), &mut w);
                capitalise(&w, out);
            }
            w if shout && rng.chance(0.2) => out.push_str(&w.to_uppercase()),
            w => variant(rng, w, out),
        }
    }
    out.push_str(rest);
}

/// Appends one post (80–280 chars, no newline) to `out`.
pub fn post(rng: &mut Rng, out: &mut String) {
    let start = out.len();
    let target = rng.range(80, 280);
    let topic = rng.chance(0.4);
    let shout = topic && rng.chance(0.15);
    if rng.chance(if topic { 0.35 } else { 0.1 }) {
        out.push_str(rng.pick(MENTIONS));
        out.push(' ');
    }
    let chars = |out: &String| out[start..].chars().count();
    let mut first = true;
    while chars(out) < target {
        if !first {
            out.push_str(rng.pick(PUNCT));
        }
        first = false;
        let r = rng.unit();
        let sentence_start = out.len();
        if r < 0.06 {
            out.push_str(rng.pick(URLS));
            for _ in 0..rng.range(8, 13) {
                out.push(
                    rng.pick(b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
                        as char,
                );
            }
        } else if r < 0.14 {
            out.push_str(rng.pick(EMOJI));
            if rng.chance(0.4) {
                out.push_str(rng.pick(EMOJI));
            }
        } else if r < 0.20 {
            out.push_str(rng.pick(MENTIONS));
        } else {
            let t = if topic && rng.chance(0.7) {
                rng.pick(TOPIC)
            } else {
                rng.pick(OFF)
            };
            render(rng, t, shout, out);
            // Sentence case: capitalise the first letter if it is lower case.
            if let Some(c) = out[sentence_start..].chars().next() {
                if c.is_lowercase() && rng.chance(0.8) {
                    let up: String = c.to_uppercase().collect();
                    out.replace_range(sentence_start..sentence_start + c.len_utf8(), &up);
                }
            }
        }
    }
    // Trailing hashtags and emoji.
    if rng.chance(if topic { 0.5 } else { 0.2 }) {
        for _ in 0..rng.range(1, 3) {
            out.push(' ');
            out.push_str(rng.pick(HASHTAGS));
        }
    }
    if rng.chance(0.2) {
        out.push(' ');
        out.push_str(rng.pick(EMOJI));
    }
    // Cut back to at most 280 chars, at a space when that keeps at least 80.
    let n = chars(out);
    if n > 280 {
        let cut = start + out[start..].char_indices().nth(280).map_or(0, |(i, _)| i);
        out.truncate(cut);
        if let Some(sp) = out[start..].rfind(' ') {
            if out[start..start + sp].chars().count() >= 80 {
                out.truncate(start + sp);
            }
        }
    }
    // A post never ends on a space (trimming keeps it ≥ 80 chars: the text before is).
    while out.ends_with(' ') {
        out.pop();
    }
}

/// At least `bytes` bytes of posts, one per line (each line ends with `\n`).
pub fn corpus_bytes(seed: u64, bytes: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(bytes + 512);
    while out.len() < bytes {
        post(&mut rng, &mut out);
        out.push('\n');
    }
    out
}

/// Exactly `n` posts, one per line.
pub fn corpus_posts(seed: u64, n: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    for _ in 0..n {
        post(&mut rng, &mut out);
        out.push('\n');
    }
    out
}

/// Hand-written rules over the real watch vocabulary: (name, query, number of terms).
const REAL_RULES: &[(&str, &str, usize)] = &[
    (
        "livraison",
        r#"(colis OR lettre OR recommandé*) AND (retard* OR "pas reçu" OR perdu*) NOT "colis suspect""#,
        7,
    ),
    ("sav", r#"réclamation OR remboursement OR "objet cassé""#, 3),
    (
        "casse",
        r#"cassé* OR abîmé* OR endommagé* OR déchiré OR "carton ouvert" OR "objet perdu""#,
        6,
    ),
    (
        "service-client",
        r#""service client" OR SAV OR "aucune réponse" OR injoignable OR honte"#,
        5,
    ),
    (
        "facteur",
        r#"(facteur OR livreur OR "point relais") NEAR/6 (jeté OR "pas passé" OR absent* OR voisin)"#,
        7,
    ),
    (
        "marques",
        r#"@laposte OR @chronopost OR @colissimofr OR #laposte OR #colis OR #colissimo"#,
        6,
    ),
    (
        "remboursement",
        r#"(rembours* OR indemnisation OR dédommagement) AND (commande OR colis OR objet)"#,
        6,
    ),
    (
        "suivi",
        r#"suivi OR "numéro de suivi" OR "avis de passage" OR "bureau de poste" OR courrier"#,
        5,
    ),
    (
        "vol",
        r#"(volé OR vol OR disparu) NOT (vélo OR voiture)"#,
        5,
    ),
    (
        "plainte",
        r#""mise en demeure" OR avocat OR "UFC que choisir" OR "60 millions""#,
        4,
    ),
];

/// Folded words of the hand-written text (common words, templates, real rules): a synthetic
/// term never equals one of them, and a synthetic prefix never starts one.
fn reserved() -> Vec<String> {
    let mut v: Vec<String> = COMMON.iter().map(|w| w.to_string()).collect();
    for t in TOPIC
        .iter()
        .chain(OFF)
        .chain(DAYS)
        .chain(HASHTAGS)
        .chain(MENTIONS)
    {
        v.push(t.to_string());
    }
    for (_, q, _) in REAL_RULES {
        v.push(q.to_string());
    }
    let mut words: Vec<String> = v
        .iter()
        .flat_map(|t| {
            strip_accents(&t.to_lowercase())
                .split(|c: char| !c.is_alphanumeric())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    words.sort();
    words.dedup();
    words
}

/// A pseudo-word from the term space that is not a reserved word.
fn term_word(rng: &mut Rng, reserved: &[String], out: &mut String) {
    loop {
        let mut w = String::new();
        pseudo_word(rng.range(2_000, TERM_SPACE - 1) as u64, &mut w);
        if reserved.binary_search(&strip_accents(&w)).is_err() {
            out.push_str(&w);
            return;
        }
    }
}

/// A synthetic term: a pseudo-word, a phrase, a prefix, a hashtag or a mention.
fn synthetic_term(rng: &mut Rng, reserved: &[String]) -> String {
    let r = rng.unit();
    let mut s = String::new();
    if r < 0.72 {
        term_word(rng, reserved, &mut s);
    } else if r < 0.87 {
        s.push('"');
        term_word(rng, reserved, &mut s);
        s.push(' ');
        term_word(rng, reserved, &mut s);
        s.push('"');
    } else if r < 0.99 {
        loop {
            let Some(stem) = pseudo_stem(rng.range(2_000, TERM_SPACE - 1) as u64) else {
                continue;
            };
            let folded = strip_accents(&stem);
            if !reserved.iter().any(|w| w.starts_with(&folded)) {
                s.push_str(&stem);
                s.push('*');
                break;
            }
        }
    } else {
        s.push(if rng.chance(0.5) { '#' } else { '@' });
        term_word(rng, reserved, &mut s);
    }
    s
}

/// A rule set of exactly `terms` terms: `(name, query)` pairs, about ten terms per rule.
pub fn rules(seed: u64, terms: usize) -> Vec<(String, String)> {
    let mut rng = Rng::new(seed ^ 0x7E57_0000_0000_0000);
    let mut out = Vec::new();
    let mut left = terms;
    for &(name, q, n) in REAL_RULES {
        if n > left {
            break;
        }
        out.push((name.to_string(), q.to_string()));
        left -= n;
    }
    let mut seen: HashSet<String> = HashSet::new();
    let reserved = reserved();
    let mut k = 0;
    while left > 0 {
        let n = rng.range(6, 14).min(left);
        left -= n;
        let mut ts = Vec::with_capacity(n);
        while ts.len() < n {
            let t = synthetic_term(&mut rng, &reserved);
            if seen.insert(t.clone()) {
                ts.push(t);
            }
        }
        let r = rng.unit();
        let q = if n < 4 || r < 0.7 {
            ts.join(" OR ")
        } else {
            let cut = rng.range(1, n - 1);
            let (a, b) = (ts[..cut].join(" OR "), ts[cut..].join(" OR "));
            if r < 0.8 {
                format!("({a}) AND ({b})")
            } else if r < 0.9 {
                format!("({a}) NOT ({b})")
            } else {
                format!("({a}) NEAR/5 ({b})")
            }
        };
        out.push((format!("r{k:06}"), q));
        k += 1;
    }
    out
}

/// The rule set as a rule file (`[[rule]]` tables), for `vigie match`.
pub fn rules_toml(rules: &[(String, String)]) -> String {
    let mut s = String::new();
    for (name, q) in rules {
        s.push_str("[[rule]]\nname = \"");
        s.push_str(name);
        s.push_str("\"\nquery = '");
        s.push_str(q);
        s.push_str("'\n\n");
    }
    s
}
