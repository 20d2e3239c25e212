//! One integration-test binary (ripgrep's `autotests = false`): each module is one feature.

// Running the real binary, temp trees, framed diffs.
mod util;

// `vigie check`: located errors, exit codes, shipped and example configs.
mod cli_check;
// `vigie check` refuses what `vigie run` would: passwords in URLs, unreadable secrets, bad values.
mod config_checks;
// `vigie hits` / `vigie sources` on a known data set: filters, formats, no database yet.
mod cli_query;
// Issue 22, the daily tool: typed times, tables that fit, alerts' last errors, --db, --follow.
mod cli_daily;
// The README's `console` blocks, run against the shipped demo and compared.
mod readme;
// `vigie match`: table and JSON output, stdin and files, --count.
mod cli_match;
// Alerts with the real daemon: signed webhooks checked by the reference package, retries,
// kill -9 before and after a delivery.
mod alerts;
// Delivery with a hung receiver: no double after SIGTERM or kill -9, no wait behind it, SMTP
// greeting timeout.
mod delivery;
// Email alerts with the real daemon and a real SMTP server: outage, kill -9, latency.
mod alerts_email;
// The real daemon on jsonl: hits stored and read live, SIGTERM exit, SIGKILL without loss.
mod daemon;
// Every polled source kind keeps one contract (issue 19): cursor, no duplicate across kill -9,
// faults shown with backoff, preview, no secret shown. One `Case` per kind.
mod source_contract;
// The json kind on loopback YouTube/Stack Exchange/Mattermost answers: paging, errors, recipes.
mod json_kind;
// The reddit source: the contract for feeds and OAuth, token flows, error reasons, feed budget.
mod source_reddit;
// The html source (issue 20): every floor, robots.txt, hostile pages, the html recipes.
mod source_html;
// The real daemon on rss over loopback: conditional GET, 304, Retry-After, backoff, bad bodies.
mod daemon_http;
// Starting, watching and killing the real daemon on a temp dir.
mod daemon_util;
// systemd played by the test (notify socket, watchdog) and the shipped unit (systemd-analyze).
mod systemd;
// Issue 27: `vigie cases`, `cases ack` with the daemon running, `stats --by response`, case gauges.
mod cases_ops;
// Issue 27: the signed one-click link through the real listener: GET shows, POST handles once.
mod case_link;
// `listen`: /metrics through the reference Prometheus parser, /health 503 on a stuck writer.
mod listen;
// A member of the service's group reads the database as itself, daemon running and stopped.
mod ops_access;
// The .deb built by `cargo deb` (.ci/run): files and conffiles, listed with dpkg-deb.
mod package;
// SIGHUP with the real daemon: rules and sources reloaded, a broken file refused, cursors kept.
mod reload;
// The daemon following a jsonl file through replace, truncate, rotation; long and bad lines.
mod jsonl_follow;
// source::fetch::Fetcher on loopback: conditional GET, statuses, byte cap, timeouts, redaction.
mod fetch;
// `vigie replay` in event time (sends nothing) and `vigie alerts` on the kept database.
mod replay;
// `vigie tune`: a generated history with known bursts, the proposal replayed, replay's counts.
mod cli_tune;
// `vigie replay` streaming: shuffled, sorted in runs on disk, on stdin; the same output.
mod cli_replay_stream;
// Issue 27, the reply clock: cases opened, answered, reminded, escalated (kill -9), replayed.
mod cases_clock;
// Issue 27 on a Mastodon-shaped server: the brand's reply by thread uri, reminders, hours.
mod cases_mastodon;
// `[daemon] retention`: old posts not stored, older ones pruned, by the store and the daemon.
mod retention;
// The store under faults with the real daemon: one daemon per database, a damaged file, the
// WAL after a long reader, file modes under any umask, outages left out of spike baselines.
mod store_faults;
// Polls that panic or stall: shown as source errors, retried, other sources not starved.
mod poll_faults;
// A huge feed: memory within 4 x max_bytes, newest posts kept, stored items not matched again.
mod big_feeds;
// Source alerts through the store commit in controlled time: failing, recovered, silent.
mod source_health;
// Bluesky search: the source contract, app-password sessions, refresh, a refused login.
mod source_bluesky;
// Bluesky Jetstream on a loopback WebSocket: drops, silence, kill -9, profiles of hits.
mod source_jetstream;
// Issue 27, bluesky: reply threads from search and Jetstream, the brand's author feed and posts.
mod source_bluesky_threads;
// The discourse source: a busy forum read back with no gap, the API key, 429 wait_seconds.
mod discourse;
// config/recipes: every recipe checked; the Discourse and feed recipes read their site's answer.
mod recipes_feeds;
// Alert decisions across a kill -9: the in-memory hit counters rebuilt from the database.
mod detect_restart;
// The rss parser: every feed format, repairs, clean errors, the feedparser corpus.
mod rss;
// The compiled RuleSet against a brute-force reference evaluator on random texts and queries.
mod matcher_props;
// The RuleSet against a slow model of SPEC §4 on the French man pages (manpages-fr, .ci/run).
mod oracle_fr;
// Notifier payloads: golden chat/text/HTML bodies, hostile post text, HTTP delivery contract.
mod notifiers;
// The email notifier against a real SMTP server (aiosmtpd): MIME parts, chart, auth, outage.
mod email;
// Alerts as people read them: language/timezone checks, chart pixels, replay --dump-alerts,
// the email HTML in headless Chromium.
mod alert_reading;
// The mastodon source beyond the contract: Link paging, token, local timeline, rate limits.
mod source_mastodon;
// Issue 27, mastodon: reply threads by root uri, the brand's statuses, failed lookups, preview.
mod source_mastodon_threads;
// The hackernews source beyond the contract: the search asked, paging, Algolia's errors.
mod source_hackernews;
// Issue 19, `x`: the source contract, the bearer header, the daily spend cap across restarts and days.
mod source_x;
// Issue 19, `facebook`: the source contract (posts and their comments), the token error 190.
mod source_facebook;
