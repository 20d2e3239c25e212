# Alert texts in French. One message per thing said; `N()` writes a number the French way
# (1 234, 2,5). Plurals follow the French rule: 0 and 1 take the singular. Guillemets hold a
# narrow no-break space, and a no-break space goes before a colon, as French typography does.

## Counts and durations

posts = { $count ->
    [one] { N($count) } publication
   *[other] { N($count) } publications
}
dur-s = { N($n) } s
dur-min = { N($n) } min
dur-h = { N($n) } h
dur-d = { $n ->
    [one] { N($n) } jour
   *[other] { N($n) } jours
}
usual-none = aucune
usual-range = { N($low) } à { N($high) }
month = { $m ->
    [1] janvier
    [2] février
    [3] mars
    [4] avril
    [5] mai
    [6] juin
    [7] juillet
    [8] août
    [9] septembre
    [10] octobre
    [11] novembre
   *[12] décembre
}
date = { $day } { month } { $year }
date-time = { $day } { month } { $year } à { $time }
time-span = { $from } – { $to }, le { $date }
colon =  :

## What fired, in one line (titles and subjects)

title-spike = Pic sur « { $rule } » : { posts } en { $window }
title-threshold = Seuil atteint sur « { $rule } » : { posts } en { $window }
title-each = Publication critique sur « { $rule } »
title-source-failing = La source « { $rule } » est en échec
title-source-silent = La source « { $rule } » ne renvoie plus rien
title-source-recovered = La source « { $rule } » fonctionne de nouveau
title-reminder = Réponse attendue dans { $left } : cas n° { $case } sur « { $rule } »
title-breach = Cas n° { $case } sur « { $rule } » hors délai : pas de réponse après { $promise }

## Why it fired, in one sentence

why-threshold = { $count ->
    [one] { N($count) } publication mentionne
   *[other] { N($count) } publications mentionnent
} « { $rule } » en { $window } — d’habitude { $usual } à cette heure-ci (seuil { N($bar) }).
why-spike = { $count ->
    [one] { N($count) } publication mentionne
   *[other] { N($count) } publications mentionnent
} « { $rule } » en { $window }, { N($ratio) } fois plus que d’habitude ({ $usual } à cette heure-ci, seuil du pic { N($bar) }).
why-spike-new = { $count ->
    [one] { N($count) } publication mentionne
   *[other] { N($count) } publications mentionnent
} « { $rule } » en { $window }, alors que d’habitude aucune ne le fait à cette heure-ci (seuil du pic { N($bar) }).
why-each = Une publication correspond à « { $rule } », une règle critique : elle est signalée sans attendre.
why-each-followers = Une publication correspond à « { $rule } », une règle critique : elle est signalée sans attendre ; son auteur a { N($followers) } { $followers ->
    [one] abonné
   *[other] abonnés
}.
why-source-failing = { $count ->
    [one] Le dernier relevé de « { $rule } » a échoué
   *[other] Les { N($count) } derniers relevés de « { $rule } » ont échoué
} : tant que cette source ne répond pas, ses publications échappent à la veille.
why-source-silent = « { $rule } » ne renvoie plus rien depuis trois fois son intervalle habituel entre deux publications.
why-source-recovered = « { $rule } » répond de nouveau : la surveillance de cette source a repris.
why-reminder = Cette plainte attend une réponse depuis la moitié des { $promise } promises, et la marque n’a pas encore répondu dans son fil : réponse attendue avant le { $due }.
why-breach = Pas de réponse de la marque dans les { $promise } promises (échéance le { $due }) : le cas est escaladé.

## Facts, as label and value

fact-rule = Règle
fact-window = Fenêtre
fact-count = Publications
fact-usual = D’habitude
fact-threshold = Seuil
fact-spike-bar = Seuil du pic
fact-ratio = Rapport
fact-time = Heure
fact-source = Source
fact-state = État
fact-error = Dernière erreur
fact-failures = Échecs de suite
fact-case = Cas
fact-opened = Ouvert
fact-due = Réponse attendue
fact-promise = Délai promis
ratio = { N($ratio) } fois l’habitude
state-failing = en échec
state-silent = silencieuse
state-recovered = rétablie

## Top posts

top-posts = Publications principales
post-on = { $author } sur { $source }
followers = { $n ->
    [one] { N($n) } abonné
   *[other] { N($n) } abonnés
}
engagement = { $n ->
    [one] { N($n) } interaction
   *[other] { N($n) } interactions
}
open-post = Ouvrir la publication
unknown-author = auteur inconnu

## The chart

chart-alt = Publications par tranche de { $window } sur les dernières 24 heures (heure { $zone }) : { N($count) } dans la fenêtre actuelle, d’habitude { $usual }, seuil { N($bar) }.
chart-y = publications / { $window }
chart-x = heure ({ $zone })
chart-usual = d’habitude
chart-threshold = seuil
chart-spike-bar = seuil du pic
chart-current = fenêtre actuelle

## Case links (the one-click "handled" link and the page it opens)

case-ack = Marquer comme traité
case-page-title = Dossier { $id }
case-author = Auteur
case-page-open = Cette réclamation attend une réponse (échéance { $due }). Si quelqu’un y a répondu, marquez-la comme traitée : le délai de réponse s’arrête et ses relances sont annulées.
case-page-done = Marqué comme traité par { $by } le { $when }.
case-page-already = Déjà traité par { $by } le { $when }. Rien n’a été modifié.
case-page-invalid = Ce lien n’est pas valide : il a été modifié, ou il a expiré. Rien n’a été modifié.
case-page-missing = Ce dossier n’existe pas. Rien n’a été modifié.
case-page-error = Le dossier n’a pas pu être mis à jour ; réessayez dans un instant. Rien n’a été modifié.
