#!/usr/bin/env python3
"""Writes config/demo/posts.jsonl: realistic French posts about a fictional parcel brand, Postéo.

Deterministic (fixed seed): run it again and the file is identical. About 300 posts over two
days ending 2026-11-22T12:00:00Z, with a daily rhythm (quiet nights, busier lunch and evening),
half of them unrelated chatter, replies from the brand's own accounts (which rules exclude), a
few influential authors (10,000+ followers), and a burst of ~25 delivery complaints at the end.
The burst's posts carry no `created_at`: vigie then counts them at the time it reads them, so
whenever the demo runs, the burst is "now" and a spike alert shows on the console within
seconds, while the dated history counts as the past.

    python3 config/demo/generate.py > config/demo/posts.jsonl
"""
import json
import random
from datetime import datetime, timedelta, timezone

rng = random.Random(20261122)
END = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)

COMPLAINTS = [
    "Mon colis est en retard depuis lundi, le suivi ne bouge plus",
    "COLIS TOUJOURS PAS REÇU !!! 10 jours de retard @posteo",
    "lettre recommandée perdue, merci Postéo...",
    "Le facteur n'est jamais passé, j'étais chez moi toute la journée",
    "Avis de passage déposé alors que j'étais là ! #Posteo",
    "Commande pas recue, colis perdu ? quelqu'un a une idée",
    "L'objet CASSÉ à l'arrivée, bravo l'emballage 😡",
    "colis complètement écrasé, je fais comment ? #ColisAbimé",
    "Réclamation déposée il y a 3 semaines, aucune réponse du service client",
    "Je demande le remboursement de mon envoi, c'est inadmissible",
    "Suivi 12AB123456789FR bloqué depuis 5 jours",
    "6A12345678901 toujours en cours d'acheminement ??",
    "J'ai envoyé une mise en demeure à Postéo ce matin",
    "UFC-Que Choisir va entendre parler de vous @posteo",
    "Soi-disant livré aujourd’hui, rien dans la boîte aux lettres",
    "Postéo c'est une ARNAQUE, 3 semaines pour une lettre",
    "mon colis a été ouvert avant d'arriver, il manque la moitié",
    "Écran d'ordinateur BRISÉ à la livraison, emballage minable",
    "reclamation n°4 pour le meme colis perdu... https://posteo.example/suivi/12AB123456789FR",
    "Le livreur a signé à ma place, jamais vu le colis",
]
BURST = [
    "Colis en retard, encore ! @posteo",
    "Toujours pas reçu mon colis, retard de 4 jours",
    "Mon colis est perdu depuis une semaine",
    "COLIS EN RETARD. Réponse automatique inutile.",
    "retard de livraison pour ma commande, c'est la 3e fois",
    "Lettre recommandée égarée, le suivi dit livré",
    "Colis bloqué au centre de tri, retard énorme",
    "#Posteo mon colis en retard pour Noël ??",
]
REPLIES = [
    "Bonjour, nous sommes désolés pour ce retard. Pouvez-vous nous envoyer votre numéro de suivi en message privé ?",
    "Merci pour votre message, votre réclamation est transmise au service concerné.",
    "Bonjour, votre colis est en cours d'acheminement, il devrait arriver demain.",
]
CHATTER = [
    "Il fait un temps magnifique sur Lyon aujourd'hui ☀️",
    "Le TER a encore 20 minutes de retard, classique",
    "colis suspect en gare de Lille, trains en retard",
    "Quelqu'un a une bonne recette de blanquette ?",
    "Match incroyable hier soir, quelle fin !",
    "Merci au service client de ma banque, super réactif !",
    "J'ai cassé mon téléphone en tombant dans l'escalier",
    "Le facteur est passé ce matin, merci à lui pour sa gentillesse",
    "Mon colis est arrivé en avance, bravo",
    "Nouvelle vidéo sur ma chaîne, lien en bio",
    "Les embouteillages sur le périph, c'est l'enfer",
    "Une salade avocat crevettes pour ce midi",
    "Qui regarde la série ce soir ?",
    "Mise en place du nouveau marché de Noël place Bellecour",
    "J'adore l'automne, les feuilles, les châtaignes",
    "Réunion interminable, je meurs",
]
AUTHORS = ["@julie_m", "@marc75", "@sophie.l", "@tonton_bob", "@clara_dsn", "@nico13",
           "@amelie.b", "@karim_z", "@lea.rnd", "@pierre_g", "@ines_k", "@yanis.p"]
INFLUENCERS = [("@conso_vigilante", 48000), ("@techfr", 125000)]
BRAND = ["@posteo", "@posteo_aide"]


def hour_weight(h):
    """Posts per hour: quiet nights, busier lunch and evening."""
    if h < 7:
        return 0.2
    if 11 <= h <= 13 or 18 <= h <= 21:
        return 1.6
    return 1.0


def times(n, start, end):
    out = []
    span = int((end - start).total_seconds())
    while len(out) < n:
        t = start + timedelta(seconds=rng.randrange(span))
        if rng.random() < hour_weight(t.hour) / 1.6:
            out.append(t)
    return sorted(out)


def main():
    posts = []
    start = END - timedelta(days=2)
    for t in times(270, start, END - timedelta(minutes=15)):
        r = rng.random()
        if r < 0.5:
            text, author = rng.choice(CHATTER), rng.choice(AUTHORS)
        elif r < 0.9:
            text, author = rng.choice(COMPLAINTS), rng.choice(AUTHORS)
        else:
            text, author = rng.choice(REPLIES), rng.choice(BRAND)
        followers = rng.randrange(20, 3000)
        if rng.random() < 0.03:
            author, followers = rng.choice(INFLUENCERS)
        posts.append((t, text, author, followers))
    # The burst: delivery complaints in the last ten minutes (undated in the file, see above).
    for t in times(25, END - timedelta(minutes=10), END):
        posts.append((t, rng.choice(BURST), rng.choice(AUTHORS), rng.randrange(20, 3000)))
    posts.sort(key=lambda p: p[0])
    burst_start = END - timedelta(minutes=10)
    for i, (t, text, author, followers) in enumerate(posts, 1):
        post = {
            "id": f"demo-{i:04d}",
            "source": "demo",
            "text": text,
            "author": author,
            "url": f"https://social.example/{author.lstrip('@')}/status/{100000 + i}",
            "created_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lang": "fr",
            "followers": followers,
        }
        if t >= burst_start:
            del post["created_at"]
        print(json.dumps(post, ensure_ascii=False))


if __name__ == "__main__":
    main()
