# Alert texts in English. One message per thing said; `N()` writes a number the English way
# (1,234, 2.5).

## Counts and durations

posts = { $count ->
    [one] { N($count) } post
   *[other] { N($count) } posts
}
dur-s = { N($n) } s
dur-min = { N($n) } min
dur-h = { $n ->
    [one] { N($n) } hour
   *[other] { N($n) } hours
}
dur-d = { $n ->
    [one] { N($n) } day
   *[other] { N($n) } days
}
usual-none = none
usual-range = { N($low) } to { N($high) }
month = { $m ->
    [1] January
    [2] February
    [3] March
    [4] April
    [5] May
    [6] June
    [7] July
    [8] August
    [9] September
    [10] October
    [11] November
   *[12] December
}
date = { $day } { month } { $year }
date-time = { $day } { month } { $year }, { $time }
time-span = { $from } – { $to }, { $date }
colon = :

## What fired, in one line (titles and subjects)

title-spike = Spike on “{ $rule }”: { posts } in { $window }
title-threshold = Threshold reached on “{ $rule }”: { posts } in { $window }
title-each = Critical post on “{ $rule }”
title-source-failing = Source “{ $rule }” is failing
title-source-silent = Source “{ $rule }” has gone silent
title-source-recovered = Source “{ $rule }” is working again
title-reminder = Reply due in { $left }: case #{ $case } on “{ $rule }”
title-breach = Case #{ $case } on “{ $rule }” breached: no reply after { $promise }

## Why it fired, in one sentence

why-threshold = { $count ->
    [one] { N($count) } post mentions
   *[other] { N($count) } posts mention
} “{ $rule }” in { $window } — usually { $usual } at this time of day (threshold { N($bar) }).
why-spike = { $count ->
    [one] { N($count) } post mentions
   *[other] { N($count) } posts mention
} “{ $rule }” in { $window }, { N($ratio) } times the usual ({ $usual } at this time of day, spike bar { N($bar) }).
why-spike-new = { $count ->
    [one] { N($count) } post mentions
   *[other] { N($count) } posts mention
} “{ $rule }” in { $window }, where usually none does at this time of day (spike bar { N($bar) }).
why-each = A post matches “{ $rule }”, a critical rule, so it is reported at once.
why-each-followers = A post matches “{ $rule }”, a critical rule, so it is reported at once; its author has { N($followers) } { $followers ->
    [one] follower
   *[other] followers
}.
why-source-failing = { $count ->
    [one] The last poll of “{ $rule }” failed
   *[other] The last { N($count) } polls of “{ $rule }” failed
}: until this source answers, its posts go unwatched.
why-source-silent = “{ $rule }” has returned nothing for three times its usual gap between posts.
why-source-recovered = “{ $rule }” answers again: watching this source has resumed.
why-reminder = This complaint has waited half of the { $promise } promised for a reply, and the brand has not answered in its thread yet: the reply is due by { $due }.
why-breach = No reply from the brand within the { $promise } promised (due { $due }): the case is escalated.

## Facts, as label and value

fact-rule = Rule
fact-window = Window
fact-count = Posts
fact-usual = Usually
fact-threshold = Threshold
fact-spike-bar = Spike bar
fact-ratio = Ratio
fact-time = Time
fact-source = Source
fact-state = State
fact-error = Last error
fact-failures = Failures in a row
fact-case = Case
fact-opened = Opened
fact-due = Reply due
fact-promise = Promise
ratio = { N($ratio) } times the usual
state-failing = failing
state-silent = silent
state-recovered = recovered

## Top posts

top-posts = Top posts
post-on = { $author } on { $source }
followers = { $n ->
    [one] { N($n) } follower
   *[other] { N($n) } followers
}
engagement = { $n ->
    [one] { N($n) } interaction
   *[other] { N($n) } interactions
}
open-post = Open post
unknown-author = unknown author

## The chart

chart-alt = Posts per { $window } over the last 24 hours ({ $zone } time): { N($count) } in the current window, usually { $usual }, bar { N($bar) }.
chart-y = posts / { $window }
chart-x = time ({ $zone })
chart-usual = usually
chart-threshold = threshold
chart-spike-bar = spike bar
chart-current = current window

## Case links (the one-click "handled" link and the page it opens)

case-ack = Mark as handled
case-page-title = Case { $id }
case-author = Author
case-page-open = This complaint waits for an answer (due { $due }). If someone has answered it, mark it as handled: the reply clock stops and its reminders are cancelled.
case-page-done = Marked as handled by { $by } on { $when }.
case-page-already = Already handled by { $by } on { $when }. Nothing was changed.
case-page-invalid = This link is not valid: it was altered, or it has expired. Nothing was changed.
case-page-missing = There is no such case. Nothing was changed.
case-page-error = The case could not be updated; try again in a moment. Nothing was changed.
